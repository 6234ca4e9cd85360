"""`hackserver worker`: an RQ worker whose jobs run on one long-lived runtime and event loop."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from redis import Redis
from redis.exceptions import ConnectionError, RedisError, TimeoutError
from rq import Queue, SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty
from rq.worker import WorkerStatus

from hackserver.bootstrap import bootstrap
from hackserver.foundation import outbox
from hackserver.foundation.errors import SettingsError
from hackserver.foundation.jobs import queue_name
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime, start_up_frozen

log = logging.getLogger(__name__)
T = TypeVar("T")
_current: tuple[Runtime, asyncio.AbstractEventLoop] | None = None
PR_SET_PDEATHSIG = 1  # Linux's prctl option: a signal for the child when its parent dies
# Seconds between a worker's maintenance rounds (RQ's default is 10 minutes): also how soon a worker
# starts the scheduler that a killed worker's scheduler left, once that one's lock is gone. A round
# runs only between waits on the queue, and RQ waits `worker_ttl - 15` seconds (405 by default).
MAINTENANCE_INTERVAL = 15
WORKER_TTL = MAINTENANCE_INTERVAL + 15
UNSTARTED_GRACE = 1.0  # seconds a worker alive may take from moving a job out of the queue to starting it


def deliver_message(message_id: int) -> None:
    """The RQ job: plain and importable; runs the async delivery on the worker's loop."""
    if _current is None:
        raise RuntimeError("deliver_message runs inside `hackserver worker` (see worker_runtime)")
    _on_worker_loop(outbox.deliver(_current[0], message_id))


def _on_worker_loop(work: Coroutine[Any, Any, T]) -> T:
    assert _current is not None
    return asyncio.run_coroutine_threadsafe(work, _current[1]).result()


@contextlib.contextmanager
def worker_runtime(settings: Settings) -> Iterator[Runtime]:
    """Runs a runtime on an event loop in a background thread for as long as the block lasts."""
    global _current
    loop = asyncio.new_event_loop()
    started: asyncio.Future[Runtime] = loop.create_future()
    stop = asyncio.Event()

    async def hold() -> None:
        try:
            async with bootstrap(settings) as runtime:
                with start_up_frozen():
                    started.set_result(runtime)
                    await stop.wait()
        except BaseException as error:
            if not started.done():
                started.set_exception(error)
            raise

    thread = threading.Thread(target=lambda: loop.run_until_complete(hold()), name="worker-loop", daemon=True)
    thread.start()
    runtime = asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(started), 60), loop).result()
    _current = (runtime, loop)
    try:
        yield runtime
    finally:
        _current = None
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    if settings.redis_url is None:
        raise SettingsError(
            "HACKSERVER_REDIS_URL: `hackserver worker` needs Redis; without it `hackserver run` delivers in-process"
        )
    os.register_at_fork(after_in_child=functools.partial(_end_with_parent, os.getpid()))
    with worker_runtime(settings) as runtime:
        connection = Redis.from_url(settings.redis_url)
        # The built-in channels first: their loop is the one on the main thread, with the scheduler.
        platforms = sorted(runtime.platforms, key=lambda platform: platform != "builtin")
        queues = [Queue(queue_name(platform), connection=connection) for platform in platforms]
        for queue in queues:
            reclaim_abandoned(runtime, queue)
        options: dict[str, Any] = {
            "connection": connection,
            "maintenance_interval": MAINTENANCE_INTERVAL,
            "worker_ttl": WORKER_TTL,
        }
        main = DeliveryWorker([queues[0]], name=worker_name(), **options)
        main.scheduled = queues
        # A loop per platform, each a worker of its own: a slow post holds up only its platform's queue.
        others = [ThreadWorker([queue], name=worker_name(), **options) for queue in queues[1:]]
        threads = [
            threading.Thread(target=other.work, kwargs={"burst": burst}, name=other.name, daemon=True)
            for other in others
        ]
        for thread in threads:
            thread.start()
        try:
            main.work(burst=burst, with_scheduler=True)
        finally:
            for other, thread in zip(others, threads, strict=True):
                other.stop_after_job(thread)


class SteadyScheduler(RQScheduler):
    """RQ's scheduler (a child process), riding out a Redis outage: it tries again each second
    rather than ending, so delayed jobs run on time once Redis is back (RQ's worker would start
    another only at a later maintenance round, after the dead one's lock ran out)."""

    def work(self) -> None:
        while True:
            try:
                super().work()  # type: ignore[no-untyped-call]
                return
            except (ConnectionError, TimeoutError) as error:
                if self._stop_requested:  # going anyway: its lock runs out by itself
                    raise
                self.log.warning("scheduler cannot reach Redis (%s); trying again", error)
                time.sleep(self.interval)


