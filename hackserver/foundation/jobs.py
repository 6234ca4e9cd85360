"""Who runs the outbox's deliveries: in-process tasks in the embedded mode, RQ workers with Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from datetime import timedelta

from redis import Redis as SyncRedis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hackserver.foundation.models import OutboxMessage
from hackserver.foundation.outbox import Delivery, deliver_many, recover

log = logging.getLogger(__name__)
RETRY_TICK = 0.05  # seconds
HANDOVER_RETRY = 2.0  # seconds between tries to hand rows to RQ again while Redis is away
GATHER = 0.25  # seconds rows gather into one batch while SQLite's single writer is busy
DELIVER_JOB = "hackserver.worker.deliver_message"  # the RQ job, run by `hackserver worker`


def queue_name(platform: str) -> str:
    """The RQ queue of a platform's deliveries: each has its own, which `hackserver worker` works in a
    loop of its own, so that one platform's slow posts never hold up another's."""
    return f"deliveries:{platform}"


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

    async def start(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.tasks = {asyncio.create_task(self.work(), name=f"outbox-{n}") for n in range(self.workers)}
        await recover(delivery)

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
            lock = self.delivery.write_lock
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
                await deliver_many(self.delivery, batch)
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
        self.queues: dict[str, Queue] = {}  # by platform
        self.stranded: dict[int, int] = {}  # row -> attempt, for rows Redis could not take
        self.retrying: asyncio.Task[None] | None = None

    async def start(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.retrying = asyncio.create_task(self.hand_over_stranded(), name="outbox-handover")

    async def stop(self) -> None:
        if self.retrying is not None:
            self.retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.retrying
        self.redis.close()

    async def deliver(self, message_ids: list[int], delay: float = 0, attempt: int = 0) -> None:
        try:
            await self._hand_over(message_ids, delay, attempt)
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
                    await self._hand_over(ids, 0, attempt)
                    for row in ids:
                        self.stranded.pop(row, None)
            except Exception:  # Redis (or the database) is still away: the next round tries again
                continue
            log.warning("Redis is back: %d outbox rows handed over", len(waiting))

    async def _hand_over(self, message_ids: list[int], delay: float, attempt: int) -> None:
        """Enqueues the rows, each on its platform's queue."""
        query = select(OutboxMessage.id, OutboxMessage.platform).where(OutboxMessage.id.in_(message_ids))
        async with self.delivery.reading() as tx:
            platforms = {row.id: row.platform for row in await tx.session.execute(query)}
        await run_in_threadpool(self._enqueue, platforms, delay, attempt)

    def _enqueue(self, platforms: dict[int, str], delay: float, attempt: int) -> None:
        for message_id, platform in platforms.items():
            if platform not in self.queues:
                self.queues[platform] = Queue(queue_name(platform), connection=self.redis)
            queue = self.queues[platform]
            # One job id per row and attempt: a recovery sweep never queues a delivery twice.
            job_id = f"deliver-{message_id}-{attempt}"
            try:
                self._enqueue_job(queue, job_id, message_id, delay)
            except DuplicateJobError:
                if self._will_run(queue, job_id):
                    continue
                # The job of that id will not run (again): a worker died with it in hand before it
                # began, or it ran before the row was due. A new one takes its place; two jobs for
                # one row do no harm, as a delivery claims its row once.
                with contextlib.suppress(NoSuchJobError):
                    Job.fetch(job_id, connection=self.redis).delete()
                queue.intermediate_queue.remove(job_id)
                with contextlib.suppress(DuplicateJobError):  # another sweep's replacement came first
                    self._enqueue_job(queue, job_id, message_id, delay)

    @staticmethod
    def _enqueue_job(queue: Queue, job_id: str, message_id: int, delay: float) -> None:
        options = {"job_id": job_id, "unique": True, "failure_ttl": 300}
        if delay > 0:
            queue.enqueue_in(timedelta(seconds=delay), DELIVER_JOB, message_id, **options)
        else:
            queue.enqueue(DELIVER_JOB, message_id, **options)

    def _will_run(self, queue: Queue, job_id: str) -> bool:
        """Whether the job waits in the queue or for its time; not one taken, ended or lost."""
        try:
            status = Job.fetch(job_id, connection=self.redis).get_status()
        except NoSuchJobError:
            return False
        if status == JobStatus.QUEUED:
            return self.redis.lpos(queue.key, job_id) is not None
        return status in (JobStatus.SCHEDULED, JobStatus.DEFERRED)
