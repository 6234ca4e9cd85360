"""Delivery to Discord through its REST API, within its rate-limit buckets: to channels with the bot
token, or to webhook URLs without it; a team's channel is made (private, its members let in) unless
it exists."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from bots.core import Reply
from bots.discord_limits import RateLimits, retry_after
from bots.discord_render import render, render_announcement
from hackserver.foundation import metrics
from hackserver.foundation.errors import HackserverError
from hackserver.foundation.outbox import DeliveryFailed, Outgoing
from hackserver.foundation.settings import Settings

log = logging.getLogger(__name__)
API = "https://discord.com/api/v10"
USER_AGENT = "DiscordBot (hackserver, 0.1.0)"  # the form Discord asks for: name, version
RATE_LIMITED_TRIES = 4  # 429s waited out within one send before the outbox reschedules it
GUILD_TEXT = 0  # channel type
ROLE, MEMBER = 0, 1  # permission overwrite types
VIEW_CHANNEL, SEND_MESSAGES, READ_MESSAGE_HISTORY = 1 << 10, 1 << 11, 1 << 16
TEAM_MEMBER = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY  # what a team channel allows its members
UNKNOWN_CHANNEL = 10003  # Discord's error code
WEBHOOK = re.compile(r"^https?://[^/?#]+/api(?:/v\d+)?/webhooks/(\d+)/([\w-]+)/?$")


class DiscordError(HackserverError):
    pass


def api_url(settings: Settings) -> str:
    return (settings.discord_api_url or API).rstrip("/")


@dataclass
class TeamChannel:
    id: str
    members: set[str]  # users whose own overwrite lets them see the channel


class DiscordSender:
    """Posts outbox messages to channels with the bot token, or to webhook URLs without it.
    A message carries a nonce from its outbox key that Discord enforces: a retry after a post whose
    answer was lost returns the first message instead of posting again.

    Team channels are made in `guild`, private: @everyone (the role whose id is the guild's) may not
    see them, the members and the bot (its user id asked of Discord once) may."""

    def __init__(
        self,
        token: str | None,
        base_url: str = API,
        *,
        guild: str | None = None,
        max_wait: float = 30.0,
    ) -> None:
        self.token, self.guild = token, guild
        self.bot_user: str | None = None
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=10, headers={"User-Agent": USER_AGENT}
        )
        self.limits = RateLimits(max_wait)
        self.team_channels: dict[str, TeamChannel] = {}  # by name, once set up
        self.setting_up: dict[str, asyncio.Lock] = {}  # team channel name -> its set-up, one at a time

    async def aclose(self) -> None:
        await self.client.aclose()

    async def send(self, message: Outgoing) -> None:
        payload = message.payload
        body = (
            render(Reply.from_json(payload["reply"])) if "reply" in payload else render_announcement(payload)
        )
        channel = message.channel
        if "channel_members" in payload:
            channel = await self.team_channel(message.channel, members(payload["channel_members"]))
        if hook := WEBHOOK.match(channel):
            url, route, headers = f"{channel.rstrip('/')}?wait=true", f"webhook:{hook[1]}", {}
        elif channel.isascii() and channel.isdigit():
            url, route, headers = f"/channels/{channel}/messages", f"channel:{channel}", self.authorization()
            body |= {"nonce": hashlib.sha256(message.key.encode()).hexdigest()[:25], "enforce_nonce": True}
        else:
            raise DeliveryFailed(
                f"Discord: {channel[:60]!r} is neither a channel id nor a webhook URL", permanent=True
            )
        response = await self.post(url, route, body, headers)
        if response.status_code >= 500:
            raise DeliveryFailed(f"Discord: HTTP {response.status_code}")
        if response.status_code == 404 and channel != message.channel:
            # The team channel was deleted since it was looked up: made again on the next try.
            self.team_channels.pop(message.channel, None)
            raise DeliveryFailed(f"Discord: {_error(response)} for team channel {message.channel}")
        if response.status_code >= 400:  # a missing channel, access or token: no retry can help
            raise DeliveryFailed(f"Discord: {_error(response)}", permanent=True)

    def authorization(self) -> dict[str, str]:
        if not self.token:
            raise DeliveryFailed("Discord: DISCORD_BOT_TOKEN is not set to post to channels", permanent=True)
        return {"Authorization": f"Bot {self.token}"}

    # -- team channels ----------------------------------------------------------------------

    async def team_channel(self, name: str, users: list[str]) -> str:
        """The id of the team channel `name`, made if need be, that `users` can see."""
        self.authorization()
        if not self.guild:
            raise DeliveryFailed(
                "Discord: team channels need the guild (server) to make them in: "
                "set [channels.discord] guild in the event file",
                permanent=True,
            )
        async with self.setting_up.setdefault(name, asyncio.Lock()):  # made once, however many rows wait
            team = (
                self.team_channels.pop(name, None) or await self.find(name) or await self.create(name, users)
            )
            for user in users:  # a failure leaves the channel to be looked up afresh on the next try
                if user not in team.members:
                    await self.api(
                        "PUT",
                        f"/channels/{team.id}/permissions/{user}",
                        f"PUT channel:{team.id}/permissions",
                        {"type": MEMBER, "allow": str(TEAM_MEMBER)},
                    )
                    team.members.add(user)
            self.team_channels[name] = team
        return team.id

    async def find(self, name: str) -> TeamChannel | None:
        """The guild's text channel of that name (made by an earlier try whose answer was lost)."""
        listed = await self.api("GET", f"/guilds/{self.guild}/channels", f"GET guild:{self.guild}/channels")
        found = [
            channel
            for channel in (listed if isinstance(listed, list) else [])
            if channel.get("type") == GUILD_TEXT and channel.get("name") == name
        ]
        if not found:
            return None
        return team_channel(min(found, key=lambda channel: int(channel["id"])))  # the first one made

    async def create(self, name: str, users: list[str]) -> TeamChannel:
        assert self.guild is not None
        if self.bot_user is None:
            self.bot_user = str((await self.api("GET", "/users/@me", "GET users/@me"))["id"])
        overwrites: list[dict[str, Any]] = [{"id": self.guild, "type": ROLE, "deny": str(VIEW_CHANNEL)}]
        overwrites += [
            {"id": user, "type": MEMBER, "allow": str(TEAM_MEMBER)}
            for user in dict.fromkeys([self.bot_user, *users])
        ]
        created = await self.api(
            "POST",
            f"/guilds/{self.guild}/channels",
            f"POST guild:{self.guild}/channels",
            {"name": name, "type": GUILD_TEXT, "permission_overwrites": overwrites},
        )
        return team_channel(created)

    async def api(self, method: str, url: str, route: str, body: dict[str, Any] | None = None) -> Any:
        """A call with the bot token; its JSON answer (None when empty)."""
        response = await self.request(method, url, route, body, self.authorization())
        if response.status_code >= 500:
            raise DeliveryFailed(f"Discord: HTTP {response.status_code}")
        if _code(response) == UNKNOWN_CHANNEL:  # deleted since it was looked up: found or made anew
            raise DeliveryFailed(f"Discord: {_error(response)}")
        if response.status_code >= 400:  # a missing guild or permission: no retry can help
            raise DeliveryFailed(f"Discord: {_error(response)}", permanent=True)
        return response.json() if response.content else None

    # -- within the rate limits -------------------------------------------------------------

    async def post(
        self, url: str, route: str, body: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Response:
        return await self.request("POST", url, route, body, headers)

    async def request(
        self, method: str, url: str, route: str, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> httpx.Response:
        """Sends within the bucket's limits; a 429 (nothing was done) is waited out and tried again."""
        deadline = time.monotonic() + self.limits.max_wait
        for _ in range(RATE_LIMITED_TRIES):
            async with self.limits.turn(route, deadline) as bucket:
                try:
                    response = await self.client.request(method, url, json=body, headers=headers)
                except httpx.HTTPError as error:
                    raise DeliveryFailed(f"Discord unreachable: {_why(error)}") from None
                self.limits.learn(bucket, response)
            if response.status_code != 429:
                return response
            metrics.rate_limited("discord", retry_after(response) or 0.0)
            log.info("Discord rate limited %s (bucket %s): %s", route, bucket.name or "?", _error(response))
        raise DeliveryFailed("Discord: still rate limited", retry_after=retry_after(response) or 1.0)


def team_channel(channel: Mapping[str, Any]) -> TeamChannel:
    overwrites = channel.get("permission_overwrites") or []
    allowed = {
        str(overwrite["id"])
        for overwrite in overwrites
        if overwrite.get("type") == MEMBER and int(overwrite.get("allow") or 0) & VIEW_CHANNEL
    }
    return TeamChannel(str(channel["id"]), allowed)


def members(raw: Any) -> list[str]:
    """The user ids of a row's `channel_members`, once each, in their order."""
    if not isinstance(raw, list):
        raise DeliveryFailed("channel_members is not a list of user ids", permanent=True)
    return list(dict.fromkeys(str(user) for user in raw if user))


def _code(response: httpx.Response) -> int | None:
    """Discord's JSON error code, e.g. 10003 for an unknown channel."""
    try:
        code = response.json().get("code") if response.status_code >= 400 else None
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def _error(response: httpx.Response) -> str:
    try:
        body = response.json()
        detail = f"{body.get('message', '')} ({body.get('code', '?')})"
    except (ValueError, AttributeError):
        detail = response.text[:100]
    return f"HTTP {response.status_code} {detail}".strip()


def _why(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:200] if str(error) else type(error).__name__
