"""The runtime of a process: its settings, database, bus, jobs, senders and caches, built by
`hackserver.bootstrap`. Adapters (web, bots, the CLI) hold it; use cases get only a unit of work
from it (`transaction`, `reading`), never the runtime itself."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hackserver.challenges.preferences import CachedCatalogue
from hackserver.dashboard.command_counts import CommandTally
from hackserver.foundation import outbox
from hackserver.foundation.bus import Bus
from hackserver.foundation.event import Event
from hackserver.foundation.handled import HandledKeys, MemoryKeys
from hackserver.foundation.ratelimit import (
    ATTEMPTS,
    ATTEMPTS_WINDOW,
    SIGNUPS,
    SIGNUPS_WINDOW,
    Attempts,
    Limit,
    MemoryLimit,
)
from hackserver.foundation.settings import Settings
from hackserver.foundation.signing import Signer
from hackserver.foundation.timekeeping import Clock
from hackserver.foundation.transaction import Transaction, platform_channels
from hackserver.sprint.phases import SHIFTED, PhaseCache
from hackserver.teams.status import MemoryChanges, StatusCache, changed_by

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    event: Event
    event_id: int
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]  # for reading
    writers: async_sessionmaker[AsyncSession]  # for transactions
    bus: Bus
    jobs: outbox.Jobs
    deliverers: dict[str, outbox.Deliverer]  # platforms written inside the database
    senders: dict[str, outbox.Sender]  # external platforms
    redis: Redis | None
    links: Signer
    # SQLite has one writer at a time: this process's writers queue here, not in SQLite's
    # busy handler, whose growing sleeps would add up to a second to a busy moment.
    write_lock: asyncio.Lock | None = None
    handled: HandledKeys = field(default_factory=MemoryKeys)  # request keys of read-only commands
    catalogue: CachedCatalogue = field(default_factory=CachedCatalogue)  # the challenges, to search
    command_limit: Limit = field(default_factory=MemoryLimit)  # commands per person and window
    attempts: Attempts = field(default_factory=lambda: Attempts(MemoryLimit(ATTEMPTS, ATTEMPTS_WINDOW)))
    signups: Limit = field(
        default_factory=lambda: MemoryLimit(SIGNUPS, SIGNUPS_WINDOW)
    )  # accounts per address
    phase_cache: PhaseCache = field(default_factory=PhaseCache)
    status_cache: StatusCache = field(default_factory=lambda: StatusCache(MemoryChanges()))
    commands: CommandTally = field(default_factory=CommandTally)  # answered, counted per minute

    @property
    def platforms(self) -> frozenset[str]:
        return frozenset(self.deliverers) | frozenset(self.senders)

    def _unit_of_work(self, session: AsyncSession) -> Transaction:
        return Transaction(
            session=session,
            now=self.clock.now(),
            event=self.event,
            event_id=self.event_id,
            platforms=self.platforms,
            links=self.links,
        )

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self.write_lock or contextlib.nullcontext(), self.writers() as session, session.begin():
            tx = self._unit_of_work(session)
            yield tx
            if tx.outbox:  # one INSERT for all of them, not one a row
                tx.outbox_ids = await outbox.write(tx)
        # Committed: only now may the world hear of it. The change stands even if Redis is away
        # now: the outbox rows are recovered later, and live views catch up on reconnect.
        if any(event.kind == SHIFTED for event in tx.events):
            self.phase_cache.invalidate()  # before anyone in this process hears of the shift
        if changed := changed_by(tx.events):
            await self.status_cache.changed(changed)  # before the change's reply: the next status reads it
        try:
            if tx.outbox_ids:
                await self.jobs.deliver(tx.outbox_ids)
            for message_id, attempt in tx.redeliveries:
                await self.jobs.deliver([message_id], attempt=attempt)
            if tx.events:
                await self.bus.publish(tx.events)
        except Exception:
            log.exception("committed, but could not hand over its messages or events")

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[Transaction]:
        """A transaction that only reads: one snapshot, no write lock (WAL readers run alongside the
        writer), nothing to publish. Writing in it is a bug, refused before it reaches the database."""
        async with self.sessions() as session, session.begin():
            session.autoflush = False
            tx = self._unit_of_work(session)
            yield tx
            if tx.events or tx.outbox or session.new or session.dirty or session.deleted:
                raise RuntimeError("a read-only transaction tried to write")

    async def cached_phases(self) -> dict[str, datetime]:
        """The phases as of the latest shift this process heard of, for answers that only show them
        (read in a transaction of their own); what decides on them (a deadline, the clock) reads
        `phases` in its own transaction."""
        return await self.phase_cache.get(self._read_phases)

    async def _read_phases(self) -> dict[str, datetime]:
        async with self.reading() as tx:
            return await tx.phases()

    async def forget_shifted_phases(self) -> None:
        """Drops the cached phases whenever a shift is heard of, from this process or (over Redis)
        another one; runs until cancelled."""
        # Unbounded: it keeps nothing, and a transaction's thousands of events must not count as
        # dropped (or drop a shift) before it has glanced at them.
        async with self.bus.subscribe(backlog=0) as events:
            while True:
                if (await events.get()).kind == SHIFTED:
                    self.phase_cache.invalidate()

    def platform_channels(self, logical: str) -> list[tuple[str, str]]:
        return platform_channels(self.event, self.platforms, logical)


# Young collections every 20,000 allocations, not 700: a request's objects are mostly gone by then
# instead of surviving into the older generations, whose full collections walk everything long-lived
# (with 1,000 dashboards open, 160,000 objects: 50-95 ms a stall, nine in a 20 s run; two with this).
GC_THRESHOLDS = (20_000, 20, 20)


@contextlib.contextmanager
def start_up_frozen() -> Iterator[None]:
    """What start-up built lives as long as the process: out of the collector's sight, a full
    collection under load takes a millisecond instead of the 50-120 ms that stall every request
    (in a fan-out, unfrozen full collections were a third of the delivering process's CPU). What
    comes after is collected at GC_THRESHOLDS."""
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
