"""Teams by hand, through the command layer: create, join, leave, look, find open teams; the size limit
and unique names under concurrency (two processes' runtimes on one database); locking at close."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bots.commands import Bot, Invocation, Reply
from hackserver.foundation.models import Channel, ChannelMessage, Membership, Participant, Team
from hackserver.runtime import Runtime
from hackserver.teams import teams
from hackserver.teams.participants import Identity
from tests.dbstate import settled_outbox
from tests.fakes import FakeClock


def person(n: int | str) -> Identity:
    return Identity("slack", "T1", f"U{n}", f"user{n}")


async def ask(runtime: Runtime, who: Identity, text: str) -> Reply:
    reply = await Bot(runtime).handle(Invocation(who, text, locale="en"))
    assert reply is not None
    return reply


def everything(reply: Reply) -> str:
    return "\n".join([reply.title or "", reply.text, *(f"{k}: {v}" for k, v in reply.fields)])


def code_in(reply: Reply) -> str:
    found = re.search(r"Join code: `([A-Z0-9]{6})`", reply.text)
    assert found, reply.text
    return found[1]


async def count(runtime: Runtime, query: Any) -> int:
    async with runtime.sessions() as session:
        return int(await session.scalar(query) or 0)


@pytest.fixture
def runtime(runtime_at: tuple[Runtime, FakeClock]) -> Runtime:
    return runtime_at[0]  # an hour before kickoff: registration is open, so is team formation


async def test_a_team_is_created_with_a_join_code_a_channel_and_a_welcome(runtime: Runtime) -> None:
    reply = await ask(runtime, person(1), "team create Luftretter")
    assert reply.ok, reply.text
    code = code_in(reply)
    info = await ask(runtime, person(1), "team info")
    assert info.title == "Team “Luftretter”" and "user1" in info.text
    assert ("Join code", code) in info.fields and ("Size", "1/4") in info.fields
    await settled_outbox(runtime)
    async with runtime.sessions() as session:
        channel = await session.scalar(select(Channel).where(Channel.kind == "team"))
        assert channel is not None and channel.name == f"team-luftretter-{code.lower()}"
        welcome = await session.scalar(
            select(ChannelMessage.text).where(ChannelMessage.channel_id == channel.id)
        )
    assert welcome is not None and code in welcome and "user1" in welcome


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("ab", "A team name has 3 to 40 characters"),
        ("x" * 41, "The team name has 41 characters; at most 40 are allowed."),
        ("<script>alert(1)</script>", "letters, digits, spaces"),
        ("1234", "letters, digits, spaces"),
    ],
)
async def test_a_bad_team_name_is_refused_with_the_rule(runtime: Runtime, name: str, says: str) -> None:
    reply = await ask(runtime, person(1), f"team create {name}")
    assert not reply.ok and says in reply.text
    assert await count(runtime, select(func.count()).select_from(Team)) == 0


async def test_a_name_is_unique_whatever_its_case(runtime: Runtime) -> None:
    await ask(runtime, person(1), "team create Luftretter")
    reply = await ask(runtime, person(2), "team create LUFTRETTER")
    assert not reply.ok and "“Luftretter” already exists" in reply.text
    assert await count(runtime, select(func.count()).select_from(Team)) == 1


async def test_joining_by_code_in_any_case_shows_both_members(runtime: Runtime) -> None:
    code = code_in(await ask(runtime, person(1), "team create Luftretter"))
    joined = await ask(runtime, person(2), f"team join {code.lower()}")
    assert joined.ok and "You are now in team “Luftretter” (2/4)" in joined.text
    info = await ask(runtime, person(2), "team info")
    assert "user1" in info.text and "user2" in info.text


async def test_a_wrong_code_a_second_team_and_a_full_team_are_refused(runtime: Runtime) -> None:
    code = code_in(await ask(runtime, person(1), "team create Luftretter"))
    assert "No team has the code `NOPE99`" in (await ask(runtime, person(9), "team join NOPE99")).text
    for n in (2, 3, 4):
        assert (await ask(runtime, person(n), f"team join {code}")).ok
    full = await ask(runtime, person(5), f"team join {code}")
    assert not full.ok and "is full (4 people)" in full.text
    again = await ask(runtime, person(2), "team create Second")
    assert not again.ok and "already in team “Luftretter”" in again.text


async def test_the_last_member_leaving_removes_the_team_and_frees_its_name(runtime: Runtime) -> None:
    await ask(runtime, person(1), "team create Luftretter")
    left = await ask(runtime, person(1), "team leave")
    assert left.ok and "You left team “Luftretter”" in left.text
    assert await count(runtime, select(func.count()).select_from(Team)) == 0
    assert (await ask(runtime, person(2), "team create Luftretter")).ok


async def test_teams_lock_when_team_formation_closes(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, clock = runtime_at
    code = code_in(await ask(runtime, person(1), "team create Luftretter"))
    clock.set(runtime.event.phases["team_formation_close"])
    for who, text in ((2, f"team join {code}"), (1, "team leave"), (3, "team create Late"), (4, "match me")):
        reply = await ask(runtime, person(who), text)
        assert not reply.ok and "teams are locked now" in reply.text, text
    assert await count(runtime, select(func.count()).select_from(Membership)) == 1


async def test_teams_open_lists_teams_with_room_lacking_a_skill_best_fit_first(runtime: Runtime) -> None:
    await ask(runtime, person(1), "profile skills python langs de")
    await ask(runtime, person(2), "profile skills design langs en")
    await ask(runtime, person(3), "profile skills python,design langs en")
    await ask(runtime, person(1), "team create Pythonistas")
    await ask(runtime, person(2), "team create Designers")
    await ask(runtime, person(4), "profile skills law langs en")
    lacking_design = await ask(runtime, person(4), "teams open ux")  # ux is design
    assert "Pythonistas" in lacking_design.text and "Designers" not in lacking_design.text
    best = await ask(runtime, person(3), "teams open")
    # Both teams miss one of the asker's skills; only the designers share a language with them.
    assert best.text.index("Designers") < best.text.index("Pythonistas")


async def test_match_me_puts_the_asker_in_the_pool_and_a_team_takes_them_out(runtime: Runtime) -> None:
    pooled = await ask(runtime, person(1), "match me")
    assert pooled.ok and "You are in the matching pool" in pooled.text
    assert "already in the matching pool" in (await ask(runtime, person(1), "match me")).text
    status = await ask(runtime, person(1), "status")
    assert ("Team", "being matched (in the pool)") in status.fields
    await ask(runtime, person(1), "team create Luftretter")
    assert (
        await count(runtime, select(func.count()).select_from(Participant).where(Participant.in_match_pool))
        == 0
    )


@pytest.fixture
async def two_processes(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, make_runtime: Callable[..., Any]
) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one database, as two web processes would be: no shared lock but the database's."""
    path, clock = event_file(kickoff=kickoff), FakeClock(kickoff)
    async with (
        make_runtime(database_url, path, clock) as first,
        make_runtime(database_url, path, clock) as second,
    ):
        yield first, second


