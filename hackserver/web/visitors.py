"""Who is asking on the built-in channels: the signed session cookie, the viewer it names (as the
database confirms), and the checks every form and websocket passes first."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlparse

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from bots import builtin
from bots.http import bounded_body
from hackserver.foundation.models import AuditEntry, Participant, PlatformIdentity
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity

COOKIE = "hackserver_session"
SIGNED_OUT = "session.ended"  # the audit log's action for a sign-out
MAX_FORM = 16 * 1024


@dataclass(frozen=True)
class Viewer:
    """Who is asking, as their session cookie says and the database confirms."""

    identity: Identity
    participant_id: int
    name: str
    organiser: bool
    generation: int  # the account's sign-outs so far: a session signed with fewer has ended


def account(participant_id: int) -> str:
    """The audit log's actor for an account of the built-in channels."""
    return f"participant:{participant_id}"


async def generation(db: AsyncSession, event_id: int, actor: str) -> int:
    """How often an account signed out, counted in the database so every web process agrees."""
    found = await db.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.event_id == event_id, AuditEntry.action == SIGNED_OUT, AuditEntry.actor == actor)
    )
    return found or 0


async def find_viewer(runtime: Runtime, session: builtin.Session | None) -> Viewer | None:
    """Whom a signed session names, whether or not it has ended since (a personal link's session
    never ends: it is how a participant signs in again)."""
    if session is None:
        return None
    async with runtime.sessions() as db:
        rows = (
            await db.execute(
                select(PlatformIdentity, Participant)
                .join(Participant)
                .where(
                    PlatformIdentity.platform == session.platform,
                    PlatformIdentity.user_id == session.user_id,
                    Participant.event_id == runtime.event_id,
                )
            )
        ).all()
        # A link signed before migration 0016 names the workspace the account was keyed by then (a
        # Discord guild, a Slack team in a grid): the account's only row of that user id is it.
        row = next(
            (r for r in rows if r[0].workspace == session.workspace), rows[0] if len(rows) == 1 else None
        )
        if row is None:  # signed by us, but for a participant this database does not know
            return None
        found, person = row
        signed_out = await generation(db, runtime.event_id, account(person.id))
    identity = Identity(
        found.platform, found.workspace, found.user_id, found.user_name or person.display_name
    )
    organiser = builtin.is_organiser(session, runtime.settings.organiser_token)
    return Viewer(identity, person.id, person.display_name, organiser, signed_out)


async def viewer_of(connection: HTTPConnection, runtime: Runtime) -> Viewer | None:
    """Who the session cookie names, unless that session ended with a sign-out."""
    token = connection.cookies.get(COOKIE, "")
    session = builtin.read(runtime.links.secret, token) if token else None
    viewer = await find_viewer(runtime, session)
    return viewer if viewer and session and session.generation == viewer.generation else None


def same_origin(connection: HTTPConnection) -> bool:
    """A browser's cross-site form or websocket is refused, whatever cookies it carries."""
    origin = connection.headers.get("origin")
    return origin is None or urlparse(origin).netloc == connection.headers.get("host", "")


def switch_key(runtime: Runtime, connection: HTTPConnection, token: str) -> str:
    """What the form that switches to the person a link names carries: made from this browser's
    session, so another site can neither know it nor have a browser send it."""
    made_of = f"switch\0{connection.cookies.get(COOKIE, '')}\0{token}".encode()
    return hmac.new(runtime.links.secret.encode(), made_of, hashlib.sha256).hexdigest()


def signed_in(response: Response, request: Request, runtime: Runtime, session: builtin.Session) -> Response:
    response.set_cookie(
        COOKIE,
        builtin.sign(runtime.links.secret, session),
        max_age=builtin.SESSION_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


async def read_form(request: Request) -> dict[str, str] | None:
    """The fields of a small url-encoded form; None when it is too large to be one."""
    if (body := await bounded_body(request, MAX_FORM)) is None:
        return None
    return dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))


async def read_pairs(request: Request, limit: int) -> list[tuple[str, str]] | None:
    """Every (name, value) of an url-encoded form, repeated names kept (checkboxes); None when
    it is larger than `limit` bytes."""
    if (body := await bounded_body(request, limit)) is None:
        return None
    return parse_qsl(body.decode(errors="replace"), keep_blank_values=True)
