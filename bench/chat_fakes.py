"""The fake Slack and Discord of tests/ (fake_slack.py, fake_discord.py) as one server for a benchmark,
served by uvicorn in a process of its own (`uvicorn bench.chat_fakes:app --factory`): Slack's Web API
under /slack/api/, Discord's REST API under /discord, each call answered 20–50 ms later, as from a
platform across the internet; their own pacing stays (Slack one post a second per channel, Discord
5 requests per 5 s per route, each answering 429 past it). GET /bench/recorded tells what they
received, with each post's receipt as wall-clock time (to compare with the outbox rows' created_at)."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hackserver.simulation.wire import DISCORD_GUILD
from tests.fake_discord import FakeDiscord
from tests.fake_slack import FakeSlack

SLACK_TOKEN, DISCORD_TOKEN = "xoxb-bench-kickoff", "bench-kickoff-discord-bot-token"
LATENCY = (0.020, 0.050)  # seconds a platform takes to answer a call


class Latency:
    """Answers every platform call after a random delay within LATENCY."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/bench/"):
            await asyncio.sleep(random.uniform(*LATENCY))
        await self.app(scope, receive, send)


def app() -> Starlette:
    slack = FakeSlack(token=SLACK_TOKEN, page_size=1000)
    discord = FakeDiscord(token=DISCORD_TOKEN, guilds={DISCORD_GUILD})

    async def recorded(request: Request) -> JSONResponse:
        wall = time.time() - time.monotonic()  # the fakes stamp posts with time.monotonic()
        slack_posts = [
            [
                post.channel,
                ((post.metadata or {}).get("event_payload") or {}).get("outbox_id"),
                post.at + wall,
            ]
            for post in slack.posts
        ]
        discord_posts = [[post.channel, post.body.get("nonce"), post.at + wall] for post in discord.posts]
        return JSONResponse(
            {
                "slack": {
                    "posts": slack_posts,
                    "channels": len(slack.channels),
                    "invites": len(slack.called("conversations.invite")),
                    "429s": slack.throttled,
                },
                "discord": {
                    "posts": discord_posts,
                    "channels": len(discord.guild_channels),
                    "invites": sum(a.route.startswith("PUT ") and a.status == 204 for a in discord.attempts),
                    "429s": discord.throttled,
                    "late replies": sum(len(edits) for edits in discord.edits.values()),
                },
            }
        )

    fakes: dict[str, Any] = {"slack": slack.app, "discord": discord.app}
    return Starlette(
        routes=[Route("/bench/recorded", recorded), *(Mount(f"/{name}", app=a) for name, a in fakes.items())],
        middleware=[Middleware(Latency)],
    )
