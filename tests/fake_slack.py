"""A fake Slack on loopback, for slack-sdk's clients pointed at it with `base_url`.

`FakeSlack` serves the Web API methods hackserver calls (chat.postMessage, chat.postEphemeral,
auth.test, apps.connections.open) and fake `response_url`s. It records every post with its channel
and ts, paces each channel as Slack does (about one post a second, short bursts) by answering 429
itself when a channel is posted to faster (counted in `throttled`), and can be told to answer 429
with Retry-After or 500 for the next calls, or to refuse a channel for good.
`FakeSocketMode` is Slack's end of a Socket Mode websocket: it says hello, sends envelopes and
collects the acknowledgements.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from websockets.asyncio.server import Server, ServerConnection, serve


@dataclass(frozen=True)
class Post:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    at: float  # time.monotonic() when it was accepted
    user: str | None = None  # set for chat.postEphemeral: only this user sees it


@dataclass(frozen=True)
class Attempt:
    method: str
    channel: str
    status: int  # the HTTP status answered
    at: float


@dataclass
class FakeSlack:
    token: str = "xoxb-test-token"
    url: str = ""  # where it listens, set once it is served
    rate: float = 1.0  # posts a second per channel
    burst: int = 2
    leeway: float = 0.25  # seconds early a post may arrive, for network jitter
    posts: list[Post] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    hooks: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    throttled: int = 0  # posts refused because their channel was posted to too fast
    socket_url: str = ""
    failing: int = 0
    limited: dict[str, tuple[int, float]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    due: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/api/{method}", self.api, methods=["GET", "POST"]),
                Route("/hooks/{name}", self.hook, methods=["POST"]),
            ]
        )

    def fail_next(self, times: int) -> None:
        """The next `times` calls to any channel get HTTP 500 and post nothing."""
        self.failing += times

    def rate_limit_next(self, channel: str, times: int, retry_after: float) -> None:
        """The next `times` posts to `channel` get HTTP 429 with this Retry-After."""
        self.limited[channel] = (times, retry_after)

    def refuse(self, channel: str, error: str = "channel_not_found") -> None:
        self.refused[channel] = error

    def posts_to(self, channel: str) -> list[Post]:
        return [post for post in self.posts if post.channel == channel]

    async def api(self, request: Request) -> Response:
        method = request.path_params["method"]
        auth = request.headers.get("authorization", "")
        if method == "apps.connections.open":
            if not auth.startswith("Bearer xapp-"):
                return JSONResponse({"ok": False, "error": "not_allowed_token_type"})
            return JSONResponse({"ok": True, "url": self.socket_url})
        if auth != f"Bearer {self.token}":
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return JSONResponse({"ok": True, "team_id": "T1", "user_id": "UBOT", "bot_id": "BBOT"})
        if method not in ("chat.postMessage", "chat.postEphemeral"):
            return JSONResponse({"ok": False, "error": "unknown_method"}, status_code=404)
        body = await self.body(request)
        channel = str(body.get("channel", ""))
        status, answer, headers = self.decide(channel)
        self.attempts.append(Attempt(method, channel, status, time.monotonic()))
        if answer is not None:
            return JSONResponse(answer, status_code=status, headers=headers)
        ts = f"{time.time():.6f}"
        user = str(body["user"]) if method == "chat.postEphemeral" else None
        self.posts.append(
            Post(
                channel, ts, str(body.get("text", "")), list(body.get("blocks") or []), time.monotonic(), user
            )
        )
        return JSONResponse({"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text")}})

    def decide(self, channel: str) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        """The fault to answer with, if any: (status, body, headers); body None means accept."""
        if self.failing > 0:
            self.failing -= 1
            return 500, {"ok": False, "error": "internal_error"}, {}
        times, retry_after = self.limited.get(channel, (0, 0.0))
        if times > 0:
            self.limited[channel] = (times - 1, retry_after)
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": f"{retry_after:g}"}
        now = time.monotonic()
        interval, tolerance = 1.0 / self.rate, (self.burst - 1) / self.rate
        due = max(self.due.get(channel, now), now)
        if due - tolerance - now > self.leeway:
            self.throttled += 1
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
        if channel in self.refused:
            return 200, {"ok": False, "error": self.refused[channel]}, {}
        self.due[channel] = due + interval
        return 200, None, {}

    @staticmethod
    async def body(request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("application/json"):
            parsed: dict[str, Any] = await request.json()
            return parsed
        form = await request.form()
        raw = {key: str(value) for key, value in form.items()}
        if "blocks" in raw:
            raw["blocks"] = json.loads(raw["blocks"])
        return raw

    async def hook(self, request: Request) -> Response:
        self.hooks[request.path_params["name"]].append(await request.json())
        return JSONResponse({"ok": True})


class FakeSocketMode:
    """Slack's end of Socket Mode: the client connects to `url` (handed out by apps.connections.open)."""

    def __init__(self) -> None:
        self.server: Server | None = None
        self.connections: list[ServerConnection] = []
        self.connected = asyncio.Event()
        self.acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def __aenter__(self) -> FakeSocketMode:
        self.server = await serve(self.session, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = next(iter(self.server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket=test"

    async def session(self, connection: ServerConnection) -> None:
        self.connections.append(connection)
        await connection.send(json.dumps({"type": "hello", "num_connections": 1}))
        self.connected.set()
        async for message in connection:
            self.acks.put_nowait(json.loads(message))

    async def send(self, envelope: dict[str, Any]) -> None:
        await self.connections[-1].send(json.dumps(envelope))
