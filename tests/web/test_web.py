"""The web app over real HTTP and websockets: uvicorn on a loopback port, httpx and websockets clients."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect

from hackserver.app import create_app
from hackserver.clock import SprintClock
from hackserver.foundation import channels
from hackserver.foundation.jobs import EmbeddedJobs
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from tests.dbstate import migrate
from tests.fakes import FakeClock
from tests.servers import StartupFailed, TcpProxy, runtime_of, serving

RECEIVE_TIMEOUT = 5.0


@pytest.fixture
async def settings(database_url: str, event_file: Callable[..., Path], kickoff: datetime) -> Settings:
    settings = Settings(database_url=database_url, event_path=event_file(kickoff=kickoff))
    if not settings.is_sqlite:  # the app migrates SQLite itself; PostgreSQL is migrated by a deploy step
        await migrate(database_url)
    return settings


@pytest.fixture
def unused_port() -> int:
    """A second free port, with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def clock(kickoff: datetime) -> FakeClock:
    return FakeClock(kickoff - timedelta(minutes=1))


@pytest.fixture
async def server(settings: Settings, clock: FakeClock, free_port: int) -> AsyncIterator[uvicorn.Server]:
    # The test fires the schedule itself (SprintClock.fire_due), so no clock task runs in the app.
    async with serving(create_app(settings, clock=clock, run_clock=False), free_port) as server:
        yield server


@pytest.fixture
async def client(server: uvicorn.Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10) as client:
        yield client


def ws_url(server: uvicorn.Server, query: str = "") -> str:
    return f"ws://127.0.0.1:{server.config.port}/ws/channels{query}"


async def receive(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT))
    return frame


