"""The unit of work: one command's database transaction and what a use case may know of the world
through it (now, the event and its phases, where messages go, how links are signed), plus what to
publish and deliver once it commits. Use cases get nothing else: no settings, engines or Redis."""

from __future__ import annotations

import functools
from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Select, bindparam, event, select
from sqlalchemy.orm import Session

from hackserver.foundation.bus import DomainEvent
from hackserver.foundation.models import OutboxMessage, Phase

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from hackserver.foundation.event import Event
    from hackserver.foundation.signing import Signer

PHASES_READ = "hackserver.phases"  # Session.info key: the phases as one transaction read them


@event.listens_for(Session, "after_soft_rollback")
def _forget_phases_read(session: Session, _previous: object) -> None:
    session.info.pop(PHASES_READ, None)  # a shift undone with its savepoint is undone here too


@dataclass(kw_only=True)
class Transaction:
    session: AsyncSession
    now: datetime
    event: Event
    event_id: int
    platforms: frozenset[str]  # the platforms messages are delivered to
    links: Signer
    events: list[DomainEvent] = field(default_factory=list)
    outbox: list[OutboxMessage] = field(default_factory=list)  # written in this transaction
    outbox_ids: list[int] = field(default_factory=list)  # theirs, once flushed at the end
    redeliveries: list[tuple[int, int]] = field(default_factory=list)  # rows requeued: id, attempts so far

    def record(self, kind: str, **data: Any) -> None:
        self.events.append(DomainEvent(kind, data, self.now))

    async def phases(self) -> dict[str, datetime]:
        """The phases' instants, read once per transaction: a command asks several times."""
        if (read := self.session.info.get(PHASES_READ)) is None:
            rows = await self.session.execute(_phases_of_event(), {"event_id": self.event_id})
            read = {name: planned + timedelta(seconds=shift) for name, planned, shift in rows}
            self.session.info[PHASES_READ] = read
        return dict(read)

    def forget_phases(self) -> None:
        self.session.info.pop(PHASES_READ, None)

    def platform_channels(self, logical: str) -> list[tuple[str, str]]:
        return platform_channels(self.event, self.platforms, logical)


class Transactions(Protocol):
    """Opens units of work, for the use cases that run several (an import, the clock's rounds)."""

    @property
    def event(self) -> Event: ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    def reading(self) -> AbstractAsyncContextManager[Transaction]:
        """A transaction that only reads: nothing it does may write."""
        ...


def platform_channels(event: Event, platforms: Collection[str], logical: str) -> list[tuple[str, str]]:
    """Where a logical channel (e.g. announcements) lives on each platform we deliver to."""
    return [
        (platform, channels[logical])
        for platform, channels in event.channels.items()
        if platform in platforms and logical in channels
    ]


@functools.cache
def _phases_of_event() -> Select[str, datetime, int]:
    # Columns, not Phase objects: every write command reads them, and loading objects cost more.
    return select(Phase.name, Phase.planned_at, Phase.shift_seconds).where(
        Phase.event_id == bindparam("event_id")
    )
