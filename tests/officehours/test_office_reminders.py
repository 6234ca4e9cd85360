"""Office hours in chat and on the clock: `/hack experts` for team members with the booking link,
the next booking in `status`, and reminders before a slot sent exactly once to team and expert."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from hackserver.clock import SprintClock
from hackserver.foundation import links
from hackserver.foundation.models import Booking, OutboxMessage, Team
from hackserver.officehours import bookings
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity
from tests.bots.test_bot_commands import ask
from tests.fakes import FakeClock
from tests.office import expert, publish

BOB = Identity("slack", "T1", "UBOB", "bob")


async def reminders_sent(runtime: Runtime) -> list[str]:
    async with runtime.reading() as tx:
        rows = await tx.session.scalars(
            select(OutboxMessage.key).where(OutboxMessage.key.like("%reminder:booking%"))
        )
        return sorted(rows)


async def booked_team(runtime: Runtime, kickoff: datetime) -> tuple[int, int]:
    await ask(runtime, "team create Luftretter", locale="en")
    anna = await expert(runtime)
    (slot,) = await publish(runtime, anna.id, kickoff + timedelta(hours=2))
    async with runtime.transaction() as tx:
        team = (await tx.session.scalars(select(Team))).one()
        await bookings.book(tx, team.id, slot.id, "Wie anonymisieren wir?")
    return team.id, anna.id


async def test_experts_answers_a_team_member_with_the_teams_booking_link(
    runtime_at: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, _ = runtime_at
    anna = await expert(runtime, topics=("data", "law"))
    await publish(runtime, anna.id, kickoff + timedelta(hours=2))
    assert not (await ask(runtime, "experts", locale="en")).ok  # not in a team yet
    await ask(runtime, "profile skills python tz America/New_York", locale="en")
    await ask(runtime, "team create Luftretter", locale="en")
    reply = await ask(runtime, "experts DATA", locale="en")
    assert reply.ok and "Anna Schäfer" in reply.text
    ((_, path),) = reply.links
    token = urlsplit(path).path.removeprefix("/book/")
    assert "tz=America/New_York" in path
    async with runtime.reading() as tx:
        team = (await tx.session.scalars(select(Team))).one()
        assert (await links.open_link(tx, "book", token)).subject_id == team.id
    nobody = await ask(runtime, "experts cooking", locale="en")
    assert "Nobody on “cooking” has free slots" in nobody.text


async def test_status_shows_the_teams_next_booking(
    runtime_at: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, _ = runtime_at
    await booked_team(runtime, kickoff)
    status = await ask(runtime, "status", locale="en")
    assert ("Next booking", "Fri, Mar 19, 8:00\u202fPM (Europe/Berlin)") in status.fields


async def test_a_reminder_goes_to_team_and_expert_exactly_once(
    runtime_at: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, clock = runtime_at
    _, anna = await booked_team(runtime, kickoff)
    clock_one, clock_two = SprintClock(runtime), SprintClock(runtime)
    clock.set(kickoff + timedelta(hours=2) - timedelta(minutes=11))
    next_due = await clock_one.fire_due()
    assert await reminders_sent(runtime) == []
    assert next_due is not None and next_due <= kickoff + timedelta(hours=2) - timedelta(minutes=10)
    clock.set(kickoff + timedelta(hours=2) - timedelta(minutes=9))
    await asyncio.gather(clock_one.fire_due(), clock_two.fire_due())
    await clock_one.fire_due()
    sent = await reminders_sent(runtime)
    assert len([k for k in sent if k.startswith("expert:")]) == 1
    assert len([k for k in sent if k.startswith("team:") and k.endswith(":builtin")]) == 1
    async with runtime.reading() as tx:
        to_expert = await tx.session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.channel == f"expert-{anna}", OutboxMessage.key.like("%reminder%")
            )
        )
    assert to_expert is not None and "In 9 minutes: team Luftretter" in to_expert.payload["texts"]["en"]


async def test_a_cancelled_booking_is_not_reminded(
    runtime_at: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, clock = runtime_at
    team_id, _ = await booked_team(runtime, kickoff)
    async with runtime.transaction() as tx:
        booking = (await tx.session.scalars(select(Booking))).one()
        await bookings.cancel(tx, team_id, booking.id)
    clock.set(kickoff + timedelta(hours=2) - timedelta(minutes=5))
    await SprintClock(runtime).fire_due()
    assert await reminders_sent(runtime) == []


async def test_a_reminder_missed_until_the_slot_began_is_not_sent_late(
    runtime_at: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, clock = runtime_at
    await booked_team(runtime, kickoff)
    clock.set(kickoff + timedelta(hours=2, minutes=1))  # the clock was down through the reminder
    await SprintClock(runtime).fire_due()
    assert await reminders_sent(runtime) == []


def test_slack_gets_a_booking_path_as_text_not_as_a_button() -> None:
    from bots import slack_render
    from bots.core import Reply

    rendered = slack_render.render(Reply("Book here: /book/abc", links=[("Book a slot", "/book/abc")]))
    assert all(block["type"] != "actions" for block in rendered.get("blocks", []))
    assert "/book/abc" in str(rendered)
