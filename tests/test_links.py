"""Private links: a token opens only its own scope and subject, and stops at expiry or revocation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from hackserver import links
from hackserver.app import create_app
from hackserver.runtime import Runtime, bootstrap
from hackserver.settings import Settings
from tests.dbstate import migrate
from tests.fakes import FakeClock

TOKEN = "organiser-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def granted(runtime: Runtime, scope: links.Scope, subject: int) -> str:
    async with runtime.transaction() as tx:
        return await links.grant(runtime, tx, scope, subject)


async def opened(runtime: Runtime, scope: links.Scope, token: str) -> int:
    async with runtime.reading() as tx:
        return (await links.open_link(runtime, tx.session, scope, token, tx.now)).subject_id


async def refusal(runtime: Runtime, scope: links.Scope, token: str) -> str:
    with pytest.raises(links.LinkRefused) as refused:
        await opened(runtime, scope, token)
    return refused.value.key


async def test_a_link_opens_its_subject_and_is_the_same_each_time(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    token = await granted(runtime, "book", 7)
    assert await granted(runtime, "book", 7) == token
    assert await granted(runtime, "book", 8) != token
    assert await opened(runtime, "book", token) == 7


async def test_a_token_of_one_scope_never_opens_another(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    token = await granted(runtime, "book", 7)
    assert await refusal(runtime, "submit", token) == "link.bad"
    assert await refusal(runtime, "expert", token) == "link.bad"


def _a_character_changed(token: str) -> str:
    # Not the last one: base64's last character may carry padding bits that decode to nothing.
    return token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]


@pytest.mark.parametrize("change", [_a_character_changed, lambda t: "1." + t, lambda t: ""])
async def test_a_changed_token_is_refused(
    runtime_at: tuple[Runtime, FakeClock], change: Callable[[str], str]
) -> None:
    runtime, _ = runtime_at
    token = await granted(runtime, "jury", 3)
    assert await refusal(runtime, "jury", change(token)) == "link.bad"


async def test_a_link_expires_when_the_event_ends(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, clock = runtime_at
    token = await granted(runtime, "expert", 1)
    async with runtime.reading() as tx:
        end = (await runtime.phases(tx.session))["end"]
    clock.set(end - timedelta(seconds=1))
    assert await opened(runtime, "expert", token) == 1
    clock.set(end)
    assert await refusal(runtime, "expert", token) == "link.expired"


async def test_a_revoked_link_is_dead_and_a_new_grant_is_a_new_token(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    token = await granted(runtime, "submit", 5)
    async with runtime.transaction() as tx:
        assert await links.revoke(runtime, tx, "submit", 5, actor="organiser:test") == 1
    assert await refusal(runtime, "submit", token) == "link.revoked"
    fresh = await granted(runtime, "submit", 5)
    assert fresh != token
    assert await opened(runtime, "submit", fresh) == 5


def test_an_organiser_revokes_a_link_through_the_api(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime
) -> None:
    settings = Settings(
        database_url=database_url, event_path=event_file(kickoff=kickoff), organiser_token=TOKEN
    )
    if not settings.is_sqlite:
        asyncio.run(migrate(settings.database_url))

    async def in_runtime(use: Callable[[Runtime], Awaitable[Any]]) -> Any:
        async with bootstrap(settings, clock=FakeClock(kickoff)) as runtime:
            return await use(runtime)

    with TestClient(create_app(settings, clock=FakeClock(kickoff))) as client:
        token = asyncio.run(in_runtime(lambda runtime: granted(runtime, "book", 9)))
        assert client.delete("/api/v1/links/book/9").status_code == 401
        assert client.delete("/api/v1/links/nope/9", headers=AUTH).status_code == 422
        reply = client.delete("/api/v1/links/book/9", headers=AUTH)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"scope": "book", "subject": 9, "revoked": 1}
    assert asyncio.run(in_runtime(lambda runtime: refusal(runtime, "book", token))) == "link.revoked"
