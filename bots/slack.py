"""Slack: signed slash commands, interactions and events over HTTP (or Socket Mode when an app token
is set), Block Kit replies, and delivery through chat.postMessage paced per channel.

Every request is verified on its raw body before it is parsed. Slack wants an answer within 3 s:
a command that takes longer is acknowledged with "working on it" and answered later through its
`response_url`. A request runs once per Slack id (a command's trigger_id, an event's event_id):
sent again, as a retry (X-Slack-Retry-Num) or a replay, it changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.socket_mode.websockets import SocketModeClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bots.commands import Bot, Invocation, Reply  # importing the commands registers them
from bots.core import command_name
from bots.http import MAX_BODY, Background, bounded_body, tls, too_large
from bots.slack_delivery import SlackSender, web_client, why
from bots.slack_render import render
from hackserver.foundation import json_input, metrics, outbox
from hackserver.foundation.i18n import say
from hackserver.foundation.outbox import Sender
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity

log = logging.getLogger(__name__)
ACK_BUDGET = 2.5  # seconds of work before the acknowledgement; Slack gives up at 3
NAME_LOOKUP = 2.0  # seconds users.info may take before the reply goes out with the person's id
# An interaction's payload (block_actions) and an event carry a whole message, several hundred KB at
# most: they get the app's own 1 MiB cap, slash commands the chat platforms' 64 KiB.
MESSAGE_BODY = 1024 * 1024
RESPONSE_URL_ATTEMPTS = 3
MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
SPECIAL = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")  # <https://x.org|label>, <#C1|name>, <!here>


def decoded(text: str) -> str:
    """Slack's message text as the person typed it: links and channel names plain, and `&`, `<`,
    `>`, which Slack sends as `&amp;`, `&lt;`, `&gt;`, as themselves (last, so that a typed `&lt;`
    stays one)."""

    def plain(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            return f"@{(label or target[1:]).split('^')[0]}"
        if target.startswith("@"):
            return f"@{label or target[1:]}"
        return target.removeprefix("mailto:")  # a link: its address, which the person typed

    text = SPECIAL.sub(plain, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# -- from Slack to the command layer, and back -------------------------------------------------


def to_invocation(form: Mapping[str, str]) -> Invocation:
    """A slash command's form fields as an invocation."""
    team, user, text = form.get("team_id", ""), form.get("user_id", ""), form.get("text", "")
    identity = account(team, form.get("enterprise_id", ""), user, form.get("user_name", "") or user)
    trigger = form.get("trigger_id", "")[:100]
    digest = hashlib.sha256(f"{team}\0{user}\0{text}".encode()).hexdigest()[:24]
    return Invocation(identity, decoded(text), request_key=f"command:{trigger}:{digest}" if trigger else None)


def event_invocation(envelope: Mapping[str, Any]) -> Invocation | None:
    """An app mention or a direct message as an invocation; None for what is not meant for the bot."""
    event = envelope.get("event")
    if not isinstance(event, dict):
        return None
    kind, user, text = event.get("type"), event.get("user"), event.get("text")
    if kind == "message" and event.get("channel_type") != "im":
        return None
    if kind not in ("app_mention", "message") or event.get("bot_id") or event.get("subtype"):
        return None  # our own posts and other bots', edits, joins
    if not isinstance(user, str) or not isinstance(text, str) or not isinstance(event.get("channel"), str):
        return None
    if user in {a.get("user_id") for a in envelope.get("authorizations") or [] if isinstance(a, dict)}:
        return None  # the bot user itself
    team = str(envelope.get("team_id") or event.get("team") or "")
    event_id = envelope.get("event_id")
    key = f"event:{str(event_id)[:100]}" if event_id else None
    return Invocation(
        account(team, _enterprise(envelope), user, user),
        decoded(MENTION.sub("", text)).strip(),
        request_key=key,
    )


def account(team: str, enterprise: str, user: str, name: str) -> Identity:
    """A Slack person: in an Enterprise Grid org, one user id in every workspace of it, so keyed by
    the org; elsewhere by the workspace."""
    if not enterprise:
        return Identity("slack", team, user, name)
    return Identity("slack", enterprise, user, name, formerly=team)


def _enterprise(envelope: Mapping[str, Any]) -> str:
    """The event's Enterprise Grid org: the envelope's, else its authorization's (as Bolt reads it)."""
    if found := envelope.get("enterprise_id"):
        return str(found)
    authorizations = envelope.get("authorizations")
    first = authorizations[0] if isinstance(authorizations, list) and authorizations else None
    return str(first.get("enterprise_id") or "") if isinstance(first, dict) else ""


# -- handling, whichever way the request came ------------------------------------------------


