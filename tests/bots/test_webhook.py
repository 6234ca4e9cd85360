"""Slack-compatible webhooks (Mattermost, Rocket.Chat): slash commands checked by their token, and
announcements posted to a fake incoming webhook on loopback, under 429 and 5xx, exactly once."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bots import webhook
from bots.commands import Bot, Invocation
from hackserver.app import create_app
from hackserver.foundation import outbox
from hackserver.foundation.errors import SettingsError
from hackserver.foundation.models import OutboxMessage, Participant, PlatformIdentity
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity
from tests.conftest import EXAMPLE_EVENT
from tests.dbstate import migrate
from tests.fakes import FakeClock
from tests.servers import runtime_of, serving

TOKEN = "mattermost-command-token-26c"
HOOK_PATH = "/hooks/xyzsecrethook123"


@dataclass
class FakeIncomingWebhook:
    """An incoming webhook: answers the scripted statuses first, then 200; records every post."""

    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)  # the status answered to each post
    accepted: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def hook(self, request: Request) -> Response:
        body = await request.json()
        status, headers = self.script.pop(0) if self.script else (200, {})
        self.attempts.append(status)
        if status == 200:
            self.accepted.append(body)
            return Response("ok", media_type="text/plain")
        return JSONResponse({"message": "not now"}, status_code=status, headers=headers)

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route(HOOK_PATH, self.hook, methods=["POST"])])


@pytest.fixture
async def incoming(free_port: int) -> AsyncIterator[FakeIncomingWebhook]:
    fake = FakeIncomingWebhook()
    async with serving(fake.app, free_port):
        fake.url = f"http://127.0.0.1:{free_port}{HOOK_PATH}"
        yield fake


@pytest.fixture
async def settings(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, incoming: FakeIncomingWebhook
) -> Settings:
    path = event_file(kickoff=kickoff)
    with path.open("a", encoding="utf-8") as toml:
        toml.write('[channels.webhook]\nannouncements = "town-square"\n')
    settings = Settings(
        database_url=database_url, event_path=path, webhook_token=TOKEN, webhook_url=incoming.url
    )
    if not settings.is_sqlite:  # the app migrates SQLite itself; PostgreSQL is migrated by a deploy step
        await migrate(database_url)
    return settings


async def serve(settings: Settings, kickoff: datetime) -> AsyncIterator[uvicorn.Server]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(settings, clock=FakeClock(kickoff + timedelta(minutes=20)), run_clock=False)
    async with serving(app, port) as server:
        yield server


@pytest.fixture
async def server(settings: Settings, kickoff: datetime) -> AsyncIterator[uvicorn.Server]:
    async for server in serve(settings, kickoff):
        yield server


@pytest.fixture
async def client(server: uvicorn.Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10) as client:
        yield client


def command(text: str, *, token: str | None = TOKEN, user: str = "u1abc") -> dict[str, str]:
    """The form Mattermost posts for a custom slash command."""
    fields = {
        "channel_id": "c9x",
        "channel_name": "town-square",
        "command": "/hack",
        "response_url": "https://chat.example.org/hooks/commands/abc",
        "team_domain": "sprint",
        "team_id": "t7y",
        "text": text,
        "trigger_id": "trig",
        "user_id": user,
        "user_name": "ada",
    }
    return fields if token is None else {"token": token, **fields}


async def counts(runtime: Runtime) -> tuple[int, int]:
    async with runtime.sessions() as session:
        people = await session.scalar(select(func.count()).select_from(Participant))
        rows = await session.scalar(select(func.count()).select_from(OutboxMessage))
    return int(people or 0), int(rows or 0)


async def settle(runtime: Runtime, within: float = 20.0) -> list[OutboxMessage]:
    async with asyncio.timeout(within):
        while True:
            async with runtime.sessions() as session:
                rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
            if rows and all(row.status in ("delivered", "dead") for row in rows):
                return rows
            await asyncio.sleep(0.05)


async def announce(runtime: Runtime, texts: dict[str, str]) -> None:
    async with runtime.transaction() as tx:
        await outbox.announce(tx, "test-announcement", "announcements", texts)


# -- slash commands ------------------------------------------------------------------------------


async def test_a_command_with_the_right_token_gets_the_command_layers_reply(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    response = await client.post("/webhook/commands", data=command("help"))
    expected = await Bot(runtime_of(server)).handle(
        Invocation(Identity("webhook", "", "someone-else", "x"), "help")
    )
    assert expected is not None
    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral", "text": webhook.render(expected)}
    assert expected.text in response.json()["text"]


async def test_the_asker_becomes_a_participant_with_a_webhook_identity(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    await client.post("/webhook/commands", data=command("status"))
    async with runtime_of(server).sessions() as session:
        found = (await session.scalars(select(PlatformIdentity))).one()
    assert (found.platform, found.workspace, found.user_id, found.user_name) == (
        "webhook",
        "",  # a Mattermost user id is one person in every team of the server
        "u1abc",
        "ada",
    )


@pytest.mark.parametrize("token", [TOKEN[:-1] + "X", None], ids=["wrong", "missing"])
async def test_a_wrong_or_missing_token_is_refused_and_changes_nothing(
    server: uvicorn.Server, client: httpx.AsyncClient, token: str | None
) -> None:
    response = await client.post("/webhook/commands", data=command("profile skills x", token=token))
    assert response.status_code == 401
    assert await counts(runtime_of(server)) == (0, 0)


async def test_the_token_in_mattermosts_authorization_header_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/webhook/commands", data=command("help", token=None), headers={"Authorization": f"Token {TOKEN}"}
    )
    assert response.status_code == 200


async def test_a_command_mattermost_sends_as_get_is_answered(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    response = await client.get(
        "/webhook/commands", params=command("status", token=None), headers={"Authorization": f"Token {TOKEN}"}
    )
    assert response.status_code == 200
    assert response.json()["text"].startswith("**Test Sprint: Kickoff**")
    refused = await client.get("/webhook/commands", params=command("team create Owls", token="wrong" * 4))
    assert refused.status_code == 401
    assert await counts(runtime_of(server)) == (1, 0)


async def test_rocket_chat_json_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/webhook/commands", json=command("status"))
    assert response.status_code == 200
    assert response.json()["text"].startswith("**Test Sprint: Kickoff**")


async def test_json_nested_thousands_deep_is_refused_not_a_crash(client: httpx.AsyncClient) -> None:
    body = '{"token": "' + TOKEN + '", "text": ' + "[" * 5000 + "]" * 5000 + "}"
    response = await client.post(
        "/webhook/commands", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401, response.text


async def test_without_the_token_setting_the_endpoint_is_404(settings: Settings, kickoff: datetime) -> None:
    async for server in serve(replace(settings, webhook_token=None), kickoff):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}") as client:
            response = await client.post("/webhook/commands", data=command("help"))
    assert response.status_code == 404


# -- announcements through the incoming webhook ----------------------------------------------------


async def test_an_announcement_is_posted_once_in_every_language(
    server: uvicorn.Server, incoming: FakeIncomingWebhook
) -> None:
    runtime = runtime_of(server)
    await announce(runtime, {"de": "Hallo `alle`", "en": "Hello `everyone`"})
    rows = await settle(runtime)
    assert {row.platform: row.status for row in rows} == {"builtin": "delivered", "webhook": "delivered"}
    assert incoming.accepted == [{"text": "🇩🇪 DE: Hallo `alle`\n\n🇬🇧 EN: Hello `everyone`"}]


async def test_an_announcement_is_posted_once_after_a_429_and_a_500(
    server: uvicorn.Server, incoming: FakeIncomingWebhook
) -> None:
    incoming.script = [(429, {"Retry-After": "1"}), (500, {})]
    runtime = runtime_of(server)
    await announce(runtime, {"en": "Deadline in one hour"})
    rows = await settle(runtime)
    await asyncio.sleep(0.5)  # a stray second delivery would arrive now
    assert incoming.attempts == [429, 500, 200]
    assert incoming.accepted == [{"text": "Deadline in one hour"}]
    assert [row.attempts for row in rows if row.platform == "webhook"] == [3]


async def test_a_deleted_webhook_is_a_dead_letter_at_once(
    server: uvicorn.Server, incoming: FakeIncomingWebhook
) -> None:
    incoming.script = [(404, {})]
    runtime = runtime_of(server)
    await announce(runtime, {"en": "Anyone there?"})
    rows = await settle(runtime)
    assert [(row.status, row.attempts) for row in rows if row.platform == "webhook"] == [("dead", 1)]


async def test_the_webhook_url_is_never_logged(
    server: uvicorn.Server, incoming: FakeIncomingWebhook, caplog: pytest.LogCaptureFixture
) -> None:
    incoming.script = [(500, {})]
    runtime = runtime_of(server)
    with caplog.at_level(logging.DEBUG):
        await announce(runtime, {"en": "Psst"})
        await settle(runtime)
    ours = [r.getMessage() for r in caplog.records if r.name != "uvicorn.access"]  # not the fake's log
    assert any("HTTP Request: POST" in line for line in ours)  # httpx did log the request...
    assert not [line for line in ours if HOOK_PATH in line]  # ...without the secret


def test_a_webhook_url_that_is_not_http_stops_start_up_without_showing_it() -> None:
    env = {"HACKSERVER_EVENT": str(EXAMPLE_EVENT), "HACKSERVER_WEBHOOK_URL": "ftp://chat/hooks/s3cr3t"}
    with pytest.raises(
        SettingsError, match=r"^HACKSERVER_WEBHOOK_URL: expected a URL like https://"
    ) as error:
        Settings.from_env(env)
    assert "s3cr3t" not in str(error.value)


def test_a_short_webhook_token_stops_start_up() -> None:
    env = {"HACKSERVER_EVENT": str(EXAMPLE_EVENT), "HACKSERVER_WEBHOOK_TOKEN": "short"}
    with pytest.raises(SettingsError, match=r"^HACKSERVER_WEBHOOK_TOKEN: expected at least 16"):
        Settings.from_env(env)
