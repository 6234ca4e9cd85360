"""The sprint clock: fires phase changes and scheduled announcements at their instants, once each.

Exactly once: a fired marker (unique per item and instant) is written in the same transaction as the
item's effects, so a crash either did both or neither, and a second clock's insert fails. With Redis
a leader lock keeps a second clock idle. After a restart, missed items are fired late unless older
than their "too late" bound, then recorded as skipped. An item is fired once per event: one that
a phase shift moves before it fired fires at its new instant, one that already fired (or was
skipped) does not fire again, wherever a shift or a restart of the demo moves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hackserver.challenges import assignment
from hackserver.foundation import metrics, outbox
from hackserver.foundation.bus import DomainEvent
from hackserver.foundation.models import FiredItem
from hackserver.officehours import help_queue, reminders
from hackserver.runtime import Runtime
from hackserver.sprint.schedule import ScheduleItem, schedule
from hackserver.submissions import entries
from hackserver.teams import matching

log = logging.getLogger(__name__)
IDLE_WAKE = 30.0  # seconds between wake-ups with nothing due: recovers stranded outbox rows
LOCK_TTL = 10.0
# A phase shift moves the schedule; a booking may bring a reminder sooner than the next wake-up.
WAKING = {"phase.shifted", "booking.made", "booking.rescheduled", "help.requested"}


class LeaderLock:
    """Only the holder fires; a clock that dies loses the lock when its TTL runs out."""

    def __init__(self, redis: Redis, name: str) -> None:
        self.lock = redis.lock(name, timeout=LOCK_TTL, blocking=False)
        self.held = False

    async def hold(self) -> bool:
        try:
            if self.held:
                await self.lock.reacquire()
            else:
                self.held = bool(await self.lock.acquire(blocking=False))
        except LockError:
            self.held = False
        except RedisError:
            log.warning("clock cannot reach Redis for its leader lock; standing by")
            self.held = False
        return self.held

    async def release(self) -> None:
        if self.held:
            with contextlib.suppress(LockError, RedisError):
                await self.lock.release()
            self.held = False


class SprintClock:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.lock = (
            LeaderLock(runtime.redis, f"hackserver:{runtime.event.slug}:clock") if runtime.redis else None
        )
        self.fired: list[tuple[str, datetime, str]] = []  # what this clock did: key, instant, status

    async def fire_due(self) -> datetime | None:
        """Fires every due item, booking reminder and help escalation not yet marked; returns when
        the next is due."""
        coming = await self.fire_schedule()
        reminder = await reminders.fire_due(self.runtime)
        escalation = await help_queue.fire_due(self.runtime)
        return min((at for at in (coming, reminder, escalation) if at is not None), default=None)

    async def fire_schedule(self) -> datetime | None:
        runtime = self.runtime
        async with runtime.reading() as tx:
            phases = await tx.phases()
            done = set(
                await tx.session.scalars(select(FiredItem.key).where(FiredItem.event_id == runtime.event_id))
            )
        for item in schedule(runtime.event, phases):
            if item.key in done:
                continue
            now = runtime.clock.now()
            if item.instant > now:
                return item.instant
            await self.fire(item, now)
        return None

    async def fire(self, item: ScheduleItem, now: datetime) -> None:
        late = now - item.instant
        status = "skipped" if item.too_late is not None and late > item.too_late else "fired"
        try:
            async with self.runtime.transaction() as tx:
                tx.session.add(
                    FiredItem(
                        event_id=self.runtime.event_id, key=item.key, instant=item.instant, status=status
                    )
                )
                await tx.session.flush()  # a second clock stops here, on the unique marker
                if status == "skipped":
                    tx.record("clock.skipped", key=item.key, instant=item.instant.isoformat(), late=str(late))
                elif item.phase is not None:
                    tx.record("phase.changed", phase=item.phase, instant=item.instant.isoformat())
                    if item.phase == "team_formation_close":  # teams lock: match the pool, then
                        await matching.run(tx, actor="clock")  # every team gets a
                        await assignment.run(tx, actor="clock")  # challenge
                    elif item.phase == "judging":  # teams whose extension ended meanwhile
                        await entries.freeze_due(tx)
                elif item.freeze:
                    await entries.freeze_due(tx)
                elif item.announcement is not None:
                    a = item.announcement
                    await outbox.announce(tx, f"{item.key}@{item.instant.isoformat()}", a.channel, a.texts)
                    tx.record("announcement.sent", id=a.id, instant=item.instant.isoformat())
        except IntegrityError:
            return
        self.fired.append((item.key, item.instant, status))
        metrics.CLOCK_LAG.labels(status).observe(max(late.total_seconds(), 0.0))
        log.info("clock %s %s (due %s)", status, item.key, item.instant.isoformat())

    async def run(self, stopping: asyncio.Event | None = None) -> None:
        """Fires items until `stopping` is set (the round under way ends first) or the task is
        cancelled, then lets go of the leader lock. Wakes early when a phase is shifted."""
        stopping = stopping or asyncio.Event()
        async with self.runtime.bus.subscribe() as events:
            try:
                while not stopping.is_set():
                    wait = await self.step()
                    woken = [
                        asyncio.ensure_future(self.shifted(events)),
                        asyncio.ensure_future(stopping.wait()),
                    ]
                    await asyncio.wait(woken, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                    for waiting in woken:
                        waiting.cancel()
            finally:
                if self.lock is not None:
                    await self.lock.release()

    async def step(self) -> float:
        """One round: fire what is due (as leader); returns the real seconds to sleep."""
        if self.lock is not None and not await self.lock.hold():
            return LOCK_TTL / 3
        try:
            coming = await self.fire_due()
            # Deliveries lost with a process (or a failed job) are handed over again.
            await outbox.recover(self.runtime, older_than=timedelta(seconds=60))
        except Exception:  # the database may be briefly away; never let the clock die of it
            log.exception("clock round failed; retrying")
            return 1.0
        wait = IDLE_WAKE if coming is None else min(IDLE_WAKE, self.runtime.clock.real_seconds_until(coming))
        if self.lock is not None:
            wait = min(wait, LOCK_TTL / 3)
        return max(0.0, wait)

    @staticmethod
    async def shifted(events: asyncio.Queue[DomainEvent]) -> None:
        while (await events.get()).kind not in WAKING:
            pass
