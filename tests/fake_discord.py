"""A fake Discord HTTP API on loopback, for hackserver's Discord client pointed at it with DISCORD_API_URL.

It serves creating channel messages (with `enforce_nonce`), executing webhooks, editing an
interaction's original response, and overwriting an application's commands. It records every post,
sends X-RateLimit-* headers for a bucket per channel or webhook (`limit` requests per `window`
seconds) and answers 429 itself when a bucket is overdrawn (counted in `throttled`). It can be told
to answer the next requests with 500 or 429 (per route or global), to fail a post after storing it,
or to refuse a channel for good.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class Post:
    channel: str  # a channel id, or "webhook:{id}"
    body: dict[str, Any]
    at: float  # time.monotonic() when it was stored
    authorization: str | None = None  # the Authorization header it came with

    @property
    def content(self) -> str:
        return str(self.body.get("content", ""))


@dataclass(frozen=True)
class Attempt:
    route: str  # e.g. "channel:123"
    status: int  # the HTTP status answered
    at: float


@dataclass
class Window:
    started: float
    used: int = 0


@dataclass
class FakeDiscord:
    token: str = "bot-token"
    url: str = ""  # where it listens, set once it is served
    limit: int = 5  # requests per bucket and window, as Discord's channel message bucket
    window: float = 5.0
    posts: list[Post] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    edits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # interaction token -> bodies
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # application id -> definition
    throttled: int = 0  # requests refused because their bucket was overdrawn
    faults: list[tuple[int, float, bool]] = field(default_factory=list)  # (status, retry_after, global)
    lose_answers: int = 0  # posts stored, then answered 500 as if the answer were lost
    refused: dict[str, tuple[int, str, int]] = field(default_factory=dict)  # channel -> status, message, code
    windows: dict[str, Window] = field(default_factory=dict)
    nonces: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(900000000000000000))

    def fail_next(self, count: int, status: int = 500) -> None:
        self.faults += [(status, 0.0, False)] * count

    def rate_limit_next(self, count: int, retry_after: float, *, everything: bool = False) -> None:
        self.faults += [(429, retry_after, everything)] * count

    def refuse(
        self, channel: str, status: int = 403, message: str = "Missing Access", code: int = 50001
    ) -> None:
        self.refused[channel] = (status, message, code)

    def posts_to(self, channel: str) -> list[Post]:
        return [post for post in self.posts if post.channel == channel]

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/channels/{channel}/messages", self.create_message, methods=["POST"]),
                Route("/webhooks/{hook}/{token}", self.execute_webhook, methods=["POST"]),
                Route("/api/webhooks/{hook}/{token}", self.execute_webhook, methods=["POST"]),  # as a URL
                Route(
                    "/webhooks/{application}/{token}/messages/@original",
                    self.edit_original,
                    methods=["PATCH"],
                ),
                Route("/applications/{application}/commands", self.overwrite_commands, methods=["PUT"]),
            ]
        )

    # -- routes ----------------------------------------------------------------------------

    async def create_message(self, request: Request) -> Response:
        channel = request.path_params["channel"]
        if request.headers.get("authorization") != f"Bot {self.token}":
            return self.answer(f"channel:{channel}", 401, {"message": "401: Unauthorized", "code": 0})
        return await self.post(request, f"channel:{channel}", channel)

    async def execute_webhook(self, request: Request) -> Response:
        hook = request.path_params["hook"]
        return await self.post(request, f"webhook:{hook}", f"webhook:{hook}")

    async def edit_original(self, request: Request) -> Response:
        token = request.path_params["token"]
        body = await request.json()
        self.edits.setdefault(token, []).append(body)
        return JSONResponse({"id": str(next(self.ids)), **body})

    async def overwrite_commands(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bot {self.token}":
            return JSONResponse({"message": "401: Unauthorized", "code": 0}, status_code=401)
        definition = await request.json()
        self.commands[request.path_params["application"]] = definition
        return JSONResponse([{"id": str(next(self.ids)), **command} for command in definition])

    # -- what Discord does with a post -----------------------------------------------------

    async def post(self, request: Request, route: str, channel: str) -> Response:
        if self.faults:
            status, retry_after, everything = self.faults.pop(0)
            if status == 429:
                return self.limited(route, retry_after, everything=everything)
            return self.answer(route, status, {"message": "500: Internal Server Error", "code": 0})
        now = time.monotonic()
        window = self.windows.get(route)
        if window is None or now >= window.started + self.window:
            window = self.windows[route] = Window(now)
        if window.used >= self.limit:
            self.throttled += 1
            return self.limited(route, window.started + self.window - now)
        window.used += 1
        if channel in self.refused:
            status, reason, code = self.refused[channel]
            return self.answer(route, status, {"message": reason, "code": code})
        body = await request.json()
        nonce = body.get("nonce")
        if body.get("enforce_nonce") and nonce is not None and (channel, str(nonce)) in self.nonces:
            return self.answer(route, 200, self.nonces[channel, str(nonce)])  # the first post, not a new one
        message: dict[str, Any] = {"id": str(next(self.ids)), "channel_id": channel, **body}
        self.posts.append(Post(channel, body, now, request.headers.get("authorization")))
        if nonce is not None:
            self.nonces[channel, str(nonce)] = message
        if self.lose_answers:
            self.lose_answers -= 1
            return self.answer(route, 502, {"message": "502: Bad Gateway", "code": 0})
        return self.answer(route, 200, message)

    def answer(self, route: str, status: int, body: dict[str, Any]) -> Response:
        self.attempts.append(Attempt(route, status, time.monotonic()))
        return JSONResponse(body, status_code=status, headers=self.bucket_headers(route))

    def limited(self, route: str, retry_after: float, *, everything: bool = False) -> Response:
        retry_after = math.ceil(retry_after * 1000) / 1000
        self.attempts.append(Attempt(route, 429, time.monotonic()))
        headers = {
            **({} if everything else self.bucket_headers(route)),
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "global" if everything else "user",
        }
        if everything:
            headers["X-RateLimit-Global"] = "true"
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": everything}
        return JSONResponse(body, status_code=429, headers=headers)

    def bucket_headers(self, route: str) -> dict[str, str]:
        window = self.windows.get(route)
        now = time.monotonic()
        if window is None or now >= window.started + self.window:
            window = Window(now)
        reset_after = math.ceil((window.started + self.window - now) * 1000) / 1000
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.limit - window.used, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": "80c17d2f203122d936070c88c8d10f33",
        }