async def test_twenty_people_joining_the_last_free_place_at_once_exactly_one_gets_it(
    two_processes: tuple[Runtime, Runtime],
) -> None:
    first, second = two_processes
    code = code_in(await ask(first, person("owner"), "team create Luftretter"))
    for n in (1, 2):
        await ask(first, person(n), f"team join {code}")
    for n in range(100, 120):  # known to the bot already, so only the join races
        await ask(first, person(n), "status")
    replies = await asyncio.gather(
        *(ask((first, second)[n % 2], person(n), f"team join {code}") for n in range(100, 120))
    )
    assert sum(r.ok for r in replies) == 1, [r.text for r in replies]
    assert all("is full" in r.text for r in replies if not r.ok)
    async with first.sessions() as session:
        team = await session.scalar(select(Team))
        members = await session.scalar(select(func.count()).select_from(Membership))
    assert team is not None and team.member_count == members == 4


async def test_ten_people_creating_the_same_name_at_once_make_one_team(
    two_processes: tuple[Runtime, Runtime],
) -> None:
    first, second = two_processes
    for n in range(10):
        await ask(first, person(n), "status")
    replies = await asyncio.gather(
        *(
            ask((first, second)[n % 2], person(n), f"team create {'Same Name' if n % 3 else 'same name'}")
            for n in range(10)
        )
    )
    assert sum(r.ok for r in replies) == 1, [r.text for r in replies]
    assert all("already exists" in r.text for r in replies if not r.ok)
    assert await count(first, select(func.count()).select_from(Team)) == 1


