"""The transactional outbox.

A change writes its outbound messages as rows in its own transaction (`add`); after commit the job
runner delivers them (`deliver`): in-process tasks without Redis, RQ jobs with it. Delivery is
at-least-once per row and idempotent per key: a delivered or dead row is never sent again, failed
attempts back off and end as dead letters the dashboard shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from redis import Redis as SyncRedis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import DuplicateJobError
from sqlalchemy import ColumnElement, and_, or_, select, update
from starlette.concurrency import run_in_threadpool

from hackserver.foundation import channels
from hackserver.foundation.errors import Conflict, NotFound
from hackserver.foundation.models import AuditEntry, OutboxMessage

if TYPE_CHECKING:
    from hackserver.runtime import Runtime, Transaction

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
MAX_BACKOFF = 300.0
LEASE = timedelta(minutes=2)  # a send not marked by then is presumed lost with its process
QUEUE_NAME = "hackserver"
RETRY_TICK = 0.05  # seconds
HANDOVER_RETRY = 2.0  # seconds between tries to hand rows to RQ again while Redis is away
GATHER = 0.25  # seconds rows gather into one batch while SQLite's single writer is busy


class DeliveryFailed(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent  # trying again cannot help (e.g. the channel is gone): dead at once


class Deliverer(Protocol):
    """Delivers a row inside its own transaction (the built-in channels); raises DeliveryFailed."""

    async def deliver(self, tx: Transaction, message: OutboxMessage) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    id: int
    key: str  # stable across retries: the platform's idempotency key where it has one
    platform: str
    channel: str
    payload: dict[str, Any]  # {"author", "texts": {language: text}} or {"reply": Reply.to_json()}


class Sender(Protocol):
    """Sends to an external platform, outside any transaction, within the platform's rate limits;
    raises DeliveryFailed (with retry_after when the platform said when) to be retried later."""

    async def send(self, message: Outgoing) -> None: ...

    async def aclose(self) -> None:
        """Releases what the sender holds open (HTTP sessions) when the process stops."""
        ...


class Jobs(Protocol):
    async def start(self, runtime: Runtime) -> None: ...

    async def stop(self) -> None: ...

    async def deliver(self, message_ids: list[int], delay: float = 0, attempt: int = 0) -> None:
        """Delivers the rows after `delay` seconds; `attempt` (the rows' attempts so far) tells a
        retry or a recovery apart from a delivery that is already queued."""
        ...


async def add(tx: Transaction, key: str, platform: str, channel: str, payload: dict[str, Any]) -> None:
    message = OutboxMessage(key=key, platform=platform, channel=channel, payload=payload)
    tx.session.add(message)
    tx.outbox.append(message)


async def announce(
    runtime: Runtime, tx: Transaction, key: str, logical_channel: str, texts: dict[str, str]
) -> None:
    """Posts to a logical channel (e.g. announcements) on every platform the event delivers to."""
    payload = {"author": runtime.event.name, "texts": texts}
    for platform, channel in runtime.platform_channels(logical_channel):
        await add(tx, f"{key}:{platform}:{channel}", platform, channel, payload)


async def requeue_dead(runtime: Runtime, tx: Transaction, message_id: int, *, actor: str) -> OutboxMessage:
    """Gives a dead letter one more attempt (an organiser fixed its cause); audit-logged. Only dead
    rows qualify: a delivered one is never sent again."""
    message = await tx.session.scalar(
        select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
    )
    if message is None:
        raise NotFound("outbox.unknown", id=message_id)
    if message.status != "dead":
        raise Conflict("outbox.not_dead", id=message_id, status=message.status)
    message.status, message.next_attempt_at = "pending", tx.now
    # Its attempts so far name the job: a queue that remembers the last job does not skip this one.
    tx.redeliveries.append((message.id, message.attempts))
    tx.session.add(
        AuditEntry(
            event_id=runtime.event_id,
            actor=actor,
            action="outbox.retry",
            details={"message": message.id, "platform": message.platform, "error": message.last_error},
            at=tx.now,
        )
    )
    tx.record("outbox.requeued", id=message.id, platform=message.platform, by=actor)
    return message


async def deliver(runtime: Runtime, message_id: int) -> None:
    """Delivers one row once; a failure schedules its own retry."""
    await deliver_many(runtime, [message_id])


async def deliver_many(runtime: Runtime, message_ids: list[int]) -> None:
    """Delivers rows once each, in two transactions for the lot rather than two a row.

    Built-in channels are written in the claiming transaction (a savepoint each). External platforms
    are called outside any transaction: the rows are claimed ("sending", with a lease), sent, then
    marked, so a process that dies mid-way leaves rows that are sent again when their lease runs out
    (or sooner: a worker starting on the same host reclaims what a dead one was sending).
    """
    retries: list[tuple[int, tuple[float, int]]] = []
    async with runtime.transaction() as tx:
        now = datetime.now(UTC)
        outgoing = await _claim(tx, message_ids, list(runtime.senders), now) if runtime.senders else []
        if len(outgoing) < len(message_ids):
            claimed = {sent.id for sent in outgoing}
            rest = [message_id for message_id in message_ids if message_id not in claimed]
            retries += await _deliver_inside(runtime, tx, rest, now)
    if outgoing:
        outcomes = await asyncio.gather(*(_send(runtime, message) for message in outgoing))
        failed = {sent.id: failure for sent, failure in zip(outgoing, outcomes, strict=True) if failure}
        async with runtime.transaction() as tx:
            await _mark_delivered(tx, [sent.id for sent in outgoing if sent.id not in failed])
            for row in await _locked(tx, list(failed)) if failed else []:
                if row.status in ("delivered", "dead"):
                    continue
                failure = failed[row.id]
                if (retry := _fail(tx, row, failure, final=failure.permanent)) is not None:
                    retries.append((row.id, retry))
    for message_id, (delay, attempt) in retries:
        await runtime.jobs.deliver([message_id], delay=delay, attempt=attempt)


async def _claim(
    tx: Transaction, message_ids: list[int], platforms: list[str], now: datetime
) -> list[Outgoing]:
    """Claims the claimable rows of external platforms in one statement, without loading them. On
    PostgreSQL an UPDATE that waited for a row another worker holds checks its WHERE again on the row
    as that worker left it, so a row claimed meanwhile is left to it; the rows are taken through the
    primary key in id order, as every claim takes them, so two claims do not deadlock."""
    claimed = await tx.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.platform.in_(platforms), _claimable(now))
        .values(status="sending", next_attempt_at=now + LEASE)
        .returning(
            OutboxMessage.id,
            OutboxMessage.key,
            OutboxMessage.platform,
            OutboxMessage.channel,
            OutboxMessage.payload,
        ),
        execution_options={"synchronize_session": False},
    )
    return sorted((Outgoing(*row) for row in claimed), key=lambda message: message.id)


async def _deliver_inside(
    runtime: Runtime, tx: Transaction, message_ids: list[int], now: datetime
) -> list[tuple[int, tuple[float, int]]]:
    """Delivers the rows of platforms written inside the database (the built-in channels), each in a
    savepoint of the claiming transaction; returns the retries to schedule."""
    retries: list[tuple[int, tuple[float, int]]] = []
    delivered: list[tuple[int, str]] = []
    rows = await _locked(
        tx, message_ids, OutboxMessage.platform.not_in(list(runtime.senders)), _claimable(now)
    )
    for message in rows:
        deliverer = runtime.deliverers.get(message.platform)
        try:
            if deliverer is None:
                raise DeliveryFailed(f"no deliverer for platform {message.platform!r} is configured")
            async with tx.session.begin_nested():
                await _guarded(deliverer.deliver(tx, message), message.id, message.platform)
        except DeliveryFailed as failure:
            if (retry := _fail(tx, message, failure, final=deliverer is None)) is not None:
                retries.append((message.id, retry))
            continue
        message.status, message.delivered_at = "delivered", datetime.now(UTC)
        message.attempts += 1
        delivered.append((message.id, message.platform))
    _record_delivered(tx, delivered)
    return retries


async def _mark_delivered(tx: Transaction, message_ids: list[int]) -> None:
    """Marks sent rows delivered in one statement, without loading them (most sends succeed)."""
    if not message_ids:
        return
    marked = await tx.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status.not_in(("delivered", "dead")))
        .values(status="delivered", delivered_at=datetime.now(UTC), attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id, OutboxMessage.platform),
        execution_options={"synchronize_session": False},
    )
    _record_delivered(tx, marked.all())


def _record_delivered(tx: Transaction, delivered: Sequence[tuple[int, str]]) -> None:
    """One event per platform for a batch, not one a row: nothing listens for each delivery."""
    by_platform: dict[str, list[int]] = {}
    for message_id, platform in delivered:
        by_platform.setdefault(platform, []).append(message_id)
    for platform, ids in by_platform.items():
        tx.record("outbox.delivered", platform=platform, ids=sorted(ids))


async def _locked(
    tx: Transaction, message_ids: list[int], *criteria: ColumnElement[bool]
) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage).where(OutboxMessage.id.in_(message_ids), *criteria).order_by(OutboxMessage.id)
    )
    return list(await tx.session.scalars(query.with_for_update()))


async def _send(runtime: Runtime, message: Outgoing) -> DeliveryFailed | None:
    try:
        await _guarded(runtime.senders[message.platform].send(message), message.id, message.platform)
    except DeliveryFailed as refused:
        return refused
    return None


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Pending, or claimed by a process whose lease ran out."""
    return or_(
        OutboxMessage.status == "pending",
        and_(OutboxMessage.status == "sending", OutboxMessage.next_attempt_at <= now),
    )


async def _guarded(attempt: Awaitable[None], message_id: int, platform: str) -> None:
    try:
        await attempt
    except DeliveryFailed:
        raise
    except Exception as error:  # a platform's surprise is a failed attempt, not a lost row
        log.exception("delivering outbox message %s to %s failed", message_id, platform)
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from error


def _fail(
    tx: Transaction, message: OutboxMessage, failure: DeliveryFailed, *, final: bool
) -> tuple[float, int] | None:
    """Records a failed attempt; returns (delay, attempt) when it is to be tried again."""
    message.attempts += 1
    message.last_error = str(failure)[:500]
    if final or message.attempts >= MAX_ATTEMPTS:
        message.status = "dead"
        tx.record("outbox.dead", id=message.id, platform=message.platform, error=message.last_error)
        return None
    backoff = min(2.0**message.attempts, MAX_BACKOFF)
    delay = backoff if failure.retry_after is None else failure.retry_after
    message.status, message.next_attempt_at = "pending", datetime.now(UTC) + timedelta(seconds=delay)
    tx.record("outbox.retry", id=message.id, platform=message.platform, error=message.last_error)
    return delay, message.attempts


async def recover(runtime: Runtime, older_than: timedelta = timedelta(0)) -> int:
    """Hands over again the pending rows whose delivery may have been lost with a process, and the
    claimed ones whose lease ran out."""
    now = datetime.now(UTC)
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.status,
                    OutboxMessage.next_attempt_at,
                    OutboxMessage.attempts,
                )
                .where(
                    or_(
                        and_(
                            OutboxMessage.status == "pending",
                            OutboxMessage.next_attempt_at <= now - older_than,
                        ),
                        and_(OutboxMessage.status == "sending", OutboxMessage.next_attempt_at <= now),
                    )
                )
                .order_by(OutboxMessage.id)
            )
        ).all()
    lapsed = [(message_id, attempts) for message_id, status, _, attempts in rows if status == "sending"]
    for message_id, status, at, attempts in rows:
        if status == "pending":
            await runtime.jobs.deliver([message_id], max(0.0, (at - now).total_seconds()), attempts)
    return len(rows) - len(lapsed) + await reclaim(runtime, lapsed)


