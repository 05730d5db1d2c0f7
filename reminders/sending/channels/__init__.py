"""Channels: one module per provider behind the small interface in `base`."""
