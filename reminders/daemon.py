"""The daemon: an APScheduler BackgroundScheduler (UTC) with two jobs, plan and dispatch.

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
from datetime import UTC, datetime
from types import FrameType
from typing import NoReturn

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from reminders.clock import utcnow
from reminders.logs import configure_logging
from reminders.runtime import DatabaseNotReady, Runtime, check_database, open_runtime, worker_id
from reminders.sending.channels.factory import build_channels
from reminders.sending.dispatcher import Dispatcher, DispatchReport
from reminders.settings import Settings
from reminders.store.db import session_scope
from reminders.store.models import WorkerHeartbeat

log = logging.getLogger("aftercare.daemon")


class Daemon:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.worker = worker_id()
        self.stop = threading.Event()
        self.dispatcher = Dispatcher(
            runtime.engine,
            runtime.settings,
            runtime.plans,
            build_channels(runtime.settings),
            worker_id=self.worker,
            clock=utcnow,
            stop=self.stop,
        )
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self._running = {"plan": threading.Lock(), "dispatch": threading.Lock()}

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

    def dispatch(self) -> None:
        """Send what is due; while batches come back full, go on at the provider's pace."""
        while not self.stop.is_set():
            beat(self.runtime.engine, self.worker, utcnow())
            report = self.dispatcher.run_once()
            self._log(report)
            if not self.dispatcher.more_waiting or report.count("paused"):
                return

    def _log(self, report: DispatchReport) -> None:
        if report.outcomes or report.released:
            log.info(
                "dispatched: sent %d, deferred %d, skipped %d, failed %d, retrying %d, released %d",
                report.count("sent"),
                report.count("deferred"),
                report.count("skipped"),
                report.count("failed"),
                report.count("retry"),
                report.released,
            )

    def run(self) -> int:
        settings = self.runtime.settings
        for name, job, seconds in (
            ("plan", self.plan, settings.plan_interval_seconds),
            ("dispatch", self.dispatch, settings.dispatch_interval_seconds),
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
        self.scheduler.start()
        self.stop.wait()
        self.scheduler.shutdown(wait=False)
        for lock in self._running.values():  # wait for a job still finishing its message
            with lock:
                pass
        _ignore_stop_signals()  # nothing is held now: a late signal must not cut the exit short
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
        logging.shutdown()
        with contextlib.suppress(Exception):  # os._exit does not flush; stdout may be closed
            sys.stdout.flush()
        os._exit(code)  # sys.exit would wait for the job threads, which is what we are cutting


def _ignore_stop_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def beat(engine: Engine, worker: str, now: datetime) -> None:
    """Record that this worker is alive, for /healthz."""
    with session_scope(engine) as session:
        heartbeat = session.get(WorkerHeartbeat, worker) or WorkerHeartbeat(
            worker_id=worker, seen_at=now
        )
        heartbeat.seen_at = now
        session.add(heartbeat)


def open_daemon(settings: Settings) -> Daemon:
    """A daemon over this database, the settings' warnings logged; DatabaseNotReady when
    `aftercare init` has not prepared it."""
    for warning in settings.warnings:
        log.warning("%s", warning)
    check_database(settings.database_url)
    return Daemon(open_runtime(settings))


def run_daemon(settings: Settings) -> int:
    configure_logging(settings.log_level)
    try:
        daemon = open_daemon(settings)
    except DatabaseNotReady as exc:
        log.error("%s", exc)
        return 2
    return daemon.run()
