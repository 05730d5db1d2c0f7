"""The editor's renderings run in worker processes: one past the time limit is stopped for
good (its process killed), a full pool refuses at once, and the pool keeps serving after."""

from __future__ import annotations

import asyncio
import time

import pytest

from reminders.sending.composer import ClinicInfo
from reminders.sending.preview import preview
from reminders.sending.render_pool import RenderBusy, RenderPool, RenderTimeout

CLINIC = ClinicInfo("Sunset Veins", "+13105550100")
# Within every bound of the sandbox, yet minutes of work: only a time limit stops it.
SLOW = "{% for i in range(10000) %}{{ (('ab'*50000)|unique|list|length) and '' }}{% endfor %}x"


def render(pool: RenderPool, source: str):
    return pool.run(preview, source, channel="sms", language="en", clinic=CLINIC)


def test_a_rendering_past_the_time_limit_is_stopped_and_its_worker_killed():
    async def scenario() -> tuple[float, bool, str]:
        pool = RenderPool(("reminders.sending.preview",), processes=1, time_limit=1.0)
        try:
            warm = await render(pool, "Hi {{ first_name }}")  # a worker started and ready
            worker = pool._idle[0]
            started = time.monotonic()
            with pytest.raises(RenderTimeout):
                await render(pool, SLOW)
            took = time.monotonic() - started
            alive = worker.process.is_alive()
            after = await render(pool, "Bye {{ first_name }}")  # a fresh worker serves on
            return took, alive, warm.body + " / " + after.body
        finally:
            pool.close()

    took, alive, bodies = asyncio.run(scenario())
    assert took < 3.0
    assert not alive
    assert bodies == "Hi Maria / Bye Maria"


def test_a_full_pool_refuses_at_once():
    async def scenario() -> tuple[object, float]:
        pool = RenderPool(("reminders.sending.preview",), processes=1, waiting=0, time_limit=5)
        try:
            await render(pool, "warm")
            slow = asyncio.ensure_future(render(pool, SLOW))
            await asyncio.sleep(0.2)
            started = time.monotonic()
            try:
                await render(pool, "Hi")
                refused: object = None
            except RenderBusy as busy:
                refused = busy
            took = time.monotonic() - started
            with pytest.raises(RenderTimeout):
                await slow
            return refused, took
        finally:
            pool.close()

    refused, took = asyncio.run(scenario())
    assert isinstance(refused, RenderBusy)
    assert took < 0.5
