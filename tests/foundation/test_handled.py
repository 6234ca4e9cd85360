"""Read-only commands (help, status) run once per request key without a database write."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from bots.commands import Bot, Invocation
from hackserver.foundation.handled import MemoryKeys
from hackserver.foundation.models import HandledRequest
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity
from tests.fakes import FakeClock

ALICE = Identity("slack", "T1", "UALICE", "alice")


async def test_a_key_is_claimed_once_until_released() -> None:
    keys = MemoryKeys()
    assert await keys.claim("slack:t1")
    assert not await keys.claim("slack:t1")
    await keys.release("slack:t1")
    assert await keys.claim("slack:t1")


async def test_a_key_is_forgotten_after_its_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    keys, now = MemoryKeys(ttl=600), time.monotonic()
    assert await keys.claim("slack:t1")
    monkeypatch.setattr(time, "monotonic", lambda: now + 601)
    assert await keys.claim("slack:t1")


async def test_the_oldest_keys_go_first_when_the_store_is_full() -> None:
    keys = MemoryKeys(limit=2)
    for key in ("a", "b", "c"):
        assert await keys.claim(key)
    assert await keys.claim("a") and not await keys.claim("c")


async def test_a_retried_status_runs_once_and_writes_no_request_row(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    first = await Bot(runtime).handle(Invocation(ALICE, "status", request_key="trigger-1"))
    again = await Bot(runtime).handle(Invocation(ALICE, "status", request_key="trigger-2"))
    retry = await Bot(runtime).handle(Invocation(ALICE, "status", request_key="trigger-2"))
    assert first is not None and first.ok and again is not None and again.ok
    assert retry is None
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(HandledRequest)) == 0
