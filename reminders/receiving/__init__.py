"""Receiving: what patients' texts mean and what follows from them.

A stage beside planning and sending (neither imports the others): keywords and their order,
opt-outs from texts, replies and likely opt-outs. The Twilio webhook (web/webhooks.py) only
checks the signature and reads the form, then calls `receiving.inbound`; the CLI and the
daemon call this room too.
"""