async def receive_until(ws: ClientConnection, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        while not wanted(frame := await receive(ws)):
            pass
    return frame


async def fire_due_at(runtime: Runtime, clock: FakeClock, now: datetime) -> None:
    """Moves the clock, fires what is due and waits until the announcements are delivered."""
    clock.set(now)
    await SprintClock(runtime).fire_due()
    assert isinstance(runtime.jobs, EmbeddedJobs)
    await runtime.jobs.idle()


async def post(runtime: Runtime, message: str) -> int:
    async with runtime.transaction() as tx:
        posted = await channels.post(tx, runtime.event_id, "announcements", author="Orga", text=message)
        assert posted is not None
        return posted.id


async def test_healthz_reports_ok_with_the_database_ok_and_redis_disabled(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "disabled", "phase": "registration", "status": "ok"}


async def test_startup_with_an_unreachable_redis_fails_naming_the_setting(
    sqlite_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    free_port: int,
    unused_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(
        database_url=sqlite_url,
        event_path=event_file(kickoff=kickoff),
        redis_url=f"redis://127.0.0.1:{unused_port}/0",
    )
    with pytest.raises(StartupFailed):
        async with asyncio.timeout(8), serving(create_app(settings, clock=FakeClock(kickoff)), free_port):
            pass
    assert f"HACKSERVER_REDIS_URL: cannot reach Redis at 127.0.0.1:{unused_port}" in caplog.text


async def test_healthz_is_degraded_with_503_when_redis_goes_away(
    sqlite_url: str, redis_url: str, event_file: Callable[..., Path], kickoff: datetime, free_port: int
) -> None:
    target = urlparse(redis_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    settings = Settings(
        database_url=sqlite_url,
        event_path=event_file(kickoff=kickoff),
        redis_url=f"redis://127.0.0.1:{proxy.port}{target.path}",
    )
    try:
        async with (
            serving(create_app(settings, clock=FakeClock(kickoff)), free_port),
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port}", timeout=10) as client,
        ):
            assert (await client.get("/healthz")).json()["redis"] == "ok"
            await proxy.cut()
            response = await client.get("/healthz")
    finally:
        await proxy.cut()
    assert response.status_code == 503
    report = response.json()
    assert report["status"] == "degraded"
    assert report["database"] == "ok"
    assert report["redis"].startswith("error: ")


async def test_metrics_are_prometheus_text_counting_outbox_messages(
    server: uvicorn.Server, client: httpx.AsyncClient, clock: FakeClock, kickoff: datetime
) -> None:
    await fire_due_at(runtime_of(server), clock, kickoff)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE hackserver_outbox_messages gauge" in response.text
    assert 'hackserver_outbox_messages{status="delivered"} 1.0' in response.text.splitlines()


async def test_metrics_ask_for_the_metrics_token_when_one_is_set(
    settings: Settings, clock: FakeClock, free_port: int
) -> None:
    guarded = replace(settings, metrics_token="metrics-token-for-tests-0123")
    async with (
        serving(create_app(guarded, clock=clock, run_clock=False), free_port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port}", timeout=10) as client,
    ):
        for headers in (
            {},
            {"authorization": "Bearer wrong"},
            {"authorization": "Basic metrics-token-for-tests-0123"},
        ):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401 and "hackserver_" not in refused.text
            assert "Bearer" in refused.text and refused.headers["www-authenticate"] == "Bearer"
        allowed = await client.get(
            "/metrics", headers={"authorization": "Bearer metrics-token-for-tests-0123"}
        )
        assert allowed.status_code == 200 and "# TYPE hackserver_outbox_messages gauge" in allowed.text


@pytest.mark.parametrize(
    ("lang", "shown", "hidden"), [("en", "EN kickoff", "DE kickoff"), ("de", "DE kickoff", "EN kickoff")]
)
async def test_channels_page_shows_announcements_in_the_language_of_the_query(
    server: uvicorn.Server,
    client: httpx.AsyncClient,
    clock: FakeClock,
    kickoff: datetime,
    lang: str,
    shown: str,
    hidden: str,
) -> None:
    await fire_due_at(runtime_of(server), clock, kickoff)
    response = await client.get("/channels", params={"lang": lang}, headers={"accept-language": "fr"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f'<html lang="{lang}">' in response.text
    assert shown in response.text
    assert hidden not in response.text


async def test_channels_page_follows_accept_language_without_a_query(
    server: uvicorn.Server, client: httpx.AsyncClient, clock: FakeClock, kickoff: datetime
) -> None:
    await fire_due_at(runtime_of(server), clock, kickoff)
    response = await client.get("/channels", headers={"accept-language": "fr-FR, en-GB;q=0.8, de;q=0.5"})
    assert '<html lang="en">' in response.text
    assert "EN kickoff" in response.text
    assert "DE kickoff" not in response.text


async def test_channels_page_escapes_message_text(server: uvicorn.Server, client: httpx.AsyncClient) -> None:
    await post(runtime_of(server), "<script>alert(1)</script> & <b>bold</b>")
    page = (await client.get("/channels")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "<script>alert(1)" not in page
    assert "<b>bold" not in page


async def test_an_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404


async def test_the_site_has_an_icon_where_browsers_ask_for_it(client: httpx.AsyncClient) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] in (
        "image/x-icon",
        "image/vnd.microsoft.icon",
    )
    assert "max-age" in icon.headers["cache-control"]
    kind, count = struct.unpack_from("<HH", icon.content, 2)
    width, height, *_, size, offset = struct.unpack_from("<BBBBHHII", icon.content, 6)
    assert (kind, count, width, height) == (1, 1, 32, 32)  # one 32 px icon, stored as a PNG
    assert icon.content[offset : offset + 8] == b"\x89PNG\r\n\x1a\n" and offset + size == len(icon.content)


async def test_an_internal_error_is_a_plain_message_without_a_traceback(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    async with runtime_of(server).engine.begin() as connection:
        await connection.execute(text("DROP TABLE channel_messages"))
    response = await client.get("/channels", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Something went wrong on our side; it has been logged."


async def test_websocket_sends_the_history_after_the_given_id_then_the_phase(server: uvicorn.Server) -> None:
    runtime = runtime_of(server)
    first = await post(runtime, "one")
    await post(runtime, "two")
    await post(runtime, "three")
    async with connect(ws_url(server, f"?after={first}")) as ws:
        frames = [await receive(ws) for _ in range(3)]
    assert [(f["type"], f.get("message", {}).get("text")) for f in frames] == [
        ("message", "two"),
        ("message", "three"),
        ("phase", None),
    ]
    assert frames[2]["phase"] == "registration"
    assert frames[2]["next"]["phase"] == "kickoff"


async def test_websocket_delivers_an_announcement_live_when_the_clock_fires_it(
    server: uvicorn.Server, clock: FakeClock, kickoff: datetime
) -> None:
    async with connect(ws_url(server)) as ws:
        assert (await receive(ws))["type"] == "phase"
        await fire_due_at(runtime_of(server), clock, kickoff)
        frame = await receive_until(ws, lambda f: f["type"] == "message")
    assert frame["channel"] == "announcements"
    assert frame["message"]["translations"] == {"de": "DE kickoff", "en": "EN kickoff"}


async def test_websocket_sends_the_new_phase_when_it_begins(
    server: uvicorn.Server, clock: FakeClock, kickoff: datetime
) -> None:
    async with connect(ws_url(server)) as ws:
        assert (await receive(ws))["phase"] == "registration"
        await fire_due_at(runtime_of(server), clock, kickoff + timedelta(hours=1))
        frame = await receive_until(ws, lambda f: f["type"] == "phase")
    assert frame["phase"] == "hacking"
    assert frame["next"]["phase"] == "team_formation_close"
