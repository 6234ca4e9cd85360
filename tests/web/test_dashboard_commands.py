"""The dashboard's commands per minute, over real HTTP: commands sent as signed Slack requests and
typed in the built-in channels are counted in memory and written a few seconds later in one
statement, not one a command; two web processes on one database add up; a request Slack sends again
counts once."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import event

from hackserver.app import create_app
from hackserver.dashboard.command_counts import FLUSH_EVERY
from hackserver.dashboard.history import history
from hackserver.foundation.models import CommandMinute
from hackserver.foundation.settings import Settings
from hackserver.teams.participants import Identity, identify
from tests.bots.test_slack import SECRET, command_body, signed
from tests.dbstate import migrate
from tests.fakes import FakeClock
from tests.servers import runtime_of, serving
from tests.web.test_builtin_chat import bot_channel_of, join
from tests.web.test_dashboard import TOKEN, base


@pytest.fixture
async def settings(database_url: str, event_file: Callable[..., Path], kickoff: datetime) -> Settings:
    settings = Settings(
        database_url=database_url,
        event_path=event_file(kickoff=kickoff),
        organiser_token=TOKEN,
        slack_signing_secret=SECRET,
    )
    if not settings.is_sqlite:
        await migrate(database_url)
    return settings


@pytest.fixture
def clock(kickoff: datetime) -> FakeClock:
    return FakeClock(kickoff + timedelta(minutes=20))


@contextlib.asynccontextmanager
async def web_process(settings: Settings, clock: FakeClock) -> AsyncIterator[uvicorn.Server]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    async with serving(create_app(settings, clock=clock, run_clock=False), port) as server:
        yield server


async def slack(server: uvicorn.Server, text: str, trigger: str, user: str = "U1") -> None:
    body = command_body(text, user=user, trigger=trigger)
    async with httpx.AsyncClient(base_url=base(server), timeout=10) as client:
        headers = {**signed(body), "Content-Type": "application/x-www-form-urlencoded"}
        assert (await client.post("/slack/commands", content=body, headers=headers)).status_code == 200


async def typed(server: uvicorn.Server, *texts: str) -> None:
    """Someone joins the built-in channels and types each text in their bot channel."""
    async with httpx.AsyncClient(base_url=base(server), timeout=10) as person:
        await join(person, "Ada")
        channel = await bot_channel_of(person)
        for text in texts:
            response = await person.post(f"/channels/{channel}/messages?lang=en", data={"text": text})
            assert response.status_code < 400, response.text


async def charted_after(
    settings: Settings, clock: FakeClock, make_runtime: Callable[..., Any]
) -> list[float]:
    """The chart's commands per minute, read once the web processes have stopped."""
    async with make_runtime(settings.database_url, settings.event_path, clock) as runtime:
        async with runtime.reading() as tx:
            return list((await history(tx, clock.speed))["commands"])


async def test_commands_through_slack_and_the_built_in_channels_in_two_web_processes_add_up(
    settings: Settings, clock: FakeClock, make_runtime: Callable[..., Any]
) -> None:
    async with web_process(settings, clock) as first, web_process(settings, clock) as second:
        for n in range(3):
            await slack(first, "help", trigger=f"trigger-{n}")
        await typed(second, "/hack status", "/hack help")
    # Each wrote what it had counted as it stopped; the clock stands in the minute of the first
    # registration, the chart's one point.
    assert await charted_after(settings, clock, make_runtime) == [5.0]


async def test_a_request_slack_sends_again_counts_once(
    settings: Settings, clock: FakeClock, make_runtime: Callable[..., Any]
) -> None:
    async with web_process(settings, clock) as server:
        for _ in range(3):  # Slack's retries carry the same trigger
            await slack(server, "help", trigger="trigger-once")
    assert await charted_after(settings, clock, make_runtime) == [1.0]


async def test_a_point_is_its_steps_commands_over_its_minutes_and_the_current_step_over_those_passed(
    settings: Settings, clock: FakeClock
) -> None:
    now = clock.now()
    first = now - timedelta(minutes=240)  # four hours: a point every two minutes
    async with web_process(settings, clock) as server, httpx.AsyncClient(base_url=base(server)) as organiser:
        runtime = runtime_of(server)
        async with runtime.transaction() as tx:
            (await identify(tx, Identity("slack", "T1", "U1", "Ada"))).created_at = first
            minute = timedelta(minutes=1)
            tx.session.add_all(
                CommandMinute(event_id=tx.event_id, minute=at, commands=n)
                for at, n in ((first, 6), (first + minute, 4), (now, 3))
            )
        await organiser.post("/dashboard/login", data={"token": TOKEN})
        shown = (await organiser.get("/dashboard/history")).json()
    assert shown["step"] == 120
    assert shown["commands"][:2] == [5.0, 0.0]  # ten in the first two minutes
    assert shown["commands"][-1] == 3.0  # the step just begun: three so far, over a whole minute


async def test_a_running_process_writes_its_counts_within_seconds_in_one_statement_not_one_a_command(
    settings: Settings, clock: FakeClock
) -> None:
    async with web_process(settings, clock) as server, httpx.AsyncClient(base_url=base(server)) as organiser:
        statements: list[str] = []

        def executed(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        event.listen(runtime_of(server).engine.sync_engine, "before_cursor_execute", executed)
        for n in range(10):
            await slack(server, "help", trigger=f"trigger-{n}", user=f"U{n}")
        await organiser.post("/dashboard/login", data={"token": TOKEN})
        shown: list[float] = []
        async with asyncio.timeout(3 * FLUSH_EVERY):
            while shown != [10.0]:
                await asyncio.sleep(0.2)
                shown = (await organiser.get("/dashboard/history")).json()["commands"]
    written = [s for s in statements if "command_counts" in s and s.lstrip().upper().startswith("INSERT")]
    assert 1 <= len(written) <= 2, written  # a flush every few seconds: these ten fell in one or two
