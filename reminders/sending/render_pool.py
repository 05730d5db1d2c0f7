"""Admins' template renderings in worker processes, each stopped for good past a time limit.

An admin's template is code. The sandbox (rules/sandbox.py) bounds what it can build, but a
rendering still runs Python: on the web app's event loop, or on the thread pool every request
shares, one slow template would hold up every page and Twilio's webhooks with it, and a thread
cannot be stopped. Here each rendering runs in a process of a small pool (PROCESSES), with a
memory ceiling; one that passes TIME_LIMIT is killed (its worker replaced), which stops the
work whatever it was doing. At most PROCESSES + WAITING renderings are in hand at once; past
that `run` refuses at once (RenderBusy), so a burst of previews cannot queue without end.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

__all__ = ["PROCESSES", "TIME_LIMIT", "WAITING", "RenderBusy", "RenderPool", "RenderTimeout"]

T = TypeVar("T")

PROCESSES = 2
WAITING = 4
TIME_LIMIT = 3.0  # seconds for one job: a shipped template renders in about a millisecond
MEMORY_LIMIT = 1 << 30  # bytes of address space for a worker
START_LIMIT = 60.0  # seconds for a new worker to start and import what it renders with
IDLE_EXIT = 60.0  # seconds a worker waits for work before it exits (a new one starts on demand)


class RenderBusy(Exception):
    """Every worker is busy and the queue is full."""


class RenderTimeout(Exception):
    """The rendering took longer than TIME_LIMIT and was stopped."""


class _Worker:
    def __init__(self, preload: tuple[str, ...]) -> None:
        parent, child = multiprocessing.get_context("spawn").Pipe()
        self.conn: Connection = parent
        self.process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(child, preload), name="template-render", daemon=True
        )
        self.process.start()
        child.close()

    def stop(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class RenderPool:
    """`await pool.run(function, *args)`: the function (importable, picklable arguments and
    result) run in a worker; RenderBusy at once when full, RenderTimeout past the limit."""

    def __init__(
        self,
        preload: tuple[str, ...] = (),
        *,
        processes: int = PROCESSES,
        waiting: int = WAITING,
        time_limit: float = TIME_LIMIT,
    ) -> None:
        self.preload = preload  # modules a worker imports before it says it is ready
        self.time_limit = time_limit
        self._slots = threading.BoundedSemaphore(processes + waiting)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._free = threading.Semaphore(processes)

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self._slots.acquire(blocking=False):
            raise RenderBusy
        try:
            while not self._free.acquire(blocking=False):
                await asyncio.sleep(0.02)
            try:
                return await self._on_a_worker(function, args, kwargs)
            finally:
                self._free.release()
        finally:
            self._slots.release()

    async def _on_a_worker(
        self, function: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        worker = await self._take()
        try:
            worker.conn.send((function, args, kwargs))
            ok, value = await _answer(worker, self.time_limit)
        except (TimeoutError, EOFError, OSError):
            worker.stop()  # killed: whatever it was doing stops here
            raise RenderTimeout from None
        with self._lock:
            self._idle.append(worker)
        if not ok:
            raise RuntimeError(value)
        result: T = value
        return result

    async def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                idle = self._idle.pop()
                if idle.process.is_alive():
                    return idle
                idle.stop()  # it left after IDLE_EXIT without work
        worker = _Worker(self.preload)
        try:
            await _answer(worker, START_LIMIT)  # "ready", once its imports are done
        except (TimeoutError, EOFError, OSError):
            worker.stop()
            raise
        return worker

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()


async def _answer(worker: _Worker, limit: float) -> Any:
    """The worker's next message, awaited without a thread; TimeoutError past `limit`."""
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[None] = loop.create_future()
    fd = worker.conn.fileno()

    def readable() -> None:
        if not answered.done():
            answered.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await asyncio.wait_for(answered, limit)
    finally:
        loop.remove_reader(fd)
    return worker.conn.recv()


def _serve(conn: Connection, preload: tuple[str, ...]) -> None:
    """A worker's loop: run each job it is sent, answer (ok, result or the error's words)."""
    import importlib

    for module in preload:
        importlib.import_module(module)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    conn.send("ready")
    while True:
        try:
            if not conn.poll(IDLE_EXIT):
                return  # no work for a while: give the memory back
            function, args, kwargs = conn.recv()
        except EOFError:
            return
        try:
            conn.send((True, function(*args, **kwargs)))
        except Exception as exc:  # the caller words it; the worker keeps serving
            conn.send((False, f"{type(exc).__name__}: {exc}"))
