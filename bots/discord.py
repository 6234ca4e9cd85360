"""Discord: Ed25519-signed interactions for the `/hack` application command, embeds and link buttons
as replies, and delivery through the REST API (channels, or webhook URLs) within Discord's buckets.
A row whose payload has `channel_members` is for a team channel addressed by name: a private text
channel in the event's guild, made unless it exists, that those members (and the bot) can see.

Every request is verified on its raw body before it is parsed. Discord wants an answer within 3 s:
a command that takes longer is answered "deferred" and its reply edited in later. The command's
definition (`command_definition`) is built from the same registry the grammar dispatches on.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bots.commands import Bot, Invocation, Reply  # importing the commands registers them
from bots.core import in_language
from bots.discord_command import command_definition, grammar
from bots.discord_limits import RateLimits, retry_after
from bots.http import Background, bounded_body, tls, too_large
from hackserver.foundation.errors import HackserverError, SettingsError
from hackserver.foundation.outbox import DeliveryFailed, Outgoing, Sender
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity

log = logging.getLogger(__name__)
API = "https://discord.com/api/v10"
USER_AGENT = "DiscordBot (hackserver, 0.1.0)"  # the form Discord asks for: name, version
ACK_BUDGET = 2.5  # seconds of work before the deferred answer; Discord gives up at 3
MAX_SKEW = 300  # seconds a signature's timestamp may be off: older ones are replays
EPHEMERAL = 1 << 6
FOLLOW_UP_ATTEMPTS = 3
RATE_LIMITED_TRIES = 4  # 429s waited out within one send before the outbox reschedules it
NO_MENTIONS: dict[str, list[str]] = {
    "parse": []
}  # text from participants never pings @everyone or anyone else
WEBHOOK = re.compile(r"^https?://[^/?#]+/api(?:/v\d+)?/webhooks/(\d+)/([\w-]+)/?$")
GUILD_TEXT = 0  # channel type
ROLE, MEMBER = 0, 1  # permission overwrite types
VIEW_CHANNEL, SEND_MESSAGES, READ_MESSAGE_HISTORY = 1 << 10, 1 << 11, 1 << 16
TEAM_MEMBER = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY  # what a team channel allows its members
UNKNOWN_CHANNEL = 10003  # Discord's error code


class DiscordError(HackserverError):
    pass


# -- from an interaction to the command layer, and back ----------------------------------------


def to_invocation(interaction: Mapping[str, Any]) -> Invocation | None:
    """An application command interaction as an invocation; None when it names no user."""
    member = interaction.get("member") or {}
    user = (member.get("user") if isinstance(member, dict) else None) or interaction.get("user") or {}
    if not isinstance(user, dict) or not user.get("id"):
        return None
    name = user.get("global_name") or user.get("username") or user["id"]
    identity = Identity("discord", str(interaction.get("guild_id") or "dm"), str(user["id"]), str(name)[:100])
    data = interaction.get("data")
    locale = interaction.get("locale") or interaction.get("guild_locale")
    return Invocation(
        identity,
        grammar(data) if isinstance(data, dict) else "",
        locale=str(locale) if locale else None,
        request_key=str(interaction.get("id", ""))[:100] or None,
        # Discord sends an interaction once: the same id again is a replay, never run twice.
        retry=True,
    )


def render(reply: Reply) -> dict[str, Any]:
    """A reply as a Discord message: plain content when it is short text, else its headline as content
    and the rest in an embed; links as link buttons."""
    message: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
    if reply.title or reply.fields or len(reply.text) > 2000:
        # The headline is plain content, so notifications, screen readers and clients that hide
        # embeds still say what the message is.
        message["content"] = _cut(reply.title or reply.text.split("\n", 1)[0], 2000)
        embed: dict[str, Any] = {}
        if reply.text:
            embed["description"] = reply.text[:4096]
        if reply.fields:
            embed["fields"] = [
                {"name": k[:256] or "\u200b", "value": v[:1024] or "\u200b", "inline": True}
                for k, v in reply.fields[:25]
            ]
        if embed:
            message["embeds"] = [embed]
    else:
        message["content"] = reply.text
    links = [link for link in reply.links if link[1].startswith(("https://", "http://"))][:25]
    if links:
        message["components"] = [
            {
                "type": 1,  # an action row of up to 5 buttons
                "components": [
                    {"type": 2, "style": 5, "label": label[:80], "url": url[:512]}
                    for label, url in links[row : row + 5]
                ],
            }
            for row in range(0, len(links), 5)
        ]
    return message


def interaction_response(reply: Reply) -> dict[str, Any]:
    data = render(reply)
    if not reply.public:
        data["flags"] = EPHEMERAL
    return {"type": 4, "data": data}  # CHANNEL_MESSAGE_WITH_SOURCE


def render_announcement(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An announcement in every language it was written in: one line each, or one embed each
    when that is too long for a message."""
    texts: dict[str, str] = payload["texts"]
    several = len(texts) > 1
    lines = [in_language(lang, text) if several else text for lang, text in texts.items()]
    author = str(payload.get("author") or "")
    content = "\n".join([f"**{author}**", *lines] if author else lines)
    if len(content) <= 2000:
        return {"content": content, "allowed_mentions": NO_MENTIONS}
    embeds: list[dict[str, Any]] = [{"description": line[:4096]} for line in lines[:10]]
    headline = f"**{_cut(author, 1996)}**" if author else _cut(lines[0], 2000)
    return {"content": headline, "embeds": embeds, "allowed_mentions": NO_MENTIONS}


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


