"""Guessing a secret: past 10 wrong ones from a client address in 5 minutes, every door that takes a
secret (the organiser sign-in of the channels and of the dashboard, the API's bearer token, /metrics,
the webhook's token) refuses that address with 429 and Retry-After before comparing what it sends, a
right secret too; other addresses go on; with Redis every web process counts together. Servers run
on loopback as `hackserver run` serves them: behind a proxy there (X-Forwarded-For from 127.0.0.1,
uvicorn's default), the forwarded address is the one counted."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from hackserver.app import create_app
from hackserver.foundation.ratelimit import ATTEMPTS, ATTEMPTS_WINDOW
from hackserver.foundation.settings import Settings
from tests.dbstate import migrate
from tests.fakes import ORGANISER_TOKEN, FakeClock
from tests.servers import serving

METRICS_TOKEN = "metrics-token-for-tests-0123"
WEBHOOK_TOKEN = "webhook-token-for-tests-0123"
GUESSER, SOMEONE_ELSE = "203.0.113.7", "198.51.100.9"

Door = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]
DOORS: dict[str, tuple[Door, str, int]] = {  # how a secret is sent, the right one, the answer to it
    "channels": (
        lambda client, token: client.post("/channels/organiser", data={"token": token}),
        ORGANISER_TOKEN,
        303,
    ),
    "dashboard": (
        lambda client, token: client.post("/dashboard/login", data={"token": token}),
        ORGANISER_TOKEN,
        303,
    ),
    "api": (
        lambda client, token: client.get("/api/v1/phases", headers={"Authorization": f"Bearer {token}"}),
        ORGANISER_TOKEN,
        200,
    ),
    "metrics": (
        lambda client, token: client.get("/metrics", headers={"Authorization": f"Bearer {token}"}),
        METRICS_TOKEN,
        200,
    ),
    "webhook": (
        lambda client, token: client.post(
            "/webhook/commands", data={"token": token, "user_id": "u1", "text": "help"}
        ),
        WEBHOOK_TOKEN,
        200,
    ),
}


def guessed(n: int) -> str:
    return f"guessed-token-number-{n:04d}"


async def start(stack: AsyncExitStack, settings: Settings, kickoff: datetime, port: int) -> str:
    app = create_app(settings, clock=FakeClock(kickoff), run_clock=False)
    server: uvicorn.Server = await stack.enter_async_context(serving(app, port))
    return f"http://127.0.0.1:{server.config.port}"


def another_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(base: str, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base, headers={"X-Forwarded-For": address, "Accept-Language": "en"}, timeout=10
    )


@pytest.fixture
async def settings(database_url: str, event_file: Callable[..., Path], kickoff: datetime) -> Settings:
    if not database_url.startswith("sqlite"):
        await migrate(database_url)
    return Settings(
        database_url=database_url,
        event_path=event_file(kickoff=kickoff),
        organiser_token=ORGANISER_TOKEN,
        metrics_token=METRICS_TOKEN,
        webhook_token=WEBHOOK_TOKEN,
    )


@pytest.fixture
async def site(settings: Settings, kickoff: datetime, free_port: int) -> AsyncIterator[str]:
    async with AsyncExitStack() as stack:
        yield await start(stack, settings, kickoff, free_port)


@pytest.mark.parametrize("door", DOORS)
async def test_past_ten_wrong_secrets_an_address_is_refused_even_the_right_one(
    site: str, door: str, caplog: pytest.LogCaptureFixture
) -> None:
    send, right, welcome = DOORS[door]
    caplog.set_level(logging.WARNING)
    async with client(site, GUESSER) as guesser, client(site, SOMEONE_ELSE) as other:
        assert (await send(guesser, right)).status_code == welcome  # a right one is not counted
        for n in range(ATTEMPTS):
            assert (await send(guesser, guessed(n))).status_code in (401, 403)
        refused = await send(guesser, guessed(ATTEMPTS))
        assert refused.status_code == 429, refused.text
        assert 0 < int(refused.headers["retry-after"]) <= ATTEMPTS_WINDOW
        assert "too many wrong tokens" in refused.text.lower()
        right_refused = await send(guesser, right)  # not compared: a right one would tell
        assert right_refused.status_code == 429 and right not in right_refused.text
        assert (await send(other, right)).status_code == welcome
    blocks = [r.getMessage() for r in caplog.records if "wrong secrets" in r.getMessage()]
    assert len(blocks) == 1 and GUESSER in blocks[0]
    assert not any("guessed-token" in r.getMessage() for r in caplog.records)


async def test_the_channels_page_says_it_in_the_readers_language(site: str) -> None:
    send, _, _ = DOORS["channels"]
    async with client(site, GUESSER) as guesser:
        guesser.headers["Accept-Language"] = "de"
        for n in range(ATTEMPTS + 1):
            refused = await send(guesser, guessed(n))
        assert refused.status_code == 429
        assert (
            "Zu viele falsche Tokens von dieser Adresse. Versuch es in 5 Minuten noch einmal." in refused.text
        )


async def test_every_door_counts_towards_the_same_limit(site: str) -> None:
    async with client(site, GUESSER) as guesser:
        for n in range(ATTEMPTS):
            send, _, _ = DOORS[list(DOORS)[n % len(DOORS)]]
            assert (await send(guesser, guessed(n))).status_code in (401, 403)
        for send, right, _ in DOORS.values():
            assert (await send(guesser, right)).status_code == 429


@pytest.mark.redis
async def test_with_redis_two_web_processes_count_together(
    settings: Settings, redis_url: str, kickoff: datetime, free_port: int
) -> None:
    send, right, welcome = DOORS["api"]
    shared = replace(settings, redis_url=redis_url)
    async with AsyncExitStack() as stack:
        first = await start(stack, shared, kickoff, free_port)
        second = await start(stack, shared, kickoff, another_port())
        async with client(first, GUESSER) as one, client(second, GUESSER) as two:
            for n in range(ATTEMPTS):
                assert (await send((one, two)[n % 2], guessed(n))).status_code == 401
            assert (await send(one, right)).status_code == 429
            assert (await send(two, right)).status_code == 429
        async with client(second, SOMEONE_ELSE) as other:
            assert (await send(other, right)).status_code == welcome
