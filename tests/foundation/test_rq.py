"""With Redis, deliveries travel as RQ jobs to `hackserver worker`, through a real Redis and worker.

These tests are synchronous: RQ's worker installs signal handlers and so runs on the main thread,
and each async step runs in an event loop of its own (`asyncio.run`), as in separate processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from sqlalchemy import select

from hackserver.foundation import jobs, outbox
from hackserver.foundation.models import ChannelMessage, OutboxMessage
from hackserver.foundation.settings import Settings
from hackserver.worker import deliver_message, reclaim_abandoned, worker_runtime
from tests import processes
from tests.dbstate import rows
from tests.fakes import FakeClock

pytestmark = pytest.mark.redis
TEXTS = {"de": "Hallo über RQ", "en": "Hello through RQ"}


@pytest.fixture
def connection(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def queue(connection: Redis) -> Queue:
    return Queue(jobs.queue_name("builtin"), connection=connection)


@pytest.fixture
def settings(
    database_url: str, redis_url: str, event_file: Callable[..., Path], kickoff: datetime
) -> Settings:
    return Settings(database_url=database_url, event_path=event_file(kickoff=kickoff), redis_url=redis_url)


def announce(settings: Settings, make_runtime: Callable[..., Any], kickoff: datetime) -> list[int]:
    """Commits one announcement the way a web process does; returns the outbox ids."""

    async def write() -> list[int]:
        async with make_runtime(
            settings.database_url, settings.event_path, FakeClock(kickoff), settings.redis_url
        ) as runtime:
            assert isinstance(runtime.jobs, jobs.RQJobs)
            async with runtime.transaction() as tx:
                await outbox.announce(tx, "rq", "announcements", TEXTS)
            ids: list[int] = tx.outbox_ids
            return ids

    return asyncio.run(write())


def work_once(settings: Settings, queue: Queue, connection: Redis) -> None:
    with worker_runtime(settings):
        SimpleWorker([queue], connection=connection).work(burst=True)


def texts(database_url: str) -> list[str]:
    return [text for (text,) in asyncio.run(rows(database_url, select(ChannelMessage.text)))]


def outbox_state(database_url: str) -> list[tuple[str, int, datetime | None]]:
    statement = select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.delivered_at)
    return [tuple(r) for r in asyncio.run(rows(database_url, statement))]


def test_an_announcement_is_enqueued_in_redis_and_delivered_once_by_an_rq_worker(
    settings: Settings,
    queue: Queue,
    connection: Redis,
    make_runtime: Callable[..., Any],
    kickoff: datetime,
) -> None:
    [message_id] = announce(settings, make_runtime, kickoff)
    assert queue.count == 1
    [job] = queue.get_jobs()
    assert (job.func_name, job.args) == ("hackserver.worker.deliver_message", (message_id,))
    assert texts(settings.database_url) == []  # nothing is delivered without a worker

    work_once(settings, queue, connection)

    assert queue.count == 0
    assert Job.fetch(job.id, connection=connection).get_status() == JobStatus.FINISHED
    assert texts(settings.database_url) == [TEXTS["de"]]
    [(status, attempts, delivered_at)] = outbox_state(settings.database_url)
    assert (status, attempts) == ("delivered", 1)
    assert delivered_at is not None


def test_a_job_for_an_already_delivered_message_does_nothing(
    settings: Settings,
    queue: Queue,
    connection: Redis,
    make_runtime: Callable[..., Any],
    kickoff: datetime,
) -> None:
    [message_id] = announce(settings, make_runtime, kickoff)
    work_once(settings, queue, connection)
    delivered = outbox_state(settings.database_url)

    again = queue.enqueue(deliver_message, message_id)  # e.g. recovered by a clock, or a retry
    work_once(settings, queue, connection)

    assert Job.fetch(again.id, connection=connection).get_status() == JobStatus.FINISHED
    assert texts(settings.database_url) == [TEXTS["de"]]
    assert outbox_state(settings.database_url) == delivered


def test_the_hackserver_worker_command_delivers_a_pending_message(
    sqlite_url: str,
    redis_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    tmp_path: Path,
) -> None:
    settings = Settings(database_url=sqlite_url, event_path=event_file(kickoff=kickoff), redis_url=redis_url)
    announce(settings, make_runtime, kickoff)
    assert outbox_state(sqlite_url)[0][0] == "pending"
    env = {
        **os.environ,
        "HACKSERVER_DATABASE_URL": sqlite_url,
        "HACKSERVER_REDIS_URL": redis_url,
        "HACKSERVER_EVENT": str(settings.event_path),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "hackserver"), "worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while outbox_state(sqlite_url)[0][0] == "pending" and worker.poll() is None:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            assert worker.poll() is None, log.read_text()
        finally:
            worker.send_signal(signal.SIGTERM)  # RQ's warm shutdown
            try:
                worker.wait(timeout=20)
            finally:
                processes.end_group(worker.pid)  # its scheduler, too
                worker.wait()
    assert worker.returncode == 0, log.read_text()
    assert texts(sqlite_url) == [TEXTS["de"]]
    assert outbox_state(sqlite_url)[0][:2] == ("delivered", 1)


def test_a_send_whose_lease_ran_out_is_handed_over_as_a_new_job_beside_the_dead_one(
    settings: Settings,
    queue: Queue,
    connection: Redis,
    make_runtime: Callable[..., Any],
    kickoff: datetime,
) -> None:
    [message_id] = announce(settings, make_runtime, kickoff)
    [dead] = queue.get_jobs()
    queue.remove(dead)  # a worker took the job and died sending: its job stays in Redis

    async def lapse_and_recover() -> int:
        async with make_runtime(
            settings.database_url, settings.event_path, FakeClock(kickoff), settings.redis_url
        ) as runtime:
            async with runtime.transaction() as tx:
                claimed = await tx.session.get(OutboxMessage, message_id)
                assert claimed is not None
                claimed.status, claimed.next_attempt_at = "sending", datetime.now(UTC) - timedelta(seconds=1)
            recovered: int = await outbox.recover(runtime)
            return recovered

    assert asyncio.run(lapse_and_recover()) == 1
    assert queue.job_ids == [f"deliver-{message_id}-1"]  # not refused as a duplicate of the dead job
    work_once(settings, queue, connection)
    assert texts(settings.database_url) == [TEXTS["de"]]
    assert outbox_state(settings.database_url)[0][:2] == ("delivered", 2)  # the lost attempt counts


def dead_worker(queue: Queue, connection: Redis) -> SimpleWorker:
    """A worker of this host whose process is gone, registered in Redis as RQ registers one."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # nothing of it to kill: it ended
    worker = SimpleWorker([queue], connection=connection, name=f"{socket.gethostname()}.{gone.pid}.gone")
    worker.register_birth()
    return worker


