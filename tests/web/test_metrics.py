"""/metrics over real HTTP after real work: signed Slack commands, deliveries to a fake Slack that
answers 429, the clock firing late; the outbox gauges as the database holds them at each scrape."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from hackserver.app import create_app
from hackserver.clock import SprintClock
from hackserver.foundation import db, metrics
from hackserver.foundation.models import OutboxMessage
from hackserver.foundation.settings import Settings
from hackserver.web.dashboard_hub import Hub
from tests.bots.test_slack import SECRET, TOKEN, api_url, command_body, port, signed
from tests.dbstate import migrate, queue_messages, settled_outbox
from tests.fake_slack import FakeSlack
from tests.fakes import FakeClock
from tests.servers import runtime_of, serving

POLL = 0.02


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value in a Prometheus text exposition; 0 when it is absent."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return 0.0


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN)
    async with serving(fake.app, port()) as server:
        fake.url = f"http://127.0.0.1:{server.config.port}"
        yield fake


@pytest.fixture
def clock(kickoff: datetime) -> FakeClock:
    return FakeClock(kickoff + timedelta(minutes=20))


@pytest.fixture
async def server(
    database_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    fake_slack: FakeSlack,
    clock: FakeClock,
) -> AsyncIterator[uvicorn.Server]:
    settings = Settings(
        database_url=database_url,
        event_path=event_file(kickoff=kickoff),
        slack_signing_secret=SECRET,
        slack_bot_token=TOKEN,
        slack_api_url=api_url(fake_slack),
    )
    if not settings.is_sqlite:
        await migrate(database_url)
    async with serving(create_app(settings, clock=clock, run_clock=False), port()) as server:
        yield server


@pytest.fixture
async def client(server: uvicorn.Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10) as client:
        yield client


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


async def test_commands_are_counted_by_platform_sub_command_and_outcome(client: httpx.AsyncClient) -> None:
    def count(text: str, command: str, outcome: str) -> float:
        labels = {"platform": "slack", "command": command, "outcome": outcome}
        return sample(text, "hackserver_command_seconds_count", **labels)

    before = await scrape(client)
    for n, text in enumerate(["help", "team join ZZZZZZ", "frobnicate the widgets"]):
        body = command_body(text, trigger=f"metrics.{n}")
        answer = await client.post(
            "/slack/commands",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body)},
        )
        assert answer.status_code == 200
    after = await scrape(client)
    assert count(after, "help", "ok") == count(before, "help", "ok") + 1
    assert count(after, "team join", "refused") == count(before, "team join", "refused") + 1
    assert count(after, "unknown", "refused") == count(before, "unknown", "refused") + 1
    assert "frobnicate" not in after  # what was typed is never a label


async def test_a_delivery_told_to_wait_counts_the_429_its_wait_the_retry_and_the_delivery(
    server: uvicorn.Server, client: httpx.AsyncClient, fake_slack: FakeSlack
) -> None:
    names = (
        ("hackserver_rate_limited_total", {"platform": "slack"}),
        ("hackserver_rate_limit_wait_seconds_total", {"platform": "slack"}),
        ("hackserver_deliveries_total", {"platform": "slack", "outcome": "retry"}),
        ("hackserver_deliveries_total", {"platform": "slack", "outcome": "delivered"}),
        ("hackserver_delivery_seconds_count", {"platform": "slack"}),
    )
    before = await scrape(client)
    fake_slack.rate_limit_next("C1", 1, retry_after=1)
    runtime = runtime_of(server)
    await queue_messages(runtime, "slack", ["C1"])
    [row] = await settled_outbox(runtime)
    assert row.status == "delivered"
    after = await scrape(client)
    moved = [sample(after, name, **labels) - sample(before, name, **labels) for name, labels in names]
    assert moved == [1, 1, 1, 1, 1]
    assert sample(after, "hackserver_outbox_messages", status="delivered") == 1
    assert sample(after, "hackserver_outbox_oldest_pending_seconds") == 0


async def test_the_outbox_gauges_are_the_databases_counts_at_each_scrape(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    runtime = runtime_of(server)
    async with runtime.transaction() as tx:  # claimed by a sender, as a worker leaves it mid-send
        tx.session.add(OutboxMessage(key="k1", platform="slack", channel="C1", payload={}, status="sending"))
    sending = await scrape(client)
    assert sample(sending, "hackserver_outbox_messages", status="sending") == 1
    async with runtime.transaction() as tx:
        await tx.session.execute(update(OutboxMessage).values(status="delivered"))
    delivered = await scrape(client)
    assert sample(delivered, "hackserver_outbox_messages", status="sending") == 0
    assert sample(delivered, "hackserver_outbox_messages", status="delivered") == 1


async def test_the_age_of_the_oldest_undelivered_row_is_shown(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    runtime = runtime_of(server)
    assert sample(await scrape(client), "hackserver_outbox_oldest_pending_seconds") == 0
    created = datetime.now(UTC) - timedelta(minutes=5)
    async with runtime.transaction() as tx:  # queued, not handed to a job: it stays pending
        tx.session.add(
            OutboxMessage(key="k1", platform="slack", channel="C1", payload={}, created_at=created)
        )
    assert sample(await scrape(client), "hackserver_outbox_oldest_pending_seconds") >= 300


async def test_the_clock_reports_how_late_it_fired_each_item(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    def fired(text: str) -> float:
        return sample(text, "hackserver_clock_lag_seconds_count", status="fired") + sample(
            text, "hackserver_clock_lag_seconds_count", status="skipped"
        )

    before = await scrape(client)
    clock = SprintClock(runtime_of(server))
    await clock.fire_due()  # 20 minutes after kickoff: registration and kickoff are late
    after = await scrape(client)
    assert clock.fired and fired(after) - fired(before) == len(clock.fired)
    late = sample(after, "hackserver_clock_lag_seconds_sum", status="fired") - sample(
        before, "hackserver_clock_lag_seconds_sum", status="fired"
    )
    assert late >= 20 * 60


def test_dashboard_viewers_are_counted_as_they_join_and_leave() -> None:
    viewers = metrics.VIEWERS.labels("dashboard")
    hub, before = Hub(), viewers._value.get()
    viewer = hub.join()
    assert viewers._value.get() == before + 1
    hub.leave(viewer)
    hub.leave(viewer)  # a second leave changes nothing
    assert viewers._value.get() == before


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_pool_counts_connections_in_use_and_requests_waiting_for_one(database_url: str) -> None:
    engine = db.create_engine(database_url, pool_size=1)
    metrics.watch_pool(engine)
    in_use, waiting = (metrics.DB_CONNECTIONS.labels(state) for state in ("in_use", "waiting"))
    try:
        start = in_use._value.get(), waiting._value.get()
        async with engine.connect():
            assert (in_use._value.get(), waiting._value.get()) == (start[0] + 1, start[1])
            second = asyncio.create_task(engine.connect().start())
            while waiting._value.get() == start[1]:  # noqa: ASYNC110 -- the pool counts it, in another task
                await asyncio.sleep(POLL)
            assert waiting._value.get() == start[1] + 1
        await (await second).close()
        assert (in_use._value.get(), waiting._value.get()) == start
    finally:
        await engine.dispose()


async def test_a_dead_letter_is_counted(
    server: uvicorn.Server, client: httpx.AsyncClient, fake_slack: FakeSlack
) -> None:
    dead = {"platform": "slack", "outcome": "dead"}
    before = await scrape(client)
    fake_slack.refuse("CGONE", "channel_not_found")
    await queue_messages(runtime_of(server), "slack", ["CGONE"])
    [row] = await settled_outbox(runtime_of(server))
    assert row.status == "dead"
    after = await scrape(client)
    assert (
        sample(after, "hackserver_deliveries_total", **dead)
        == sample(before, "hackserver_deliveries_total", **dead) + 1
    )
    assert sample(after, "hackserver_outbox_messages", status="dead") == 1
