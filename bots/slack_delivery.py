"""Posting to Slack from the outbox: chat.postMessage paced per channel, Slack's errors sorted into
worth-retrying (429 with its Retry-After, 5xx, network) and permanent (dead at once).

A row whose payload has `channel_members` is for a team channel addressed by name: the channel is
made (conversations.create) unless it exists, those members are invited, then the message is posted.

Slack has no idempotency key: each message carries its row's id in its metadata, and a row whose
earlier attempt died with its process is looked for in the channel's history before it is posted
again. A history that cannot be read posts it anyway: at least once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urljoin

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.web.internal_utils import get_user_agent

from bots.core import Reply
from bots.slack_render import render, render_announcement
from hackserver.foundation import metrics
from hackserver.foundation.outbox import DeliveryFailed, Outgoing

log = logging.getLogger(__name__)
CONNECTIONS = 64  # posts in flight to Slack at once
API_URL = "https://slack.com/api/"
POST_TIMEOUT = aiohttp.ClientTimeout(total=10)
USER_AGENT = get_user_agent("hackserver")
CHANNEL_TYPES = "public_channel,private_channel"
LIST_LIMIT = 1000  # channels a conversations.list page, Slack's most
NOT_AN_INVITE_ERROR = {"already_in_channel", "cant_invite_self"}  # the member is there, or is the bot
METADATA_TYPE = "hackserver_outbox"
HISTORY_MARGIN = 60.0  # seconds our clock may be ahead of Slack's
HISTORY_PAGE = 200  # messages a conversations.history page (Slack advises at most 200)
HISTORY_PAGES = 5  # looked through at most; a busier channel is posted to again

# Errors no retry can fix: the row goes dead at once, with Slack's word for why.
PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
    "missing_scope",
    "msg_too_long",
    "no_text",
    "invalid_blocks",
    "restricted_action",
    "user_not_in_channel",
    "invalid_arguments",
    "invalid_name",
    "invalid_name_maxlength",
    "invalid_name_punctuation",
    "invalid_name_required",
    "invalid_name_specials",
    "user_not_found",
    "cant_invite",
    "method_not_supported_for_channel_type",
}


class ChannelPacer:
    """At most `rate` posts a second per channel, one after the other: a post waits for its turn
    rather than fail, so a busy channel is paced while every other channel goes out at once."""

    # The interval counts from when Slack answered the channel's previous post, not from when it
    # was sent: Slack measures arrivals, and a post that waited for a connection arrives late.
    # Slack allows "short bursts" above 1/s without saying how short; we never need one.
    def __init__(self, rate: float = 1.0, max_wait: float = 20.0) -> None:
        self.interval = 1.0 / rate
        self.max_wait = max_wait  # a longer queue gives the worker back and is tried again later
        self.answered: dict[str, float] = {}  # channel -> when its latest post was answered
        self.turns: dict[str, asyncio.Lock] = {}  # channel -> its queue, while posts wait in it
        self.waiting: dict[str, int] = {}  # channel -> posts in its queue (the one posting included)

    @contextlib.asynccontextmanager
    async def turn(self, channel: str) -> AsyncIterator[None]:
        """Holds the channel from its turn until Slack answered the post made inside."""
        ahead = self.waiting.get(channel, 0)
        expected = ahead * self.interval + max(0.0, self.next_free(channel) - time.monotonic())
        if expected > self.max_wait:
            raise DeliveryFailed(f"Slack channel {channel} is busy; paced", retry_after=expected)
        self.waiting[channel] = ahead + 1
        lock = self.turns.setdefault(channel, asyncio.Lock())  # first come, first served
        try:
            async with lock:
                if (delay := self.next_free(channel) - time.monotonic()) > 0:
                    await asyncio.sleep(delay)
                try:
                    yield
                finally:
                    self.answered[channel] = max(self.answered.get(channel, 0.0), time.monotonic())
        finally:
            self.waiting[channel] -= 1
            if not self.waiting[channel]:
                del self.waiting[channel], self.turns[channel]
            if len(self.answered) > 10_000:
                now = time.monotonic()
                self.answered = {c: t for c, t in self.answered.items() if t + self.interval > now}

    def next_free(self, channel: str) -> float:
        return self.answered.get(channel, -math.inf) + self.interval

    def pause(self, channel: str, seconds: float) -> None:
        """Slack said to wait (429 with Retry-After): the channel's next post goes no sooner."""
        until = time.monotonic() + seconds - self.interval
        self.answered[channel] = max(self.answered.get(channel, 0.0), until)


