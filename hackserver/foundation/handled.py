"""Keys of platform requests already handled, for commands that change nothing in the database.

A command that writes records its request key in its own transaction (exactly once with the
change). A read-only command (help, status) has no transaction worth taking the write lock for, so
its key is kept here instead: in Redis when it is configured (every web process sees it), else in
this process's memory (the embedded mode is one process). Platforms retry within minutes, so keys
are kept for ten.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

TTL = 600.0
MAX_KEYS = 200_000


class HandledKeys(Protocol):
    async def claim(self, key: str) -> bool:
        """Records the key; False if it was already recorded (within the TTL)."""
        ...

    async def release(self, key: str) -> None:
        """Forgets the key: the request failed, and its retry should run."""
        ...


class MemoryKeys:
    def __init__(self, ttl: float = TTL, limit: int = MAX_KEYS) -> None:
        self.ttl, self.limit = ttl, limit
        self.keys: OrderedDict[str, float] = OrderedDict()  # key -> expiry, oldest first

    async def claim(self, key: str) -> bool:
        now = time.monotonic()
        while self.keys and next(iter(self.keys.values())) <= now:
            self.keys.popitem(last=False)
        if key in self.keys:
            return False
        if len(self.keys) >= self.limit:
            self.keys.popitem(last=False)
        self.keys[key] = now + self.ttl
        return True

    async def release(self, key: str) -> None:
        self.keys.pop(key, None)


class RedisKeys:
    def __init__(self, redis: Redis, prefix: str, ttl: float = TTL) -> None:
        self.redis, self.prefix, self.ttl = redis, prefix, int(ttl)

    async def claim(self, key: str) -> bool:
        try:
            return bool(await self.redis.set(self.prefix + key, b"1", nx=True, ex=self.ttl))
        except RedisError:  # a command that changes nothing may run twice; it must not fail
            return True

    async def release(self, key: str) -> None:
        with contextlib.suppress(RedisError):
            await self.redis.delete(self.prefix + key)