class DisplayNames:
    """An event names its person only by id: their display name is asked of Slack (users.info) once
    a process, and while Slack says to wait (429), or cannot be asked, the id stands in."""

    def __init__(self, most: int = 100_000) -> None:
        self.known: dict[str, str] = {}
        self.most, self.quiet_until = most, 0.0

    async def of(self, runtime: Runtime, user: str) -> str:
        if (name := self.known.get(user)) is not None:
            return name
        sender = runtime.senders.get("slack")
        if not isinstance(sender, SlackSender) or time.monotonic() < self.quiet_until:
            return user
        try:
            async with asyncio.timeout(NAME_LOOKUP):
                answer = await sender.client.users_info(user=user)
        except SlackApiError as error:
            if error.response.status_code == 429:
                self.quiet_until = time.monotonic() + float(error.response.headers.get("Retry-After", "60"))
            return user
        except (TimeoutError, aiohttp.ClientError):
            return user
        found = answer.get("user") or {}
        profile = found.get("profile") or {}
        name = str(profile.get("display_name") or profile.get("real_name") or found.get("real_name") or user)
        if len(self.known) >= self.most:
            del self.known[next(iter(self.known))]
        self.known[user] = name
        return name


class SlackHandler(Background):
    """Runs commands and events; keeps the work that outlives an acknowledgement."""

    def __init__(self) -> None:
        super().__init__("Slack work after the acknowledgement")
        self.names = DisplayNames()

    async def command(self, runtime: Runtime, form: Mapping[str, str]) -> dict[str, Any] | None:
        """The acknowledgement's body: the reply, "working on it", or None for a request already handled."""
        bot = Bot(runtime)
        invocation = to_invocation(form)
        task = self.keep(bot.handle(invocation))
        done, _ = await asyncio.wait((task,), timeout=ACK_BUDGET)  # the task goes on if it times out
        if not done:
            metrics.DEFERRED.labels("slack", command_name(invocation.text)).inc()
            self.keep(self.follow_up(task, form.get("response_url", "")))
            return {
                "response_type": "ephemeral",
                "text": say(bot.language(None, invocation.locale), "working"),
            }
        reply = task.result()
        return None if reply is None else render(reply)

    async def follow_up(self, task: asyncio.Task[Reply | None], response_url: str) -> None:
        reply = await task
        if reply is None:
            return
        if not response_url.startswith(("https://", "http://")):
            log.warning("a slow Slack command had no response_url; its reply is dropped")
            return
        body = render(reply)
        async with httpx.AsyncClient(timeout=10, verify=tls()) as client:
            for attempt in range(RESPONSE_URL_ATTEMPTS):
                try:
                    response = await client.post(response_url, json=body)
                    if response.status_code < 500:
                        if response.status_code >= 400:
                            log.warning("Slack refused a late reply: HTTP %s", response.status_code)
                        return
                except httpx.HTTPError as error:
                    log.warning("posting a late reply to Slack failed: %s", type(error).__name__)
                if attempt + 1 < RESPONSE_URL_ATTEMPTS:
                    await asyncio.sleep(2**attempt)
        log.error("a late reply could not be posted to Slack's response_url")

    async def event(self, runtime: Runtime, envelope: Mapping[str, Any]) -> None:
        """Answers a mention or direct message through the outbox; returns within the budget."""
        invocation = event_invocation(envelope)
        if invocation is None:
            return
        if "slack" not in runtime.senders:
            log.warning("a Slack message arrived, but SLACK_BOT_TOKEN is not set to answer it")
            return
        task = self.keep(self.answer(runtime, invocation, envelope["event"]))
        await asyncio.wait([task], timeout=ACK_BUDGET)

    async def answer(self, runtime: Runtime, invocation: Invocation, event: Mapping[str, Any]) -> None:
        named = replace(invocation.identity, name=await self.names.of(runtime, invocation.identity.user_id))
        reply = await Bot(runtime).handle(replace(invocation, identity=named))
        if reply is None:
            return
        payload: dict[str, Any] = {"reply": reply.to_json()}
        if event.get("channel_type") != "im" and not reply.public:
            payload["user"] = event["user"]  # seen only by the asker, in the channel that mentioned us
        # One answer per request; a refusal (slow down, failed) must not take the key of the answer
        # a retry of the same request may still earn.
        key = (
            f"slack:reply:{invocation.request_key if reply.ok and invocation.request_key else time.time_ns()}"
        )
        async with runtime.transaction() as tx:
            await outbox.add(tx, key, "slack", str(event["channel"]), payload)


# -- over HTTP --------------------------------------------------------------------------------


