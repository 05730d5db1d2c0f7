"""`ChannelKind` is a `StrEnum`: written by the store it is the same word as before, on SQLite
and PostgreSQL, and a bare word read back compares equal to it.

The model's `channel` fields stay `str`: an enum column type would be a native ENUM on
PostgreSQL (a migration, and a CHECK on SQLite) for no gain, since rows read back as plain
strings already compare equal to the members.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reminders.rules.channel_kinds import ChannelKind
from reminders.store.db import session_scope
from reminders.store.opt_outs import channel_of, is_opted_out, opt_out

NOW = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)


def test_an_address_tells_its_channel_kind():
    assert channel_of("+13105550100") is ChannelKind.SMS
    assert channel_of("Maria@Example.com") is ChannelKind.EMAIL


def test_a_channel_kind_is_stored_as_its_plain_word(engine: Engine):
    with session_scope(engine) as session:
        opt_out(session, "+13105550100", source="cli", actor="staff", now=NOW)
        opt_out(session, "maria@example.com", source="cli", actor="staff", now=NOW)
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT channel FROM opt_out")).scalars().all()
        details = connection.execute(sa.text("SELECT detail FROM audit_event")).scalars().all()
    assert sorted(stored) == ["email", "sms"]
    assert all(type(word) is str for word in stored)  # what a row holds, not the enum
    assert sorted(details) == ["channel=email source=cli", "channel=sms source=cli"]


def test_a_member_finds_rows_written_with_the_bare_word(engine: Engine):
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO opt_out (channel, address, source, actor, created_at)"
                " VALUES ('sms', '+13105550100', 'cli', 'staff', :now)"
            ),
            {"now": NOW},
        )
    with session_scope(engine) as session:
        assert is_opted_out(session, ChannelKind.SMS, "+13105550100")
        assert not is_opted_out(session, ChannelKind.EMAIL, "+13105550100")
