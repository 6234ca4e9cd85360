"""Discord's rate limits as its response headers tell them: a bucket per route and top-level resource
(a channel, a webhook), and a global limit that a 429 can announce. Nothing is hard-coded: a bucket
is known from the first answer on, and until then one request at a time goes out to learn it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

from hackserver.foundation.outbox import DeliveryFailed


@dataclass
class Bucket:
    remaining: int = 1
    resets_at: float = 0.0  # time.monotonic()
    name: str = ""  # Discord's X-RateLimit-Bucket, for the record
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one request at a time per bucket


class RateLimits:
    """A send waits for its bucket rather than be refused; one that would wait longer than
    `max_wait` gives its worker back (DeliveryFailed with retry_after) for the outbox to try later."""

    def __init__(self, max_wait: float = 30.0) -> None:
        self.max_wait = max_wait  # well inside the outbox's lease, so a waiting send is never re-sent
        self.buckets: dict[str, Bucket] = {}
        self.global_until = 0.0

    def bucket(self, route: str) -> Bucket:
        if len(self.buckets) > 10_000:
            now = time.monotonic()
            self.buckets = {k: b for k, b in self.buckets.items() if b.resets_at > now or b.lock.locked()}
        return self.buckets.setdefault(route, Bucket())

    @contextlib.asynccontextmanager
    async def turn(self, route: str, deadline: float) -> AsyncIterator[Bucket]:
        """The route's bucket, once a request may go out on it; no other request does meanwhile."""
        bucket = self.bucket(route)
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                await bucket.lock.acquire()
        except TimeoutError:
            raise DeliveryFailed("Discord: busy channel, paced", retry_after=self.max_wait) from None
        try:
            await self.wait(bucket, deadline)
            yield bucket
        finally:
            bucket.lock.release()

    async def wait(self, bucket: Bucket, deadline: float) -> None:
        now = time.monotonic()
        delay = self.global_until - now
        if bucket.remaining <= 0 and bucket.resets_at > now:
            delay = max(delay, bucket.resets_at - now)
        if delay > 0:
            if now + delay > deadline:
                raise DeliveryFailed(f"Discord rate limit: paced for {delay:.1f} s", retry_after=delay)
            await asyncio.sleep(delay)
        if bucket.resets_at <= time.monotonic():
            bucket.remaining = max(bucket.remaining, 1)
        bucket.remaining -= 1

    def learn(self, bucket: Bucket, response: httpx.Response) -> None:
        headers, now = response.headers, time.monotonic()
        if response.status_code == 429:
            wait = retry_after(response) or 1.0
            if is_global(response):
                self.global_until = max(self.global_until, now + wait)
            else:
                bucket.remaining, bucket.resets_at = 0, max(bucket.resets_at, now + wait)
            return
        try:
            if "x-ratelimit-remaining" in headers:
                bucket.remaining = int(headers["x-ratelimit-remaining"])
            if "x-ratelimit-reset-after" in headers:
                bucket.resets_at = now + float(headers["x-ratelimit-reset-after"])
        except ValueError:
            pass
        bucket.name = headers.get("x-ratelimit-bucket", bucket.name)


def retry_after(response: httpx.Response) -> float | None:
    try:
        body = response.json()
        return max(float(body["retry_after"]), 0.0)
    except (ValueError, KeyError, TypeError):
        try:
            return max(float(response.headers.get("retry-after", "")), 0.0)
        except ValueError:
            return None


def is_global(response: httpx.Response) -> bool:
    headers = response.headers
    if headers.get("x-ratelimit-global") == "true" or headers.get("x-ratelimit-scope") == "global":
        return True
    try:
        return response.json().get("global") is True
    except (ValueError, AttributeError):
        return False
