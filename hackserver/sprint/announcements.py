"""Announcements sent by organisers, now: to every platform's announcements channel or to one of
them, through the outbox, audit-logged. The bot's `announce`, the dashboard and the API all use it."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from hackserver.foundation import outbox
from hackserver.foundation.errors import NotFound
from hackserver.foundation.models import AuditEntry
from hackserver.foundation.text_limits import bounded

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction

EVERYWHERE = "all"


def targets(everywhere: list[tuple[str, str]]) -> list[str]:
    """Where an announcement can go, as `platform:channel`, besides everywhere."""
    return [f"{platform}:{channel}" for platform, channel in everywhere]


async def send(
    tx: Transaction, text: str, *, language: str, actor: str, target: str = EVERYWHERE
) -> list[tuple[str, str]]:
    """Posts the text; returns the (platform, channel) pairs it goes to."""
    everywhere = tx.platform_channels("announcements")
    chosen = everywhere if target == EVERYWHERE else [p for p in everywhere if f"{p[0]}:{p[1]}" == target]
    if not chosen:
        raise NotFound("announce.unknown_target", target=target[:60], targets=", ".join(targets(everywhere)))
    key = f"manual:{uuid.uuid4().hex}"
    payload = {"author": tx.event.name, "texts": {language: bounded("announcement", text, "text")}}
    for platform, channel in chosen:
        await outbox.add(tx, f"{key}:{platform}:{channel}", platform, channel, payload)
    tx.session.add(
        AuditEntry(
            event_id=tx.event_id,
            actor=actor,
            action="announce",
            details={"text": text[:500], "key": key, "target": target},
            at=tx.now,
        )
    )
    tx.record("announcement.sent", id=key, by=actor, text=text[:200], target=target)
    return chosen
