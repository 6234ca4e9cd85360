"""The per-person command limit: past it a person is told to slow down and nothing they sent runs;
others are not slowed; with Redis every web process counts together, and a Redis away stops nobody."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from bots.core import Bot, Invocation, Reply
from hackserver.foundation.errors import EventFileError
from hackserver.foundation.event import load_event
from hackserver.foundation.models import Team
from hackserver.foundation.ratelimit import MemoryLimit, RedisLimit
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity
from tests.fakes import FakeClock

ALICE = Identity("slack", "T1", "UALICE", "alice")
BOB = Identity("slack", "T1", "UBOB", "bob")


async def ask(runtime: Runtime, text: str, who: Identity = ALICE, **options: Any) -> Reply:
    reply = await Bot(runtime).handle(Invocation(who, text, **options))
    assert reply is not None
    return reply


async def teams(runtime: Runtime) -> int:
    async with runtime.reading() as tx:
        return int(await tx.session.scalar(select(func.count()).select_from(Team)) or 0)


async def test_past_the_limit_a_person_is_told_to_slow_down_and_nothing_runs(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, clock = runtime_at
    clock.set(runtime.event.phases["kickoff"])
    runtime.command_limit = MemoryLimit(3, 60)
    for _ in range(3):
        assert (await ask(runtime, "status")).ok
    refused = await ask(runtime, "team create Owls", locale="en")
    assert "Slow down" in refused.text and "3 commands in 60 seconds" in refused.text
    assert await teams(runtime) == 0
    assert (await ask(runtime, "team create Owls", who=BOB)).ok  # someone else is not slowed
    assert await teams(runtime) == 1


@pytest.mark.redis
async def test_with_redis_two_web_processes_count_together(redis_url: str) -> None:
    first, second = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        a, b = RedisLimit(first, "test:commands:", 3, 60), RedisLimit(second, "test:commands:", 3, 60)
        allowed = [await limit.allow("slack:T1:U1") for limit in (a, b, a, b)]
        assert allowed == [True, True, True, False]
        assert await b.allow("slack:T1:U2")
    finally:
        await first.aclose()
        await second.aclose()


async def test_without_redis_reachable_commands_are_not_refused(free_port: int) -> None:
    unreachable = Redis(host="127.0.0.1", port=free_port, socket_connect_timeout=0.5)
    try:
        assert await RedisLimit(unreachable, "test:", 1, 60).allow("slack:T1:U1")
    finally:
        await unreachable.aclose()


@pytest.mark.parametrize(
    ("limits", "problem"),
    [
        ("commands = 0", "limits.commands: expected a whole number from 1 to 100000"),
        ('per = "2h"', "limits.per: expected a duration from 1s to 1h"),
        ('per = "soon"', "limits.per: 'soon' is not a duration"),
        ("signups = 0", "limits.signups: expected a whole number from 1 to 100000"),
    ],
)
def test_a_bad_limit_in_the_event_file_is_reported(
    event_file: Callable[..., Path], kickoff: datetime, limits: str, problem: str
) -> None:
    path = event_file(kickoff=kickoff)
    path.write_text(path.read_text().replace("commands = 10000", limits), encoding="utf-8")
    with pytest.raises(EventFileError) as error:
        load_event(path)
    assert problem in str(error.value)