async def reclaim(runtime: Runtime, lost: list[tuple[int, int]]) -> int:
    """Hands over again rows whose attempt died with its process: (row, attempt) pairs. The lost
    attempt counts, so the new delivery has a job of its own rather than the dead one's; a row that
    moved on meanwhile (delivered, or reclaimed by another process) is left alone."""
    handed: list[tuple[int, int]] = []
    async with runtime.transaction() as tx:
        for message_id, attempt in lost:
            found = await tx.session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.attempts == attempt,
                    OutboxMessage.status.in_(("pending", "sending")),
                )
                .values(status="pending", attempts=attempt + 1, next_attempt_at=datetime.now(UTC))
                .returning(OutboxMessage.id),
                execution_options={"synchronize_session": False},
            )
            if found.scalar() is not None:
                handed.append((message_id, attempt + 1))
    for message_id, attempt in handed:
        await runtime.jobs.deliver([message_id], attempt=attempt)
    return len(handed)


class BuiltinChannels:
    """Delivers to the built-in channels, inside the same database: exactly once by the row's key."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def deliver(self, tx: Transaction, message: OutboxMessage) -> None:
        texts: dict[str, str] = message.payload["texts"]
        language = self.runtime.event.default_language
        await channels.post(
            tx,
            self.runtime.event_id,
            message.channel,
            author=message.payload.get("author", "hackserver"),
            text=texts.get(language) or next(iter(texts.values())),
            translations=texts,
            key=message.key,
        )


class EmbeddedJobs:
    """In-process delivery tasks, for the embedded mode; pending rows are picked up at start."""

    # A send paced by its platform holds its worker (and its batch) for a while.
    def __init__(self, workers: int = 32, batch: int = 200) -> None:
        self.queue: asyncio.Queue[int] = asyncio.Queue()
        self.queued: set[int] = set()  # a recovery sweep does not queue a waiting row twice
        self.workers, self.batch = workers, batch
        self.taking = asyncio.Lock()  # one worker at a time takes rows, so a batch is not split
        self.tasks: set[asyncio.Task[None]] = set()
        self.timers: set[asyncio.TimerHandle] = set()
        self.later: dict[float, list[int]] = {}  # rows to retry, by the tick they are due at

    async def start(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.tasks = {asyncio.create_task(self.work(), name=f"outbox-{n}") for n in range(self.workers)}
        await recover(runtime)

    async def stop(self) -> None:
        for timer in self.timers:
            timer.cancel()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def deliver(self, message_ids: list[int], delay: float = 0, attempt: int = 0) -> None:
        if delay <= 0:
            self.put(message_ids)
            return
        # Retries due within the same tick go out together, in batches, not one row at a time.
        loop = asyncio.get_running_loop()
        due = math.ceil((loop.time() + delay) / RETRY_TICK) * RETRY_TICK
        if due not in self.later:
            self.later[due] = []
            self.timers = {t for t in self.timers if t.when() > loop.time()}  # forget the ones that ran
            self.timers.add(loop.call_at(due, lambda: self.put(self.later.pop(due, []))))
        self.later[due].extend(message_ids)

    def put(self, message_ids: list[int]) -> None:
        for message_id in message_ids:
            if message_id not in self.queued:
                self.queued.add(message_id)
                self.queue.put_nowait(message_id)

    async def idle(self) -> None:
        await self.queue.join()

    async def take(self) -> list[int]:
        """The next batch. While the database's single writer is busy (SQLite, in a burst of saves),
        rows gather for a moment into one delivery transaction, rather than queueing behind the
        writer as one transaction each."""
        async with self.taking:
            batch = [await self.queue.get()]
            lock = self.runtime.write_lock
            # A full batch waiting already has nothing to gather for (a fan-out's rows).
            if lock is not None and lock.locked() and self.queue.qsize() < self.batch - 1:
                # Not wait_for(queue.get()): on Python 3.11 its timeout can drop a row it just got.
                await asyncio.sleep(GATHER)
            while len(batch) < self.batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
        self.queued.difference_update(batch)
        return batch

    async def work(self) -> None:
        while True:
            batch = await self.take()
            try:
                await deliver_many(self.runtime, batch)
            except Exception:  # the rows stay pending; the next start or sweep retries them
                log.exception("delivering outbox messages %s failed", batch[:10])
            finally:
                for _ in batch:
                    self.queue.task_done()


class RQJobs:
    """Hands deliveries to RQ workers (`hackserver worker`) through Redis. While Redis is away the
    rows wait in the outbox and this process tries to hand them over again every few seconds, so
    they go out soon after it is back (the clock's sweep is the backstop for a process that dies)."""

    def __init__(self, redis_url: str) -> None:
        self.redis = SyncRedis.from_url(redis_url)
        self.rq = Queue(QUEUE_NAME, connection=self.redis)
        self.stranded: dict[int, int] = {}  # row -> attempt, for rows Redis could not take
        self.retrying: asyncio.Task[None] | None = None

    async def start(self, runtime: Runtime) -> None:
        self.retrying = asyncio.create_task(self.hand_over_stranded(), name="outbox-handover")

    async def stop(self) -> None:
        if self.retrying is not None:
            self.retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.retrying
        self.redis.close()

    async def deliver(self, message_ids: list[int], delay: float = 0, attempt: int = 0) -> None:
        try:
            await run_in_threadpool(self._enqueue, message_ids, delay, attempt)
        except RedisError as error:
            if not self.stranded:
                log.warning("Redis unreachable (%s): outbox rows wait until it is back", error)
            self.stranded.update(dict.fromkeys(message_ids, attempt))

    async def hand_over_stranded(self) -> None:
        while True:
            await asyncio.sleep(HANDOVER_RETRY)
            if not self.stranded:
                continue
            waiting = dict(self.stranded)
            try:
                for attempt in set(waiting.values()):
                    ids = [row for row, a in waiting.items() if a == attempt]
                    await run_in_threadpool(self._enqueue, ids, 0, attempt)
                    for row in ids:
                        self.stranded.pop(row, None)
            except RedisError:
                continue
            log.warning("Redis is back: %d outbox rows handed over", len(waiting))

    def _enqueue(self, message_ids: list[int], delay: float, attempt: int) -> None:
        from hackserver.worker import deliver_message

        for message_id in message_ids:
            # One job id per row and attempt: a recovery sweep never queues a delivery twice.
            options = {
                "job_id": f"deliver-{message_id}-{attempt}",
                "unique": True,
                "failure_ttl": 300,
            }
            try:
                if delay > 0:
                    self.rq.enqueue_in(timedelta(seconds=delay), deliver_message, message_id, **options)
                else:
                    self.rq.enqueue(deliver_message, message_id, **options)
            except DuplicateJobError:
                pass
