"""A fake Slack on loopback, for slack-sdk's clients pointed at it with `base_url`.

`FakeSlack` serves the Web API methods hackserver calls (chat.postMessage, chat.postEphemeral,
auth.test, apps.connections.open, conversations.create/list/invite/history) and fake `response_url`s.
It records every post with its channel, ts and metadata, and serves them back, newest first, from
conversations.history (the metadata only with `include_all_metadata`); it can answer a post
`answer_delay` seconds after taking it, as a Slack whose answer is late. It paces each channel as
Slack does (about one post a second, short bursts) by answering 429 itself when a channel is posted
to faster (counted in `throttled`), and can be told to answer 429 with Retry-After or 500 for the
next calls, or to refuse a channel for good, or to take `delay` seconds over every call. Channels it
made (or was given with `add_channel`) have ids "C" + a counter and their members; conversations.list pages them `page_size` at a time with a cursor, as Slack does.
`FakeSocketMode` is Slack's end of a Socket Mode websocket: it says hello, sends envelopes and
collects the acknowledgements.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

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
    metadata: dict[str, Any] | None = None  # chat.postMessage's `metadata`

    def history_json(self, with_metadata: bool) -> dict[str, Any]:
        """The message as conversations.history shows a bot's post."""
        shown: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "user": BOT,
            "bot_id": "BBOT",
            "app_id": "A1",
            "text": self.text,
            "ts": self.ts,
            "blocks": self.blocks,
        }
        if with_metadata and self.metadata is not None:
            shown["metadata"] = self.metadata
        return shown


@dataclass(frozen=True)
class Attempt:
    method: str
    channel: str
    status: int  # the HTTP status answered
    at: float


@dataclass
class Channel:
    id: str
    name: str
    members: set[str]
    is_private: bool = False
    is_archived: bool = False
    created: int = field(default_factory=lambda: int(time.time()))

    def json(self, member: str) -> dict[str, Any]:
        """The conversation object, as `member` sees it."""
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "created": self.created,
            "is_archived": self.is_archived,
            "is_general": False,
            "unlinked": 0,
            "name_normalized": self.name,
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "creator": BOT,
            "is_member": member in self.members,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
            "num_members": len(self.members),
        }


@dataclass(frozen=True)
class Call:
    method: str  # e.g. conversations.create
    args: dict[str, str]


