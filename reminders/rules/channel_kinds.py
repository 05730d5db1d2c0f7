"""The two kinds of channel a message goes by (pure): the word stored on every row.

A `StrEnum`, so a kind is equal to the word the database, the care-plan file and the
template file names hold (`ChannelKind.SMS == "sms"`): rows read back as plain strings
compare with it as they are. Not to be confused with `sending.channels.base.Channel`, the
interface of a provider that sends by one of these kinds.
"""

from __future__ import annotations

from enum import StrEnum


class ChannelKind(StrEnum):
    SMS = "sms"
    EMAIL = "email"
