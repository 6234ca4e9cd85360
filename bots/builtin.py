"""The built-in channels as a chat platform: who is asking (a signed session), what they typed as an
invocation, and the bot's reply as the JSON the page shows. The HTTP and websocket edges are in
hackserver/web/channels.py; delivery is inside the database (hackserver.foundation.outbox.BuiltinChannels).

A session token names a chat identity (any platform's: a Slack participant handed a link signs in as
themself) and, for organisers, a fingerprint of the organiser token they signed in with, so that
changing HACKSERVER_ORGANISER_TOKEN ends every organiser session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.routing import BaseRoute

from bots.commands import Bot, Invocation, Reply  # importing the commands registers them
from hackserver.foundation import channels
from hackserver.foundation.outbox import Sender
from hackserver.runtime import Runtime
from hackserver.teams.participants import ORGANISERS, Identity

SALT = "participant"
SESSION_AGE = 30 * 24 * 3600  # seconds: from registration to the awards, with room to spare
BOT_NAME = "hackbot"
LINK_SCHEMES = ("https://", "http://", "/")


@dataclass(frozen=True)
class Session:
    platform: str
    workspace: str
    user_id: str
    organiser: str = ""  # fingerprint of the organiser token, when signed in with it
    # The account's sign-outs when it was signed: a cookie from before a sign-out is refused.
    generation: int = 0


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def sign(secret: str, session: Session) -> str:
    return _serializer(secret).dumps(
        [session.platform, session.workspace, session.user_id, session.organiser, session.generation]
    )


def read(secret: str, token: str, max_age: int = SESSION_AGE) -> Session | None:
    """The session a token names; None when it is forged, expired or malformed."""
    try:
        raw = _serializer(secret).loads(token, max_age=max_age)
    except BadData:
        return None
    if not (isinstance(raw, list) and len(raw) in (4, 5) and all(isinstance(part, str) for part in raw[:4])):
        return None
    generation = raw[4] if len(raw) == 5 else 0  # signed before sign-outs were counted: none since
    if type(generation) is not int:
        return None
    return Session(raw[0], raw[1], raw[2], raw[3], generation)


def sign_in_path(secret: str, identity: Identity) -> str:
    """A personal link to the built-in channels: whoever opens it is signed in as this identity."""
    return "/channels?as=" + sign(secret, Session(identity.platform, identity.workspace, identity.user_id))


def fingerprint(organiser_token: str) -> str:
    return hashlib.sha256(b"hackserver organiser\0" + organiser_token.encode()).hexdigest()[:32]


def is_organiser_token(given: str, organiser_token: str | None) -> bool:
    if not organiser_token:
        return False
    return hmac.compare_digest(given.encode(), organiser_token.encode())


def is_organiser(session: Session, organiser_token: str | None) -> bool:
    """Still an organiser: signed in with the organiser token that is configured now."""
    if not session.organiser or not organiser_token:
        return False
    return hmac.compare_digest(session.organiser, fingerprint(organiser_token))


def newcomer(name: str) -> Identity:
    return Identity("builtin", "web", secrets.token_urlsafe(12), name)


def organiser(name: str) -> Identity:
    """The account of an organiser who signs in with the token: one per name, however often they
    sign in again."""
    return Identity("builtin", ORGANISERS, name.casefold()[:64], name)


def to_invocation(
    identity: Identity, message: Mapping[str, Any], *, locale: str | None, organiser: bool
) -> Invocation | None:
    """A message typed in the bot channel (a websocket frame or a form) as an invocation."""
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        return None
    return Invocation(identity, text, locale=locale, organiser=organiser)


def render(reply: Reply) -> dict[str, Any]:
    """A reply as the page shows it; links only to the web, never `javascript:` and the like."""
    return {
        "title": reply.title,
        "text": reply.text,
        "fields": [[name, value] for name, value in reply.fields],
        "links": [[label, url] for label, url in reply.links if url.startswith(LINK_SCHEMES)],
        "ok": reply.ok,
    }


async def converse(
    runtime: Runtime, identity: Identity, participant_id: int, author: str, invocation: Invocation
) -> Reply | None:
    """Runs a command typed in the bot channel and keeps both sides of it there; the reply, if any."""
    reply = await Bot(runtime).handle(invocation)
    where = channels.bot_channel(participant_id)
    async with runtime.transaction() as tx:
        await channels.post(tx, runtime.event_id, where, author=author, text=invocation.text, kind="bot")
        if reply is not None:
            await channels.post(
                tx, runtime.event_id, where, author=BOT_NAME, text=reply.text, kind="bot", reply=render(reply)
            )
    return reply


class RateLimit:
    """A token bucket per key: `rate` a second on average, bursts of `burst`. Light, in-process."""

    def __init__(self, rate: float = 5.0, burst: int = 5) -> None:
        self.rate, self.burst = rate, burst
        self.buckets: dict[object, tuple[float, float]] = {}

    def allow(self, key: object) -> bool:
        now = time.monotonic()
        tokens, at = self.buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if len(self.buckets) > 10_000:  # forget the full buckets of people who went quiet
            self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < self.burst / self.rate}
        if tokens < 1:
            self.buckets[key] = (tokens, now)
            return False
        self.buckets[key] = (tokens - 1, now)
        return True


def routes() -> list[BaseRoute]:
    return []  # the page, its forms and its websocket: hackserver/web/channels.py


def sender(runtime: Runtime) -> Sender | None:
    return None  # delivered inside the database by hackserver.foundation.outbox.BuiltinChannels
