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
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from redis import Redis as SyncRedis
from rq import Queue
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hackserver import channels
from hackserver.models import OutboxMessage

if TYPE_CHECKING:
    from hackserver.runtime import Runtime, Transaction

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
MAX_BACKOFF = 300.0
QUEUE_NAME = "hackserver"


class DeliveryFailed(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Deliverer(Protocol):
    """Sends one outbox row to one platform; raises DeliveryFailed to be retried later."""

    async def deliver(self, tx: Transaction, message: OutboxMessage) -> None: ...


class Jobs(Protocol):
    async def start(self, runtime: Runtime) -> None: ...

    async def stop(self) -> None: ...

    async def deliver(self, message_ids: list[int], delay: float = 0) -> None: ...


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
    """Delivers one row once; a failure schedules its own retry."""
    retry_in: float | None = None
    async with runtime.transaction() as tx:
        message = await tx.session.get(OutboxMessage, message_id, with_for_update=True)
        if message is None or message.status != "pending":
            return
        now = datetime.now(UTC)
        deliverer = runtime.deliverers.get(message.platform)
        try:
            if deliverer is None:
                raise DeliveryFailed(f"no deliverer for platform {message.platform!r} is configured")
            async with tx.session.begin_nested():
                await deliverer.deliver(tx, message)
        except DeliveryFailed as failure:
            message.attempts += 1
            message.last_error = str(failure)[:500]
            if message.attempts >= MAX_ATTEMPTS or deliverer is None:
                message.status = "dead"
                tx.record("outbox.dead", id=message.id, platform=message.platform, error=message.last_error)
            else:
                retry_in = failure.retry_after or min(2.0**message.attempts, MAX_BACKOFF)
                message.next_attempt_at = now + timedelta(seconds=retry_in)
                tx.record("outbox.retry", id=message.id, platform=message.platform, error=message.last_error)
        else:
            message.status, message.delivered_at = "delivered", now
            message.attempts += 1
            tx.record("outbox.delivered", id=message.id, platform=message.platform)
    if retry_in is not None:
        await runtime.jobs.deliver([message_id], delay=retry_in)


async def stranded(runtime: Runtime, older_than: timedelta = timedelta(0)) -> list[tuple[int, float]]:
    """Pending rows whose delivery may have been lost with a process, with the delay still due."""
    now = datetime.now(UTC)
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.id, OutboxMessage.next_attempt_at)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now - older_than)
            .order_by(OutboxMessage.id)
        )
        return [(id_, max(0.0, (at - now).total_seconds())) for id_, at in rows]


async def recover(runtime: Runtime, older_than: timedelta = timedelta(0)) -> int:
    found = await stranded(runtime, older_than)
    for message_id, delay in found:
        await runtime.jobs.deliver([message_id], delay)
    return len(found)


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

    def __init__(self, workers: int = 4) -> None:
        self.queue: asyncio.Queue[int] = asyncio.Queue()
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

    async def deliver(self, message_ids: list[int], delay: float = 0) -> None:
        if delay > 0:
            loop = asyncio.get_running_loop()
            self.timers = {t for t in self.timers if t.when() > loop.time()}  # forget the ones that ran
            self.timers.add(loop.call_later(delay, self.put, message_ids))
        else:
            self.put(message_ids)

    def put(self, message_ids: list[int]) -> None:
        for message_id in message_ids:
            self.queue.put_nowait(message_id)

    async def idle(self) -> None:
        await self.queue.join()

    async def work(self) -> None:
        while True:
            message_id = await self.queue.get()
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

    async def deliver(self, message_ids: list[int], delay: float = 0) -> None:
        await run_in_threadpool(self._enqueue, message_ids, delay)

    def _enqueue(self, message_ids: list[int], delay: float) -> None:
        from hackserver.worker import deliver_message

        for message_id in message_ids:
            if delay > 0:
                self.rq.enqueue_in(timedelta(seconds=delay), deliver_message, message_id)
            else:
                self.rq.enqueue(deliver_message, message_id)
