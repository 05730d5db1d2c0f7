"""What a batch made of each message: a `DispatchResult`, and a lease lost before its row
was read, which has no step or channel to report (never a made-up "?")."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry

from reminders.cli.output import print_tick
from reminders.planning.planner import PlanReport
from reminders.rules.channel_kinds import ChannelKind
from reminders.sending.dispatch_results import (
    QUIET_RESULTS,
    DispatchReport,
    DispatchResult,
    Outcome,
    went_cleanly,
)
from reminders.sending.metrics import SendMetrics

AT = datetime(2026, 6, 1, 17, 0, tzinfo=UTC)


def test_the_results_keep_the_words_logs_and_metrics_have_always_used():
    assert [str(result) for result in DispatchResult] == [
        "sent", "deferred", "held", "skipped", "failed", "retry", "unknown", "paused", "lost",
    ]  # fmt: skip
    assert DispatchResult.SENT == "sent"  # a StrEnum: equal to its word


def test_a_lease_lost_before_its_row_was_read_has_no_step_or_channel():
    lost = Outcome.lease_lost(7)
    assert (lost.message_id, lost.step, lost.channel) == (7, None, None)
    assert (lost.result, lost.detail, lost.at) == (DispatchResult.LOST, "lease lost", None)


def test_a_lease_lost_in_the_send_keeps_what_was_read():
    lost = Outcome.lease_lost(7, step="aftercare", channel=ChannelKind.EMAIL)
    assert (lost.step, lost.channel, lost.result) == ("aftercare", "email", "lost")


def test_a_report_counts_each_result():
    report = DispatchReport(
        outcomes=[
            Outcome(1, "aftercare", ChannelKind.SMS, DispatchResult.SENT, at=AT),
            Outcome(2, "aftercare", ChannelKind.EMAIL, DispatchResult.SENT, at=AT),
            Outcome.lease_lost(3),
        ]
    )
    assert report.count(DispatchResult.SENT) == 2
    assert report.count(DispatchResult.LOST) == 1
    assert report.count(DispatchResult.RETRY) == 0


def test_only_provider_trouble_makes_a_batch_unclean():
    quiet = [Outcome(n, "s", ChannelKind.SMS, result) for n, result in enumerate(QUIET_RESULTS)]
    assert went_cleanly(DispatchReport(outcomes=quiet))
    for trouble in set(DispatchResult) - QUIET_RESULTS:
        report = DispatchReport(outcomes=[*quiet, Outcome(9, "s", ChannelKind.SMS, trouble)])
        assert not went_cleanly(report), trouble


def test_a_lease_lost_unread_is_counted_with_an_empty_channel_label():
    metrics = SendMetrics(CollectorRegistry())
    metrics.record(DispatchReport(outcomes=[Outcome.lease_lost(3)]))
    labels = {"channel": "", "result": "lost"}
    assert metrics.registry.get_sample_value("aftercare_dispatch_results_total", labels) == 1


def test_a_tick_prints_a_lease_lost_unread_without_step_or_channel(capsys):
    report = DispatchReport(
        outcomes=[
            Outcome(1, "aftercare", ChannelKind.SMS, DispatchResult.SENT, "console", AT),
            Outcome.lease_lost(3),
        ]
    )
    print_tick(AT, ZoneInfo("America/Los_Angeles"), PlanReport(), report)
    lines = capsys.readouterr().out.splitlines()
    assert "sent 1, deferred 0, skipped 0, failed 0, retrying 0." in lines[0]
    assert lines[1:] == ["  sent      #1 aftercare sms console", "  lost      #3 lease lost"]
