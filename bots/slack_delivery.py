"""Posting to Slack from the outbox: chat.postMessage paced per channel, Slack's errors sorted into
worth-retrying (429 with its Retry-After, 5xx, network) and permanent (dead at once)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.core import Reply
from bots.slack import render, render_announcement, web_client, why
from hackserver.outbox import DeliveryFailed, Outgoing

CONNECTIONS = 64  # posts in flight to Slack at once

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
}


class ChannelPacer:
    """About `rate` posts a second per channel with bursts of `burst` (a GCRA): a post waits for its
    turn rather than fail, so a busy channel is paced while every other channel goes out at once."""

    # Slack allows "short bursts" above 1/s without saying how short: a burst of 1 never needs one,
    # so Slack never has to answer 429 and a second post to a channel waits exactly its second.
    def __init__(self, rate: float = 1.0, burst: int = 1, max_wait: float = 20.0) -> None:
        self.interval, self.tolerance = 1.0 / rate, (burst - 1) / rate
        self.max_wait = max_wait  # a longer queue gives the worker back and is tried again later
        self.due: dict[str, float] = {}  # channel -> theoretical time of its next post

    async def wait(self, channel: str) -> None:
        now = time.monotonic()
        due = max(self.due.get(channel, now), now)
        delay = due - self.tolerance - now
        if delay > self.max_wait:
            raise DeliveryFailed(f"Slack channel {channel} is busy; paced", retry_after=delay)
        self.due[channel] = due + self.interval  # reserved before sleeping: turns are taken in order
        if len(self.due) > 10_000:
            self.due = {c: t for c, t in self.due.items() if t > now}
        if delay > 0:
            await asyncio.sleep(delay)

    def pause(self, channel: str, seconds: float) -> None:
        now = time.monotonic()
        self.due[channel] = max(self.due.get(channel, now), now + seconds + self.tolerance)


class SlackSender:
    """Posts outbox messages with chat.postMessage (chat.postEphemeral for one user's eyes)."""

    def __init__(self, token: str, base_url: str | None = None, *, rate: float = 1.0, burst: int = 1) -> None:
        self.token, self.base_url = token, base_url
        self.session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self.pacer = ChannelPacer(rate, burst)

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
        await self.pacer.wait(message.channel)
        try:
            if payload.get("user"):
                await self.client.chat_postEphemeral(channel=message.channel, user=payload["user"], **body)
            else:
                await self.client.chat_postMessage(channel=message.channel, unfurl_links=False, **body)
        except SlackApiError as error:
            raise self.failure(message.channel, error) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise DeliveryFailed(f"Slack unreachable: {why(error)}") from None

    def failure(self, channel: str, error: SlackApiError) -> DeliveryFailed:
        status = error.response.status_code
        data = error.response.data
        code = str(data.get("error", "")) if isinstance(data, dict) else ""
        if status == 429 or code == "ratelimited":
            try:
                retry_after = max(float(error.response.headers.get("Retry-After", "1")), 0.0)
            except ValueError:
                retry_after = 1.0
            self.pacer.pause(channel, retry_after)
            return DeliveryFailed(
                f"Slack: ratelimited, retry after {retry_after:g} s", retry_after=retry_after
            )
        if status != 200:  # 5xx, or a proxy's surprise: worth another try later
            return DeliveryFailed(f"Slack: HTTP {status} {code}".rstrip())
        return DeliveryFailed(f"Slack: {code or 'error'}", permanent=code in PERMANENT)
