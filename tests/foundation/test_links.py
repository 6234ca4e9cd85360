"""Private links: a token opens only its own scope and subject, and stops at the event's end (as it
stands) or revocation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from starlette.testclient import TestClient

from hackserver.foundation import links
from hackserver.foundation.signing import Scope
from hackserver.runtime import Runtime
from hackserver.sprint import phases
from tests.fakes import ORGANISER, FakeClock


async def granted(runtime: Runtime, scope: Scope, subject: int) -> str:
    async with runtime.transaction() as tx:
        return await links.grant(tx, scope, subject)


async def opened(runtime: Runtime, scope: Scope, token: str) -> int:
    async with runtime.reading() as tx:
        return (await links.open_link(tx, scope, token)).subject_id


async def refusal(runtime: Runtime, scope: Scope, token: str) -> str:
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


def _signature_changed(token: str) -> str:
    # Not the last character: its low bits may be base64 padding that decodes the same.
    data, _, signature = token.rpartition(".")
    first = "B" if signature[0] == "A" else "A"
    return f"{data}.{first}{signature[1:]}"


@pytest.mark.parametrize("change", [_signature_changed, lambda t: "1." + t, lambda t: ""])
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
        end = (await tx.phases())["end"]
    clock.set(end - timedelta(seconds=1))
    assert await opened(runtime, "expert", token) == 1
    clock.set(end)
    assert await refusal(runtime, "expert", token) == "link.expired"


async def end_moved(runtime: Runtime, delta: timedelta) -> datetime:
    async with runtime.transaction() as tx:
        return (await phases.shift_phase(tx, "end", delta, actor="organiser:test"))["end"]


async def test_moving_the_end_earlier_ends_the_links_granted_before(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, clock = runtime_at
    token = await granted(runtime, "expert", 1)
    earlier = await end_moved(runtime, -timedelta(hours=1))
    clock.set(earlier - timedelta(seconds=1))
    assert await opened(runtime, "expert", token) == 1
    clock.set(earlier)
    assert await refusal(runtime, "expert", token) == "link.expired"


async def test_moving_the_end_later_keeps_the_links_granted_before_until_then(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, clock = runtime_at
    token = await granted(runtime, "expert", 1)
    async with runtime.reading() as tx:
        first = (await tx.phases())["end"]
    later = await end_moved(runtime, timedelta(hours=5))
    clock.set(first)
    assert await opened(runtime, "expert", token) == 1
    assert await granted(runtime, "expert", 1) == token
    clock.set(later)
    assert await refusal(runtime, "expert", token) == "link.expired"


async def test_a_revoked_link_is_dead_and_a_new_grant_is_a_new_token(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    token = await granted(runtime, "submit", 5)
    async with runtime.transaction() as tx:
        assert await links.revoke(tx, "submit", 5, actor="organiser:test") == 1
    assert await refusal(runtime, "submit", token) == "link.revoked"
    fresh = await granted(runtime, "submit", 5)
    assert fresh != token
    assert await opened(runtime, "submit", fresh) == 5


def test_an_organiser_revokes_a_link_through_the_api(api: TestClient) -> None:
    runtime: Runtime = api.app_state["runtime"]
    token = api.portal.call(granted, runtime, "book", 9)  # type: ignore[union-attr]
    assert api.delete("/api/v1/links/book/9").status_code == 401
    assert api.delete("/api/v1/links/nope/9", headers=ORGANISER).status_code == 422
    reply = api.delete("/api/v1/links/book/9", headers=ORGANISER)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"scope": "book", "subject": 9, "revoked": 1}
    assert api.portal.call(refusal, runtime, "book", token) == "link.revoked"  # type: ignore[union-attr]


async def test_the_signing_secret_is_not_in_what_a_log_line_would_show(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    secret = runtime.links.secret
    assert len(secret) >= 32
    async with runtime.reading() as tx:
        shown = repr(runtime) + repr(tx) + str(tx.links)
    assert secret not in shown
