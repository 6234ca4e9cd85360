"""Wiring: `bootstrap` builds the runtime of a process (database, bus, jobs, deliverers) from the
settings, choosing embedded or Redis-backed adapters; `Runtime.transaction` is the unit of work."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import math
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Select, bindparam, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from hackserver.challenges.preferences import CachedCatalogue
from hackserver.foundation import db, outbox
from hackserver.foundation.bus import Bus, DomainEvent, LocalBus, RedisBus
from hackserver.foundation.errors import SettingsError
from hackserver.foundation.handled import HandledKeys, MemoryKeys, RedisKeys
from hackserver.foundation.models import EventRow, OutboxMessage, Phase, ServerSecret
from hackserver.foundation.ratelimit import CommandLimit, MemoryLimit, RedisLimit
from hackserver.foundation.settings import Settings
from hackserver.foundation.timekeeping import Clock, EventClock
from hackserver.sprint.event import Event, load_event
from hackserver.sprint.phases import IN_SESSION, SHIFTED, PhaseCache
from hackserver.teams.status import MemoryChanges, RedisChanges, StatusCache, changed_by

log = logging.getLogger(__name__)


@event.listens_for(Session, "after_soft_rollback")
def _forget_phases_read(session: Session, _previous: object) -> None:
    session.info.pop(IN_SESSION, None)  # a shift undone with its savepoint is undone here too


REDIS_PROBE_TIMEOUT = 5.0


@dataclass
class Transaction:
    """One command's database transaction, plus what to publish and deliver once it commits."""

    session: AsyncSession
    now: datetime
    events: list[DomainEvent] = field(default_factory=list)
    outbox: list[OutboxMessage] = field(default_factory=list)  # written in this transaction
    outbox_ids: list[int] = field(default_factory=list)  # theirs, once flushed at the end
    redeliveries: list[tuple[int, int]] = field(default_factory=list)  # rows requeued: id, attempts so far

    def record(self, kind: str, **data: Any) -> None:
        self.events.append(DomainEvent(kind, data, self.now))


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
    link_secret: str
    # SQLite has one writer at a time: this process's writers queue here, not in SQLite's
    # busy handler, whose growing sleeps would add up to a second to a busy moment.
    write_lock: asyncio.Lock | None = None
    handled: HandledKeys = field(default_factory=MemoryKeys)  # request keys of read-only commands
    catalogue: CachedCatalogue = field(default_factory=CachedCatalogue)  # the challenges, to search
    command_limit: CommandLimit = field(default_factory=MemoryLimit)  # commands per person and window
    phase_cache: PhaseCache = field(default_factory=PhaseCache)
    status_cache: StatusCache = field(default_factory=lambda: StatusCache(MemoryChanges()))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self.write_lock or contextlib.nullcontext(), self.writers() as session, session.begin():
            tx = Transaction(session, self.clock.now())
            yield tx
            if tx.outbox:  # one flush for all of them, not one a row
                await session.flush()
                tx.outbox_ids = [message.id for message in tx.outbox]
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
            tx = Transaction(session, self.clock.now())
            yield tx
            if tx.events or tx.outbox or session.new or session.dirty or session.deleted:
                raise RuntimeError("a read-only transaction tried to write")

    async def phases(self, session: AsyncSession) -> dict[str, datetime]:
        """The phases' instants, read once per transaction: a command asks several times."""
        if (read := session.info.get(IN_SESSION)) is None:
            rows = await session.scalars(_phases_of_event(), {"event_id": self.event_id})
            read = {p.name: p.planned_at + timedelta(seconds=p.shift_seconds) for p in rows}
            session.info[IN_SESSION] = read
        return dict(read)

    async def cached_phases(self) -> dict[str, datetime]:
        """The phases as of the latest shift this process heard of, for answers that only show them
        (read in a transaction of their own); what decides on them (a deadline, the clock) reads
        `phases` in its own transaction."""
        return await self.phase_cache.get(self._read_phases)

    async def _read_phases(self) -> dict[str, datetime]:
        async with self.reading() as tx:
            return await self.phases(tx.session)

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
        """Where a logical channel (e.g. announcements) lives on each platform we deliver to."""
        return [
            (platform, channels[logical])
            for platform, channels in self.event.channels.items()
            if (platform in self.deliverers or platform in self.senders) and logical in channels
        ]


@functools.cache
def _phases_of_event() -> Select[Phase]:
    return select(Phase).where(Phase.event_id == bindparam("event_id"))


