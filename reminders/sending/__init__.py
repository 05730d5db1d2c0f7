"""From a due outbox row to a provider and back: claim, decide, render, send, receipts."""
