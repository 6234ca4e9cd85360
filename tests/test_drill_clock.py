"""Drill: `hackserver clock` dies by SIGKILL a second before a scheduled announcement is due. A clock
started again fires it once, late; with two clocks on one Redis, the one standing by takes the
leader lock when the dead leader's runs out and fires it once. The fired marker decides."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import select

from hackserver.clock import LOCK_TTL
from hackserver.foundation import jobs
from hackserver.foundation.models import OutboxMessage
from hackserver.foundation.settings import Settings
from hackserver.worker import worker_runtime
from tests.dbstate import eventually, migrate, rows
from tests.fakes import event_toml
from tests.test_clock_process import fired, hackserver, read, sleep_until, stop, texts

KEY = "announcement:drill"
TEXT = "DE drill"  # the event's first language goes to the built-in channels
LEAD = timedelta(seconds=20)  # from writing the event file to the announcement: a clock starts meanwhile


def drill_event(tmp_path: Path) -> tuple[Path, datetime]:
    """An event whose kickoff, and the announcement with it, is due LEAD from now."""
    due = datetime.now(UTC).replace(microsecond=0) + LEAD
    path = tmp_path / "event.toml"
    path.write_text(event_toml(due, announcements=(("drill", "kickoff", "10m"),)), encoding="utf-8")
    return path, due


def clock_env(database_url: str, event_path: Path, redis_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HACKSERVER_", "SLACK_", "DISCORD_"))}
    env |= {"HACKSERVER_DATABASE_URL": database_url, "HACKSERVER_EVENT": str(event_path)}
    return env | ({"HACKSERVER_REDIS_URL": redis_url} if redis_url else {})


async def fired_keys(database_url: str) -> list[str]:
    return [key for key, *_ in await fired(database_url)]


async def kill_just_before(process: asyncio.subprocess.Process, due: datetime, log: Path) -> None:
    await sleep_until(due - timedelta(seconds=1))
    assert process.returncode is None, read(log)
    process.kill()
    assert await process.wait() == -signal.SIGKILL


async def test_a_clock_killed_just_before_an_announcement_fires_it_once_after_a_restart(
    database_url: str, tmp_path: Path
) -> None:
    event_path, due = drill_event(tmp_path)
    await migrate(database_url)
    env, log = clock_env(database_url, event_path), tmp_path / "clock.log"
    with log.open("ab") as output:
        first = await hackserver("clock", env=env, output=output)
        try:
            await eventually(lambda: running(database_url, first), within=LEAD.total_seconds())
            await kill_just_before(first, due, log)
        finally:
            await stop(first)
        assert KEY not in await fired_keys(database_url), read(log)  # it died before the instant

        second = await hackserver("clock", env=env, output=output)
        try:

            async def posted() -> bool:
                assert second.returncode is None, read(log)
                return TEXT in await texts(database_url)

            await eventually(posted, within=30)
        finally:
            await stop(second)
    assert (await fired_keys(database_url)).count(KEY) == 1
    assert (await texts(database_url)).count(TEXT) == 1


async def running(database_url: str, clock: asyncio.subprocess.Process) -> bool:
    assert clock.returncode is None
    return "phase:registration" in await fired_keys(database_url)  # a week ago: fired at start


@pytest.mark.redis
async def test_when_the_leading_clock_is_killed_the_other_takes_over_and_fires_the_announcement_once(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    event_path, due = drill_event(tmp_path)
    await migrate(database_url)
    env = clock_env(database_url, event_path, redis_url)
    logs = [tmp_path / "clock-a.log", tmp_path / "clock-b.log"]
    outputs = [log.open("ab") for log in logs]
    clocks = [await hackserver("clock", env=env, output=output) for output in outputs]
    try:

        async def leading() -> list[int]:
            assert all(clock.returncode is None for clock in clocks)
            return [
                n for n, log in enumerate(logs) if "fired phase:registration" in read(log)
            ]  # after commit

        await eventually(leading, within=LEAD.total_seconds())
        [leader] = await leading()
        follower = clocks[1 - leader]
        await kill_just_before(clocks[leader], due, logs[leader])
        assert KEY not in await fired_keys(database_url)

        async def taken_over() -> bool:
            assert follower.returncode is None, read(logs[1 - leader])
            return f"fired {KEY}" in read(logs[1 - leader])  # logged after its commit

        # The dead leader's lock runs out (10 s), then the follower's next try (every 3.3 s) wins.
        await eventually(taken_over, within=40)
    finally:
        for clock in clocks:
            await stop(clock)
        for output in outputs:
            output.close()

    assert (await fired_keys(database_url)).count(KEY) == 1
    queued = await rows(database_url, select(OutboxMessage.key).where(OutboxMessage.key.startswith(KEY)))
    assert len(queued) == 1  # the built-in #announcements: one row, one RQ job
    settings = Settings(database_url=database_url, event_path=event_path, redis_url=redis_url)
    connection = Redis.from_url(redis_url)
    with worker_runtime(settings):  # in the main thread, as RQ wants
        SimpleWorker([Queue(jobs.queue_name("builtin"), connection=connection)], connection=connection).work(
            burst=True
        )
    connection.close()
    assert (await texts(database_url)).count(TEXT) == 1


@pytest.mark.redis
async def test_a_clock_stopped_with_sigterm_lets_go_of_its_lock_and_the_other_takes_over_at_once(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    event_path, _ = drill_event(tmp_path)
    await migrate(database_url)
    env = clock_env(database_url, event_path, redis_url)
    lock_key = "hackserver:test-sprint:clock"
    connection = Redis.from_url(redis_url)
    logs = [tmp_path / "clock-a.log", tmp_path / "clock-b.log"]
    outputs = [log.open("ab") for log in logs]
    clocks = [await hackserver("clock", env=env, output=output) for output in outputs]
    try:

        async def leading() -> list[int]:
            assert all(clock.returncode is None for clock in clocks)
            return [n for n, log in enumerate(logs) if "fired phase:registration" in read(log)]

        await eventually(leading, within=LEAD.total_seconds())
        [leader] = await leading()
        token = connection.get(lock_key)
        assert token is not None

        clocks[leader].send_signal(signal.SIGTERM)
        assert await clocks[leader].wait() == 0, read(logs[leader])
        assert connection.get(lock_key) != token  # let go of, not left to run out

        async def taken_over() -> bool:
            assert clocks[1 - leader].returncode is None, read(logs[1 - leader])
            return connection.get(lock_key) is not None

        await eventually(taken_over, within=LOCK_TTL)  # its next try, every LOCK_TTL / 3
    finally:
        for clock in clocks:
            await stop(clock)
        for output in outputs:
            output.close()
        connection.close()
