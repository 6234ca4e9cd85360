"""Drill: an RQ worker dies by SIGKILL in the middle of a burst of deliveries to 150 Slack channels.
A new worker takes over: the queued jobs it simply runs, and the row the dead one was sending it
hands over again at start (the lease would hold it for two minutes). Every message arrives once, none
is left in the outbox: the one in flight when the worker died, which Slack may have taken before the
worker could mark it, is looked for in its channel's history before it is posted again. The killed
worker's scheduler ends with it, and the next worker runs delayed jobs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from redis import Redis
from rq import Queue
from rq.job import JobStatus
from rq.registry import StartedJobRegistry
from rq.scheduler import RQScheduler
from sqlalchemy import func, select, update

from bots.slack_delivery import marker
from hackserver.foundation import jobs, outbox
from hackserver.foundation.models import OutboxMessage
from tests import processes
from tests.bots.test_slack import TOKEN
from tests.dbstate import eventually, queue_messages, rows
from tests.fake_slack import FakeSlack
from tests.fakes import FakeClock
from tests.servers import RedisServer, serving

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
HACKSERVER = Path(sys.executable).parent / "hackserver"
CHANNELS = [f"C{n:04}" for n in range(150)]


@pytest.fixture
async def fake_slack(free_port: int) -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, delay=0.02)  # slowed a little, so that the kill lands mid-burst
    async with serving(fake.app, free_port) as server:
        fake.url = f"http://127.0.0.1:{server.config.port}"
        yield fake


async def start_worker(env: dict[str, str], output: IO[bytes]) -> asyncio.subprocess.Process:
    """`hackserver worker` in a process group of its own, which `stop_worker` ends whole."""
    return await asyncio.create_subprocess_exec(
        str(HACKSERVER), "worker", env=env, stdout=output, stderr=output, start_new_session=True
    )


async def stop_worker(worker: asyncio.subprocess.Process) -> None:
    """RQ's warm shutdown (SIGTERM); then whatever is left of its group (its scheduler) is killed."""
    if worker.returncode is None:
        worker.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.wait(), timeout=20)
    processes.end_group(worker.pid)
    await worker.wait()


async def kill_worker(worker: asyncio.subprocess.Process) -> None:
    """SIGKILL to the worker and its scheduler at once, as when its container is killed."""
    processes.end_group(worker.pid)
    await worker.wait()


def worker_env(
    database_url: str, redis_url: str, event_path: Path, slack_url: str | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HACKSERVER_", "SLACK_"))}
    env |= {
        "HACKSERVER_DATABASE_URL": database_url,
        "HACKSERVER_REDIS_URL": redis_url,
        "HACKSERVER_EVENT": str(event_path),
    }
    return env | ({"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": f"{slack_url}/api/"} if slack_url else {})


async def undelivered(database_url: str) -> list[Any]:
    statement = (
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.status != "delivered")
        .group_by(OutboxMessage.status)
    )
    return await rows(database_url, statement)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_worker_killed_mid_burst_loses_no_message_and_doubles_none(
    database_url: str,
    redis_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    fake_slack: FakeSlack,
    tmp_path: Path,
) -> None:
    event_path = event_file(kickoff=kickoff)
    async with make_runtime(database_url, event_path, FakeClock(kickoff), redis_url) as runtime:
        await queue_messages(runtime, "slack", CHANNELS)  # one RQ job a row, queued in Redis
    env = worker_env(database_url, redis_url, event_path, fake_slack.url)
    log = tmp_path / "worker.log"
    connection = Redis.from_url(redis_url)
    with log.open("ab") as output:
        first = await start_worker(env, output)
        try:
            await eventually(lambda: asyncio.sleep(0, len(fake_slack.posts) >= 30 or first.returncode), 30)
            first.kill()  # SIGKILL: no warm shutdown, its job stays "started" in Redis
            assert await first.wait() == -signal.SIGKILL, log.read_text()
        finally:
            await stop_worker(first)
        sent_before = len(fake_slack.posts)
        assert sent_before < len(CHANNELS)
        started = StartedJobRegistry(jobs.queue_name("slack"), connection=connection)
        in_flight = len(started.get_job_ids(cleanup=False))
        assert in_flight <= 1  # the job it died in, unless the kill fell between two jobs

        second = await start_worker(env, output)
        try:

            async def all_delivered() -> bool:
                assert second.returncode is None, log.read_text()
                return not await undelivered(database_url)

            try:
                await eventually(all_delivered, within=45, interval=0.2)
            except TimeoutError:
                raise AssertionError(
                    f"{await undelivered(database_url)} undelivered\n{log.read_text()}"
                ) from None
        finally:
            await stop_worker(second)

    per_channel = Counter(post.channel for post in fake_slack.posts)
    assert set(per_channel) == set(CHANNELS), log.read_text()  # every message arrived
    assert [channel for channel, n in per_channel.items() if n > 1] == []
    assert Queue(jobs.queue_name("slack"), connection=connection).count == 0
    assert started.get_job_ids(cleanup=False) == []
    connection.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_worker_killed_while_slack_holds_its_post_does_not_post_it_again(
    database_url: str,
    redis_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    free_port: int,
    tmp_path: Path,
) -> None:
    fake = FakeSlack(token=TOKEN, answer_delay=3.0)  # the post lands; its answer comes 3 s later
    event_path = event_file(kickoff=kickoff)
    async with serving(fake.app, free_port) as server:
        fake.url = f"http://127.0.0.1:{server.config.port}"
        async with make_runtime(database_url, event_path, FakeClock(kickoff), redis_url) as runtime:
            await queue_messages(runtime, "slack", ["C0001"])
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HACKSERVER_", "SLACK_"))}
        env |= {
            "HACKSERVER_DATABASE_URL": database_url,
            "HACKSERVER_REDIS_URL": redis_url,
            "HACKSERVER_EVENT": str(event_path),
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_API_URL": f"{fake.url}/api/",
        }
        log = tmp_path / "worker.log"
        with log.open("ab") as output:
            first = await start_worker(env, output)
            try:
                await eventually(lambda: asyncio.sleep(0, bool(fake.posts) or first.returncode), 30)
                first.kill()  # while it waits for Slack's answer
                assert await first.wait() == -signal.SIGKILL, log.read_text()
            finally:
                if first.returncode is None:
                    first.kill()
            # The next worker hands the dead one's row over at start, without waiting out the lease.
            second = await start_worker(env, output)
            try:

                async def delivered() -> bool:
                    assert second.returncode is None, log.read_text()
                    return not await undelivered(database_url)

                await eventually(delivered, within=45, interval=0.2)
            finally:
                second.send_signal(signal.SIGTERM)
                await second.wait()
    [post] = fake.posts
    [message_id] = await rows(database_url, select(OutboxMessage.id))
    assert post.metadata == marker(message_id[0])
    assert [call.method for call in fake.calls] == ["conversations.history"], log.read_text()


