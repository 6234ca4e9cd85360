"""Two sprint clocks against one Redis: one leader fires everything once; the other stands by."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty
from sqlalchemy import select

from hackserver.clock import LeaderLock, SprintClock
from hackserver.foundation import jobs
from hackserver.foundation.models import ChannelMessage, FiredItem
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from hackserver.sprint.schedule import schedule
from hackserver.worker import worker_runtime
from tests.fakes import ANNOUNCEMENTS, FakeClock

pytestmark = pytest.mark.redis


class ThreadWorker(SimpleWorker):
    """An RQ worker that can run off the main thread (the test's loop owns that one)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


def deliver_queued(settings: Settings) -> None:
    assert settings.redis_url is not None
    connection = Redis.from_url(settings.redis_url)
    try:
        with worker_runtime(settings):
            ThreadWorker(
                [Queue(jobs.queue_name("builtin"), connection=connection)], connection=connection
            ).work(burst=True)
    finally:
        connection.close()


def lock_of(clock: SprintClock) -> LeaderLock:
    assert clock.lock is not None
    return clock.lock


async def step_both(clocks: list[SprintClock]) -> list[bool]:
    await asyncio.gather(*(clock.step() for clock in clocks))
    return [lock_of(clock).held for clock in clocks]


async def fired_keys(runtime: Runtime) -> list[tuple[str, str]]:
    async with runtime.sessions() as session:
        return [tuple(r) for r in await session.execute(select(FiredItem.key, FiredItem.status))]  # type: ignore[misc]


async def test_two_clocks_on_one_redis_fire_each_item_once_through_one_leader(
    database_url: str,
    redis_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
) -> None:
    path = event_file(kickoff=kickoff)
    clock = FakeClock(kickoff - timedelta(days=8))
    async with (
        make_runtime(database_url, path, clock, redis_url) as first,
        make_runtime(database_url, path, clock, redis_url) as second,
    ):
        clocks = [SprintClock(first), SprintClock(second)]
        items = schedule(first.event, first.event.phases)
        leaders = []
        for instant in sorted({item.instant for item in items}):
            for now in (instant - timedelta(seconds=1), instant, instant + timedelta(minutes=1)):
                clock.set(now)
                held = await step_both(clocks)
                assert held.count(True) == 1, f"at {now}: {held}"
                leaders.append(held.index(True))
        assert len(set(leaders)) == 1
        leader, follower = clocks[leaders[0]], clocks[1 - leaders[0]]
        assert follower.fired == []
        assert sorted(key for key, _, _ in leader.fired) == sorted(item.key for item in items)
        fired = await fired_keys(first)
        assert Counter(key for key, _ in fired) == Counter(item.key for item in items)
        assert {status for _, status in fired} == {"fired"}

    await asyncio.to_thread(
        deliver_queued, Settings(database_url=database_url, event_path=path, redis_url=redis_url)
    )
    async with make_runtime(database_url, path, clock) as runtime, runtime.sessions() as session:
        texts = (await session.scalars(select(ChannelMessage.text))).all()
    assert Counter(texts) == Counter(f"DE {ident}" for ident, _, _ in ANNOUNCEMENTS)


async def test_when_the_leader_lets_go_the_other_clock_takes_over_on_its_next_step(
    database_url: str,
    redis_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
) -> None:
    path = event_file(kickoff=kickoff)
    clock = FakeClock(kickoff - timedelta(hours=1))
    async with (
        make_runtime(database_url, path, clock, redis_url) as first,
        make_runtime(database_url, path, clock, redis_url) as second,
    ):
        a, b = SprintClock(first), SprintClock(second)
        held = await step_both([a, b])
        leader, follower = (a, b) if held[0] else (b, a)
        assert [key for key, _, _ in leader.fired] == ["phase:registration"]

        await lock_of(leader).release()
        clock.set(kickoff)
        await follower.step()
        await leader.step()

        assert (lock_of(follower).held, lock_of(leader).held) == (True, False)
        assert [key for key, _, _ in follower.fired] == ["phase:kickoff", "announcement:kickoff"]
        assert [key for key, _, _ in leader.fired] == ["phase:registration"]
