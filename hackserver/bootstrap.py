"""The composition root: `bootstrap` builds the runtime of a process from the settings, choosing the
embedded or the Redis-backed adapters and wiring the chat platforms in."""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots import platforms
from hackserver.foundation import db, metrics
from hackserver.foundation.bus import Bus, LocalBus, RedisBus
from hackserver.foundation.channels import BuiltinChannels
from hackserver.foundation.errors import SettingsError
from hackserver.foundation.event import Event, load_event
from hackserver.foundation.handled import RedisKeys
from hackserver.foundation.jobs import EmbeddedJobs, RQJobs
from hackserver.foundation.models import EventRow, Phase, ServerSecret
from hackserver.foundation.outbox import Jobs
from hackserver.foundation.ratelimit import (
    ATTEMPTS,
    ATTEMPTS_WINDOW,
    SIGNUPS_WINDOW,
    Attempts,
    MemoryLimit,
    RedisLimit,
)
from hackserver.foundation.settings import Settings
from hackserver.foundation.signing import Signer
from hackserver.foundation.timekeeping import Clock, EventClock
from hackserver.runtime import Runtime
from hackserver.teams.status import RedisChanges, StatusCache

REDIS_PROBE_TIMEOUT = 5.0


@contextlib.asynccontextmanager
async def bootstrap(
    settings: Settings,
    *,
    demo: bool = False,
    speed: float = 1.0,
    clock: Clock | None = None,
    write_plan: bool = False,
) -> AsyncIterator[Runtime]:
    """write_plan: the event file's instants (a demo's: shifted to now) replace the stored ones, as
    starting the server does; any other process (an import, an export) leaves them as they are."""
    event = load_event(settings.event_path)
    engine = db.create_engine(settings.database_url)
    metrics.watch_pool(engine)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    try:
        if redis is not None:
            await reach(redis)
        if settings.is_sqlite:
            await db.upgrade(engine)
        sessions, writers = db.session_factory(engine), db.session_factory(engine, writer=True)
        rehearsal = None if demo else await rehearsal_of(sessions, event.slug)
        if clock is None:
            clock = rehearsal.clock() if rehearsal else EventClock(speed)
        if demo:  # kickoff is now or a moment ago
            event = event.shifted(whole_seconds(clock.now() - event.phases["kickoff"]))
        elif rehearsal is not None:
            event = event.shifted(whole_seconds(rehearsal.kickoff_at - event.phases["kickoff"]))
        event_id = await sync_event(writers, event, write_plan=write_plan or demo)
        link_secret = settings.secret_key or await stored_secret(writers, "link_signing_key")
        # Pub/sub channels are shared by every database of a Redis server; keys are not.
        bus: Bus = (
            RedisBus(redis, f"hackserver:{redis_database(redis)}:{event.slug}:events")
            if redis
            else LocalBus()
        )
        jobs: Jobs = RQJobs(settings.redis_url) if settings.redis_url else EmbeddedJobs()
        links = Signer(link_secret, settings.public_url)
        runtime = Runtime(
            settings, event, event_id, clock, engine, sessions, writers, bus, jobs, {}, {}, redis, links
        )
        runtime.write_lock = asyncio.Lock() if settings.is_sqlite else None
        command_limit = event.command_limit[0], event.command_limit[1].total_seconds()
        if redis is not None:
            runtime.handled = RedisKeys(redis, f"hackserver:{event.slug}:handled:")
            runtime.command_limit = RedisLimit(redis, f"hackserver:{event.slug}:commands:", *command_limit)
            runtime.attempts = Attempts(
                RedisLimit(redis, f"hackserver:{event.slug}:attempts:", ATTEMPTS, ATTEMPTS_WINDOW)
            )
            runtime.signups = RedisLimit(
                redis, f"hackserver:{event.slug}:signups:", event.signup_limit, SIGNUPS_WINDOW
            )
            runtime.status_cache = StatusCache(RedisChanges(redis, f"hackserver:{event.slug}:status"))
        else:
            runtime.command_limit = MemoryLimit(*command_limit)
            runtime.signups = MemoryLimit(event.signup_limit, SIGNUPS_WINDOW)
        runtime.deliverers = {"builtin": BuiltinChannels(event_id, event.default_language)}
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


def whole_seconds(delta: timedelta) -> timedelta:
    """Whole seconds keep stored instants exact."""
    return timedelta(seconds=math.floor(delta.total_seconds()))


@dataclass(frozen=True)
class Rehearsal:
    """`hackserver rehearse`: the event runs `speed` times as fast from started_at, kickoff at
    kickoff_at; every process that starts while it is stored follows the same clock."""

    started_at: datetime
    kickoff_at: datetime
    speed: float

    def clock(self) -> EventClock:
        return EventClock(self.speed, origin=self.started_at, real_origin=self.started_at)


async def rehearsal_of(sessions: async_sessionmaker[AsyncSession], slug: str) -> Rehearsal | None:
    async with sessions() as session:
        row = await session.scalar(select(EventRow).where(EventRow.slug == slug))
    if row is None or row.rehearsal_started_at is None:
        return None
    assert row.rehearsal_kickoff_at is not None and row.rehearsal_speed is not None
    return Rehearsal(row.rehearsal_started_at, row.rehearsal_kickoff_at, row.rehearsal_speed)


async def rehearse(settings: Settings, rehearsal: Rehearsal | None) -> Event:
    """Stores the rehearsal (None: ends it) and writes the event's instants it gives, as the next
    process to start would; the event as it now stands."""
    engine = db.create_engine(settings.database_url)
    try:
        if settings.is_sqlite:
            await db.upgrade(engine)
        event = load_event(settings.event_path)
        if rehearsal is not None:
            event = event.shifted(whole_seconds(rehearsal.kickoff_at - event.phases["kickoff"]))
        writers = db.session_factory(engine, writer=True)
        event_id = await sync_event(writers, event, write_plan=True)
        async with writers() as session, session.begin():
            row = await session.get_one(EventRow, event_id)
            row.rehearsal_started_at = rehearsal.started_at if rehearsal else None
            row.rehearsal_kickoff_at = rehearsal.kickoff_at if rehearsal else None
            row.rehearsal_speed = rehearsal.speed if rehearsal else None
        return event
    finally:
        await engine.dispose()


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


async def sync_event(sessions: async_sessionmaker[AsyncSession], event: Event, *, write_plan: bool) -> int:
    """Records the event file's event and its phases where they are missing; with write_plan, the
    file's planned instants also replace the stored ones (organisers' shifts are kept)."""
    for _ in range(3):  # several processes may start at once; the unique slug decides
        try:
            async with sessions() as session, session.begin():
                row = await session.scalar(select(EventRow).where(EventRow.slug == event.slug))
                if row is None:
                    row = EventRow(slug=event.slug, name=event.name, timezone=event.timezone.key)
                    session.add(row)
                    await session.flush()
                if write_plan:
                    row.name, row.timezone = event.name, event.timezone.key
                existing = {
                    p.name: p for p in await session.scalars(select(Phase).where(Phase.event_id == row.id))
                }
                for name, at in event.phases.items():
                    if name in existing:
                        if write_plan:
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