# -- over HTTP --------------------------------------------------------------------------------


class InteractionHandler(Background):
    """Runs application commands; keeps the work that outlives a deferred answer."""

    def __init__(self) -> None:
        super().__init__("Discord work after the deferred answer")

    async def command(self, runtime: Runtime, interaction: Mapping[str, Any]) -> Response:
        invocation = to_invocation(interaction)
        if invocation is None:
            return JSONResponse({"error": "the interaction names no user"}, status_code=400)
        task = self.keep(Bot(runtime).handle(invocation))
        try:
            reply = await asyncio.wait_for(asyncio.shield(task), ACK_BUDGET)
        except TimeoutError:
            application = str(interaction.get("application_id") or runtime.settings.discord_application_id)
            self.keep(self.follow_up(runtime.settings, task, application, str(interaction.get("token", ""))))
            return JSONResponse({"type": 5, "data": {"flags": EPHEMERAL}})  # "thinking", seen by the asker
        if reply is None:
            return JSONResponse({"error": "this interaction was already handled"}, status_code=409)
        return JSONResponse(interaction_response(reply))

    async def follow_up(
        self, settings: Settings, task: asyncio.Task[Reply | None], application: str, token: str
    ) -> None:
        """Edits the deferred answer into the reply (the interaction's token is the credential)."""
        reply = await task
        if reply is None:
            return
        url = f"{api_url(settings)}/webhooks/{application}/{token}/messages/@original"
        async with httpx.AsyncClient(timeout=10, headers={"User-Agent": USER_AGENT}, verify=tls()) as client:
            for attempt in range(FOLLOW_UP_ATTEMPTS):
                wait = 2.0**attempt
                try:
                    response = await client.patch(url, json=render(reply))
                    if response.status_code < 400:
                        return
                    if response.status_code != 429 and response.status_code < 500:
                        log.warning("Discord refused a late reply: %s", _error(response))
                        return
                    wait = retry_after(response) or wait
                except httpx.HTTPError as error:
                    log.warning("editing a late reply into Discord failed: %s", _why(error))
                if attempt + 1 < FOLLOW_UP_ATTEMPTS:
                    await asyncio.sleep(min(wait, 30.0))
        log.error("a late reply could not be edited into Discord")


