"""How many commands one person may send: a fixed window per chat account, so that a script or a
stuck key cannot crowd out everyone else at kickoff. In Redis when it is configured (every web
process counts together), else in this process's memory. A person over the limit is told to slow
down; nothing they sent in that window runs."""

from __future__ import annotations

import logging
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

COMMANDS, WINDOW = 10, 10.0  # commands per window of seconds: a person typing never gets there
MAX_ACCOUNTS = 100_000  # memory: windows kept at most, the oldest forgotten first


class CommandLimit(Protocol):
    limit: int
    window: float

    async def allow(self, account: str) -> bool:
        """Counts one command of this account; False when it is over the limit in this window."""
        ...


class MemoryLimit:
    def __init__(self, limit: int = COMMANDS, window: float = WINDOW) -> None:
        self.limit, self.window = limit, window
        self.counts: dict[str, tuple[int, int]] = {}  # account -> (window number, commands in it)

    async def allow(self, account: str) -> bool:
        current = int(time.monotonic() // self.window)
        number, count = self.counts.get(account, (current, 0))
        count = count + 1 if number == current else 1
        if account not in self.counts and len(self.counts) >= MAX_ACCOUNTS:
            del self.counts[next(iter(self.counts))]
        self.counts[account] = (current, count)
        return count <= self.limit


class RedisLimit:
    def __init__(self, redis: Redis, prefix: str, limit: int = COMMANDS, window: float = WINDOW) -> None:
        self.redis, self.prefix, self.limit, self.window = redis, prefix, limit, window

    async def allow(self, account: str) -> bool:
        key = f"{self.prefix}{account}:{int(time.time() // self.window)}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, int(self.window) + 1)
                count, _ = await pipe.execute()
        except RedisError:  # commands go on while Redis is away; only the counting pauses
            log.warning("Redis unreachable: commands are not rate-limited until it is back")
            return True
        return int(count) <= self.limit
