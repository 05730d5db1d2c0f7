"""Pure rules of aftercare: plain values in, plain values out; no I/O, no database."""
