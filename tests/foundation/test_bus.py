"""The event bus: every subscriber hears every event once, in this process and through Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import Histogram
from redis.asyncio import Redis

from hackserver.foundation import metrics
from hackserver.foundation.bus import SUBSCRIBER_BACKLOG, DomainEvent, LocalBus, RedisBus
from hackserver.runtime import Runtime
from tests.fakes import FakeClock


class Boom(Exception):
    pass


@contextlib.asynccontextmanager
async def redis_bus(redis_url: str, channel: str) -> AsyncIterator[RedisBus]:
    """A RedisBus with a connection of its own, as another process would have."""
    client = Redis.from_url(redis_url)
    bus = RedisBus(client, channel)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.stop()
        await client.aclose()


async def until(events: asyncio.Queue[DomainEvent], kind: str) -> list[tuple[str, dict[str, Any]]]:
    """Everything a subscriber hears up to and including the first event of `kind`."""
    heard = []
    async with asyncio.timeout(5):
        while True:
            event = await events.get()
            heard.append((event.kind, event.data))
            if event.kind == kind:
                return heard


def pending(events: asyncio.Queue[DomainEvent]) -> list[str]:
    kinds = []
    while not events.empty():
        kinds.append(events.get_nowait().kind)
    return kinds


async def test_the_local_bus_gives_every_subscriber_every_event_in_order() -> None:
    bus = LocalBus()
    published = [DomainEvent("team.formed", {"team": 1}), DomainEvent("booking.made", {"slot": 2})]
    async with bus.subscribe() as first, bus.subscribe() as second:
        await bus.publish(published)
        assert [first.get_nowait(), first.get_nowait()] == published
        assert [second.get_nowait(), second.get_nowait()] == published
        assert first.empty() and second.empty()
    assert bus.subscribers == set()


async def test_a_full_subscriber_loses_events_instead_of_blocking_the_publisher() -> None:
    bus = LocalBus()
    published = [DomainEvent("tick", {"n": n}) for n in range(SUBSCRIBER_BACKLOG + 3)]
    async with bus.subscribe() as stalled, bus.subscribe() as reader:
        for event in published:
            await asyncio.wait_for(bus.publish([event]), timeout=1)
            reader.get_nowait()
        assert bus.dropped == 3
        assert stalled.qsize() == SUBSCRIBER_BACKLOG
        assert stalled.get_nowait() == published[0]  # the oldest events are kept
        assert reader.empty()


@pytest.mark.redis
async def test_an_event_published_on_one_redis_bus_reaches_the_other_once(redis_url: str) -> None:
    async with redis_bus(redis_url, "test:events") as a, redis_bus(redis_url, "test:events") as b:
        async with b.subscribe() as heard_by_b:
            await a.publish([DomainEvent("team.formed", {"team": 7})])
            await a.publish([DomainEvent("marker")])
            assert await until(heard_by_b, "marker") == [("team.formed", {"team": 7}), ("marker", {})]


@pytest.mark.redis
async def test_the_lag_of_each_message_received_over_redis_is_measured(redis_url: str) -> None:
    lag = metrics.BUS_LAG.labels("redis")
    before = sample(lag, "_count")
    async with redis_bus(redis_url, "test:events") as a, redis_bus(redis_url, "test:events") as b:
        async with b.subscribe() as heard_by_b:
            await a.publish([DomainEvent("team.formed"), DomainEvent("marker")])  # one message
            await until(heard_by_b, "marker")
    assert sample(lag, "_count") == before + 1  # b's, not a's own echo


def sample(histogram: Histogram, suffix: str) -> float:
    [value] = [s.value for m in histogram.collect() for s in m.samples if s.name.endswith(suffix)]
    return value


@pytest.mark.redis
async def test_a_redis_bus_does_not_hear_its_own_events_twice(redis_url: str) -> None:
    async with redis_bus(redis_url, "test:events") as a, redis_bus(redis_url, "test:events") as b:
        async with a.subscribe() as heard_by_a, b.subscribe() as heard_by_b:
            await a.publish([DomainEvent("team.formed", {"team": 7})])
            await until(heard_by_b, "team.formed")
            # B's marker reaches A through Redis after any echo of A's own event would have.
            await b.publish([DomainEvent("marker")])
            assert await until(heard_by_a, "marker") == [("team.formed", {"team": 7}), ("marker", {})]
            assert heard_by_a.empty()


@pytest.mark.redis
async def test_redis_buses_on_other_channels_hear_nothing(redis_url: str) -> None:
    async with (
        redis_bus(redis_url, "test:events") as a,
        redis_bus(redis_url, "other:events") as other,
        redis_bus(redis_url, "test:events") as b,
    ):
        async with other.subscribe() as heard_by_other, b.subscribe() as heard_by_b:
            await a.publish([DomainEvent("team.formed")])
            await until(heard_by_b, "team.formed")
            await other.publish([DomainEvent("marker")])
            assert await until(heard_by_other, "marker") == [("marker", {})]


@pytest.mark.redis
async def test_events_of_a_rolled_back_transaction_are_never_published(
    database_url: str,
    redis_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
) -> None:
    async with make_runtime(
        database_url, event_file(kickoff=kickoff), FakeClock(kickoff), redis_url
    ) as runtime:
        assert isinstance(runtime.bus, RedisBus)
        async with (
            redis_bus(redis_url, runtime.bus.channel) as elsewhere,
            elsewhere.subscribe() as heard_elsewhere,
            runtime.bus.subscribe() as heard_here,
        ):
            await fail_after_recording(runtime)
            async with runtime.transaction() as tx:
                tx.record("marker")
            assert [kind for kind, _ in await until(heard_elsewhere, "marker")] == ["marker"]
            assert pending(heard_here) == ["marker"]


async def fail_after_recording(runtime: Runtime) -> None:
    with pytest.raises(Boom):
        async with runtime.transaction() as tx:
            tx.record("team.formed", team=1)
            raise Boom


@pytest.mark.redis
async def test_runtimes_on_other_redis_databases_hear_nothing_of_each_other(
    sqlite_url: str,
    redis_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
) -> None:
    # Redis pub/sub ignores the database number; two deployments on one server must not mix events.
    database = int(redis_url.rsplit("/", 1)[1])
    neighbour_url = redis_url.rsplit("/", 1)[0] + f"/{database - 1 if database else 1}"
    event = event_file(kickoff=kickoff)
    async with (
        make_runtime(sqlite_url, event, FakeClock(kickoff), redis_url) as here,
        make_runtime(sqlite_url, event, FakeClock(kickoff), neighbour_url) as neighbour,
        here.bus.subscribe() as heard_here,
        neighbour.bus.subscribe() as heard_by_neighbour,
    ):
        async with neighbour.transaction() as tx:
            tx.record("team.formed", team=1)
        await until(heard_by_neighbour, "team.formed")
        async with here.transaction() as tx:
            tx.record("marker")
        assert await until(heard_here, "marker") == [("marker", {})]
