"""Private links: `/expert/{token}`, `/book/{token}`, `/submit/{token}`, `/jury/{token}`.

A token is a signed reference to a Link row, which names its scope and subject (the expert, team or
juror) and holds the revocation. So a token of one scope never opens another (each scope signs with
its own salt), a changed token is refused, and an organiser can revoke a link at once; granting
again afterwards makes a new token. A team's submission link is also one member's (`member_id`), so
a save through it names who saved it; revoking the team's links revokes every member's. Every link
expires at the event's end as it stands when the link is opened, so moving the end moves every
link's expiry with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from itsdangerous import BadData
from sqlalchemy import select, update

from hackserver.foundation.errors import DomainError
from hackserver.foundation.models import AuditEntry, Link
from hackserver.foundation.signing import Scope

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction

SCOPES: tuple[Scope, ...] = ("expert", "book", "submit", "jury")


class LinkRefused(DomainError):
    """The token is not a link of this scope, or it expired, or it was revoked."""


async def grant(tx: Transaction, scope: Scope, subject_id: int, member_id: int | None = None) -> str:
    """The subject's (and member's) unrevoked link of this scope (the same token each time), made on
    first use."""
    link = await tx.session.scalar(
        select(Link)
        .where(
            Link.event_id == tx.event_id,
            Link.scope == scope,
            Link.subject_id == subject_id,
            Link.member_id.is_(None) if member_id is None else Link.member_id == member_id,
            Link.revoked_at.is_(None),
        )
        .order_by(Link.id.desc())
        .limit(1)
    )
    if link is None:
        link = Link(event_id=tx.event_id, scope=scope, subject_id=subject_id, member_id=member_id)
        tx.session.add(link)
        await tx.session.flush()
    return tx.links.token_of(link)


async def open_link(tx: Transaction, scope: Scope, token: str) -> Link:
    """The live link a token names, or LinkRefused saying why."""
    try:
        link_id = tx.links.serializer(scope).loads(token)
    except BadData:
        raise LinkRefused("link.bad") from None
    link = await tx.session.get(Link, link_id) if isinstance(link_id, int) else None
    if link is None or link.event_id != tx.event_id or link.scope != scope:
        raise LinkRefused("link.bad")
    if link.revoked_at is not None:
        raise LinkRefused("link.revoked")
    if tx.now >= (await tx.phases())["end"]:
        raise LinkRefused("link.expired")
    return link


async def revoke(tx: Transaction, scope: Scope, subject_id: int, *, actor: str) -> int:
    """Revokes every live link of the subject in this scope (each member's, for a team); returns how
    many there were."""
    revoked = await tx.session.execute(
        update(Link)
        .where(
            Link.event_id == tx.event_id,
            Link.scope == scope,
            Link.subject_id == subject_id,
            Link.revoked_at.is_(None),
        )
        .values(revoked_at=tx.now)
    )
    count = int(revoked.rowcount or 0)  # type: ignore[attr-defined]
    tx.session.add(
        AuditEntry(
            event_id=tx.event_id, actor=actor, action="link.revoked", at=tx.now,
            details={"scope": scope, "subject": subject_id, "links": count},
        )
    )  # fmt: skip
    tx.record("link.revoked", scope=scope, subject=subject_id)
    return count
