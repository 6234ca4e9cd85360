"""Slack-compatible webhooks (Mattermost, Rocket.Chat): their slash commands, checked by the shared
token HACKSERVER_WEBHOOK_TOKEN, answered with Mattermost's JSON; and announcements posted to an
incoming webhook, HACKSERVER_WEBHOOK_URL, as markdown.

The incoming webhook's URL is its only credential: it is never logged, not even by httpx.
"""

from __future__ import annotations

import email.utils
import hmac
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bots.commands import Bot, Invocation, Reply  # importing the commands registers them
from bots.core import in_language
from bots.http import bounded_body, client_address, tls, too_large, too_many_attempts
from hackserver.foundation import json_input
from hackserver.foundation.outbox import DeliveryFailed, Outgoing, Sender
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity

TIMEOUT = 10.0
MAX_TEXT = 16_000  # Mattermost's post limit


# -- from the chat to the command layer, and back ----------------------------------------------


def to_invocation(form: Mapping[str, Any]) -> Invocation | None:
    """A slash command's fields as an invocation; None without a user to answer."""
    user = str(form.get("user_id") or "")
    if not user:
        return None
    # A Mattermost or Rocket.Chat user id is one person in every team of their server.
    identity = Identity("webhook", "", user, str(form.get("user_name") or user))
    return Invocation(identity, str(form.get("text") or ""))


def render(reply: Reply) -> str:
    """A reply as markdown that Mattermost and Rocket.Chat both show."""
    parts = [f"**{reply.title}**"] if reply.title else []
    if reply.text:
        parts.append(reply.text)
    if reply.fields:
        parts.append("\n".join(f"**{name}:** {value}" for name, value in reply.fields))
    if reply.links:
        parts.append(" · ".join(f"[{label}]({url})" for label, url in reply.links))
    return "\n\n".join(parts)[:MAX_TEXT]


def render_response(reply: Reply) -> dict[str, Any]:
    return {"response_type": "in_channel" if reply.public else "ephemeral", "text": render(reply)}


def render_announcement(payload: Mapping[str, Any]) -> str:
    """An announcement in every language it was written in, one paragraph each."""
    texts: dict[str, str] = payload["texts"]
    if len(texts) == 1:
        return next(iter(texts.values()))[:MAX_TEXT]
    return "\n\n".join(in_language(lang, text) for lang, text in texts.items())[:MAX_TEXT]


# -- over HTTP ----------------------------------------------------------------------------------


async def commands(request: Request) -> Response:
    runtime: Runtime = request.state.runtime
    expected = runtime.settings.webhook_token
    if not expected:
        return JSONResponse(
            {"error": "webhooks are not enabled on this server (HACKSERVER_WEBHOOK_TOKEN is not set)"},
            status_code=404,
        )
    if wait := await runtime.attempts.wait(address := client_address(request)):
        return too_many_attempts(wait)
    if request.method == "GET":  # Mattermost's admins may choose GET: the same fields, in the query
        form: dict[str, Any] = dict(request.query_params)
    elif (body := await bounded_body(request)) is None:
        return too_large()
    else:
        form = _fields(body, request.headers.get("content-type", ""))
    given = str(form.get("token") or "")
    authorization = request.headers.get("authorization", "")
    if not given and authorization.lower().startswith("token "):  # Mattermost sends both
        given = authorization[6:].strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        if given:
            await runtime.attempts.failed(address, "webhook commands")
        return JSONResponse({"error": "invalid or missing token"}, status_code=401)
    invocation = to_invocation(form)
    if invocation is None:
        return JSONResponse({"error": "expected the fields user_id and text"}, status_code=400)
    reply = await Bot(runtime).handle(invocation)
    return Response(status_code=200) if reply is None else JSONResponse(render_response(reply))


def _fields(body: bytes, content_type: str) -> dict[str, Any]:
    """Mattermost posts a form; Rocket.Chat's outgoing webhooks post the same fields as JSON."""
    text = body.decode(errors="replace")
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            raw = json_input.loads(text)
        except ValueError:
            return {}
        return raw if isinstance(raw, dict) else {}
    return dict(parse_qsl(text, keep_blank_values=True))


def routes() -> list[BaseRoute]:
    return [Route("/webhook/commands", commands, methods=["GET", "POST"])]


# -- to the incoming webhook ------------------------------------------------------------------


class HiddenURLs(logging.Filter):
    """Replaces secret URLs in httpx's request log lines."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.urls and isinstance(record.args, tuple):
            record.args = tuple(
                "<incoming webhook>" if any(url in str(arg) for url in self.urls) else arg
                for arg in record.args
            )
        return True


HIDDEN = HiddenURLs()


class WebhookSender:
    """Posts outbox messages to one incoming webhook; the platform's channel is the webhook's own."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:
        self.url, self.timeout = url, timeout
        HIDDEN.urls.add(url)
        logging.getLogger("httpx").addFilter(HIDDEN)  # added once, however many senders

    async def aclose(self) -> None:
        pass  # a client per post: nothing held open

    async def send(self, message: Outgoing) -> None:
        payload = message.payload
        if "reply" in payload:
            text = render(Reply.from_json(payload["reply"]))
        else:
            text = render_announcement(payload)
        try:
            # A client per post: an RQ worker and the web process each run their own event loop.
            async with httpx.AsyncClient(
                timeout=self.timeout, follow_redirects=False, verify=tls()
            ) as client:
                response = await client.post(self.url, json={"text": text})
        except httpx.HTTPError as error:
            raise DeliveryFailed(f"incoming webhook unreachable: {type(error).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 429:
            retry_after = retry_after_seconds(response.headers.get("retry-after"))
            raise DeliveryFailed(f"incoming webhook: HTTP 429, retry after {retry_after:g} s", retry_after)
        # 5xx and a proxy's 408 may pass; any other refusal (a deleted hook, a bad payload) will not.
        raise DeliveryFailed(f"incoming webhook: HTTP {status}", permanent=status < 500 and status != 408)


def retry_after_seconds(header: str | None, default: float = 1.0) -> float:
    """Retry-After as seconds: a number of seconds, or an HTTP date."""
    if not header:
        return default
    try:
        return max(float(header), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return default
    return max(when.timestamp() - time.time(), 0.0)


def sender(runtime: Runtime) -> Sender | None:
    url = runtime.settings.webhook_url
    return WebhookSender(url) if url else None
