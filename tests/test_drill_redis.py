"""Drill: Redis restarts during traffic. Commands keep being acknowledged with their real answers;
what they cause waits in the outbox and goes out once Redis is back: rows written while it was away
are handed over again by the web process, and rows whose queued jobs died with it are found by the
clock's sweep. Every team's welcome arrives exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from hackserver.app import create_app
from hackserver.foundation import jobs, outbox
from hackserver.foundation.models import ChannelMessage, OutboxMessage
from hackserver.foundation.settings import Settings
from hackserver.worker import worker_runtime
from tests.bots.test_slack import SECRET, command_body, post_command
from tests.dbstate import eventually, migrate
from tests.fakes import FakeClock
from tests.servers import RedisServer, runtime_of, serving

pytestmark = pytest.mark.redis


@pytest.fixture
async def settings(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, private_redis: RedisServer
) -> Settings:
    if not database_url.startswith("sqlite"):
        await migrate(database_url)
    return Settings(
        database_url=database_url,
        event_path=event_file(kickoff=kickoff),
        redis_url=private_redis.url,
        slack_signing_secret=SECRET,
    )


@pytest.fixture
async def client(settings: Settings, kickoff: datetime, free_port: int) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=FakeClock(kickoff + timedelta(minutes=20)), run_clock=False)
    async with serving(app, free_port) as server:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port}", timeout=10) as http:
            http.runtime = runtime_of(server)  # type: ignore[attr-defined]
            yield http


def work_burst(settings: Settings) -> None:
    """An RQ worker that delivers what is queued, then stops."""
    assert settings.redis_url is not None
    connection = redis.Redis.from_url(settings.redis_url)
    with worker_runtime(settings):
        SimpleWorker([Queue(jobs.queue_name("builtin"), connection=connection)], connection=connection).work(
            burst=True
        )


async def create_teams(client: httpx.AsyncClient, names: list[str]) -> None:
    for name in names:
        reply = await post_command(client, command_body(f"team create {name}", user=f"U{name}", trigger=name))
        assert reply.status_code == 200 and name in reply.json()["text"], reply.text


async def welcomes(client: httpx.AsyncClient) -> dict[str, int]:
    async with client.runtime.sessions() as session:  # type: ignore[attr-defined]
        counted = await session.execute(
            select(ChannelMessage.outbox_key, func.count()).group_by(ChannelMessage.outbox_key)
        )
        return {key: n for key, n in counted if key}


async def pending(client: httpx.AsyncClient) -> int:
    async with client.runtime.sessions() as session:  # type: ignore[attr-defined]
        return int(
            await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "delivered")
            )
            or 0
        )


async def test_a_redis_restart_loses_no_command_and_no_message(
    client: httpx.AsyncClient, settings: Settings, private_redis: RedisServer
) -> None:
    await create_teams(client, ["Alpha", "Beta"])  # queued in Redis, no worker yet: they die with it
    private_redis.kill()

    await create_teams(client, ["Gamma", "Delta", "Epsilon"])  # Redis away: still answered
    for user in ("UAlpha", "UGamma"):
        status = await post_command(client, command_body("status", user=user, trigger=f"s-{user}"))
        assert status.status_code == 200 and "Team" in status.text, status.text
    assert await pending(client) == 5

    private_redis.start()  # empty: the jobs for Alpha and Beta are gone
    queue = Queue(jobs.queue_name("builtin"), connection=redis.Redis.from_url(private_redis.url))
    await eventually(lambda: asyncio.sleep(0, queue.count >= 3), within=10)  # handed over again
    work_burst(settings)  # in the main thread, as RQ wants; the app waits meanwhile
    assert await pending(client) == 2  # Alpha's and Beta's rows wait for the sweep

    assert await outbox.recover(client.runtime) == 2  # type: ignore[attr-defined]  # what the clock's sweep runs
    work_burst(settings)  # in the main thread, as RQ wants; the app waits meanwhile
    assert await pending(client) == 0
    delivered = await welcomes(client)
    assert len(delivered) == 5 and set(delivered.values()) == {1}
