"""The transactional outbox: written with the change, delivered after commit, once, with retries."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hackserver.foundation import outbox
from hackserver.foundation.bus import DomainEvent
from hackserver.foundation.jobs import EmbeddedJobs
from hackserver.foundation.models import ChannelMessage, OutboxMessage
from hackserver.foundation.transaction import Transaction
from hackserver.runtime import Runtime
from tests import crash_after_commit, processes
from tests.conftest import PROJECT
from tests.dbstate import eventually, migrate, rows
from tests.fakes import FakeClock

TEXTS = {"de": "Hallo", "en": "Hello"}


class Boom(Exception):
    pass


class RecordingJobs:
    """Jobs that only note what they were asked to deliver, so the test drives each attempt."""

    def __init__(self) -> None:
        self.requests: list[tuple[list[int], float]] = []

    async def start(self, runtime: Runtime) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def deliver(self, message_ids: list[int], delay: float = 0, attempt: int = 0) -> None:
        self.requests.append((list(message_ids), delay))


class FlakyPlatform:
    """A platform that fails its first `failures` deliveries, then accepts every one."""

    def __init__(self, failures: int, retry_after: float | None = None) -> None:
        self.failures = failures
        self.retry_after = retry_after
        self.calls = 0
        self.sent: list[str] = []

    async def deliver(self, tx: Transaction, message: OutboxMessage) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise outbox.DeliveryFailed(f"503 on call {self.calls}", retry_after=self.retry_after)
        self.sent.append(message.key)


class SlowPlatform:
    """Accepts every delivery after a pause, long enough for a competing delivery to overlap."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def deliver(self, tx: Transaction, message: OutboxMessage) -> None:
        await asyncio.sleep(0.2)
        self.sent.append(message.key)


@pytest.fixture
def runtime(runtime_at: tuple[Runtime, FakeClock]) -> Runtime:
    return runtime_at[0]


@pytest.fixture
def jobs(runtime: Runtime) -> RecordingJobs:
    recording = RecordingJobs()
    runtime.jobs = recording
    return recording


async def write(runtime: Runtime, platform: str, key: str = "test-message") -> int:
    async with runtime.transaction() as tx:
        await outbox.add(tx, key, platform, "general", {"author": "test", "texts": TEXTS})
    [message_id] = tx.outbox_ids
    return message_id


async def row(runtime: Runtime, message_id: int) -> OutboxMessage:
    async with runtime.sessions() as session:
        message = await session.get(OutboxMessage, message_id)
    assert message is not None
    return message