@pytest.mark.parametrize("died", ["after taking the job from the queue", "after registering it as started"])
def test_a_delivery_a_worker_died_with_before_it_began_is_handed_over_when_the_next_one_starts(
    died: str,
    settings: Settings,
    queue: Queue,
    connection: Redis,
    make_runtime: Callable[..., Any],
    kickoff: datetime,
) -> None:
    announce(settings, make_runtime, kickoff)
    # RQ's own first steps with a job, up to where the worker was killed: the job has left the queue
    # for the worker's hands; then it is registered as started, before the job records its worker.
    taken = Queue.dequeue_any([queue], None, connection=connection)
    assert taken is not None and queue.count == 0
    if died == "after registering it as started":
        dead_worker(queue, connection).prepare_execution(taken[0])
        assert Job.fetch(taken[0].id, connection=connection).worker_name is None

    with worker_runtime(settings) as runtime:
        reclaim_abandoned(runtime, queue)  # what `hackserver worker` does first
        SimpleWorker([queue], connection=connection).work(burst=True)

    assert texts(settings.database_url) == [TEXTS["de"]]
    assert outbox_state(settings.database_url)[0][:2] == ("delivered", 2)  # the lost attempt counts
    assert queue.intermediate_queue.get_job_ids() == []
    assert queue.started_job_registry.get_job_ids(cleanup=False) == []


def test_a_job_a_live_worker_is_about_to_start_is_left_to_it(
    settings: Settings, queue: Queue, connection: Redis, make_runtime: Callable[..., Any], kickoff: datetime
) -> None:
    announce(settings, make_runtime, kickoff)
    taken = Queue.dequeue_any([queue], None, connection=connection)
    assert taken is not None
    live = SimpleWorker([queue], connection=connection)  # this process: alive
    live.register_birth()

    def starts_it() -> None:  # registers it as started a moment later, as a live worker does
        time.sleep(0.2)
        live.prepare_execution(taken[0])

    with worker_runtime(settings) as runtime:
        thread = threading.Thread(target=starts_it)
        thread.start()
        reclaim_abandoned(runtime, queue)
        thread.join()

    assert outbox_state(settings.database_url)[0][:2] == ("pending", 0)  # not handed over twice
    assert Job.fetch(taken[0].id, connection=connection).id == taken[0].id


def test_the_sweep_replaces_the_job_of_a_row_a_dead_worker_took_but_never_began(
    settings: Settings, queue: Queue, connection: Redis, make_runtime: Callable[..., Any], kickoff: datetime
) -> None:
    [message_id] = announce(settings, make_runtime, kickoff)
    assert Queue.dequeue_any([queue], None, connection=connection) is not None  # then it died

    async def sweep() -> int:  # what the clock does every few seconds (here without its 60 s bound)
        async with make_runtime(
            settings.database_url, settings.event_path, FakeClock(kickoff), settings.redis_url
        ) as runtime:
            handed: int = await outbox.recover(runtime)
            handed += await outbox.recover(runtime)  # a second sweep finds the new job waiting
            return handed

    assert asyncio.run(sweep()) == 2
    assert queue.job_ids == [f"deliver-{message_id}-0"]  # the same attempt, once
    assert queue.intermediate_queue.get_job_ids() == []
    work_once(settings, queue, connection)
    assert texts(settings.database_url) == [TEXTS["de"]]
    assert outbox_state(settings.database_url)[0][:2] == ("delivered", 1)
