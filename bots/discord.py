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
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bots.commands import Bot, Invocation, Reply  # importing the commands registers them
from bots.core import command_name
from bots.discord_command import command_definition, grammar
from bots.discord_delivery import USER_AGENT, WEBHOOK, DiscordError, DiscordSender, _error, _why, api_url
from bots.discord_limits import retry_after
from bots.discord_render import EPHEMERAL, interaction_response, render
from bots.http import Background, bounded_body, tls, too_large
from hackserver.foundation import json_input, metrics
from hackserver.foundation.errors import SettingsError
from hackserver.foundation.outbox import Sender
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity

log = logging.getLogger(__name__)
ACK_BUDGET = 2.5  # seconds of work before the deferred answer; Discord gives up at 3
# A Discord user id is the same person in every guild and in direct messages: no workspace in the key.
WORKSPACE = ""
MAX_SKEW = 300  # seconds a signature's timestamp may be off: older ones are replays
FOLLOW_UP_ATTEMPTS = 3


# -- from an interaction to the command layer, and back ----------------------------------------


def to_invocation(interaction: Mapping[str, Any]) -> Invocation | None:
    """An application command interaction as an invocation; None when it names no user."""
    member = interaction.get("member") or {}
    user = (member.get("user") if isinstance(member, dict) else None) or interaction.get("user") or {}
    if not isinstance(user, dict) or not user.get("id"):
        return None
    name = user.get("global_name") or user.get("username") or user["id"]
    identity = Identity("discord", WORKSPACE, str(user["id"]), str(name)[:100])
    data = interaction.get("data")
    locale = interaction.get("locale") or interaction.get("guild_locale")
    return Invocation(
        identity,
        grammar(data) if isinstance(data, dict) else "",
        locale=str(locale) if locale else None,
        request_key=str(interaction.get("id", ""))[:100] or None,  # the same id again is a replay
    )


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
            metrics.DEFERRED.labels("discord", command_name(invocation.text)).inc()
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
            interaction = json_input.loads(body)
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


def sender(runtime: Runtime) -> Sender | None:
    settings = runtime.settings
    hooks = any(WEBHOOK.match(c) for c in runtime.event.channels.get("discord", {}).values())
    if not settings.discord_bot_token and not hooks:
        return None
    return DiscordSender(
        settings.discord_bot_token,
        api_url(settings),
        guild=runtime.event.channels.get("discord", {}).get("guild"),
    )  # the bot's user id is asked of Discord: an older application's differs from its own id


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
