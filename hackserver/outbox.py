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
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from redis import Redis as SyncRedis
from rq import Queue
from rq.exceptions import DuplicateJobError
from sqlalchemy import and_, or_, select
from starlette.concurrency import run_in_threadpool

from hackserver import channels
from hackserver.models import OutboxMessage

if TYPE_CHECKING:
    from hackserver.runtime import Runtime, Transaction

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
MAX_BACKOFF = 300.0
LEASE = timedelta(minutes=2)  # a send not marked by then is presumed lost with its process
QUEUE_NAME = "hackserver"


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
    await tx.session.flush()
    tx.outbox_ids.append(message.id)


async def announce(
    runtime: Runtime, tx: Transaction, key: str, logical_channel: str, texts: dict[str, str]
) -> None:
    """Posts to a logical channel (e.g. announcements) on every platform the event delivers to."""
    payload = {"author": runtime.event.name, "texts": texts}
    for platform, channel in runtime.platform_channels(logical_channel):
        await add(tx, f"{key}:{platform}:{channel}", platform, channel, payload)


async def deliver(runtime: Runtime, message_id: int) -> None:
    """Delivers one row once; a failure schedules its own retry.

    Built-in channels are written in the row's own transaction. External platforms are called
    outside any transaction: the row is claimed ("sending", with a lease), sent, then marked, so a
    process that dies mid-way leaves a row that is sent again when its lease runs out.
    """
    outgoing: Outgoing | None = None
    async with runtime.transaction() as tx:
        message = await tx.session.get(OutboxMessage, message_id, with_for_update=True)
        now = datetime.now(UTC)
        if message is None or not _claimable(message, now):
            return
        deliverer, sender = runtime.deliverers.get(message.platform), runtime.senders.get(message.platform)
        if sender is not None:
            message.status, message.next_attempt_at = "sending", now + LEASE
            outgoing = Outgoing(message.id, message.key, message.platform, message.channel, message.payload)
        else:
            failure = None
            try:
                if deliverer is None:
                    raise DeliveryFailed(f"no deliverer for platform {message.platform!r} is configured")
                async with tx.session.begin_nested():
                    await _guarded(deliverer.deliver(tx, message), message.id, message.platform)
            except DeliveryFailed as refused:
                failure = refused
            retry = _settle(tx, message, failure, final=deliverer is None)
    if outgoing is not None:
        failure = None
        try:
            await _guarded(runtime.senders[outgoing.platform].send(outgoing), outgoing.id, outgoing.platform)
        except DeliveryFailed as refused:
            failure = refused
        async with runtime.transaction() as tx:
            message = await tx.session.get(OutboxMessage, message_id, with_for_update=True)
            if message is None or message.status in ("delivered", "dead"):
                return
            retry = _settle(tx, message, failure, final=failure is not None and failure.permanent)
    if retry is not None:
        await runtime.jobs.deliver([message_id], delay=retry[0], attempt=retry[1])


def _claimable(message: OutboxMessage, now: datetime) -> bool:
    return message.status == "pending" or (message.status == "sending" and message.next_attempt_at <= now)


async def _guarded(attempt: Awaitable[None], message_id: int, platform: str) -> None:
    try:
        await attempt
    except DeliveryFailed:
        raise
    except Exception as error:  # a platform's surprise is a failed attempt, not a lost row
        log.exception("delivering outbox message %s to %s failed", message_id, platform)
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from error


def _settle(
    tx: Transaction, message: OutboxMessage, failure: DeliveryFailed | None, *, final: bool
) -> tuple[float, int] | None:
    """Records the attempt's outcome; returns (delay, attempt) when it is to be tried again."""
    now = datetime.now(UTC)
    message.attempts += 1
    if failure is None:
        message.status, message.delivered_at = "delivered", now
        tx.record("outbox.delivered", id=message.id, platform=message.platform)
        return None
    message.last_error = str(failure)[:500]
    if final or message.attempts >= MAX_ATTEMPTS:
        message.status = "dead"
        tx.record("outbox.dead", id=message.id, platform=message.platform, error=message.last_error)
        return None
    backoff = min(2.0**message.attempts, MAX_BACKOFF)
    delay = backoff if failure.retry_after is None else failure.retry_after
    message.status, message.next_attempt_at = "pending", now + timedelta(seconds=delay)
    tx.record("outbox.retry", id=message.id, platform=message.platform, error=message.last_error)
    return delay, message.attempts


async def recover(runtime: Runtime, older_than: timedelta = timedelta(0)) -> int:
    """Hands over again the pending rows whose delivery may have been lost with a process."""
    now = datetime.now(UTC)
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(OutboxMessage.id, OutboxMessage.next_attempt_at, OutboxMessage.attempts)
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
    for message_id, at, attempts in rows:
        await runtime.jobs.deliver([message_id], max(0.0, (at - now).total_seconds()), attempts)
    return len(rows)


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

    def __init__(self, workers: int = 64) -> None:  # a send paced by its platform holds its worker
        self.queue: asyncio.Queue[int] = asyncio.Queue()
        self.queued: set[int] = set()  # a recovery sweep does not queue a waiting row twice
        self.workers = workers
        self.tasks: set[asyncio.Task[None]] = set()
        self.timers: set[asyncio.TimerHandle] = set()

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
        if delay > 0:
            loop = asyncio.get_running_loop()
            self.timers = {t for t in self.timers if t.when() > loop.time()}  # forget the ones that ran
            self.timers.add(loop.call_later(delay, self.put, message_ids))
        else:
            self.put(message_ids)

    def put(self, message_ids: list[int]) -> None:
        for message_id in message_ids:
            if message_id not in self.queued:
                self.queued.add(message_id)
                self.queue.put_nowait(message_id)

    async def idle(self) -> None:
        await self.queue.join()

    async def work(self) -> None:
        while True:
            message_id = await self.queue.get()
            self.queued.discard(message_id)
            try:
                await deliver(self.runtime, message_id)
            except Exception:  # the row stays pending; the next start or sweep retries it
                log.exception("delivering outbox message %s failed", message_id)
            finally:
                self.queue.task_done()


class RQJobs:
    """Hands deliveries to RQ workers (`hackserver worker`) through Redis."""

    def __init__(self, redis_url: str) -> None:
        self.redis = SyncRedis.from_url(redis_url)
        self.rq = Queue(QUEUE_NAME, connection=self.redis)

    async def start(self, runtime: Runtime) -> None:
        pass

    async def stop(self) -> None:
        self.redis.close()

    async def deliver(self, message_ids: list[int], delay: float = 0, attempt: int = 0) -> None:
        await run_in_threadpool(self._enqueue, message_ids, delay, attempt)

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
