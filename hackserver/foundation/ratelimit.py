"""Windows that count something per key: the commands one person may send (so that a script or a
stuck key cannot crowd out everyone else at kickoff), the wrong secrets one client address may send
(so that a token cannot be guessed), the accounts of the built-in channels one address may make (so
that a script cannot make thousands, each with a command limit of its own). In Redis when it is
configured (every web process counts together), else in this process's memory. While Redis is away
nothing is counted and nobody is refused: the event goes on."""

from __future__ import annotations

import logging
import math
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

COMMANDS, WINDOW = 10, 10.0  # commands per window of seconds: a person typing never gets there
# Wrong secrets per client address and window: an organiser mistyping never gets there, a script
# guessing gets 10 tries in 5 minutes instead of a thousand a second.
ATTEMPTS, ATTEMPTS_WINDOW = 10, 300.0
# New accounts of the built-in channels per client address and window (the event's limits.signups):
# a classroom or an office shares one address, so a group of 20 joins at once, more a few minutes later.
SIGNUPS, SIGNUPS_WINDOW = 20, 600.0
MAX_ACCOUNTS = 100_000  # memory: windows kept at most, the oldest forgotten first


class Limit(Protocol):
    limit: int
    window: float

    async def allow(self, key: str) -> bool:
        """Counts one for this key; False when it is over the limit in this window."""
        ...

    async def add(self, key: str) -> int:
        """Counts one for this key; the count in this window so far (0 while it cannot count)."""
        ...

    async def wait(self, key: str) -> int:
        """Seconds until this key may count one more within the limit, 0 if it may now; counts nothing."""
        ...


# A key's window begins with its first count and lasts `window` seconds: whoever is over the limit
# is told exactly how long to wait, and no boundary between windows lets twice the limit through.


class MemoryLimit:
    def __init__(self, limit: int = COMMANDS, window: float = WINDOW) -> None:
        self.limit, self.window = limit, window
        self.counts: dict[str, tuple[float, int]] = {}  # key -> (its window's start, count in it)

    def current(self, key: str) -> tuple[float, int]:
        now = time.monotonic()
        start, count = self.counts.get(key, (now, 0))
        return (start, count) if now - start < self.window else (now, 0)

    async def add(self, key: str) -> int:
        start, count = self.current(key)
        if key not in self.counts and len(self.counts) >= MAX_ACCOUNTS:
            del self.counts[next(iter(self.counts))]
        self.counts[key] = (start, count + 1)
        return count + 1

    async def allow(self, key: str) -> bool:
        return await self.add(key) <= self.limit

    async def wait(self, key: str) -> int:
        start, count = self.current(key)
        return math.ceil(start + self.window - time.monotonic()) if count >= self.limit else 0


class RedisLimit:
    def __init__(self, redis: Redis, prefix: str, limit: int = COMMANDS, window: float = WINDOW) -> None:
        self.redis, self.prefix, self.limit, self.window = redis, prefix, limit, window

    async def add(self, key: str) -> int:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(self.prefix + key, 0, px=int(self.window * 1000), nx=True)  # a new window
                pipe.incr(self.prefix + key)  # keeps the window's expiry
                _, count = await pipe.execute()
        except RedisError:  # requests go on while Redis is away; only the counting pauses
            log.warning("Redis unreachable: %s are not limited until it is back", self.prefix)
            return 0
        return int(count)

    async def allow(self, key: str) -> bool:
        return await self.add(key) <= self.limit

    async def wait(self, key: str) -> int:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.get(self.prefix + key)
                pipe.pttl(self.prefix + key)
                count, left = await pipe.execute()
        except RedisError:
            return 0
        return max(1, math.ceil(left / 1000)) if int(count or 0) >= self.limit else 0


class Attempts:
    """Wrong secrets (an organiser or metrics token, a webhook's token) per client address: past the
    limit an address is refused until its window ends, before any secret it sends is compared, so a
    right one is refused too and the refusal tells nothing. Right ones are not counted."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit

    async def wait(self, address: str) -> int:
        """Seconds this address must wait before it may try again; 0 if it may now."""
        return await self.limit.wait(address)

    async def failed(self, address: str, door: str) -> None:
        if await self.limit.add(address) == self.limit.limit:  # once per block, in whichever process
            log.warning(
                "%s: %d wrong secrets from %s; it is refused for the next %d s",
                door,
                self.limit.limit,
                address,
                await self.limit.wait(address),
            )