@contextlib.asynccontextmanager
async def bootstrap(
    settings: Settings, *, demo: bool = False, speed: float = 1.0, clock: Clock | None = None
) -> AsyncIterator[Runtime]:
    event = load_event(settings.event_path)
    if clock is None:
        clock = EventClock(speed)
    if demo:
        # Whole seconds keep stored instants exact; kickoff is now or a moment ago.
        event = event.shifted(
            timedelta(seconds=math.floor((clock.now() - event.phases["kickoff"]).total_seconds()))
        )
    engine = db.create_engine(settings.database_url)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    try:
        if redis is not None:
            await reach(redis)
        if settings.is_sqlite:
            await db.upgrade(engine)
        sessions, writers = db.session_factory(engine), db.session_factory(engine, writer=True)
        event_id = await sync_event(writers, event)
        link_secret = settings.secret_key or await stored_secret(writers, "link_signing_key")
        # Pub/sub channels are shared by every database of a Redis server; keys are not.
        bus: Bus = (
            RedisBus(redis, f"hackserver:{redis_database(redis)}:{event.slug}:events")
            if redis
            else LocalBus()
        )
        jobs: outbox.Jobs = outbox.RQJobs(settings.redis_url) if settings.redis_url else outbox.EmbeddedJobs()
        runtime = Runtime(
            settings, event, event_id, clock, engine, sessions, writers, bus, jobs, {}, {}, redis, link_secret
        )
        from bots import platforms  # the adapters import the runtime: wire them in once it exists

        runtime.write_lock = asyncio.Lock() if settings.is_sqlite else None
        command_limit = event.command_limit[0], event.command_limit[1].total_seconds()
        if redis is not None:
            runtime.handled = RedisKeys(redis, f"hackserver:{event.slug}:handled:")
            runtime.command_limit = RedisLimit(redis, f"hackserver:{event.slug}:commands:", *command_limit)
            runtime.status_cache = StatusCache(RedisChanges(redis, f"hackserver:{event.slug}:status"))
        else:
            runtime.command_limit = MemoryLimit(*command_limit)
        runtime.deliverers = {"builtin": outbox.BuiltinChannels(runtime)}
        runtime.senders = platforms.senders(runtime)
        await bus.start()
        forgetting = asyncio.create_task(runtime.forget_shifted_phases(), name="phase-cache")
        try:
            await jobs.start(runtime)
            try:
                yield runtime
            finally:
                await jobs.stop()
                for sender in runtime.senders.values():
                    await sender.aclose()
        finally:
            forgetting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forgetting
            await bus.stop()
    finally:
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


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


def redis_database(redis: Redis) -> int:
    return int(redis.connection_pool.connection_kwargs.get("db", 0))


async def reach(redis: Redis) -> None:
    """Stops start-up with one line naming the setting, rather than a bare timeout deep in the bus."""
    try:
        async with asyncio.timeout(REDIS_PROBE_TIMEOUT):
            await redis.ping()
    except (RedisError, OSError, TimeoutError) as error:
        where = redis.connection_pool.connection_kwargs
        raise SettingsError(
            f"HACKSERVER_REDIS_URL: cannot reach Redis at {where.get('host', '?')}:{where.get('port', '?')}"
            f" ({type(error).__name__})"
        ) from None


async def sync_event(sessions: async_sessionmaker[AsyncSession], event: Event) -> int:
    """Writes the event file's event and planned phases; organisers' shifts are kept."""
    for _ in range(3):  # several processes may start at once; the unique slug decides
        try:
            async with sessions() as session, session.begin():
                row = await session.scalar(select(EventRow).where(EventRow.slug == event.slug))
                if row is None:
                    row = EventRow(slug=event.slug, name=event.name, timezone=event.timezone.key)
                    session.add(row)
                    await session.flush()
                row.name, row.timezone = event.name, event.timezone.key
                existing = {
                    p.name: p for p in await session.scalars(select(Phase).where(Phase.event_id == row.id))
                }
                for name, at in event.phases.items():
                    if name in existing:
                        existing[name].planned_at = at
                    else:
                        session.add(Phase(event_id=row.id, name=name, planned_at=at))
                return row.id
        except IntegrityError:
            continue
    raise RuntimeError("could not record the event in the database")


async def stored_secret(sessions: async_sessionmaker[AsyncSession], name: str) -> str:
    for _ in range(3):
        try:
            async with sessions() as session, session.begin():
                row = await session.get(ServerSecret, name)
                if row is None:
                    row = ServerSecret(name=name, value=secrets.token_urlsafe(48))
                    session.add(row)
                return row.value
        except IntegrityError:
            continue
    raise RuntimeError(f"could not store the server secret {name}")
