"""The daemon: an APScheduler BlockingScheduler (UTC) with two jobs, plan and dispatch.

SIGTERM and SIGINT stop new work, let the running job finish its current message, hand back
the rest of its leased batch, and exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
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
        self.scheduler = BlockingScheduler(timezone=UTC)
        self._running = {"plan": threading.Lock(), "dispatch": threading.Lock()}

    def plan(self) -> None:
        with self._running["plan"]:
            if self.stop.is_set():
                return
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
        with self._running["dispatch"]:
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
                job,
                "interval",
                seconds=seconds,
                id=name,
                max_instances=1,
                coalesce=True,
                next_run_time=utcnow(),
            )
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        log.info(
            "worker %s started (plan every %ss, dispatch every %ss)",
            self.worker,
            settings.plan_interval_seconds,
            settings.dispatch_interval_seconds,
        )
        self.scheduler.start()
        for lock in self._running.values():  # wait for a job still finishing its message
            with lock:
                pass
        self.runtime.engine.dispose()
        log.info("worker %s stopped", self.worker)
        return 0

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stop.set()
        self.scheduler.shutdown(wait=False)


def beat(engine: Engine, worker: str, now: datetime) -> None:
    """Record that this worker is alive, for /healthz."""
    with session_scope(engine) as session:
        heartbeat = session.get(WorkerHeartbeat, worker) or WorkerHeartbeat(
            worker_id=worker, seen_at=now
        )
        heartbeat.seen_at = now
        session.add(heartbeat)


def run_daemon(settings: Settings) -> int:
    configure_logging(settings.log_level)
    for warning in settings.warnings:
        log.warning("%s", warning)
    try:
        check_database(settings.database_url)
    except DatabaseNotReady as exc:
        log.error("%s", exc)
        return 2
    return Daemon(open_runtime(settings)).run()
