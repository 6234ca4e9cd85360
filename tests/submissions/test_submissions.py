"""Submissions: versions, the deadline decided by the server's clock (one second before, exactly at,
after; grace; an organiser's extension), the freeze at the deadline, bad input refused by field."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bots.commands import Bot, Invocation, Reply
from hackserver.clock import SprintClock
from hackserver.foundation.errors import TooLate
from hackserver.foundation.models import AuditEntry, ChannelMessage, Submission, SubmissionVersion
from hackserver.runtime import Runtime
from hackserver.sprint.phases import shift_phase
from hackserver.submissions import entries
from hackserver.teams import teams
from hackserver.teams.participants import Identity, identify
from tests.dbstate import settled_outbox
from tests.fakes import FakeClock

COMPLETE = {
    "title": "Luftretter",
    "summary": "Finds free intensive-care beds.",
    "problem": "Ambulances call hospitals one by one.",
    "solution": "A live map of free beds.",
    "repository": "https://github.com/example/luftretter",
}


async def new_team(runtime: Runtime, name: str, people: int = 2) -> tuple[int, list[int]]:
    async with runtime.transaction() as tx:
        members = [
            await identify(tx, Identity("slack", "T1", f"{name}{n}", f"{name}-{n}")) for n in range(people)
        ]
        team = await teams.create(tx, members[0], name)
        for person in members[1:]:
            await teams.join(tx, person, team.join_code)
        return team.id, [p.id for p in members]


def entry(members: list[int], *, submit: bool = True, based_on: int = 0, **values: str) -> entries.Entry:
    return entries.Entry(
        {**COMPLETE, **values}, credits=members, saved_by=members[0], submit=submit, based_on=based_on
    )


async def latest_version(runtime: Runtime, team_id: int) -> int:
    async with runtime.reading() as tx:
        found = await tx.session.scalar(select(Submission.version).where(Submission.team_id == team_id))
        return found or 0


async def save(runtime: Runtime, team_id: int, what: entries.Entry) -> entries.Saved:
    """Saves on top of the latest version, as a member whose form is up to date does."""
    what = replace(what, based_on=await latest_version(runtime, team_id))
    async with runtime.transaction() as tx:
        return await entries.save(tx, team_id, what)


async def deadline(runtime: Runtime) -> datetime:
    async with runtime.reading() as tx:
        return (await tx.phases())["submission_deadline"]


async def versions(runtime: Runtime, team_id: int) -> list[tuple[int, dict[str, Any]]]:
    async with runtime.reading() as tx:
        rows = await tx.session.execute(
            select(SubmissionVersion.number, SubmissionVersion.fields)
            .join(Submission)
            .where(Submission.team_id == team_id)
            .order_by(SubmissionVersion.number)
        )
        return [(n, f) for n, f in rows]


async def status_of(runtime: Runtime, team_id: int) -> str | None:
    async with runtime.reading() as tx:
        return await tx.session.scalar(select(Submission.status).where(Submission.team_id == team_id))


@pytest.fixture
async def team(runtime_at: tuple[Runtime, FakeClock]) -> tuple[int, list[int]]:
    return await new_team(runtime_at[0], "Luftretter")


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(timedelta(seconds=-1), True), (timedelta(0), False), (timedelta(seconds=1), False)],
    ids=["one second before", "exactly at", "one second after"],
)
async def test_the_deadline_is_the_servers_clock(
    runtime_at: tuple[Runtime, FakeClock], team: tuple[int, list[int]], offset: timedelta, accepted: bool
) -> None:
    runtime, clock = runtime_at
    team_id, members = team
    await save(runtime, team_id, entry(members, submit=False))
    clock.set(await deadline(runtime) + offset)
    if accepted:
        assert (await save(runtime, team_id, entry(members))).version == 2
        assert await status_of(runtime, team_id) == "submitted"
    else:
        with pytest.raises(TooLate) as refused:
            await save(runtime, team_id, entry(members, title="Too late"))
        assert refused.value.key == "submission.closed"
        assert "nothing was changed" in str(refused.value)
        assert [n for n, _ in await versions(runtime, team_id)] == [1]
        assert await status_of(runtime, team_id) == "draft"


async def test_a_save_that_arrived_in_time_but_waited_for_the_database_is_on_time(
    runtime_at: tuple[Runtime, FakeClock], team: tuple[int, list[int]]
) -> None:
    runtime, clock = runtime_at
    team_id, members = team
    end = await deadline(runtime)
    await save(runtime, team_id, entry(members))
    clock.set(end)
    async with runtime.transaction() as tx:  # the clock's freeze ran before the queued save
        assert await entries.freeze_due(tx) == 1
    clock.set(end + timedelta(seconds=3))
    async with runtime.transaction() as tx:
        saved = await entries.save(
            tx,
            team_id,
            entry(members, title="Last second", based_on=1),
            received_at=end - timedelta(milliseconds=1),
        )
    assert (saved.status, saved.version) == ("final", 2)  # the final version is the one that arrived in time
    for arrived in (end, end - timedelta(minutes=5)):  # at the deadline; or too long ago to be in flight
        with pytest.raises(TooLate):
            async with runtime.transaction() as tx:
                await entries.save(tx, team_id, entry(members), received_at=arrived)
    async with runtime.reading() as tx:
        finals = await entries.finals(tx.session, runtime.event_id)
    assert [f["title"] for _, _, f in finals] == ["Last second"]


@pytest.fixture
def graceful_event(event_file: Callable[..., Path], kickoff: datetime) -> Path:
    path = event_file(kickoff=kickoff)
    path.write_text(path.read_text() + '[submission]\ngrace = "30s"\n')
    return path


async def test_the_grace_period_holds_the_door_open_exactly_that_long(
    database_url: str, graceful_event: Path, kickoff: datetime, make_runtime: Callable[..., Any]
) -> None:
    clock = FakeClock(kickoff - timedelta(hours=1))
    async with make_runtime(database_url, graceful_event, clock) as runtime:
        team_id, members = await new_team(runtime, "Grace")
        end = await deadline(runtime)
        clock.set(end + timedelta(seconds=29))
        assert (await save(runtime, team_id, entry(members))).deadline == end + timedelta(seconds=30)
        clock.set(end + timedelta(seconds=30))
        with pytest.raises(TooLate):
            await save(runtime, team_id, entry(members))
        assert [n for n, _ in await versions(runtime, team_id)] == [1]


async def test_an_extension_opens_one_team_only_and_is_audit_logged(
    runtime_at: tuple[Runtime, FakeClock], team: tuple[int, list[int]]
) -> None:
    runtime, clock = runtime_at
    team_id, members = team
    other_id, others = await new_team(runtime, "Andere")
    end = await deadline(runtime)
    async with runtime.transaction() as tx:
        await entries.extend(tx, team_id, end + timedelta(minutes=15), actor="organiser:test")
    clock.set(end + timedelta(minutes=15, seconds=-1))
    assert (await save(runtime, team_id, entry(members))).version == 1
    with pytest.raises(TooLate):
        await save(runtime, other_id, entry(others))
    clock.set(end + timedelta(minutes=15))
    with pytest.raises(TooLate):
        await save(runtime, team_id, entry(members))
    async with runtime.reading() as tx:
        audit = (
            await tx.session.scalars(select(AuditEntry).where(AuditEntry.action == "submission.extend"))
        ).all()
    assert [(a.actor, a.details["team"]) for a in audit] == [("organiser:test", team_id)]


async def test_every_save_is_a_new_version_with_the_members_credited(
    runtime_at: tuple[Runtime, FakeClock], team: tuple[int, list[int]]
) -> None:
    runtime, _ = runtime_at
    team_id, members = team
    await save(
        runtime,
        team_id,
        entries.Entry({"title": "Idee"}, members[:1], members[1], submit=False, based_on=0),
    )
    await save(runtime, team_id, entry(members))
    await save(runtime, team_id, entry(members, title="Luftretter 2"))
    found = await versions(runtime, team_id)
    assert [n for n, _ in found] == [1, 2, 3]
    assert [f["title"] for _, f in found] == ["Idee", "Luftretter", "Luftretter 2"]
    assert [c["name"] for c in found[0][1][entries.CREDITS]] == ["Luftretter-0"]
    assert [c["name"] for c in found[2][1][entries.CREDITS]] == ["Luftretter-0", "Luftretter-1"]
    assert await status_of(runtime, team_id) == "submitted"


async def test_a_save_based_on_an_older_version_is_refused_naming_who_saved_since(
    runtime_at: tuple[Runtime, FakeClock], team: tuple[int, list[int]]
) -> None:
    runtime, _ = runtime_at
    team_id, members = team
    await save(runtime, team_id, entry(members, title="Luftretter"))
    ours = entries.Entry({**COMPLETE, "title": "Theirs"}, members, members[1], submit=True, based_on=1)
    async with runtime.transaction() as tx:
        assert (await entries.save(tx, team_id, ours)).version == 2
    messages_before = len(await settled_outbox(runtime))
    with pytest.raises(entries.Stale) as refused:  # still based on version 1
        async with runtime.transaction() as tx:
            await entries.save(tx, team_id, entry(members, title="Mine", based_on=1))
    assert refused.value.version == 2
    assert "Luftretter-1 saved version 2" in refused.value.say("en") and "nothing" in refused.value.say("en")
    assert [f["title"] for _, f in await versions(runtime, team_id)] == ["Luftretter", "Theirs"]
    assert len(await settled_outbox(runtime)) == messages_before  # no confirmation either
    async with runtime.transaction() as tx:  # having seen theirs, based on it
        assert (await entries.save(tx, team_id, entry(members, title="Mine", based_on=2))).version == 3


async def test_a_save_based_on_a_version_above_the_stored_one_is_refused_as_stale(
    runtime_at: tuple[Runtime, FakeClock], team: tuple[int, list[int]]
) -> None:
    runtime, _ = runtime_at
    team_id, members = team
    with pytest.raises(entries.Stale) as refused:  # nothing saved yet, a forged "version 5"
        async with runtime.transaction() as tx:
            await entries.save(tx, team_id, entry(members, title="Forged", based_on=5))
    assert refused.value.version == 0 and "nothing of yours was saved" in refused.value.say("en")
    await save(runtime, team_id, entry(members, title="Luftretter"))
    for above in (2, 99):  # would silently replace version 1, which this form never showed
        with pytest.raises(entries.Stale) as refused:
            async with runtime.transaction() as tx:
                await entries.save(tx, team_id, entry(members, title="Forged", based_on=above))
        assert refused.value.version == 1 and "Version 1" in refused.value.say("de")
    assert [f["title"] for _, f in await versions(runtime, team_id)] == ["Luftretter"]


async def test_two_members_saving_the_same_version_at_once_make_one_version(
    runtime_at: tuple[Runtime, FakeClock], team: tuple[int, list[int]]
) -> None:
    runtime, _ = runtime_at
    team_id, members = team
    await save(runtime, team_id, entry(members, submit=False))

    async def one(title: str) -> str:
        try:
            async with runtime.transaction() as tx:
                await entries.save(tx, team_id, entry(members, title=title, based_on=1))
        except entries.Stale:
            return "refused"
        return "saved"

    outcomes = await asyncio.gather(*(one(f"Edit {n}") for n in range(6)))
    assert sorted(outcomes) == ["refused"] * 5 + ["saved"]
    found = await versions(runtime, team_id)
    assert [n for n, _ in found] == [1, 2]


async def test_bad_input_is_refused_by_field_and_changes_nothing(
    runtime_at: tuple[Runtime, FakeClock], team: tuple[int, list[int]]
) -> None:
    runtime, _ = runtime_at
    team_id, members = team
    await save(runtime, team_id, entry(members))
    bad = entry(members, title="x" * 121, repository="ftp://example.org/x", problem="")
    with pytest.raises(entries.InvalidSubmission) as refused:
        await save(runtime, team_id, bad)
    assert {k: p.key for k, p in refused.value.problems.items()} == {
        "title": "submission.field_too_long",
        "repository": "submission.field_url",
        "problem": "submission.field_required",  # once submitted, every save must stay complete
    }
    stranger = entries.Entry(
        COMPLETE, credits=[members[0], 999_999], saved_by=members[0], submit=True, based_on=0
    )
    with pytest.raises(entries.InvalidSubmission) as refused:
        await save(runtime, team_id, stranger)
    assert set(refused.value.problems) == {"credits"}
    with pytest.raises(entries.NotMember):
        await save(runtime, team_id, replace(entry(members), saved_by=999_999))
    assert [n for n, _ in await versions(runtime, team_id)] == [1]


def test_urls_are_checked_for_form_only() -> None:
    good = [
        "https://github.com/x/y",
        "http://example.org",
        "https://youtu.be/abc?t=3",
        "http://localhost:8000/",
    ]
    bad = [
        "github.com/x",
        "ftp://example.org",
        "https://",
        "javascript:alert(1)",
        "https://a b.org",
        "https://x",
    ]
    assert all(entries.url_ok(u) for u in good)
    assert not any(entries.url_ok(u) for u in bad)


async def test_at_the_deadline_submitted_entries_become_final_and_drafts_do_not(
    runtime_at: tuple[Runtime, FakeClock], team: tuple[int, list[int]]
) -> None:
    runtime, clock = runtime_at
    team_id, members = team
    draft_id, drafters = await new_team(runtime, "Entwurf")
    late_id, latecomers = await new_team(runtime, "Spaet")
    await save(runtime, team_id, entry(members))
    await save(runtime, draft_id, entry(drafters, submit=False))
    await save(runtime, late_id, entry(latecomers))
    end = await deadline(runtime)
    async with runtime.transaction() as tx:
        await entries.extend(tx, late_id, end + timedelta(minutes=10), actor="organiser:test")
    clock.set(end)
    sprint = SprintClock(runtime)
    await sprint.fire_due()
    assert ("submissions:freeze", end, "fired") in sprint.fired
    assert [await status_of(runtime, t) for t in (team_id, draft_id, late_id)] == [
        "final",
        "draft",
        "submitted",
    ]
    with pytest.raises(TooLate) as refused:
        await save(runtime, team_id, entry(members))
    assert refused.value.key in ("submission.final_already", "submission.closed")
    clock.set(end + timedelta(minutes=5))
    await save(runtime, late_id, entry(latecomers, title="Spät, aber da"))
    clock.set(end + timedelta(minutes=30))  # judging begins: the extended team is frozen too
    await sprint.fire_due()
    assert await status_of(runtime, late_id) == "final"
    finals = await _finals(runtime)
    assert sorted(f["title"] for f in finals) == ["Luftretter", "Spät, aber da"]
    await settled_outbox(runtime)
    async with runtime.reading() as tx:
        texts = list(await tx.session.scalars(select(ChannelMessage.text)))
    assert sum("is final (version 1)" in t or "ist final (Version 1)" in t for t in texts) == 1


async def _finals(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.reading() as tx:
        return [fields for _, _, fields in await entries.finals(tx.session, runtime.event_id)]


async def ask(runtime: Runtime, who: Identity, text: str) -> Reply:
    reply = await Bot(runtime).handle(Invocation(who, text, locale="en"))
    assert reply is not None
    return reply


async def test_submit_answers_members_with_their_own_link_and_others_with_how_to_get_one(
    runtime_at: tuple[Runtime, FakeClock], team: tuple[int, list[int]]
) -> None:
    runtime, _ = runtime_at
    member, outsider = Identity("slack", "T1", "Luftretter1", "x"), Identity("slack", "T1", "U-alone", "y")
    reply = await ask(runtime, member, "submit")
    assert reply.ok and reply.links and reply.links[0][1].startswith("/submit/")
    assert ("Submission", "draft") in reply.fields and "Your own link" in reply.text
    assert (await ask(runtime, member, "submit")).links == reply.links  # the same link each time
    teammate = Identity("slack", "T1", "Luftretter0", "x")
    assert (await ask(runtime, teammate, "submit")).links != reply.links  # each member's own
    refused = await ask(runtime, outsider, "submit")
    assert not refused.ok and "Only teams submit" in refused.text


async def test_an_organiser_extends_a_team_by_bot(
    runtime_at: tuple[Runtime, FakeClock], team: tuple[int, list[int]]
) -> None:
    runtime, _ = runtime_at
    code = await _code(runtime, team[0])
    organiser = Identity("slack", "T1", "U-orga", "Orga")
    assert not (await ask(runtime, organiser, f"extend {code} +15m")).ok  # not an organiser yet
    reply = await Bot(runtime).handle(
        Invocation(organiser, f"extend {code} +15m", locale="en", organiser=True)
    )
    assert reply is not None and reply.ok, reply.text
    end = await deadline(runtime)
    async with runtime.reading() as tx:
        until = await tx.session.scalar(
            select(Submission.extended_until).where(Submission.team_id == team[0])
        )
    assert until == end + timedelta(minutes=15)
    bad = await Bot(runtime).handle(Invocation(organiser, f"extend {code} +3d", locale="en", organiser=True))
    assert bad is not None and not bad.ok and "before judging begins" in bad.text


async def _code(runtime: Runtime, team_id: int) -> str:
    from hackserver.foundation.models import Team

    async with runtime.reading() as tx:
        found = await tx.session.get(Team, team_id)
        assert found is not None
        return found.join_code


async def test_an_extension_ends_when_judging_begins_even_after_a_shift(
    runtime_at: tuple[Runtime, FakeClock], team: tuple[int, list[int]]
) -> None:
    runtime, clock = runtime_at
    team_id, members = team
    await save(runtime, team_id, entry(members))
    end = await deadline(runtime)
    async with runtime.transaction() as tx:
        judging = (await tx.phases())["judging"]
        await entries.extend(tx, team_id, judging - timedelta(minutes=5), actor="organiser:test")
    async with runtime.transaction() as tx:  # judging moves before the extension's end
        moved = await shift_phase(
            tx, "judging", end + timedelta(minutes=10) - judging, actor="organiser:test"
        )
    clock.set(moved["judging"] + timedelta(minutes=1))
    with pytest.raises(TooLate) as refused:
        await save(runtime, team_id, entry(members, title="Während der Jury"))
    assert refused.value.key == "submission.closed"
    await SprintClock(runtime).fire_due()
    assert await status_of(runtime, team_id) == "final"
    assert [f["title"] for f in await _finals(runtime)] == ["Luftretter"]