class DeliveryWorker(SimpleWorker):
    """RQ's SimpleWorker, riding out a Redis outage: RQ's quits at the first refused call outside its
    wait for jobs (a job's end reported, its state set, a maintenance round). This one waits for
    Redis and carries on; a job that ended meanwhile stands (its outbox row records the delivery)."""

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)
        except (ConnectionError, TimeoutError) as error:
            log.warning("Redis went away as job %s ended (%s); waiting for it", job.id, error)
            self._once_redis_answers(lambda: self.set_state(WorkerStatus.IDLE))

    def dequeue_job_and_maintain_ttl(self, *args: Any, **kwargs: Any) -> tuple[Job, Queue] | None:
        return self._once_redis_answers(
            lambda: super(DeliveryWorker, self).dequeue_job_and_maintain_ttl(*args, **kwargs)
        )

    def check_for_suspension(self, burst: bool) -> None:
        self._once_redis_answers(lambda: super(DeliveryWorker, self).check_for_suspension(burst))

    def run_maintenance_tasks(self) -> None:
        self._once_redis_answers(super().run_maintenance_tasks)

    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        self._once_redis_answers(lambda: super(DeliveryWorker, self).heartbeat(*args, **kwargs))

    def teardown(self) -> None:
        with contextlib.suppress(RedisError):  # stopping while Redis is away: nothing to record
            super().teardown()  # type: ignore[no-untyped-call]

    @staticmethod
    def _once_redis_answers(call: Callable[[], T]) -> T:
        while True:
            try:
                return call()
            except (ConnectionError, TimeoutError) as error:
                log.warning("worker cannot reach Redis (%s); trying again", error)
                time.sleep(1.0)

    scheduled: list[Queue] | None = None  # the queues its scheduler serves; its own by default

    def _start_scheduler(self, burst: bool = False, *args: Any, **kwargs: Any) -> None:
        if burst:  # no child process to keep
            super()._start_scheduler(burst, *args, **kwargs)
            return
        # As RQ's own does, with the scheduler above (RQ names its class in the method).
        self.scheduler = SteadyScheduler(
            self.scheduled or self.queues, connection=self.connection, serializer=self.serializer
        )
        self.scheduler.acquire_locks()  # type: ignore[no-untyped-call]
        if self.scheduler.acquired_locks:
            self.scheduler.start()  # type: ignore[no-untyped-call]


class ThreadWorker(DeliveryWorker):
    """A platform's loop off the main thread: the main thread's worker takes the signals and stops
    it; a job's time limit is kept by a timer rather than by a signal."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass

    def stop_after_job(self, thread: threading.Thread) -> None:
        """Stops the loop once its job, if any, has ended (an idle loop waits only for jobs)."""
        self._stop_requested = True
        while thread.is_alive() and self.get_state() == WorkerStatus.BUSY:
            thread.join(timeout=0.1)
        with contextlib.suppress(RedisError):
            self.register_death()  # type: ignore[no-untyped-call]


def _end_with_parent(parent: int) -> None:
    """In a child this process forks (RQ's scheduler): stop when the worker ends, however it ends.
    On SIGTERM the scheduler lets go of its lock, for the next worker's scheduler to take; a worker
    killed by SIGKILL or the OOM killer would otherwise leave its scheduler running alone."""
    if sys.platform != "linux":
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the line above: nobody will send the signal
        os.kill(os.getpid(), signal.SIGTERM)


def worker_name() -> str:
    # Host and pid, so that a worker started later on the same host can tell this one died; a
    # random part, as a restarted container may get the same pid.
    return f"{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(4)}"


def reclaim_abandoned(runtime: Runtime, queue: Queue) -> None:
    """Hands over again the deliveries whose worker died in the middle (SIGKILL, out of memory), at
    once rather than when their lease runs out; RQ would only mark the jobs failed, much later."""
    dead_jobs = _abandoned(queue)
    if not dead_jobs:
        return
    lost = [(int(job.args[0]), _attempt(job.id)) for job in dead_jobs]
    handed = _on_worker_loop(outbox.reclaim(runtime, lost))
    registry = queue.started_job_registry
    for job in dead_jobs:
        registry.remove_executions(job)
        queue.intermediate_queue.remove(job.id)
        job.delete(remove_from_queue=False)
    log.warning("%d jobs of workers that died: %d of their deliveries handed over again", len(lost), handed)


def _abandoned(queue: Queue) -> list[Job]:
    """The delivery jobs a dead worker had taken: started ones (the execution names its worker from
    the moment it is registered, the job only a moment later), and ones it had moved out of the queue
    but not yet registered as started (a worker alive registers those within milliseconds)."""
    connection, registry = queue.connection, queue.started_job_registry
    dead: set[str] = set()
    for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
        with contextlib.suppress(ValueError):  # that execution ended meanwhile
            if _died(Execution.fetch(execution_id, job_id, connection).worker_name, connection):
                dead.add(job_id)
    if unstarted := _unstarted(queue):
        time.sleep(UNSTARTED_GRACE)
        dead |= unstarted & _unstarted(queue)
    found = []
    for job_id in sorted(dead):
        with contextlib.suppress(NoSuchJobError):
            job = Job.fetch(job_id, connection=connection)
            if job.func_name == f"{__name__}.deliver_message":
                found.append(job)
    return found


def _unstarted(queue: Queue) -> set[str]:
    started = {job_id for job_id, _ in queue.started_job_registry.get_job_and_execution_ids(cleanup=False)}
    return set(queue.intermediate_queue.get_job_ids()) - started


def _attempt(job_id: str) -> int:
    return int(job_id.rsplit("-", 1)[1]) if job_id.startswith("deliver-") else 0


def _died(name: str | None, connection: Redis) -> bool:
    if not name:
        return False
    if not connection.exists(f"{SimpleWorker.redis_worker_namespace_prefix}{name}"):
        return True  # its registration ran out: no heartbeat for minutes
    parts = name.rsplit(".", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False  # another host's: its lease decides
    pid = int(parts[1])
    if pid == os.getpid():
        return True  # this process has its pid now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