def routes() -> list[BaseRoute]:
    handler = InteractionHandler()

    async def interactions(request: Request) -> Response:
        runtime: Runtime = request.state.runtime
        key = runtime.settings.discord_public_key
        if not key:
            return JSONResponse(
                {"error": "Discord is not enabled on this server (DISCORD_PUBLIC_KEY is not set)"},
                status_code=404,
            )
        if (body := await bounded_body(request)) is None:
            return too_large()
        if not is_signed(key, body, request.headers, time.time()):
            return JSONResponse({"error": "invalid request signature"}, status_code=401)
        try:
            interaction = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "expected a JSON body"}, status_code=400)
        kind = interaction.get("type") if isinstance(interaction, dict) else None
        if kind == 1:  # PING
            return JSONResponse({"type": 1})
        if kind == 2:  # APPLICATION_COMMAND
            return await handler.command(runtime, interaction)
        if kind == 4:  # autocomplete: the options are free text
            return JSONResponse({"type": 8, "data": {"choices": []}})
        if kind in (3, 5):  # a component or a modal: our buttons are links, nothing to do
            return JSONResponse({"type": 6})
        return JSONResponse({"error": f"unknown interaction type {kind!r}"}, status_code=400)

    return [Route("/discord/interactions", interactions, methods=["POST"])]


def is_signed(public_key: str, body: bytes, headers: Mapping[str, str], now: float) -> bool:
    """Discord's Ed25519 signature over timestamp + body, with the timestamp within MAX_SKEW of now."""
    signature = headers.get("x-signature-ed25519", "")
    timestamp = headers.get("x-signature-timestamp", "")
    if not timestamp.isascii() or not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_SKEW:
        return False
    try:
        VerifyKey(bytes.fromhex(public_key)).verify(timestamp.encode() + body, bytes.fromhex(signature))
    except (BadSignatureError, ValueError, TypeError):  # wrong, not hex, or not 64 bytes
        return False
    return True


# -- to Discord -------------------------------------------------------------------------------


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
    see them, the members and the bot (`bot_user`, asked of Discord when not given) may."""

    def __init__(
        self,
        token: str | None,
        base_url: str = API,
        *,
        guild: str | None = None,
        bot_user: str | None = None,
        max_wait: float = 30.0,
    ) -> None:
        self.token, self.guild, self.bot_user = token, guild, bot_user
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


def sender(runtime: Runtime) -> Sender | None:
    settings = runtime.settings
    hooks = any(WEBHOOK.match(c) for c in runtime.event.channels.get("discord", {}).values())
    if not settings.discord_bot_token and not hooks:
        return None
    return DiscordSender(
        settings.discord_bot_token,
        api_url(settings),
        guild=runtime.event.channels.get("discord", {}).get("guild"),
        bot_user=settings.discord_application_id,  # a bot's user id is its application's id
    )


# -- registering the command ------------------------------------------------------------------


async def register_commands(settings: Settings) -> dict[str, Any]:
    """Replaces the application's global commands with `/hack`; returns the definition sent."""
    if not settings.discord_application_id:
        raise SettingsError(
            "DISCORD_APPLICATION_ID: needed to register the command (the numeric application id)"
        )
    if not settings.discord_bot_token:
        raise SettingsError("DISCORD_BOT_TOKEN: needed to register the command")
    definition = command_definition()
    url = f"{api_url(settings)}/applications/{settings.discord_application_id}/commands"
    headers = {"Authorization": f"Bot {settings.discord_bot_token}", "User-Agent": USER_AGENT}
    async with httpx.AsyncClient(timeout=20, headers=headers) as client:
        try:
            response = await client.put(url, json=[definition])
        except httpx.HTTPError as error:
            raise DiscordError(f"cannot reach Discord at {api_url(settings)}: {_why(error)}") from None
    if response.status_code >= 400:
        raise DiscordError(f"Discord refused the command definition: {_error(response)}")
    return definition
