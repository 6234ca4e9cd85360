"""`status` answered from what each process keeps of it: a change shows in the very next status, on
the process that made it and (over Redis) on every other one; what no event announces shows once an
entry's age runs out."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import select, update

from bots.commands import Bot, Invocation, Reply
from hackserver.foundation.bus import DomainEvent
from hackserver.foundation.i18n import Moment
from hackserver.foundation.models import Booking, Expert, Participant, Slot, Team
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity
from hackserver.teams.status import EVERYONE, RedisChanges, StatusCache, changed_by
from tests.fakes import FakeClock

ALICE = Identity("slack", "T1", "UALICE", "alice")
BOB = Identity("slack", "T1", "UBOB", "bob")
FOREVER = 3600.0  # only a version's move may refresh a kept status


async def ask(runtime: Runtime, who: Identity, text: str) -> Reply:
    reply = await Bot(runtime).handle(Invocation(who, text, locale="en"))
    assert reply is not None
    return reply


def team_field(reply: Reply) -> str:
    return dict(reply.fields)["Team"]


def code_in(reply: Reply) -> str:
    found = re.search(r"Join code: `([A-Z0-9]{6})`", reply.text)
    assert found, reply.text
    return found[1]


async def test_a_team_just_created_shows_in_the_next_status(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    runtime.status_cache.max_age = FOREVER
    await ask(runtime, ALICE, "status")  # first contact
    assert team_field(await ask(runtime, ALICE, "status")).startswith("none yet")  # now kept
    assert (await ask(runtime, ALICE, "team create Luftretter")).ok
    assert team_field(await ask(runtime, ALICE, "status")) == "Luftretter (1/4)"


async def test_a_kept_status_is_answered_without_the_database(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    runtime.status_cache.max_age = FOREVER
    await ask(runtime, ALICE, "team create Luftretter")
    assert team_field(await ask(runtime, ALICE, "status")) == "Luftretter (1/4)"
    async with runtime.transaction() as tx:  # behind the cache's back: no event, no new version
        await tx.session.execute(update(Team).values(name="Renamed"))
    assert team_field(await ask(runtime, ALICE, "status")) == "Luftretter (1/4)"
    runtime.status_cache.max_age = 0.0  # the bound on staleness for what no event announces
    assert team_field(await ask(runtime, ALICE, "status")) == "Renamed (1/4)"


async def test_a_member_joining_changes_the_other_members_status(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    runtime.status_cache.max_age = FOREVER
    code = code_in(await ask(runtime, ALICE, "team create Luftretter"))
    assert team_field(await ask(runtime, ALICE, "status")) == "Luftretter (1/4)"
    assert (await ask(runtime, BOB, f"team join {code}")).ok
    assert team_field(await ask(runtime, ALICE, "status")) == "Luftretter (2/4)"


async def test_a_team_formed_by_someone_else_keeps_a_kept_status(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    runtime.status_cache.max_age = FOREVER
    await ask(runtime, ALICE, "status")
    assert team_field(await ask(runtime, ALICE, "status")).startswith("none yet")  # now kept
    async with runtime.transaction() as tx:  # behind the cache's back: no event
        await tx.session.execute(update(Participant).values(in_match_pool=True))
    assert (await ask(runtime, BOB, "team create Luftretter")).ok  # changes Bob's status only
    assert team_field(await ask(runtime, ALICE, "status")).startswith("none yet")  # not read again
    async with runtime.transaction() as tx:
        tx.record("challenges.imported", added=1)  # a kind not known to be narrower: everyone's
    assert "pool" in team_field(await ask(runtime, ALICE, "status"))


def test_an_event_names_the_statuses_it_changes() -> None:
    def named(*events: DomainEvent) -> set[str]:
        return changed_by(events)

    assert named(DomainEvent("team.created", {"team": 3, "by": 7, "name": "X"})) == {"t:3", "p:7"}
    assert named(
        DomainEvent("team.joined", {"team": 3, "participant": 8}), DomainEvent("outbox.delivered", {})
    ) == {"t:3", "p:8"}
    assert named(DomainEvent("channel.message", {}), DomainEvent("phase.changed", {})) == set()
    assert named(DomainEvent("team.joined", {"team": 3}), DomainEvent("team.left", {})) == {EVERYONE}
    assert named(DomainEvent("team.joined", {"team": 3, "participant": 8}), DomainEvent("team.merged")) == {
        EVERYONE
    }


async def test_a_delivered_message_keeps_the_kept_statuses(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    runtime.status_cache.max_age = FOREVER
    await ask(runtime, ALICE, "status")
    await ask(runtime, ALICE, "status")
    before = await runtime.status_cache.changes.since([EVERYONE])
    async with runtime.transaction() as tx:
        tx.record("outbox.delivered", platform="slack", ids=[1])
        tx.record("channel.message", channel="announcements")
    assert await runtime.status_cache.changes.since([EVERYONE]) == before
    async with runtime.transaction() as tx:
        tx.record("team.joined", team=1, participant=1, size=2)
    assert await runtime.status_cache.changes.since([EVERYONE]) != before


async def test_a_booking_that_began_gives_way_to_the_next(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, clock = runtime_at
    runtime.status_cache.max_age = FOREVER
    await ask(runtime, ALICE, "team create Luftretter")
    now = clock.now()
    async with runtime.transaction() as tx:
        team = await tx.session.scalar(select(Team))
        expert = Expert(event_id=runtime.event_id, name="Dr. Flow")
        tx.session.add(expert)
        await tx.session.flush()
        assert team is not None
        for hours in (1, 3):
            slot = Slot(
                expert_id=expert.id,
                starts_at=now + timedelta(hours=hours),
                ends_at=now + timedelta(hours=hours, minutes=20),
            )
            tx.session.add(slot)
            await tx.session.flush()
            tx.session.add(Booking(slot_id=slot.id, team_id=team.id, question="?"))
        tx.record("booking.made", team=team.id)
    zone = runtime.event.timezone

    def at(hours: int) -> str:
        return Moment(now + timedelta(hours=hours), zone).written("en")

    assert dict((await ask(runtime, ALICE, "status")).fields)["Next booking"] == at(1)
    clock.advance(timedelta(hours=2))
    assert dict((await ask(runtime, ALICE, "status")).fields)["Next booking"] == at(3)


@pytest.mark.redis
async def test_a_team_formed_through_another_process_shows_in_the_next_status_over_redis(
    two_processes: tuple[Runtime, Runtime],
) -> None:
    first, second = two_processes
    first.status_cache.max_age = second.status_cache.max_age = FOREVER
    for runtime in (first, second, first):
        assert team_field(await ask(runtime, ALICE, "status")).startswith("none yet")
        assert team_field(await ask(runtime, BOB, "status")).startswith("none yet")
    code = code_in(await ask(second, ALICE, "team create Luftretter"))
    assert team_field(await ask(first, ALICE, "status")) == "Luftretter (1/4)"  # no waiting
    assert (await ask(first, BOB, f"team join {code}")).ok
    assert team_field(await ask(second, ALICE, "status")) == "Luftretter (2/4)"
    assert team_field(await ask(second, BOB, "status")) == "Luftretter (2/4)"


@pytest.mark.redis
async def test_a_redis_that_lost_its_changes_does_not_revive_a_kept_status(
    two_processes: tuple[Runtime, Runtime], redis_url: str
) -> None:
    first, second = two_processes
    first.status_cache.max_age = FOREVER
    await ask(first, ALICE, "status")
    assert team_field(await ask(first, ALICE, "status")).startswith("none yet")  # kept
    client = Redis.from_url(redis_url)
    await client.flushdb()  # as after a restart of Redis that keeps nothing on disk
    await client.aclose()
    assert (await ask(second, ALICE, "team create Luftretter")).ok
    assert team_field(await ask(first, ALICE, "status")) == "Luftretter (1/4)"


async def test_while_redis_is_away_no_status_is_kept(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    away = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)  # nothing listens there
    runtime.status_cache = StatusCache(RedisChanges(away, "status"), max_age=FOREVER)
    try:
        await ask(runtime, ALICE, "status")
        assert team_field(await ask(runtime, ALICE, "status")).startswith("none yet")
        assert (await ask(runtime, ALICE, "match me")).ok  # its version cannot move, and need not
        assert "pool" in team_field(await ask(runtime, ALICE, "status"))
    finally:
        await away.aclose()
