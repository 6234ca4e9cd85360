"""The event bus: domain events reach every listener in this process, and through Redis pub/sub
every other web, worker and clock process too."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hackserver.foundation import metrics

log = logging.getLogger(__name__)
SUBSCRIBER_BACKLOG = 1000


@dataclass(frozen=True)
class DomainEvent:
    kind: str  # e.g. "phase.changed", "channel.message", "outbox.dead"
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "data": self.data, "at": self.at.isoformat()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DomainEvent:
        return cls(raw["kind"], raw["data"], datetime.fromisoformat(raw["at"]))


class Bus(Protocol):
    dropped: int  # events a slow subscriber did not take

    async def publish(self, events: list[DomainEvent]) -> None: ...

    def subscribe(
        self, backlog: int = SUBSCRIBER_BACKLOG
    ) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[DomainEvent]]:
        """A queue of every event from now on; one that falls `backlog` behind loses events
        (0: never, for a subscriber that only glances at each one)."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class LocalBus:
    """Fans events out to this process's subscribers; a slow subscriber loses events, never blocks."""

    name = "local"

    def __init__(self) -> None:
        self.subscribers: set[asyncio.Queue[DomainEvent]] = set()
        self.dropped = 0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish(self, events: list[DomainEvent]) -> None:
        self.fan_out(events)

    def fan_out(self, events: list[DomainEvent]) -> None:
        for queue in list(self.subscribers):
            for event in events:
                try:
                    queue.put_nowait(event)
                except asyncio.QueueFull:
                    self.dropped += 1
                    metrics.BUS_DROPPED.labels(self.name).inc()

    @contextlib.asynccontextmanager
    async def subscribe(self, backlog: int = SUBSCRIBER_BACKLOG) -> AsyncIterator[asyncio.Queue[DomainEvent]]:
        queue: asyncio.Queue[DomainEvent] = asyncio.Queue(backlog)
        self.subscribers.add(queue)
        try:
            yield queue
        finally:
            self.subscribers.discard(queue)


class RedisBus(LocalBus):
    """A LocalBus whose events also cross Redis pub/sub; each process skips its own echo."""

    name = "redis"

    def __init__(self, redis: Redis, channel: str) -> None:
        super().__init__()
        self.redis = redis
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self.listener: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        self.listener = asyncio.create_task(self.listen(), name="bus-listener")
        await asyncio.wait_for(self.ready.wait(), timeout=10)

    async def stop(self) -> None:
        if self.listener is not None:
            self.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.listener

    async def publish(self, events: list[DomainEvent]) -> None:
        self.fan_out(events)
        message = json.dumps(
            {"origin": self.origin, "sent": time.time(), "events": [e.to_json() for e in events]}
        )
        try:
            await self.redis.publish(self.channel, message)
        except RedisError:  # this process's viewers have them; others catch up when they reconnect
            log.warning("Redis unreachable: %d events reached this process's viewers only", len(events))

    async def listen(self) -> None:
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.ready.set()
                    async for message in pubsub.listen():
                        raw = json.loads(message["data"])
                        if raw["origin"] != self.origin:
                            # Wall clocks of two hosts: a lag below their difference reads as 0.
                            lag = max(time.time() - raw.get("sent", time.time()), 0.0)
                            metrics.BUS_LAG.labels(self.name).observe(lag)
                            self.fan_out([DomainEvent.from_json(e) for e in raw["events"]])
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: keep the process up and reconnect
                log.warning("event bus lost its Redis subscription; reconnecting in 1 s")
                await asyncio.sleep(1)
