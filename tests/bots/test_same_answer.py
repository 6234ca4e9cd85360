"""One command, every platform: Slack, Discord, a Mattermost webhook and the built-in chat all reach
the same command layer and show the same reply, each rendered its own way."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets

from bots import builtin, discord_render, slack_render, webhook
from bots.commands import Bot, Invocation, Reply
from hackserver.app import create_app
from hackserver.foundation.settings import Settings
from hackserver.teams.participants import Identity
from tests.bots.test_discord import PUBLIC_KEY, interaction, signed
from tests.dbstate import migrate
from tests.fakes import FakeClock
from tests.servers import runtime_of, serving
from tests.web.test_builtin_chat import COOKIE, a_reply, receive_until, say_over

SLACK_SECRET = "same-answer-slack-secret"
WEBHOOK_TOKEN = "same-answer-webhook-token"
COMMANDS = [
    ("help", ("help",), {}),
    ("status", ("status",), {}),
    ("profile skills python, UX langs de", ("profile",), {"skills": "python, UX", "langs": "de"}),
]


@pytest.fixture
async def server(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, free_port: int
) -> AsyncIterator[uvicorn.Server]:
    settings = Settings(
        database_url=database_url,
        event_path=event_file(kickoff=kickoff),
        slack_signing_secret=SLACK_SECRET,
        discord_public_key=PUBLIC_KEY,
        discord_application_id="1176000000000000001",
        webhook_token=WEBHOOK_TOKEN,
    )
    if not settings.is_sqlite:
        await migrate(settings.database_url)
    app = create_app(settings, clock=FakeClock(kickoff + timedelta(minutes=20)), run_clock=False)
    async with serving(app, free_port) as running:
        yield running


async def expected(server: uvicorn.Server, text: str, user: str) -> Reply:
    """What the command layer itself answers someone new who writes `text` (in German, the event's
    first language, which is also what Slack and webhooks get for lack of a locale)."""
    reply = await Bot(runtime_of(server)).handle(
        Invocation(Identity("test", "t", user, user), text, locale="de")
    )
    assert reply is not None
    return reply


async def via_slack(client: httpx.AsyncClient, text: str) -> Any:
    body = urllib.parse.urlencode(
        {
            "team_id": "T1",
            "user_id": "USAME",
            "user_name": "same",
            "command": "/hack",
            "text": text,
            "channel_id": "C1",
            "response_url": "http://127.0.0.1:9/nowhere",
            "trigger_id": f"t{time.time_ns()}",
        }
    )
    ts = str(int(time.time()))
    signature = (
        "v0=" + hmac.new(SLACK_SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    )
    headers = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    response = await client.post("/slack/commands", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def via_discord(client: httpx.AsyncClient, path: tuple[str, ...], options: dict[str, str]) -> Any:
    body = json.dumps(interaction(*path, options=options, id=str(time.time_ns()), locale="de"))
    response = await client.post(
        "/discord/interactions", content=body, headers={**signed(body), "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["type"] == 4
    return response.json()["data"]


async def via_webhook(client: httpx.AsyncClient, text: str) -> Any:
    form = {
        "token": WEBHOOK_TOKEN,
        "team_id": "team1",
        "channel_id": "ch1",
        "user_id": "wsame",
        "user_name": "same",
        "command": "/hack",
        "text": text,
    }
    response = await client.post("/webhook/commands", data=form)
    assert response.status_code == 200, response.text
    return response.json()


async def via_builtin(server: uvicorn.Server, text: str) -> Any:
    base = f"http://127.0.0.1:{server.config.port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as browser:
        await browser.post("/channels/join?lang=de", data={"name": "Same"})
        again = await browser.post("/channels/join?lang=de", data={"name": "Same"})
        channel = httpx.URL(again.headers["location"]).params["channel"]
        url = f"ws://127.0.0.1:{server.config.port}/ws/channels?channel={channel}&lang=de"
        headers = {"Cookie": f"{COOKIE}={browser.cookies[COOKIE]}", "Origin": base}
        async with websockets.connect(url, additional_headers=headers) as ws:
            await say_over(ws, channel, text)
            frame = await receive_until(ws, a_reply)
    return frame["message"]["reply"]


@pytest.mark.parametrize(("text", "path", "options"), COMMANDS, ids=[c[0].split()[0] for c in COMMANDS])
async def test_every_platform_shows_the_command_layers_reply(
    server: uvicorn.Server, text: str, path: tuple[str, ...], options: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10) as client:
        assert await via_slack(client, text) == slack_render.render(await expected(server, text, "s"))
        discord_reply = discord_render.render(await expected(server, text, "d"))
        assert await via_discord(client, path, options) == {**discord_reply, "flags": 64}
        assert await via_webhook(client, text) == webhook.render_response(await expected(server, text, "w"))
    assert await via_builtin(server, text) == builtin.render(await expected(server, text, "b"))
