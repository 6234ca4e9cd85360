"""The command layer, by dialog: what a person types after /hack, and what the bot answers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bots.commands import Bot, Invocation, Reply
from bots.core import COMMANDS, Context, command
from hackserver.foundation.i18n import Moment
from hackserver.foundation.models import (
    AuditEntry,
    Booking,
    Challenge,
    Expert,
    Membership,
    OutboxMessage,
    Participant,
    PlatformIdentity,
    Slot,
    Submission,
    Team,
)
from hackserver.runtime import Runtime
from hackserver.sprint.phases import PhaseCache
from hackserver.teams.participants import Identity, find
from tests.fakes import FakeClock

ALICE = Identity("slack", "T1", "UALICE", "alice")
ORGANISER = Identity("discord", "G1", "ORG1", "orga")


async def ask(runtime: Runtime, text: str, who: Identity = ALICE, **options: object) -> Reply:
    reply = await Bot(runtime).handle(Invocation(who, text, **options))  # type: ignore[arg-type]
    assert reply is not None
    return reply


def everything(reply: Reply) -> str:
    return "\n".join([reply.title or "", reply.text, *(f"{k}: {v}" for k, v in reply.fields)])


@pytest.fixture
def organisers(runtime_at: tuple[Runtime, FakeClock]) -> Runtime:
    runtime, _ = runtime_at
    runtime.event.organisers["discord"] = ("ORG1",)
    return runtime


async def test_help_lists_every_command_in_the_askers_language(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    english = await ask(runtime, "help", locale="en-GB")
    german = await ask(runtime, "help", locale="de-DE")
    for usage in ("status", "profile skills", "team create <name>", "match me", "submit", "help-request"):
        assert usage in english.text
    assert "create a team" in english.text and "ein Team gründen" in german.text
    assert "announce" not in english.text  # organiser commands stay hidden from participants


async def test_status_says_phase_countdown_and_that_there_is_no_team_yet(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, clock = runtime_at
    clock.set(runtime.event.phases["kickoff"] + timedelta(minutes=20))
    reply = await ask(runtime, "status", locale="en")
    assert reply.title == "Test Sprint: Kickoff"
    assert reply.text.startswith("Hacking in 40 min")
    assert ("Team", "none yet (`/hack team create <name>` or `/hack match me`)") in reply.fields


async def test_status_shows_the_team_its_challenge_next_booking_and_submission(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, clock = runtime_at
    await ask(runtime, "status")
    now = clock.now()
    async with runtime.transaction() as tx:
        alice = await tx.session.scalar(select(Participant))
        assert alice is not None
        challenge = Challenge(event_id=runtime.event_id, external_id="C1", title="Clean rivers")
        expert = Expert(event_id=runtime.event_id, name="Dr. Flow")
        tx.session.add_all([challenge, expert])
        await tx.session.flush()
        team = Team(
            event_id=runtime.event_id,
            name="Luftretter",
            name_key="luftretter",
            join_code="ABC123",
            challenge_id=challenge.id,
            member_count=1,
        )
        tx.session.add(team)
        await tx.session.flush()
        tx.session.add(Membership(team_id=team.id, participant_id=alice.id))
        tx.session.add(Submission(team_id=team.id, status="submitted"))
        for hours, cancelled in ((-1, None), (2, now), (3, None), (5, None)):  # past, cancelled, next, later
            slot = Slot(
                expert_id=expert.id,
                starts_at=now + timedelta(hours=hours),
                ends_at=now + timedelta(hours=hours, minutes=20),
            )
            tx.session.add(slot)
            await tx.session.flush()
            tx.session.add(Booking(slot_id=slot.id, team_id=team.id, question="?", cancelled_at=cancelled))
    reply = await ask(runtime, "status", locale="en")
    zone = runtime.event.timezone
    assert reply.fields == [
        ("Team", f"Luftretter (1/{runtime.event.team_max_size})"),
        ("Challenge", "Clean rivers"),
        ("Next booking", Moment(now + timedelta(hours=3), zone).written("en")),
        ("Submission", "submitted"),
    ]


async def test_status_shows_a_shift_at_once_however_long_the_phases_are_kept(organisers: Runtime) -> None:
    organisers.phase_cache.max_age = 3600.0  # only the shift's event may refresh them
    assert (await ask(organisers, "status", locale="en")).text.startswith("Kickoff in 1 h")
    assert (await ask(organisers, "phase shift kickoff +30m", ORGANISER, locale="en")).ok
    assert (await ask(organisers, "status", locale="en")).text.startswith("Kickoff in 1 h 30 min")


async def test_commands_that_find_the_phases_expired_together_read_them_once() -> None:
    cache, loads = PhaseCache(), []

    async def load() -> dict[str, datetime]:
        loads.append(cache.generation)
        await asyncio.sleep(0.01)  # long enough for every command to arrive meanwhile
        return {"kickoff": datetime(2027, 3, 19, 17, tzinfo=UTC)}

    answers = await asyncio.gather(*(cache.get(load) for _ in range(50)))
    assert len(loads) == 1 and all(a == answers[0] for a in answers)
    cache.invalidate()  # a shift heard of: the next command reads them again
    await cache.get(load)
    assert len(loads) == 2


async def test_keeping_the_phases_current_drops_no_event_of_a_large_transaction(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    async with runtime.transaction() as tx:
        for n in range(3000):  # e.g. team matching's teams
            tx.record("team.formed", team=n)
    await asyncio.sleep(0.01)
    assert runtime.bus.dropped == 0


@pytest.mark.redis
async def test_a_shift_in_another_process_reaches_status_over_redis(
    two_processes: tuple[Runtime, Runtime],
) -> None:
    first, second = two_processes
    second.event.organisers["discord"] = ("ORG1",)
    first.phase_cache.max_age = 3600.0
    assert (await ask(first, "status", locale="en")).text.startswith("Kickoff in 1 h")
    assert (await ask(second, "phase shift kickoff +30m", ORGANISER, locale="en")).ok
    for _ in range(100):
        if (await ask(first, "status", locale="en")).text.startswith("Kickoff in 1 h 30 min"):
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the first process still shows the phases from before the shift")


async def test_a_profile_is_normalised_saved_and_shown(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    saved = await ask(runtime, "profile skills JS, python,UX langs en,de tz Europe/Berlin", locale="en")
    assert saved.ok and saved.text.startswith("Profile saved.")
    assert ("Skills", "javascript, python, design") in saved.fields
    shown = await ask(runtime, "profile")
    # The first event language in the profile becomes the reply language from now on.
    assert ("Sprachen", "en, de") in shown.fields or ("Languages", "en, de") in shown.fields
    assert ("Zeitzone", "Europe/Berlin") in shown.fields or ("Time zone", "Europe/Berlin") in shown.fields


async def test_a_skill_stored_under_another_name_is_named_in_the_reply(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    saved = await ask(runtime, "profile skills react, Python, UX , js", locale="en")
    assert saved.text == (
        "Profile saved.\nSkills stored under their common names, so that the matching can compare them: "
        "react → javascript, UX → design, js → javascript"
    )
    plain = await ask(runtime, "profile skills python", locale="en")
    assert plain.text == "Profile saved."


async def test_a_usage_hint_is_joined_to_the_problem_without_doubling_its_punctuation(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    await ask(runtime, "team create Mappers", locale="en")
    reply = await ask(runtime, "help-request law", locale="en")
    assert reply.text == (
        "Give a topic and your question: `/hack help-request law May we show photos?`\n"
        "Write it like this: `/hack help-request <topic> <question> | help-request cancel`"
    )


async def test_languages_may_be_written_with_spaces_or_commas(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    saved = await ask(runtime, "profile langs en de", locale="en")
    assert saved.ok and ("Languages", "en, de") in saved.fields


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("profile skills", "`skills` needs a value"),
        ("profile tz Mars/Olympus", "`Mars/Olympus` is not a time zone"),
        ("profile langs english", "`english` is not a language of this event: its languages are de, en"),
        ("profile langs de,xx", "`xx` is not a language of this event: its languages are de, en"),
        ("profile colour blue", "Use skills, langs, tz and wants"),
        ("profil skills python", "Did you mean `/hack profile"),
        ("stauts", "Did you mean `/hack status`"),
        ("", "Type a command after `/hack`"),
        ("xyzzy", "I don't know `xyzzy`"),
        ("experts legal", "Slots are booked by teams"),
        ("help-request legal why", "Quick questions are asked by teams"),
        ("submit", "Only teams submit"),
        ("team create <b>", "A team name is made of letters"),
        ("announce hello", "for organisers only"),
    ],
)
async def test_bad_input_gets_a_helpful_reply_and_changes_nothing(
    runtime_at: tuple[Runtime, FakeClock], text: str, says: str
) -> None:
    runtime, _ = runtime_at
    await ask(runtime, "profile skills python", locale="en")
    reply = await ask(runtime, text, locale="en")
    assert not reply.ok
    assert says in reply.text
    async with runtime.sessions() as session:
        person = (await session.scalars(select(Participant))).one()
        assert person.skills == ["python"] and person.timezone is None
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_the_first_contact_creates_one_participant_per_chat_account(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    await asyncio.gather(*(ask(runtime, "status") for _ in range(5)), ask(runtime, "status", ORGANISER))
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(PlatformIdentity)) == 2


async def test_a_retried_request_runs_once(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    first = await Bot(runtime).handle(Invocation(ALICE, "profile skills go", request_key="trigger-1"))
    retry = await Bot(runtime).handle(Invocation(ALICE, "profile skills go", request_key="trigger-1"))
    assert first is not None and first.ok
    assert retry is None


async def test_a_refused_command_keeps_its_first_contact_and_runs_once(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    bot = Bot(runtime)
    first = await bot.handle(Invocation(ALICE, "team join NOPE99", locale="en", request_key="trigger-1"))
    assert first is not None and not first.ok and "NOPE99" in first.text
    async with runtime.sessions() as session:
        assert await find(session, ALICE) is not None  # the refusal undid the command, not the contact
    retry = await bot.handle(Invocation(ALICE, "team join NOPE99", request_key="trigger-1"))
    assert retry is None


@pytest.fixture
def exploding_command() -> Iterator[None]:
    async def explode(ctx: Context, args: str) -> Reply:
        raise RuntimeError("a bug")

    command("explode")(explode)
    yield
    COMMANDS.pop("explode", None)


@pytest.mark.usefixtures("exploding_command")
async def test_a_request_that_failed_may_run_again(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    bot = Bot(runtime)
    first = await bot.handle(Invocation(ALICE, "explode", locale="en", request_key="trigger-1"))
    again = await bot.handle(Invocation(ALICE, "profile skills go", request_key="trigger-1"))
    assert first is not None and not first.ok
    assert again is not None and again.ok  # the key was not kept by the request that failed


async def test_an_organiser_announces_and_it_is_audited(organisers: Runtime) -> None:
    reply = await ask(organisers, "announce Lunch is served", ORGANISER, locale="en")
    assert reply.ok and "builtin announcements" in reply.text
    await organisers.jobs.idle()  # type: ignore[attr-defined]
    async with organisers.sessions() as session:
        message = (await session.scalars(select(OutboxMessage))).one()
        entry = (await session.scalars(select(AuditEntry))).one()
    assert message.status == "delivered" and message.payload["texts"] == {"en": "Lunch is served"}
    assert (entry.action, entry.details["text"]) == ("announce", "Lunch is served")


async def test_an_organiser_shifts_the_deadline_from_chat(organisers: Runtime) -> None:
    before = organisers.event.phases["submission_deadline"]
    reply = await ask(organisers, "phase shift submission_deadline +30m", ORGANISER, locale="en")
    assert reply.ok
    async with organisers.reading() as tx:
        assert (await tx.phases())["submission_deadline"] == before + timedelta(minutes=30)
    refused = await ask(organisers, "phase shift kickoff -2d", ORGANISER, locale="en")
    assert not refused.ok and "in the past" in refused.text


async def test_stats_counts_participants_and_an_organiser_only_once_they_act_as_one(
    organisers: Runtime,
) -> None:
    await ask(organisers, "status")
    reply = await ask(organisers, "stats", ORGANISER, locale="en")
    assert ("Participants", "1") in reply.fields
    assert (await ask(organisers, "match me", ORGANISER, locale="en")).ok
    reply = await ask(organisers, "stats", ORGANISER, locale="en")
    assert ("Participants", "2") in reply.fields


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(max_size=300)
    | st.lists(
        st.sampled_from(
            [
                "team",
                "profile",
                "skills",
                "tz",
                "langs",
                "phase",
                "shift",
                "help",
                "/hack",
                ",",
                "`",
                "\u00e4",
                "\x00",
                " ",
            ]
        ),
        max_size=12,
    ).map(" ".join)
)
async def test_no_input_ever_raises_into_a_chat(sqlite_runtime: Runtime, text: str) -> None:
    reply = await ask(sqlite_runtime, text, locale="en")
    assert reply.text or reply.fields
    assert "Traceback" not in reply.text and "Something went wrong" not in reply.text


@pytest.fixture
async def sqlite_runtime(sqlite_url: str, event_file, kickoff, make_runtime):  # type: ignore[no-untyped-def]
    async with make_runtime(sqlite_url, event_file(kickoff=kickoff), FakeClock(kickoff)) as runtime:
        yield runtime


async def test_a_persons_first_two_commands_at_once_make_one_participant(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    replies = await asyncio.gather(
        *(ask(runtime, f"profile skills {s}") for s in ("python", "design", "data"))
    )
    assert all(reply.ok for reply in replies), [reply.text for reply in replies]
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count(Participant.id))) == 1
        assert await session.scalar(select(func.count(PlatformIdentity.id))) == 1