def routes() -> list[BaseRoute]:
    handler = SlackHandler()

    async def commands(request: Request) -> Response:
        if await _ssl_check(request):  # Slack checking our certificate: nothing to run, nobody to sign
            return Response(status_code=200)
        runtime, body = await _verified(request)
        if isinstance(body, Response):
            return body
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        ack = await handler.command(runtime, form)
        return Response(status_code=200) if ack is None else JSONResponse(ack)

    async def interactions(request: Request) -> Response:
        _, body = await _verified(request, MESSAGE_BODY)
        if isinstance(body, Response):
            return body
        try:
            payload = json_input.loads(dict(parse_qsl(body.decode())).get("payload", ""))
        except ValueError:
            return JSONResponse({"error": "expected a form field `payload` with JSON"}, status_code=400)
        # Buttons are links: Slack opens them itself and tells us only for the record.
        log.debug(
            "Slack interaction %s acknowledged", payload.get("type") if isinstance(payload, dict) else "?"
        )
        return Response(status_code=200)

    async def events(request: Request) -> Response:
        runtime, body = await _verified(request, MESSAGE_BODY)
        if isinstance(body, Response):
            return body
        try:
            envelope = json_input.loads(body)
        except ValueError:
            return JSONResponse({"error": "expected a JSON body"}, status_code=400)
        if not isinstance(envelope, dict):
            return JSONResponse({"error": "expected a JSON object"}, status_code=400)
        if envelope.get("type") == "url_verification":
            return JSONResponse({"challenge": str(envelope.get("challenge", ""))})
        if envelope.get("type") == "event_callback":
            await handler.event(runtime, envelope)
        return Response(status_code=200)

    return [
        Route("/slack/commands", commands, methods=["POST"]),
        Route("/slack/interactions", interactions, methods=["POST"]),
        Route("/slack/events", events, methods=["POST"]),
    ]


async def _ssl_check(request: Request) -> bool:
    body = await bounded_body(request)
    return (
        body is not None and b"ssl_check" in body and ("ssl_check", "1") in parse_qsl(body.decode("latin-1"))
    )


async def _verified(request: Request, limit: int = MAX_BODY) -> tuple[Runtime, bytes | Response]:
    """The raw body if Slack signed it, else the response that refuses it."""
    runtime: Runtime = request.state.runtime
    secret = runtime.settings.slack_signing_secret
    if not secret:
        return runtime, JSONResponse(
            {"error": "Slack is not enabled on this server (SLACK_SIGNING_SECRET is not set)"},
            status_code=404,
        )
    if (body := await bounded_body(request, limit)) is None:
        return runtime, too_large()
    if not is_signed(secret, body, request.headers):
        return runtime, JSONResponse({"error": "invalid or missing Slack signature"}, status_code=401)
    return runtime, body


def is_signed(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's v0 HMAC over timestamp and body, with the timestamp within 5 minutes of now."""
    try:
        return SignatureVerifier(secret).is_valid(
            body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
        )
    except ValueError:  # a timestamp that is not a number, a body that is not UTF-8
        return False


# -- over Socket Mode -------------------------------------------------------------------------


async def socket_mode(runtime: Runtime) -> None:
    """Receives Slack's requests over a websocket the server opens itself: no public URL needed.
    Runs until cancelled; reconnects when Slack or the network drops the connection."""
    settings = runtime.settings
    assert settings.slack_app_token is not None
    handler, delay = SlackHandler(), 1.0

    async def on_request(client: Any, request: SocketModeRequest) -> None:
        if request.type == "slash_commands":
            form = {k: str(v) for k, v in request.payload.items()}
            ack = await handler.command(runtime, form)
            await client.send_socket_mode_response(SocketModeResponse(request.envelope_id, ack))
            return
        await client.send_socket_mode_response(SocketModeResponse(request.envelope_id))
        if request.type == "events_api" and request.payload.get("type") == "event_callback":
            await handler.event(runtime, request.payload)

    while True:
        client = SocketModeClient(
            settings.slack_app_token, web_client=web_client(settings.slack_bot_token, settings.slack_api_url)
        )
        client.socket_mode_request_listeners.append(on_request)
        try:
            await client.connect()  # type: ignore[no-untyped-call]
            log.info("connected to Slack in Socket Mode")
            await asyncio.Event().wait()
        except Exception as error:  # a bad token, Slack away: keep trying, the HTTP endpoints still work
            log.error("Slack Socket Mode could not connect (%s); trying again in %g s", why(error), delay)
        finally:
            if client.message_receiver is not None:  # else it reports the closing as a failed receive
                client.message_receiver.cancel()
            await client.close()  # type: ignore[no-untyped-call]
        await asyncio.sleep(delay)
        delay = min(delay * 2, 60.0)


# -- to Slack ---------------------------------------------------------------------------------


def sender(runtime: Runtime) -> Sender | None:
    settings = runtime.settings
    if not settings.slack_bot_token:
        return None
    public = runtime.event.channels.get("slack", {}).get("team_channels") == "public"
    return SlackSender(settings.slack_bot_token, settings.slack_api_url, private_teams=not public)