BOT = "UBOT"  # the bot user the token belongs to


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
    channels: dict[str, Channel] = field(default_factory=dict)  # by id
    calls: list[Call] = field(default_factory=list)  # conversations.* calls, in order
    page_size: int = 2  # channels a conversations.list page at most (Slack: `limit`, up to 1000)
    lose_creates: int = 0  # channels made, then answered 500 as if the answer were lost
    delay: float = 0.0  # seconds every Web API call takes: a Slack having a bad day
    answer_delay: float = 0.0  # seconds a post is answered after it was taken
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    people: dict[str, dict[str, str]] = field(default_factory=dict)  # user id -> profile (users.info)
    users_limited: int = 0  # users.info calls still to be answered 429

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
        """The posts to a channel, by its id or (for the channels made here) its name."""
        ids = {channel} | {c.id for c in self.channels.values() if c.name == channel}
        return [post for post in self.posts if post.channel in ids]

    def add_channel(self, name: str, members: set[str] | None = None, *, archived: bool = False) -> Channel:
        """A channel made earlier (by someone, or by an attempt whose answer was lost)."""
        made = Channel(
            f"C{next(self.ids)}", name, {BOT} if members is None else set(members), is_archived=archived
        )
        self.channels[made.id] = made
        return made

    def channel(self, name: str) -> Channel:
        [found] = [c for c in self.channels.values() if c.name == name]
        return found

    def called(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    async def api(self, request: Request) -> Response:
        method = request.path_params["method"]
        await asyncio.sleep(self.delay)
        auth = request.headers.get("authorization", "")
        if method == "apps.connections.open":
            if not auth.startswith("Bearer xapp-"):
                return JSONResponse({"ok": False, "error": "not_allowed_token_type"})
            return JSONResponse({"ok": True, "url": self.socket_url})
        if auth != f"Bearer {self.token}":
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return JSONResponse({"ok": True, "team_id": "T1", "user_id": BOT, "bot_id": "BBOT"})
        if method.startswith("conversations."):
            return await self.conversations(method, request)
        if method == "users.info":
            return await self.user_info(request)
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
        metadata = body.get("metadata")
        if isinstance(metadata, str):  # a form field carries it as JSON
            metadata = json.loads(metadata)
        text, blocks = str(body.get("text", "")), list(body.get("blocks") or [])
        self.posts.append(Post(channel, ts, text, blocks, time.monotonic(), user, metadata))
        await asyncio.sleep(self.answer_delay)
        return JSONResponse({"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text")}})

    async def user_info(self, request: Request) -> Response:
        """users.info as Slack answers it: the user with their profile, or user_not_found."""
        args = dict(request.query_params) | {k: str(v) for k, v in (await self.body(request)).items()}
        self.calls.append(Call("users.info", args))
        if self.users_limited > 0:
            self.users_limited -= 1
            return JSONResponse(
                {"ok": False, "error": "ratelimited"}, status_code=429, headers={"Retry-After": "30"}
            )
        user = args.get("user", "")
        if user not in self.people:
            return JSONResponse({"ok": False, "error": "user_not_found"})
        profile = self.people[user]
        found = {
            "id": user,
            "name": profile.get("name", user.lower()),
            "real_name": profile.get("real_name", ""),
        }
        return JSONResponse({"ok": True, "user": found | {"profile": profile}})

    async def conversations(self, method: str, request: Request) -> Response:
        """conversations.create, .list and .invite: Web API methods take their arguments in the query
        string or the body (a form or JSON) alike; booleans come as "1"/"0" or true/false."""
        args = {key: str(value) for key, value in request.query_params.items()}
        if request.method == "POST":
            args |= {key: str(value) for key, value in (await self.body(request)).items()}
        self.calls.append(Call(method, args))
        if self.failing > 0:
            self.failing -= 1
            return JSONResponse({"ok": False, "error": "internal_error"}, status_code=500)
        if method == "conversations.create":
            return self.create_channel(args)
        if method == "conversations.list":
            return self.list_channels(args)
        if method == "conversations.invite":
            return self.invite_users(args)
        if method == "conversations.history":
            return self.history(args)
        return JSONResponse({"ok": False, "error": "unknown_method"}, status_code=404)

    def create_channel(self, args: dict[str, str]) -> Response:
        name = args.get("name", "")
        if not name:
            return JSONResponse({"ok": False, "error": "invalid_name_required"})
        if len(name) > 80:
            return JSONResponse({"ok": False, "error": "invalid_name_maxlength"})
        if name != name.lower() or not all(c.isalnum() or c in "-_" for c in name):
            return JSONResponse({"ok": False, "error": "invalid_name_specials"})
        if any(c.name == name for c in self.channels.values()):  # archived ones keep their names too
            return JSONResponse({"ok": False, "error": "name_taken"})
        made = self.add_channel(name)
        made.is_private = args.get("is_private", "0").lower() in ("1", "true")
        if self.lose_creates > 0:
            self.lose_creates -= 1
            return JSONResponse({"ok": False, "error": "internal_error"}, status_code=500)
        return JSONResponse({"ok": True, "channel": made.json(BOT)})

    def list_channels(self, args: dict[str, str]) -> Response:
        types = set(args.get("types", "public_channel").split(","))
        skip_archived = args.get("exclude_archived", "0").lower() in ("1", "true")
        visible = [
            c
            for c in sorted(self.channels.values(), key=lambda c: c.id)
            if ("private_channel" if c.is_private else "public_channel") in types
            and not (c.is_private and BOT not in c.members)  # private channels only when a member
            and not (skip_archived and c.is_archived)
        ]
        limit = min(int(args.get("limit") or 100), 1000, self.page_size)
        cursor = args.get("cursor", "")
        start = int(base64.b64decode(cursor).decode().removeprefix("next:")) if cursor else 0
        page = visible[start : start + limit]
        more = start + limit < len(visible)
        next_cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
        return JSONResponse(
            {
                "ok": True,
                "channels": [c.json(BOT) for c in page],
                "response_metadata": {"next_cursor": next_cursor},
            }
        )

    def invite_users(self, args: dict[str, str]) -> Response:
        """As Slack does: when any user cannot be invited (is in already, say), nobody is."""
        found = self.channels.get(args.get("channel", ""))
        if found is None:
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        if found.is_archived:
            return JSONResponse({"ok": False, "error": "is_archived"})
        if BOT not in found.members:
            return JSONResponse({"ok": False, "error": "not_in_channel"})
        users = [user for user in args.get("users", "").split(",") if user]
        if not users:
            return JSONResponse({"ok": False, "error": "no_user"})
        errors = [
            {"user": user, "ok": False, "error": "cant_invite_self" if user == BOT else "already_in_channel"}
            for user in users
            if user in found.members
        ]
        if errors:
            return JSONResponse({"ok": False, "error": errors[0]["error"], "errors": errors})
        found.members.update(users)
        return JSONResponse({"ok": True, "channel": found.json(BOT)})

    def history(self, args: dict[str, str]) -> Response:
        """A channel's messages after `oldest`, newest first, `limit` a page with a cursor."""
        channel = args.get("channel", "")
        shown = [post for post in reversed(self.posts) if post.channel == channel and post.user is None]
        if channel not in self.channels and not shown:
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        oldest = float(args.get("oldest") or 0)
        shown = [post for post in shown if float(post.ts) > oldest]
        limit = min(int(args.get("limit") or 100), 999)
        cursor = args.get("cursor", "")
        start = int(base64.b64decode(cursor).decode().removeprefix("next_ts:")) if cursor else 0
        page = shown[start : start + limit]
        more = start + limit < len(shown)
        with_metadata = args.get("include_all_metadata", "0").lower() in ("1", "true")
        answer: dict[str, Any] = {
            "ok": True,
            "messages": [post.history_json(with_metadata) for post in page],
            "has_more": more,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if more:
            answer["response_metadata"] = {
                "next_cursor": base64.b64encode(f"next_ts:{start + limit}".encode()).decode()
            }
        return JSONResponse(answer)

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
        # Form fields (slack-sdk sends a method's `params` so), read without a multipart parser.
        raw: dict[str, Any] = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
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
