"""Everything that knows Twilio: the SMS channel (`channel`, the only module that loads the
twilio SDK), its error codes (`errors`), the words of its status callbacks (`statuses`) and
the lookup that settles a send whose outcome is unknown (`lookup`), and Lookup's line type of
a number for enrollment (`line_types`).

Nothing is imported here, so the receipts webhook and the timeline read a code or a status
word without loading the SDK.
"""