async def test_a_person_joining_two_teams_at_once_ends_in_one(two_processes: tuple[Runtime, Runtime]) -> None:
    first, second = two_processes
    codes = [code_in(await ask(first, person(n), f"team create Team {n}")) for n in ("a", "b")]
    await ask(first, person(1), "status")
    replies = await asyncio.gather(
        ask(first, person(1), f"team join {codes[0]}"), ask(second, person(1), f"team join {codes[1]}")
    )
    assert sorted(r.ok for r in replies) == [False, True], [r.text for r in replies]
    assert await count(first, select(func.count()).select_from(Membership)) == 3
    async with first.sessions() as session:
        sizes = sorted((await session.scalars(select(Team.member_count))).all())
    assert sizes == [1, 2]


async def test_an_empty_team_never_lingers_after_a_join_and_a_leave_race(
    two_processes: tuple[Runtime, Runtime],
) -> None:
    first, second = two_processes
    code = code_in(await ask(first, person(1), "team create Luftretter"))
    await ask(first, person(2), "status")
    await asyncio.gather(ask(first, person(1), "team leave"), ask(second, person(2), f"team join {code}"))
    async with first.sessions() as session:
        teams = (await session.scalars(select(Team))).all()
        members = await session.scalar(select(func.count()).select_from(Membership))
    assert all(t.member_count >= 1 for t in teams)
    assert sum(t.member_count for t in teams) == members


async def test_a_second_chat_account_is_linked_with_its_code_and_keeps_the_team(runtime: Runtime) -> None:
    on_discord = Identity("discord", "G1", "1234567", "anna-d")
    code = code_in(await ask(runtime, person(1), "team create Luftretter"))
    await ask(runtime, on_discord, "profile skills law langs en")
    link_code = (await ask(runtime, person(1), "link")).text.split("`/hack link ")[1].rstrip("`")
    linked = await ask(runtime, on_discord, f"link {link_code}")
    assert linked.ok and "now belongs to user1" in linked.text
    info = await ask(runtime, on_discord, "team info")
    assert info.title == "Team “Luftretter”" and ("Join code", code) in info.fields
    async with runtime.sessions() as session:
        people = (await session.scalars(select(Participant))).all()
    assert [(p.display_name, p.skills) for p in people] == [("user1", ["law"])]
    assert not (await ask(runtime, person(2), f"link {link_code[:-2]}xx")).ok


@pytest.mark.parametrize(
    ("name", "channel"),
    [
        ("Straßenbahn Süd", "team-strassenbahn-sud-k7qx2p"),
        ("Команда мрії", "team-komanda-mrii-k7qx2p"),
        ("R&D Labs", "team-r-d-labs-k7qx2p"),
        ("!!!", "team-k7qx2p"),
    ],
)
def test_a_team_channel_is_named_in_latin_letters_whatever_the_teams_script(name: str, channel: str) -> None:
    assert teams.channel_name(Team(name=name, join_code="K7QX2P")) == channel