async def channel_message_count(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        return await session.scalar(select(func.count()).select_from(ChannelMessage)) or 0


async def outbox_count(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        return await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def drain(events: asyncio.Queue[DomainEvent]) -> list[DomainEvent]:
    seen = []
    while not events.empty():
        seen.append(events.get_nowait())
    return seen


async def test_a_message_written_in_a_rolled_back_transaction_is_never_sent(
    runtime: Runtime, jobs: RecordingJobs
) -> None:
    with pytest.raises(Boom):
        async with runtime.transaction() as tx:
            await outbox.announce(tx, "rolled-back", "announcements", TEXTS)
            await outbox.add(tx, "rolled-back-direct", "builtin", "announcements", {"texts": TEXTS})
            assert len(tx.outbox) == 2  # written, then the command fails
            raise Boom
    assert await outbox_count(runtime) == 0
    assert await channel_message_count(runtime) == 0
    assert jobs.requests == []


async def test_a_rolled_back_message_never_reaches_the_embedded_delivery_tasks(
    runtime: Runtime,
) -> None:
    with pytest.raises(Boom):
        async with runtime.transaction() as tx:
            await outbox.announce(tx, "rolled-back", "announcements", TEXTS)
            raise Boom
    await runtime.jobs.idle()  # type: ignore[attr-defined]
    assert runtime.jobs.queue.empty()  # type: ignore[attr-defined]
    assert await channel_message_count(runtime) == 0


async def test_a_committed_announcement_is_delivered_by_the_embedded_jobs(runtime: Runtime) -> None:
    async with runtime.transaction() as tx:
        await outbox.announce(tx, "hello", "announcements", TEXTS)
    await runtime.jobs.idle()  # type: ignore[attr-defined]
    message = await row(runtime, tx.outbox_ids[0])
    assert (message.status, message.key) == ("delivered", "hello:builtin:announcements")
    async with runtime.sessions() as session:
        texts = (await session.scalars(select(ChannelMessage.text))).all()
    assert texts == ["Hallo"]


async def test_delivering_a_message_twice_posts_it_once(runtime: Runtime, jobs: RecordingJobs) -> None:
    message_id = await write(runtime, "builtin")
    before = datetime.now(UTC)
    await outbox.deliver(runtime, message_id)
    await outbox.deliver(runtime, message_id)
    assert await channel_message_count(runtime) == 1
    message = await row(runtime, message_id)
    assert (message.status, message.attempts) == ("delivered", 1)
    assert message.delivered_at is not None and message.delivered_at >= before


async def test_two_concurrent_deliveries_of_one_message_send_it_once(
    runtime: Runtime, jobs: RecordingJobs
) -> None:
    platform = SlowPlatform()
    runtime.deliverers["slow"] = platform
    message_id = await write(runtime, "slow")
    await asyncio.gather(outbox.deliver(runtime, message_id), outbox.deliver(runtime, message_id))
    assert platform.sent == ["test-message"]
    assert (await row(runtime, message_id)).attempts == 1


async def test_a_failing_delivery_backs_off_exponentially_until_it_succeeds(
    runtime: Runtime, jobs: RecordingJobs
) -> None:
    platform = FlakyPlatform(failures=3)
    runtime.deliverers["flaky"] = platform
    message_id = await write(runtime, "flaky")
    waits = []
    for _ in range(3):
        before = datetime.now(UTC)
        await outbox.deliver(runtime, message_id)
        message = await row(runtime, message_id)
        assert message.status == "pending"
        waits.append((message.next_attempt_at - before).total_seconds())
    assert [delay for _, delay in jobs.requests[1:]] == [2.0, 4.0, 8.0]
    assert [round(w) for w in waits] == [2, 4, 8]
    await outbox.deliver(runtime, message_id)
    message = await row(runtime, message_id)
    assert (message.status, message.attempts, message.last_error) == ("delivered", 4, "503 on call 3")
    assert platform.sent == ["test-message"]


async def test_a_platform_retry_after_sets_the_next_attempt(runtime: Runtime, jobs: RecordingJobs) -> None:
    runtime.deliverers["flaky"] = FlakyPlatform(failures=1, retry_after=30)
    message_id = await write(runtime, "flaky")
    before = datetime.now(UTC)
    await outbox.deliver(runtime, message_id)
    after = datetime.now(UTC)
    message = await row(runtime, message_id)
    assert before + timedelta(seconds=30) <= message.next_attempt_at <= after + timedelta(seconds=30)
    assert jobs.requests[-1] == ([message_id], 30)


async def test_the_embedded_jobs_retry_a_failing_delivery_until_it_is_delivered(runtime: Runtime) -> None:
    platform = FlakyPlatform(failures=2, retry_after=0.05)
    runtime.deliverers["flaky"] = platform
    message_id = await write(runtime, "flaky")

    async def settled() -> bool:
        return (await row(runtime, message_id)).status != "pending"

    await eventually(settled, within=5)
    message = await row(runtime, message_id)
    assert (message.status, message.attempts) == ("delivered", 3)
    assert platform.sent == ["test-message"]


async def test_a_message_failing_max_attempts_times_is_dead_and_reported(
    runtime: Runtime, jobs: RecordingJobs
) -> None:
    platform = FlakyPlatform(failures=outbox.MAX_ATTEMPTS + 5)
    runtime.deliverers["flaky"] = platform
    message_id = await write(runtime, "flaky")
    async with runtime.bus.subscribe() as events:
        for _ in range(outbox.MAX_ATTEMPTS + 2):  # the attempts after the last do nothing
            await outbox.deliver(runtime, message_id)
        kinds = [event.kind for event in drain(events)]
    message = await row(runtime, message_id)
    assert (message.status, message.attempts) == ("dead", outbox.MAX_ATTEMPTS)
    assert platform.calls == outbox.MAX_ATTEMPTS
    assert kinds == ["outbox.retry"] * (outbox.MAX_ATTEMPTS - 1) + ["outbox.dead"]
    assert len(jobs.requests) == outbox.MAX_ATTEMPTS  # the first delivery and one per retry


async def test_the_dead_letter_event_names_the_message_and_its_error(
    runtime: Runtime, jobs: RecordingJobs
) -> None:
    runtime.deliverers["flaky"] = FlakyPlatform(failures=outbox.MAX_ATTEMPTS)
    message_id = await write(runtime, "flaky")
    async with runtime.bus.subscribe() as events:
        for _ in range(outbox.MAX_ATTEMPTS):
            await outbox.deliver(runtime, message_id)
        dead = [event for event in drain(events) if event.kind == "outbox.dead"]
    assert [event.data for event in dead] == [
        {"id": message_id, "platform": "flaky", "error": f"503 on call {outbox.MAX_ATTEMPTS}"}
    ]


async def test_a_message_for_an_unknown_platform_is_dead_at_once(
    runtime: Runtime, jobs: RecordingJobs
) -> None:
    message_id = await write(runtime, "carrier-pigeon")
    async with runtime.bus.subscribe() as events:
        await outbox.deliver(runtime, message_id)
        kinds = [event.kind for event in drain(events)]
    message = await row(runtime, message_id)
    assert (message.status, message.attempts) == ("dead", 1)
    assert "carrier-pigeon" in (message.last_error or "")
    assert kinds == ["outbox.dead"]
    assert len(jobs.requests) == 1  # the first delivery only: no retry is scheduled


async def test_a_message_committed_by_a_process_killed_before_delivery_is_delivered_after_restart(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, make_runtime: Callable[..., Any]
) -> None:
    path = event_file(kickoff=kickoff)
    if not database_url.startswith("sqlite"):
        await migrate(database_url)  # `hackserver db upgrade`, which a deployment runs first
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.crash_after_commit",
        database_url,
        str(path),
        "crash",
        cwd=PROJECT,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        processes.end_group(process.pid)
    assert process.returncode == -signal.SIGKILL, stderr.decode()
    stranded = await rows(database_url, select(OutboxMessage.key, OutboxMessage.status))
    assert [tuple(r) for r in stranded] == [("crash:builtin:announcements", "pending")]
    assert await rows(database_url, select(ChannelMessage.id)) == []

    async with make_runtime(database_url, path, FakeClock(kickoff)) as runtime:
        await runtime.jobs.idle()
        async with runtime.sessions() as session:
            texts = (await session.scalars(select(ChannelMessage.text))).all()
            statuses = (await session.scalars(select(OutboxMessage.status))).all()
    assert texts == [crash_after_commit.TEXTS["de"]]
    assert statuses == ["delivered"]


class RecordingSender:
    """An external platform: records what it was sent; fails its first `failures` sends."""

    def __init__(self, failures: int = 0, surprise: bool = False) -> None:
        self.failures, self.surprise = failures, surprise
        self.sent: list[outbox.Outgoing] = []
        self.calls = 0

    async def aclose(self) -> None:
        pass

    async def send(self, message: outbox.Outgoing) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            if self.surprise:
                raise Boom("connection reset")
            raise outbox.DeliveryFailed("429", retry_after=1.5)
        self.sent.append(message)


async def test_an_external_platform_is_sent_to_outside_the_transaction(
    runtime: Runtime, jobs: RecordingJobs
) -> None:
    sender = RecordingSender()
    runtime.senders["chat"] = sender
    message_id = await write(runtime, "chat")
    await outbox.deliver(runtime, message_id)
    await outbox.deliver(runtime, message_id)
    assert [m.key for m in sender.sent] == ["test-message"]
    assert sender.sent[0].payload["texts"] == TEXTS
    delivered = await row(runtime, message_id)
    assert (delivered.status, delivered.attempts) == ("delivered", 1)


async def test_a_platform_429_or_surprise_is_retried_not_lost(runtime: Runtime, jobs: RecordingJobs) -> None:
    limited, broken = RecordingSender(failures=1), RecordingSender(failures=1, surprise=True)
    runtime.senders.update({"limited": limited, "broken": broken})
    first, second = await write(runtime, "limited", "a"), await write(runtime, "broken", "b")
    await outbox.deliver(runtime, first)
    await outbox.deliver(runtime, second)
    assert [(await row(runtime, i)).status for i in (first, second)] == ["pending", "pending"]
    assert "Boom: connection reset" in ((await row(runtime, second)).last_error or "")
    assert ([first], 1.5) in jobs.requests  # the platform's Retry-After
    await outbox.deliver(runtime, first)
    await outbox.deliver(runtime, second)
    assert len(limited.sent) == len(broken.sent) == 1


async def test_a_send_lost_with_its_process_is_sent_again_when_its_lease_runs_out(
    runtime: Runtime, jobs: RecordingJobs
) -> None:
    sender = RecordingSender()
    runtime.senders["chat"] = sender
    message_id = await write(runtime, "chat")
    # A process claimed the row and died before it could send or mark it.
    async with runtime.transaction() as tx:
        claimed = await tx.session.get(OutboxMessage, message_id)
        assert claimed is not None
        claimed.status, claimed.next_attempt_at = "sending", datetime.now(UTC) + timedelta(seconds=60)
    await outbox.deliver(runtime, message_id)
    assert sender.sent == []  # still leased to the dead process
    assert await outbox.recover(runtime) == 0
    async with runtime.transaction() as tx:
        claimed = await tx.session.get(OutboxMessage, message_id)
        assert claimed is not None
        claimed.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)  # the lease ran out
    assert await outbox.recover(runtime) == 1
    await outbox.deliver(runtime, message_id)
    assert len(sender.sent) == 1 and (await row(runtime, message_id)).status == "delivered"


async def test_a_row_another_worker_claimed_meanwhile_is_left_to_it(
    runtime: Runtime, jobs: RecordingJobs
) -> None:
    sender = RecordingSender()
    runtime.senders["chat"] = sender
    message_id = await write(runtime, "chat")
    async with runtime.transaction() as tx:  # the other worker's claim, not yet committed
        claimed = await tx.session.get(OutboxMessage, message_id)
        assert claimed is not None
        claimed.status, claimed.next_attempt_at = "sending", datetime.now(UTC) + timedelta(seconds=60)
        await tx.session.flush()
        competing = asyncio.create_task(outbox.deliver(runtime, message_id))
        await asyncio.sleep(0.2)  # lets it reach the row (PostgreSQL) or the writer's lock (SQLite)
    await competing
    assert sender.sent == []
    assert (await row(runtime, message_id)).status == "sending"


async def test_a_batch_of_sends_is_one_delivered_event_naming_its_rows(
    runtime: Runtime, jobs: RecordingJobs
) -> None:
    runtime.senders["chat"] = RecordingSender()
    message_ids = [await write(runtime, "chat", f"m{n}") for n in range(3)]
    async with runtime.bus.subscribe() as events:
        await outbox.deliver_many(runtime, message_ids)
        await outbox.deliver_many(runtime, message_ids)  # delivered already: no event
        heard = [(event.kind, event.data) for event in drain(events)]
    assert heard == [("outbox.delivered", {"platform": "chat", "ids": message_ids})]


async def test_a_full_batch_is_taken_at_once_while_the_writer_is_busy(
    sqlite_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "hackserver.foundation.jobs.GATHER", 3600.0
    )  # a batch that stopped to gather would not come back
    runner = EmbeddedJobs(workers=0, batch=3)
    async with make_runtime(sqlite_url, event_file(kickoff=kickoff), FakeClock(kickoff)) as runtime:
        runner.delivery = runtime
        runner.put([1, 2, 3, 4])
        assert runtime.write_lock is not None
        async with runtime.write_lock, asyncio.timeout(30):  # the guard against a hang, not a speed
            assert await runner.take() == [1, 2, 3]