def web_client(
    token: str | None, base_url: str | None, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    # No retries inside the client: the outbox decides when to try again, so nothing posts twice.
    # Without a session the client opens a connection (and a session) per call.
    options: dict[str, Any] = {"base_url": base_url} if base_url else {}
    return AsyncWebClient(token=token, timeout=10, retry_handlers=[], session=session, **options)


def why(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:200] if str(error) else type(error).__name__


class SlackSender:
    """Posts outbox messages with chat.postMessage (chat.postEphemeral for one user's eyes)."""

    def __init__(
        self, token: str, base_url: str | None = None, *, rate: float = 1.0, private_teams: bool = True
    ) -> None:
        self.token, self.base_url = token, base_url
        self.private_teams = private_teams  # team channels: private (groups:write) unless the event says
        self.session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self.pacer = ChannelPacer(rate)
        self.channel_ids: dict[str, str] = {}  # team channel name -> id
        self.members: dict[str, set[str]] = {}  # channel id -> users invited (or found in it)
        self.setting_up: dict[str, asyncio.Lock] = {}  # team channel name -> its set-up, one at a time

    @property
    def client(self) -> AsyncWebClient:
        # One session for every post: its connections are kept and reused. Made on first use, in
        # the event loop that delivers.
        client = self._client
        if client is None or self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONNECTIONS))
            client = self._client = web_client(self.token, self.base_url, self.session)
        return client

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def send(self, message: Outgoing) -> None:
        payload = message.payload
        if "reply" in payload:
            body = render(Reply.from_json(payload["reply"]))
            body.pop("response_type")
        else:
            body = render_announcement(payload)
        channel = message.channel
        try:
            if "channel_members" in payload:
                channel = await self.team_channel(message.channel, members(payload["channel_members"]))
            if payload.get("user"):  # seen by one user: neither metadata nor history
                async with self.pacer.turn(channel):
                    await self.post(
                        "chat.postEphemeral", {"channel": channel, "user": payload["user"], **body}
                    )
                return
            if message.in_doubt_since is not None and (ts := await self.posted_before(channel, message)):
                log.info("outbox message %s reached Slack before its process died (ts %s)", message.id, ts)
                return
            async with self.pacer.turn(channel):
                await self.post(
                    "chat.postMessage",
                    {"channel": channel, "unfurl_links": False, "metadata": marker(message.id), **body},
                )
        except SlackApiError as error:
            if "channel_members" in payload and code(error) == "channel_not_found":
                # The team channel was deleted since it was looked up: made again on the next try.
                self.channel_ids.pop(message.channel, None)
                raise DeliveryFailed(f"Slack: channel_not_found for team channel {message.channel}") from None
            raise self.failure(channel, error) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise DeliveryFailed(f"Slack unreachable: {why(error)}") from None

    async def post(self, method: str, body: dict[str, Any]) -> None:
        """The same request as the client's chat_postMessage, and the same SlackApiError when Slack
        refuses, without the client's work per call (it was most of a post's CPU in a fan-out)."""
        client = self.client  # and its session
        assert self.session is not None
        url = urljoin(self.base_url or API_URL, method)  # as the client joins them
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json;charset=utf-8",
            "User-Agent": USER_AGENT,
        }
        async with self.session.post(
            url, data=json.dumps(body), headers=headers, timeout=POST_TIMEOUT
        ) as got:
            try:
                data = await got.json(content_type=None)
            except ValueError:  # an HTML error page from a proxy, say
                data = None
            answer = AsyncSlackResponse(
                client=client,
                http_verb="POST",
                api_url=url,
                req_args={},
                data=data if isinstance(data, dict) else {},
                headers=got.headers,  # type: ignore[arg-type]
                status_code=got.status,
            )
        answer.validate()  # type: ignore[no-untyped-call]

    async def posted_before(self, channel: str, message: Outgoing) -> str | None:
        """The ts of the message's post by an attempt that died with its process, found by its
        metadata in the channel's history since that attempt began; None if it is not there."""
        assert message.in_doubt_since is not None
        oldest = f"{message.in_doubt_since.timestamp() - HISTORY_MARGIN:.6f}"
        cursor: str | None = None
        try:
            for _ in range(HISTORY_PAGES):
                page = await self.client.conversations_history(
                    channel=channel,
                    oldest=oldest,
                    limit=HISTORY_PAGE,
                    include_all_metadata=True,
                    cursor=cursor,
                )
                for found in page.get("messages") or []:
                    if isinstance(found, dict) and found.get("metadata") == marker(message.id):
                        return str(found.get("ts"))
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not page.get("has_more") or not cursor:
                    return None
        except SlackApiError as error:  # e.g. missing_scope, not_in_channel, ratelimited
            log.warning(
                "Slack: channel %s's history is unreadable (%s); outbox message %s is posted again",
                channel,
                code(error) or f"HTTP {error.response.status_code}",
                message.id,
            )
            return None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            log.warning(
                "Slack: channel %s's history is unreachable (%s); outbox message %s is posted again",
                channel,
                why(error),
                message.id,
            )
            return None
        log.warning(
            "Slack: outbox message %s not in channel %s's latest %d messages; posted again",
            message.id,
            channel,
            HISTORY_PAGES * HISTORY_PAGE,
        )
        return None

    async def team_channel(self, name: str, users: list[str]) -> str:
        """The id of the team channel `name`, made if need be, with `users` in it."""
        async with self.setting_up.setdefault(name, asyncio.Lock()):  # made once, however many rows wait
            channel = self.channel_ids.get(name) or await self.create(name)
            self.channel_ids[name] = channel
            known = self.members.setdefault(channel, set())
            await self.invite(channel, [user for user in users if user not in known])
        return channel

    async def create(self, name: str) -> str:
        try:
            created = await self.client.conversations_create(name=name, is_private=self.private_teams)
            return str(created["channel"]["id"])
        except SlackApiError as error:
            if code(error) != "name_taken":
                raise
        # Made before (an earlier try whose answer was lost, or another process): found by its name.
        cursor: str | None = None
        while True:
            page = await self.client.conversations_list(
                types=CHANNEL_TYPES, exclude_archived=True, limit=LIST_LIMIT, cursor=cursor
            )
            for channel in page.get("channels") or []:
                if channel.get("name") == name:
                    return str(channel["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                raise DeliveryFailed(
                    f"Slack: the channel name {name!r} is taken, but not by a channel the bot can see "
                    "(it is archived, or private without the bot)",
                    permanent=True,
                )

    async def invite(self, channel: str, users: list[str]) -> None:
        if not users:
            return
        known = self.members.setdefault(channel, set())
        try:
            await self.client.conversations_invite(channel=channel, users=",".join(users))
        except SlackApiError as error:
            if code(error) not in NOT_AN_INVITE_ERROR:
                raise
            if len(users) > 1:
                # Slack invites nobody when one of them cannot be (e.g. is in already): one at a time.
                for user in users:
                    await self.invite(channel, [user])
                return
        known.update(users)

    def failure(self, channel: str, error: SlackApiError) -> DeliveryFailed:
        status, reason = error.response.status_code, code(error)
        if status == 429 or reason == "ratelimited":
            try:
                retry_after = max(float(error.response.headers.get("Retry-After", "1")), 0.0)
            except ValueError:
                retry_after = 1.0
            self.pacer.pause(channel, retry_after)
            metrics.rate_limited("slack", retry_after)
            return DeliveryFailed(
                f"Slack: ratelimited, retry after {retry_after:g} s", retry_after=retry_after
            )
        if status != 200:  # 5xx, or a proxy's surprise: worth another try later
            return DeliveryFailed(f"Slack: HTTP {status} {reason}".rstrip())
        return DeliveryFailed(f"Slack: {reason or 'error'}", permanent=reason in PERMANENT)


def code(error: SlackApiError) -> str:
    """Slack's word for what went wrong, e.g. channel_not_found."""
    data = error.response.data
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def marker(message_id: int) -> dict[str, Any]:
    """A post's metadata naming its outbox row, as Slack hands it back in the history."""
    return {"event_type": METADATA_TYPE, "event_payload": {"outbox_id": message_id}}


def members(raw: Any) -> list[str]:
    """The user ids of a row's `channel_members`, once each, in their order."""
    if not isinstance(raw, list):
        raise DeliveryFailed("channel_members is not a list of user ids", permanent=True)
    return list(dict.fromkeys(str(user) for user in raw if user))
