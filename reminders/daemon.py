"""The daemon: an APScheduler BackgroundScheduler (UTC): heartbeat, plan, dispatch, receive.

The first SIGTERM or SIGINT stops new work, lets the running job finish its current message,
hands back the rest of its leased batch, and exits 0. A second one stops at once, without
waiting for a provider call in flight: every lease still held is given up (pending again, or
`unknown` for a send already reserved, to be reconciled) and the process exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC
from types import FrameType
from typing import NoReturn

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import start_http_server

from reminders.clock import utcnow
from reminders.logs import configure_logging
from reminders.receiving.answers import Clinic
from reminders.receiving.escalation import page_overdue
from reminders.receiving.stop_wishes import apply_overdue
from reminders.runtime import (
    DatabaseNotReady,
    Runtime,
    check_database,
    check_writable,
    open_runtime,
    worker_id,
)
from reminders.sending.channels.base import Channel
from reminders.sending.channels.factory import build_channels
from reminders.sending.dispatch_results import DispatchResult
from reminders.sending.dispatcher import Dispatcher, DispatchReport
from reminders.sending.metrics import SendMetrics
from reminders.sending.rate_limit import sms_limiter
from reminders.settings import Settings
from reminders.store.db import DatabaseError, session_scope
from reminders.store.health import beat, mark_stopped

log = logging.getLogger("aftercare.daemon")

# The main thread waits for the stop in slices: the kernel may hand SIGTERM to any of the
# daemon's threads, and Python runs the handler only when the main thread next runs, so an
# untimed wait could sleep through the signal until another one came.
SIGNAL_CHECK_SECONDS = 0.5


class Daemon:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.worker = worker_id()
        self.stop = threading.Event()
        self.metrics = SendMetrics() if runtime.settings.metrics_port else None
        self.dispatcher = Dispatcher(
            runtime.engine,
            runtime.settings,
            runtime.default_plans,
            self._channels(),
            worker_id=self.worker,
            clock=utcnow,
            stop=self.stop,
        )
        self.scheduler = BackgroundScheduler(timezone=UTC)
        jobs = ("heartbeat", "plan", "dispatch", "receive")
        self._running = {name: threading.Lock() for name in jobs}
        self.started_at = utcnow()

    def _channels(self) -> dict[str, Channel]:
        settings = self.runtime.settings
        limiter = sms_limiter(settings, self.runtime.engine)
        if self.metrics is None:
            return build_channels(settings, sms_limiter=limiter)
        channels = build_channels(settings, sms_limiter=self.metrics.wrap_limiter(limiter))
        return self.metrics.wrap_channels(channels)

    def _serve_metrics(self) -> Callable[[], None]:
        """This worker's own metrics on METRICS_PORT; returns how to stop serving them.

        A port already taken is logged, not fatal: a monitoring mistake must not stop
        patients' messages.
        """
        settings = self.runtime.settings
        if self.metrics is None or settings.metrics_port is None:
            return lambda: None
        try:
            server, _thread = start_http_server(
                settings.metrics_port, addr=settings.metrics_host, registry=self.metrics.registry
            )
        except OSError as exc:
            log.error(
                "metrics not served on %s:%s (%s)",
                settings.metrics_host,
                settings.metrics_port,
                exc.strerror or type(exc).__name__,
            )
            return lambda: None
        log.info("metrics on http://%s:%s/metrics", settings.metrics_host, settings.metrics_port)
        return server.shutdown

    def plan(self) -> None:
        if not self.stop.is_set():
            report = self.runtime.plan(utcnow())
            if report.sessions:
                log.info(
                    "planned %d message(s) for %d session(s), %d unplannable",
                    report.messages,
                    report.sessions,
                    report.errors,
                )

    def receive(self) -> None:
        """Apply the likely opt-outs nobody decided within two business days; page the contact
        on call about urgent replies nobody answered in time."""
        if not self.stop.is_set():
            settings = self.runtime.settings
            clinic = Clinic.from_settings(settings)
            with session_scope(self.runtime.engine) as session:
                applied = apply_overdue(session, utcnow(), zone=settings.timezone, clinic=clinic)
            if applied:
                log.info("applied %d undecided likely opt-out(s)", applied)
            with session_scope(self.runtime.engine) as session:
                paged = page_overdue(session, utcnow(), zone=settings.timezone,
                                     minutes=settings.urgent_escalate_minutes,
                                     base_url=settings.public_base_url)  # fmt: skip
            if paged:
                log.info("paged the contact on call about %d urgent reply(ies)", paged)

    def heartbeat(self) -> None:
        """This worker's row in worker_heartbeat, on a job of its own: a long dispatch pass
        (a morning burst at the provider's pace) must not make a live worker look gone."""
        if self.stop.is_set():  # stopping: the clean stop is recorded instead
            return
        try:
            with self.runtime.engine.begin() as connection:
                beat(connection, self.worker, utcnow(), started_at=self.started_at)
        except DatabaseError as exc:
            log.warning("heartbeat not recorded (%s)", type(exc).__name__)

    def _mark_stopped(self) -> None:
        try:
            with self.runtime.engine.begin() as connection:
                mark_stopped(connection, self.worker, utcnow())
        except DatabaseError as exc:
            log.warning("clean stop not recorded (%s): the heartbeat ages out", type(exc).__name__)

    def dispatch(self) -> None:
        """Send what is due; while batches come back full, go on at the provider's pace."""
        while not self.stop.is_set():
            report = self.dispatcher.run_once()
            self._log(report)
            if self.metrics is not None:
                self.metrics.record(report)
            if not self.dispatcher.more_waiting or report.count(DispatchResult.PAUSED):
                return

    def _log(self, report: DispatchReport) -> None:
        if report.outcomes or report.released:
            log.info(
                "dispatched: sent %d, deferred %d, skipped %d, failed %d, retrying %d, released %d",
                report.count(DispatchResult.SENT),
                report.count(DispatchResult.DEFERRED),
                report.count(DispatchResult.SKIPPED),
                report.count(DispatchResult.FAILED),
                report.count(DispatchResult.RETRY),
                report.released,
            )

    def run(self) -> int:
        settings = self.runtime.settings
        for name, job, seconds in (
            ("heartbeat", self.heartbeat, heartbeat_interval(settings)),
            ("plan", self.plan, settings.plan_interval_seconds),
            ("dispatch", self.dispatch, settings.dispatch_interval_seconds),
            ("receive", self.receive, settings.plan_interval_seconds),
        ):
            self.scheduler.add_job(
                self._alone(name, job),
                "interval",
                seconds=seconds,
                id=name,
                name=name,
                max_instances=2,  # the second finds the first still running and returns
                coalesce=True,
                next_run_time=utcnow(),
            )
        self.handle_signals()
        log.info(
            "worker %s started (plan every %ss, dispatch every %ss)",
            self.worker,
            settings.plan_interval_seconds,
            settings.dispatch_interval_seconds,
        )
        stop_serving = self._serve_metrics()
        self.scheduler.start()
        while not self.stop.wait(SIGNAL_CHECK_SECONDS):
            pass
        self.scheduler.shutdown(wait=False)
        for lock in self._running.values():  # wait for a job still finishing its message
            with lock:
                pass
        _ignore_stop_signals()  # nothing is held now: a late signal must not cut the exit short
        self._mark_stopped()
        stop_serving()
        self.runtime.engine.dispose()
        log.info("worker %s stopped", self.worker)
        return 0

    def handle_signals(self) -> None:
        """SIGTERM and SIGINT stop this daemon (from the main thread only). `run` calls it; a
        process that starts more beside the daemon calls it first, so a Ctrl-C while it
        starts stops the daemon too instead of raising KeyboardInterrupt."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _alone(self, name: str, job: Callable[[], None]) -> Callable[[], None]:
        """The job, returning at once while its previous run is still going (a long dispatch
        outlasts its interval). APScheduler's own max_instances=1 would skip the run too, but
        log a warning at every interval."""
        lock = self._running[name]

        def run_alone() -> None:
            if not lock.acquire(blocking=False):
                return
            try:
                job()
            finally:
                lock.release()

        return run_alone

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.stop.is_set():
            self._stop_now(name)
        log.info("received %s, stopping (a second signal stops at once)", name)
        self.stop.set()

    def _stop_now(self, name: str) -> NoReturn:
        """Give up every lease and exit without waiting for the job threads: a send stuck on a
        slow provider must not hold the process, nor its batch, until the lease expires."""
        _ignore_stop_signals()
        try:
            released, unknown = self.dispatcher.abandon()
        except Exception as exc:
            log.error(
                "received %s again; handing back leases failed (%s): they return when they expire",
                name,
                type(exc).__name__,
            )
            code = 1
        else:
            log.info(
                "received %s again: worker %s stopped at once, %d message(s) handed back,"
                " %d in flight left to reconcile",
                name,
                self.worker,
                released,
                unknown,
            )
            code = 0
        self._mark_stopped()
        logging.shutdown()
        with contextlib.suppress(Exception):  # os._exit does not flush; stdout may be closed
            sys.stdout.flush()
        os._exit(code)  # sys.exit would wait for the job threads, which is what we are cutting


def _ignore_stop_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def heartbeat_interval(settings: Settings) -> float:
    """Often enough that a live worker never looks stale: four beats per stale period."""
    return max(settings.heartbeat_stale_seconds / 4, 1.0)


def open_daemon(settings: Settings) -> Daemon:
    """A daemon over this database, the settings' warnings logged; DatabaseNotReady when
    `aftercare init` has not prepared it, or it takes no writes."""
    for warning in settings.warnings:
        log.warning("%s", warning)
    check_database(settings.database_url)
    runtime = open_runtime(settings)
    try:  # a full disk or a read-only file: one line now, not a traceback per job later
        check_writable(runtime.engine, utcnow())
    except DatabaseNotReady:
        runtime.engine.dispose()
        raise
    return Daemon(runtime)


def run_daemon(settings: Settings) -> int:
    configure_logging(settings.log_level)
    try:
        daemon = open_daemon(settings)
    except DatabaseNotReady as exc:
        log.error("%s", exc)
        return 2
    return daemon.run()
