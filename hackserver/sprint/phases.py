"""Where the sprint stands: the current and next phase, and organisers' shifts of a phase."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from hackserver.foundation.errors import Conflict, NotFound, TooLate
from hackserver.foundation.event import PHASES, format_duration
from hackserver.foundation.i18n import Term
from hackserver.foundation.models import AuditEntry, Phase

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction

BEFORE = "before"  # the name of the time before registration opens
SHIFTED = "phase.shifted"  # the event a shift records: phases change in no other way
CACHE_MAX_AGE = 1.0  # seconds; bounds staleness should a shift's event be lost with the bus's Redis


class PhaseCache:
    """The phases' instants, kept between reads: every status asks for them, organisers shift
    rarely. A shift's event (from this process, or over Redis from any other) drops them."""

    def __init__(self, max_age: float = CACHE_MAX_AGE) -> None:
        self.max_age = max_age
        self.phases: dict[str, datetime] | None = None
        self.read_at = 0.0
        self.generation = 0  # counts invalidations: a read begun before one is not kept
        self.loading: tuple[int, asyncio.Future[dict[str, datetime]]] | None = None

    def invalidate(self) -> None:
        self.generation += 1
        self.phases = None

    def kept(self) -> dict[str, datetime] | None:
        """The kept phases while they are fresh; None when they would need a load."""
        if self.phases is not None and time.monotonic() - self.read_at < self.max_age:
            return self.phases
        return None

    async def get(self, load: Callable[[], Awaitable[dict[str, datetime]]]) -> dict[str, datetime]:
        """The kept phases, or `load`'s. Callers that find them expired together wait for one load
        (hundreds of commands a second would otherwise each read them); it is kept only if no shift
        was heard of since it began (its snapshot may be older than a shift heard of later)."""
        if (phases := self.kept()) is not None:
            return phases
        if self.loading is None or self.loading[0] != self.generation:
            self.loading = (self.generation, asyncio.ensure_future(self._load(load, self.generation)))
        return await asyncio.shield(self.loading[1])

    async def _load(
        self, load: Callable[[], Awaitable[dict[str, datetime]]], generation: int
    ) -> dict[str, datetime]:
        began = time.monotonic()
        try:
            phases = await load()
        finally:
            if self.loading is not None and self.loading[0] == generation:
                self.loading = None
        if generation == self.generation:
            self.phases, self.read_at = phases, began
        return phases


def current_phase(phases: dict[str, datetime], now: datetime) -> str:
    begun = [name for name in PHASES if phases[name] <= now]
    return begun[-1] if begun else BEFORE


def next_phase(phases: dict[str, datetime], now: datetime) -> tuple[str, datetime] | None:
    coming = [(name, phases[name]) for name in PHASES if phases[name] > now]
    return coming[0] if coming else None


MAX_SHIFT = timedelta(days=30)  # more than that is a typo, not a plan


async def shift_phase(
    tx: Transaction, name: str, delta: timedelta, *, actor: str, later_too: bool = False
) -> dict[str, datetime]:
    """Moves a phase that has not begun by delta, with the later phases it would run into (or, with
    later_too, all later phases). The announcements follow; the change is audit-logged."""
    if name not in PHASES:
        raise NotFound("phase.unknown", name=name[:40], phases=", ".join(PHASES))
    if not delta:
        raise Conflict("phase.zero_shift")
    if abs(delta) > MAX_SHIFT:
        raise Conflict("phase.shift_too_large", limit=MAX_SHIFT.days)
    rows = {
        p.name: p
        for p in await tx.session.scalars(
            select(Phase).where(Phase.event_id == tx.event_id).with_for_update()
        )
    }
    before = {n: p.planned_at + timedelta(seconds=p.shift_seconds) for n, p in rows.items()}
    if before[name] <= tx.now:
        raise TooLate("phase.begun", name=Term(f"phase.{name}"))
    after, moved = dict(before), []
    for phase_name in PHASES[PHASES.index(name) :]:
        # A later phase moves too when asked, or when it would otherwise not come after the one before.
        previous = PHASES[PHASES.index(phase_name) - 1]
        if phase_name == name or later_too or after[phase_name] <= after[previous]:
            after[phase_name] = before[phase_name] + delta
            moved.append(phase_name)
    if after[name] <= tx.now:
        raise TooLate("phase.in_past", name=Term(f"phase.{name}"))
    ordered = [after[n] for n in PHASES]
    if any(b >= a for b, a in itertools.pairwise(ordered)):
        raise Conflict("phase.out_of_order", name=Term(f"phase.{name}"), delta=_signed(delta))
    for phase_name in moved:
        rows[phase_name].shift_seconds += int(delta.total_seconds())
    tx.forget_phases()  # what this transaction read before is not so any more
    tx.session.add(
        AuditEntry(
            event_id=tx.event_id,
            actor=actor,
            action="phase.shift",
            details={"phase": name, "by_seconds": int(delta.total_seconds()), "moved": moved},
            at=tx.now,
        )
    )
    tx.record(SHIFTED, phase=name, by=_signed(delta), phases={n: after[n].isoformat() for n in moved})
    return after


def _signed(delta: timedelta) -> str:
    return ("-" if delta < timedelta(0) else "+") + format_duration(abs(delta))