def alive(pid: int) -> bool:
    """Running, not merely waiting to be reaped (an orphan's zombie may linger in a container)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # it ended while being read
        if parent == pid:
            found.add(int(stat.parent.name))
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; the parent-death signal is Linux's")
async def test_a_worker_killed_by_sigkill_takes_its_scheduler_with_it_and_the_next_one_schedules(
    sqlite_url: str, redis_url: str, event_file: Callable[..., Path], kickoff: datetime, tmp_path: Path
) -> None:
    env = worker_env(sqlite_url, redis_url, event_file(kickoff=kickoff))
    connection = Redis.from_url(redis_url)
    log = tmp_path / "worker.log"
    scheduler: set[int] = set()
    with log.open("ab") as output:
        first = await start_worker(env, output)
        try:

            async def scheduler_started() -> bool:
                assert first.returncode is None, log.read_text()
                scheduler.update(children_of(first.pid))
                return bool(scheduler)

            await eventually(scheduler_started, within=30)
            first.kill()
            await first.wait()
            await eventually(lambda: asyncio.sleep(0, not any(alive(pid) for pid in scheduler)), 15, 0.1)
        finally:
            await stop_worker(first)
            for pid in scheduler:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)

        # A scheduler killed with its whole container keeps its lock until the lock runs out: the
        # next worker cannot take it at start, and takes it at a later round.
        connection.set(RQScheduler.get_locking_key(jobs.queue_name("builtin")), "gone", ex=5)
        second = await start_worker(env, output)
        try:
            probe = Queue(jobs.queue_name("builtin"), connection=connection).enqueue_in(
                timedelta(seconds=1), jobs.DELIVER_JOB, 0, job_id="probe"
            )

            async def probe_ran() -> bool:
                assert second.returncode is None, log.read_text()
                return probe.get_status(refresh=True) == JobStatus.FINISHED

            try:
                await eventually(probe_ran, within=45, interval=0.2)
            except TimeoutError:
                raise AssertionError(f"the delayed job did not run\n{log.read_text()}") from None
        finally:
            await stop_worker(second)
    connection.close()


OUTAGE = 10.0  # seconds Redis is away


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
async def test_a_worker_rides_out_a_redis_outage_in_the_middle_of_a_job_and_delivers_every_row_once(
    database_url: str,
    private_redis: RedisServer,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    tmp_path: Path,
    free_port: int,
) -> None:
    slow = FakeSlack(token=TOKEN, delay=1.0)  # each post takes a second: Redis drops during one
    channels = CHANNELS[:12]
    event_path = event_file(kickoff=kickoff)
    log = tmp_path / "worker.log"
    async with (
        serving(slow.app, free_port),
        make_runtime(database_url, event_path, FakeClock(kickoff), private_redis.url) as runtime,
    ):
        await queue_messages(runtime, "slack", channels)
        env = worker_env(database_url, private_redis.url, event_path, f"http://127.0.0.1:{free_port}")
        with log.open("ab") as output:
            worker = await start_worker(env, output)
            try:
                await eventually(lambda: asyncio.sleep(0, len(slow.posts) >= 3 or worker.returncode), 30)
                scheduler = children_of(worker.pid)
                assert len(scheduler) == 1, log.read_text()
                private_redis.kill()  # in the middle of a post: its job ends while Redis is away
                await asyncio.sleep(OUTAGE)
                private_redis.start()  # empty: the queued jobs are gone, their rows wait in the outbox
                assert worker.returncode is None, log.read_text()

                await outbox.recover(runtime)  # what the clock's sweep runs

                async def all_delivered() -> bool:
                    assert worker.returncode is None, log.read_text()
                    return not await undelivered(database_url)

                await eventually(all_delivered, within=60, interval=0.2)
                # The scheduler rode it out too: a delayed retry runs on time, not after a
                # maintenance round has started a new scheduler.
                assert children_of(worker.pid) == scheduler and all(alive(pid) for pid in scheduler)
                connection = Redis.from_url(private_redis.url)
                probe = Queue(jobs.queue_name("builtin"), connection=connection).enqueue_in(
                    timedelta(seconds=2), jobs.DELIVER_JOB, 0, job_id="probe"
                )

                async def probe_ran() -> bool:
                    return probe.get_status(refresh=True) == JobStatus.FINISHED

                await eventually(probe_ran, within=2 + 5, interval=0.2)
                connection.close()
            finally:
                await stop_worker(worker)
    per_channel = Counter(post.channel for post in slow.posts)
    assert per_channel == Counter(dict.fromkeys(channels, 1)), log.read_text()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_row_a_killed_worker_was_sending_goes_out_within_a_minute_of_its_lease_to_a_later_worker(
    database_url: str,
    redis_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    tmp_path: Path,
    free_port: int,
) -> None:
    slow = FakeSlack(token=TOKEN, delay=0.5)  # the kill lands in the middle of a post
    event_path = event_file(kickoff=kickoff)
    channels = CHANNELS[:20]
    env = worker_env(database_url, redis_url, event_path, f"http://127.0.0.1:{free_port}")
    log = tmp_path / "worker.log"
    async with (
        serving(slow.app, free_port),
        make_runtime(database_url, event_path, FakeClock(kickoff), redis_url) as runtime,
    ):
        await queue_messages(runtime, "slack", channels)
        with log.open("ab") as output:
            first = await start_worker(env, output)
            try:

                async def sending() -> bool:
                    assert first.returncode is None, log.read_text()
                    return bool(
                        await rows(
                            database_url, select(OutboxMessage.id).where(OutboxMessage.status == "sending")
                        )
                    )

                await eventually(sending, within=30, interval=0.01)
            finally:
                await kill_worker(first)  # and it is not started again
            [(lapsed, lapsed_channel)] = await rows(
                database_url,
                select(OutboxMessage.id, OutboxMessage.channel).where(OutboxMessage.status == "sending"),
            )
            # Its lease runs out (two minutes, here at once); the clock's sweep hands it over.
            async with runtime.transaction() as tx:
                await tx.session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == lapsed)
                    .values(next_attempt_at=datetime.now(UTC))
                )
            await outbox.recover(runtime)  # what the clock's sweep runs

            second = await start_worker(env, output)  # started later, by hand
            try:

                async def all_delivered() -> bool:
                    assert second.returncode is None, log.read_text()
                    return not await undelivered(database_url)

                await eventually(all_delivered, within=60, interval=0.2)
            finally:
                await stop_worker(second)
    per_channel = Counter(post.channel for post in slow.posts)
    assert set(per_channel) == set(channels), log.read_text()
    # Only the lapsed one may have reached Slack twice (the worker died before it could mark it).
    assert all(n == 1 for channel, n in per_channel.items() if channel != lapsed_channel), per_channel


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_built_in_deliveries_queued_behind_hundreds_of_slow_slack_posts_go_out_first(
    database_url: str,
    redis_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    tmp_path: Path,
    free_port: int,
) -> None:
    slow = FakeSlack(token=TOKEN, delay=3.0)  # Slack having a bad day: each post takes 3 s
    event_path = event_file(kickoff=kickoff)
    log = tmp_path / "worker.log"
    async with (
        serving(slow.app, free_port),
        make_runtime(database_url, event_path, FakeClock(kickoff), redis_url) as runtime,
    ):
        await queue_messages(runtime, "slack", [f"C{n:04}" for n in range(300)])  # first: 15 minutes of posts
        await queue_messages(runtime, "builtin", ["announcements"] * 100)
        env = worker_env(database_url, redis_url, event_path, f"http://127.0.0.1:{free_port}")
        with log.open("ab") as output:
            worker = await start_worker(env, output)
            try:

                async def built_in_delivered() -> bool:
                    assert worker.returncode is None, log.read_text()
                    left = select(func.count()).where(
                        OutboxMessage.platform == "builtin", OutboxMessage.status != "delivered"
                    )
                    return (await rows(database_url, left))[0][0] == 0

                await eventually(built_in_delivered, within=120, interval=0.5)
                waiting = select(func.count()).where(
                    OutboxMessage.platform == "slack", OutboxMessage.status != "delivered"
                )
                assert (await rows(database_url, waiting))[0][
                    0
                ] > 0  # the built-in rows did not wait for them
            finally:
                await stop_worker(worker)
