"""Private links: `/expert/{token}`, `/book/{token}`, `/submit/{token}`, `/jury/{token}`.

A token is a signed reference to a Link row, which names its scope and subject (the expert, team
or juror) and holds the expiry and the revocation. So a token of one scope never opens another
(each scope signs with its own salt), a changed token is refused, and an organiser can revoke a
link at once; granting again afterwards makes a new token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hackserver.foundation.errors import DomainError
from hackserver.foundation.models import AuditEntry, Link

if TYPE_CHECKING:
    from datetime import datetime

    from hackserver.runtime import Runtime, Transaction

Scope = Literal["expert", "book", "submit", "jury"]
SCOPES: tuple[Scope, ...] = ("expert", "book", "submit", "jury")


class LinkRefused(DomainError):
    """The token is not a link of this scope, or it expired, or it was revoked."""


def _signer(secret: str, scope: Scope) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"link:{scope}")


def token_of(runtime: Runtime, link: Link) -> str:
    return _signer(runtime.link_secret, link.scope).dumps(link.id)  # type: ignore[arg-type]


async def grant(runtime: Runtime, tx: Transaction, scope: Scope, subject_id: int) -> str:
    """The subject's live link of this scope (the same token each time), made on first use; it
    expires when the event ends."""
    link = await tx.session.scalar(
        select(Link)
        .where(
            Link.event_id == runtime.event_id,
            Link.scope == scope,
            Link.subject_id == subject_id,
            Link.revoked_at.is_(None),
            Link.expires_at > tx.now,
        )
        .order_by(Link.id.desc())
        .limit(1)
    )
    if link is None:
        phases = await runtime.phases(tx.session)
        link = Link(event_id=runtime.event_id, scope=scope, subject_id=subject_id, expires_at=phases["end"])
        tx.session.add(link)
        await tx.session.flush()
    return token_of(runtime, link)


def address(runtime: Runtime, scope: Scope, token: str) -> str:
    """The link as participants open it: absolute when HACKSERVER_PUBLIC_URL is set."""
    return f"{runtime.settings.public_url or ''}/{scope}/{token}"


async def open_link(runtime: Runtime, session: AsyncSession, scope: Scope, token: str, now: datetime) -> Link:
    """The live link a token names, or LinkRefused saying why."""
    try:
        link_id = _signer(runtime.link_secret, scope).loads(token)
    except BadData:
        raise LinkRefused("link.bad") from None
    link = await session.get(Link, link_id) if isinstance(link_id, int) else None
    if link is None or link.event_id != runtime.event_id or link.scope != scope:
        raise LinkRefused("link.bad")
    if link.revoked_at is not None:
        raise LinkRefused("link.revoked")
    if now >= link.expires_at:
        raise LinkRefused("link.expired")
    return link


async def revoke(runtime: Runtime, tx: Transaction, scope: Scope, subject_id: int, *, actor: str) -> int:
    """Revokes every live link of the subject in this scope; returns how many there were."""
    revoked = await tx.session.execute(
        update(Link)
        .where(
            Link.event_id == runtime.event_id,
            Link.scope == scope,
            Link.subject_id == subject_id,
            Link.revoked_at.is_(None),
        )
        .values(revoked_at=tx.now)
    )
    count = int(revoked.rowcount or 0)  # type: ignore[attr-defined]
    tx.session.add(
        AuditEntry(
            event_id=runtime.event_id, actor=actor, action="link.revoked", at=tx.now,
            details={"scope": scope, "subject": subject_id, "links": count},
        )
    )  # fmt: skip
    tx.record("link.revoked", scope=scope, subject=subject_id)
    return count
