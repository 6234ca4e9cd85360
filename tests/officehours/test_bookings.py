"""Booking expert slots: the database decides competing bookings, a team's limit holds under
concurrency, and the cut-off, the past, withdrawn and overlapping slots are refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hackserver.foundation.errors import DomainError, FieldError, NotFound, TooLate
from hackserver.foundation.models import Booking, OutboxMessage, Slot
from hackserver.officehours import bookings, slots
from hackserver.runtime import Runtime
from tests.fakes import FakeClock, event_toml
from tests.office import expert, office_hours_event, publish, team


@pytest.fixture
async def office(
    database_url: str, tmp_path: Path, kickoff: datetime, make_runtime: Callable[..., Any]
) -> AsyncIterator[tuple[Runtime, FakeClock]]:
    path = tmp_path / "event.toml"
    path.write_text(office_hours_event(event_toml(kickoff), cutoff="30m", max_future_bookings=2))
    clock = FakeClock(kickoff - timedelta(hours=1))
    async with make_runtime(database_url, path, clock) as runtime:
        yield runtime, clock


async def attempt(
    runtime: Runtime, team_id: int, slot_id: int, question: str = "Wie anonymisieren wir?"
) -> str:
    try:
        async with runtime.transaction() as tx:
            await bookings.book(tx, team_id, slot_id, question)
    except DomainError as refused:
        return refused.key
    return "booked"


async def live_bookings(runtime: Runtime) -> list[tuple[int, int]]:
    async with runtime.reading() as tx:
        rows = await tx.session.execute(
            select(Booking.slot_id, Booking.team_id).where(Booking.cancelled_at.is_(None))
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_a_thousand_attempts_on_a_hundred_slots_make_a_hundred_bookings(
    office: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, _ = office
    offered: list[Slot] = []
    for n in range(10):
        person = await expert(runtime, f"Expert {n}")
        start = kickoff + timedelta(hours=2 + n * 4)
        offered += await publish(runtime, person.id, start, minutes=10 * 20, length=timedelta(minutes=20))
    assert len(offered) == 100
    crowd = [await team(runtime, f"Team {n}") for n in range(500)]
    # Each slot is wanted by ten teams; each team wants two slots at different times.
    tries = [(t.id, offered[(n + k * 50) % 100].id) for n, t in enumerate(crowd) for k in range(2)]
    outcomes = await asyncio.gather(*(attempt(runtime, t, s) for t, s in tries))
    assert outcomes.count("booked") == 100
    assert set(outcomes) == {"booked", "booking.taken"}
    made = await live_bookings(runtime)
    assert len({slot for slot, _ in made}) == len(made) == 100


async def test_twenty_members_booking_at_once_never_exceed_the_team_limit(
    office: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, _ = office
    person = await expert(runtime)
    offered = await publish(runtime, person.id, kickoff + timedelta(hours=2), minutes=20 * 30, length=timedelta(minutes=20), buffer=timedelta(minutes=10))  # fmt: skip
    ours = await team(runtime, "Luftretter")
    outcomes = await asyncio.gather(*(attempt(runtime, ours.id, s.id) for s in offered))
    assert outcomes.count("booked") == 2
    assert set(outcomes) == {"booked", "booking.limit"}
    assert len(await live_bookings(runtime)) == 2


async def test_a_slot_inside_the_cutoff_or_begun_is_refused(
    office: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, clock = office
    person = await expert(runtime)
    (slot,) = await publish(runtime, person.id, kickoff + timedelta(hours=2))
    ours = await team(runtime, "Luftretter")
    clock.set(slot.starts_at - timedelta(minutes=29))
    assert await attempt(runtime, ours.id, slot.id) == "booking.cutoff"
    clock.set(slot.starts_at + timedelta(minutes=1))
    assert await attempt(runtime, ours.id, slot.id) == "booking.past"
    assert await live_bookings(runtime) == []


async def test_cancel_and_reschedule_close_at_the_cutoff(
    office: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, clock = office
    person = await expert(runtime)
    first, second = await publish(runtime, person.id, kickoff + timedelta(hours=2), minutes=40, length=timedelta(minutes=20))  # fmt: skip
    ours = await team(runtime, "Luftretter")
    assert await attempt(runtime, ours.id, first.id) == "booked"
    (booking_id,) = [b for b in await booking_ids(runtime)]
    async with runtime.transaction() as tx:
        moved = await bookings.reschedule(tx, ours.id, booking_id, second.id)
    assert await live_bookings(runtime) == [(second.id, ours.id)]
    clock.set(second.starts_at - timedelta(minutes=20))
    with pytest.raises(TooLate):
        async with runtime.transaction() as tx:
            await bookings.cancel(tx, ours.id, moved.id)
    assert await live_bookings(runtime) == [(second.id, ours.id)]


async def booking_ids(runtime: Runtime) -> list[int]:
    async with runtime.reading() as tx:
        return list(await tx.session.scalars(select(Booking.id).where(Booking.cancelled_at.is_(None))))


async def test_a_team_cannot_cancel_another_teams_booking(
    office: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, _ = office
    person = await expert(runtime)
    (slot,) = await publish(runtime, person.id, kickoff + timedelta(hours=2))
    ours, theirs = await team(runtime, "Luftretter"), await team(runtime, "Wasserwacht")
    assert await attempt(runtime, theirs.id, slot.id) == "booked"
    (booking_id,) = await booking_ids(runtime)
    with pytest.raises(NotFound):
        async with runtime.transaction() as tx:
            await bookings.cancel(tx, ours.id, booking_id)
    assert await live_bookings(runtime) == [(slot.id, theirs.id)]


async def test_an_expert_cannot_withdraw_another_experts_slot_nor_a_booked_one(
    office: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, _ = office
    anna, jonas = await expert(runtime), await expert(runtime, "Jonas Weber")
    (slot,) = await publish(runtime, anna.id, kickoff + timedelta(hours=2))
    with pytest.raises(NotFound):
        async with runtime.transaction() as tx:
            await slots.withdraw(tx, jonas.id, slot.id)
    ours = await team(runtime, "Luftretter")
    assert await attempt(runtime, ours.id, slot.id) == "booked"
    with pytest.raises(FieldError) as refused:
        async with runtime.transaction() as tx:
            await slots.withdraw(tx, anna.id, slot.id)
    assert refused.value.key == "slot.booked"


async def test_withdrawn_and_overlapping_slots_cannot_be_booked_or_published(
    office: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, _ = office
    anna = await expert(runtime)
    (slot,) = await publish(runtime, anna.id, kickoff + timedelta(hours=2))
    with pytest.raises(FieldError) as refused:
        await publish(runtime, anna.id, kickoff + timedelta(hours=2, minutes=10))
    assert refused.value.key == "slot.overlap"
    async with runtime.transaction() as tx:
        await slots.withdraw(tx, anna.id, slot.id)
    ours = await team(runtime, "Luftretter")
    assert await attempt(runtime, ours.id, slot.id) == "booking.slot_gone"


async def test_a_team_cannot_hold_two_slots_at_the_same_time(
    office: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, _ = office
    anna, jonas = await expert(runtime), await expert(runtime, "Jonas Weber")
    (one,) = await publish(runtime, anna.id, kickoff + timedelta(hours=2))
    (other,) = await publish(runtime, jonas.id, kickoff + timedelta(hours=2, minutes=10))
    ours = await team(runtime, "Luftretter")
    assert await attempt(runtime, ours.id, one.id) == "booked"
    assert await attempt(runtime, ours.id, other.id) == "booking.overlap"


async def test_a_daily_limit_stops_bookings_of_that_day(
    office: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, _ = office
    anna = await expert(runtime)
    offered = await publish(runtime, anna.id, kickoff + timedelta(hours=2), minutes=60, length=timedelta(minutes=20), daily_limit=1)  # fmt: skip
    first, second = await team(runtime, "Luftretter"), await team(runtime, "Wasserwacht")
    assert await attempt(runtime, first.id, offered[0].id) == "booked"
    assert await attempt(runtime, second.id, offered[1].id) == "booking.day_full"
    async with runtime.reading() as tx:
        assert await slots.free_slots(tx, tx.now) == []


async def test_a_booking_tells_the_team_and_the_expert_through_the_outbox(
    office: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, _ = office
    anna = await expert(runtime)
    (slot,) = await publish(runtime, anna.id, kickoff + timedelta(hours=2))
    ours = await team(runtime, "Luftretter")
    assert await attempt(runtime, ours.id, slot.id, "  Wie   anonymisieren wir Daten?  ") == "booked"
    async with runtime.reading() as tx:
        rows = list(await tx.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    channels = {row.channel for row in rows}
    assert f"expert-{anna.id}" in channels and any(c.startswith("team-luftretter") for c in channels)
    team_text = next(r for r in rows if r.channel.startswith("team-")).payload["texts"]["en"]
    assert "Wie anonymisieren wir Daten?" in team_text and "https://meet.example.org/anna" in team_text
    assert ".ics" in team_text


@pytest.mark.parametrize(
    ("question", "refusal"),
    [("", "booking.question_missing"), ("   ", "booking.question_missing"), ("x" * 301, "text.too_long")],
)
async def test_a_bad_question_books_nothing(
    office: tuple[Runtime, FakeClock], kickoff: datetime, question: str, refusal: str
) -> None:
    runtime, _ = office
    anna = await expert(runtime)
    (slot,) = await publish(runtime, anna.id, kickoff + timedelta(hours=2))
    ours = await team(runtime, "Luftretter")
    assert await attempt(runtime, ours.id, slot.id, question) == refusal
    async with runtime.reading() as tx:
        assert await tx.session.scalar(select(func.count()).select_from(Booking)) == 0
