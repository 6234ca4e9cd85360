"""A fake Discord HTTP API on loopback, for hackserver's Discord client pointed at it with DISCORD_API_URL.

It serves creating channel messages (with `enforce_nonce`), executing webhooks, editing an
interaction's original response, overwriting an application's commands, and a guild's channels:
listing and creating them (with permission overwrites) and editing a channel's overwrites. It records
every post, sends X-RateLimit-* headers for a bucket per route and channel, guild or webhook (`limit`
requests per `window` seconds) and answers 429 itself when a bucket is overdrawn (counted in
`throttled`). It can be told to answer the next requests with 500 or 429 (per route or global), to
fail a post after storing it, or to refuse a channel for good. The bot (`bot_id`) has no
Administrator permission: it cannot post to a guild channel made here that its overwrites hide from it.
"""

from __future__ import annotations

import asyncio
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


VIEW_CHANNEL = 1 << 10
ROLE, MEMBER = 0, 1  # permission overwrite types


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
    bot_id: str = "1176000000000000001"  # the bot's user id, its application's id
    guilds: set[str] = field(default_factory=set)  # the guilds the bot is in
    guild_channels: dict[str, dict[str, Any]] = field(default_factory=dict)  # channel id -> channel object
    slow_creates: float = 0.0  # seconds making a guild channel takes

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

    def add_channel(
        self, guild: str, name: str, overwrites: list[dict[str, Any]] | None = None, kind: int = 0
    ) -> dict[str, Any]:
        """A channel of the guild, made earlier (by someone, or by an attempt whose answer was lost)."""
        self.guilds.add(guild)
        channel: dict[str, Any] = {
            "id": str(next(self.ids)),
            "type": kind,
            "guild_id": guild,
            "name": name,
            "position": len(self.guild_channels),
            "permission_overwrites": [
                {
                    "id": str(o["id"]),
                    "type": int(o["type"]),
                    "allow": str(o.get("allow") or "0"),
                    "deny": str(o.get("deny") or "0"),
                }
                for o in overwrites or []
            ],
            "parent_id": None,
            "nsfw": False,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        self.guild_channels[channel["id"]] = channel
        return channel

    def channels_named(self, name: str) -> list[dict[str, Any]]:
        return [c for c in self.guild_channels.values() if c["name"] == name]

    def delete_channel(self, channel: str) -> None:
        del self.guild_channels[channel]
        self.refuse(channel, 404, "Unknown Channel", 10003)

    def can_see(self, channel: dict[str, Any], user: str) -> bool:
        """Whether a user without roles of its own may view the channel, by its overwrites."""
        overwrites = {(o["id"], o["type"]): o for o in channel["permission_overwrites"]}
        everyone, member = overwrites.get((channel["guild_id"], ROLE)), overwrites.get((user, MEMBER))
        if member is not None and int(member["allow"]) & VIEW_CHANNEL:
            return True
        if member is not None and int(member["deny"]) & VIEW_CHANNEL:
            return False
        return everyone is None or not int(everyone["deny"]) & VIEW_CHANNEL

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
                Route("/guilds/{guild}/channels", self.list_channels, methods=["GET"]),
                Route("/guilds/{guild}/channels", self.create_channel, methods=["POST"]),
                Route("/channels/{channel}/permissions/{overwrite}", self.edit_permissions, methods=["PUT"]),
                Route("/users/@me", self.current_user, methods=["GET"]),
            ]
        )

    # -- routes ----------------------------------------------------------------------------

    async def create_message(self, request: Request) -> Response:
        channel = request.path_params["channel"]
        if request.headers.get("authorization") != f"Bot {self.token}":
            return self.answer(f"channel:{channel}", 401, {"message": "401: Unauthorized", "code": 0})
        made = self.guild_channels.get(channel)
        if made is not None and not self.can_see(made, self.bot_id):
            return self.answer(f"channel:{channel}", 403, {"message": "Missing Access", "code": 50001})
        return await self.post(request, f"channel:{channel}", channel)

    async def list_channels(self, request: Request) -> Response:
        guild = request.path_params["guild"]
        route = f"GET guild:{guild}/channels"
        if (refused := self.check(request, route, guild)) is not None:
            return refused
        return self.answer(route, 200, [c for c in self.guild_channels.values() if c["guild_id"] == guild])

    async def create_channel(self, request: Request) -> Response:
        guild = request.path_params["guild"]
        route = f"POST guild:{guild}/channels"
        if (refused := self.check(request, route, guild)) is not None:
            return refused
        body = await request.json()
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors = {
                "name": {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be 1-100 long."}]}
            }
            return self.answer(route, 400, {"message": "Invalid Form Body", "code": 50035, "errors": errors})
        overwrites = body.get("permission_overwrites") or []
        await asyncio.sleep(self.slow_creates)
        channel = self.add_channel(
            guild, name.lower().replace(" ", "-"), overwrites, int(body.get("type", 0))
        )
        return self.answer(route, 201, channel)

    async def edit_permissions(self, request: Request) -> Response:
        channel_id, overwrite = request.path_params["channel"], request.path_params["overwrite"]
        route = f"PUT channel:{channel_id}/permissions"
        if (refused := self.check(request, route)) is not None:
            return refused
        channel = self.guild_channels.get(channel_id)
        if channel is None:
            return self.answer(route, 404, {"message": "Unknown Channel", "code": 10003})
        body = await request.json()
        entry = {
            "id": overwrite,
            "type": int(body["type"]),
            "allow": str(body.get("allow") or "0"),
            "deny": str(body.get("deny") or "0"),
        }
        others = [o for o in channel["permission_overwrites"] if o["id"] != overwrite]
        channel["permission_overwrites"] = [*others, entry]
        self.attempts.append(Attempt(route, 204, time.monotonic()))
        return Response(status_code=204, headers=self.bucket_headers(route))

    async def current_user(self, request: Request) -> Response:
        route = "GET users/@me"
        if (refused := self.check(request, route)) is not None:
            return refused
        user = {"id": self.bot_id, "username": "hackserver", "discriminator": "0", "bot": True}
        return self.answer(route, 200, {**user, "global_name": None, "avatar": None})

    def check(self, request: Request, route: str, guild: str | None = None) -> Response | None:
        """The answer that refuses a call with the bot token, if any: its token, a fault, the bucket."""
        if request.headers.get("authorization") != f"Bot {self.token}":
            return self.answer(route, 401, {"message": "401: Unauthorized", "code": 0})
        if (refused := self.gate(route)) is not None:
            return refused
        if guild is not None and guild not in self.guilds:
            return self.answer(route, 404, {"message": "Unknown Guild", "code": 10004})
        return None

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

    def gate(self, route: str) -> Response | None:
        """The fault or 429 to answer with, if any; else the request counts against its bucket."""
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
        return None

    async def post(self, request: Request, route: str, channel: str) -> Response:
        if (refused := self.gate(route)) is not None:
            return refused
        now = time.monotonic()
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

    def answer(self, route: str, status: int, body: dict[str, Any] | list[Any]) -> Response:
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
