"""A team's bookings of expert slots: book, cancel, reschedule; an expert marks a no-show.

The database decides competing bookings: a booking locks its team's row first (so a team's limit of
future bookings holds however many of its members book at once) and then the slot's row (so a slot
being withdrawn waits), and the partial unique index on live bookings lets a slot be booked once.
Every change tells the team's channel and the expert, through the outbox, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hackserver.foundation import outbox
from hackserver.foundation.errors import FieldError, NotFound, TooLate
from hackserver.foundation.i18n import Moment, say
from hackserver.foundation.models import Booking, Expert, Slot, Team
from hackserver.foundation.text_limits import bounded
from hackserver.officehours import slots
from hackserver.officehours.experts import expert_channel
from hackserver.teams import teams

if TYPE_CHECKING:
    from hackserver.foundation.event import Event
    from hackserver.foundation.transaction import Transaction


def clean_question(raw: str) -> str:
    question = " ".join(raw.split())
    if not question:
        raise FieldError("question", "booking.question_missing")
    return bounded("question", question)


async def locked_team(tx: Transaction, team_id: int) -> Team:
    team = await tx.session.scalar(select(Team).where(Team.id == team_id).with_for_update())
    if team is None:
        raise NotFound("booking.team_gone")
    return team


async def book(
    tx: Transaction,
    team_id: int,
    slot_id: int,
    question: str,
    *,
    replacing: Booking | None = None,
) -> Booking:
    asked = clean_question(question)
    team = await locked_team(tx, team_id)
    booking = await _take(tx, team, slot_id, asked)
    if replacing is not None:
        booking.series_id = replacing.series_id or replacing.id
    slot = await tx.session.get_one(Slot, booking.slot_id)
    expert = await tx.session.get_one(Expert, slot.expert_id)
    what = "booking.rescheduled" if replacing else "booking.made"
    tx.record(what, team=team.id, booking=booking.id, slot=slot.id, expert=expert.id, **_names(team, expert))
    await _tell(tx, team, expert, slot, booking, what)
    return booking


async def _take(tx: Transaction, team: Team, slot_id: int, question: str) -> Booking:
    rules = tx.event.office_hours
    slot = await slots.locked_slot(tx, slot_id)
    expert = await tx.session.get(Expert, slot.expert_id) if slot is not None else None
    if slot is None or expert is None or expert.event_id != tx.event_id or slot.withdrawn_at is not None:
        raise FieldError("slot", "booking.slot_gone")
    if slot.starts_at <= tx.now:
        raise FieldError("slot", "booking.past")
    if slot.starts_at - rules.cutoff <= tx.now:
        raise FieldError("slot", "booking.cutoff", minutes=int(rules.cutoff.total_seconds() // 60))
    if await slots.live_booking(tx.session, slot.id) is not None:
        raise FieldError("slot", "booking.taken")
    mine = (
        select(Slot)
        .join(Booking)
        .where(Booking.team_id == team.id, Booking.cancelled_at.is_(None), Slot.ends_at > tx.now)
    )
    held = int(await tx.session.scalar(select(func.count()).select_from(mine.subquery())) or 0)
    if held >= rules.max_future_bookings:
        raise FieldError("slot", "booking.limit", n=rules.max_future_bookings)
    overlap = mine.where(Slot.starts_at < slot.ends_at, Slot.ends_at > slot.starts_at)
    if await tx.session.scalar(overlap.limit(1)) is not None:
        raise FieldError("slot", "booking.overlap")
    if slot.daily_limit is not None:
        await slots.locked_expert(tx, expert.id)  # the day's count stands until we commit
        if await slots.booked_that_day(tx, expert, slot.starts_at) >= slot.daily_limit:
            raise FieldError("slot", "booking.day_full")
    booking = Booking(slot_id=slot.id, team_id=team.id, question=question, created_at=tx.now)
    try:
        async with tx.session.begin_nested():
            tx.session.add(booking)
    except IntegrityError:  # booked meanwhile by another team: the unique index decided
        raise FieldError("slot", "booking.taken") from None
    return booking


async def _live_of_team(tx: Transaction, team_id: int, booking_id: int) -> tuple[Booking, Slot]:
    booking = await tx.session.scalar(select(Booking).where(Booking.id == booking_id).with_for_update())
    if booking is None or booking.team_id != team_id or booking.cancelled_at is not None:
        raise NotFound("booking.gone")
    return booking, await tx.session.get_one(Slot, booking.slot_id)


def _before_cutoff(tx: Transaction, slot: Slot) -> None:
    cutoff = tx.event.office_hours.cutoff
    if slot.starts_at - cutoff <= tx.now:
        raise TooLate("booking.change_cutoff", minutes=int(cutoff.total_seconds() // 60))


async def cancel(tx: Transaction, team_id: int, booking_id: int) -> Booking:
    team = await locked_team(tx, team_id)
    booking, slot = await _live_of_team(tx, team.id, booking_id)
    _before_cutoff(tx, slot)
    booking.cancelled_at = tx.now
    await tx.session.flush()
    expert = await tx.session.get_one(Expert, slot.expert_id)
    tx.record(
        "booking.cancelled",
        team=team.id,
        booking=booking.id,
        slot=slot.id,
        expert=expert.id,
        **_names(team, expert),
    )
    await _tell(tx, team, expert, slot, booking, "booking.cancelled")
    return booking


async def reschedule(
    tx: Transaction,
    team_id: int,
    booking_id: int,
    slot_id: int,
    question: str | None = None,
) -> Booking:
    """Moves a booking to another free slot, in one transaction: if the new one is refused, the old
    booking stands."""
    team = await locked_team(tx, team_id)
    old, slot = await _live_of_team(tx, team.id, booking_id)
    _before_cutoff(tx, slot)
    old.cancelled_at = tx.now
    await tx.session.flush()
    return await book(tx, team.id, slot_id, question or old.question, replacing=old)


async def mark_no_show(tx: Transaction, expert_id: int, booking_id: int) -> Booking:
    booking = await tx.session.get(Booking, booking_id)
    slot = await tx.session.get(Slot, booking.slot_id) if booking is not None else None
    if booking is None or slot is None or slot.expert_id != expert_id or booking.cancelled_at is not None:
        raise NotFound("booking.gone")
    if slot.starts_at > tx.now:
        raise FieldError("booking", "booking.not_begun")
    booking.no_show = True
    tx.record("booking.no_show", booking=booking.id, team=booking.team_id, expert=expert_id)
    return booking


def when(event: Event, instant: datetime) -> Moment:
    return Moment(instant, event.timezone)


def _names(team: Team, expert: Expert) -> dict[str, str]:  # for the organisers' feed
    return {"team_name": team.name, "expert_name": expert.name}


async def _tell(tx: Transaction, team: Team, expert: Expert, slot: Slot, booking: Booking, what: str) -> None:
    from hackserver.foundation import links

    token = await links.grant(tx, "book", team.id)
    ics = f"{tx.links.address('book', token)}/bookings/{booking.id}.ics"
    join = expert.join_url or ""
    params: dict[str, Any] = {
        "expert_name": expert.name, "team_name": team.name, "question": booking.question, "ics": ics,
        "join": join or "–", "when": when(tx.event, slot.starts_at),
    }  # fmt: skip
    await teams.post(tx, team, teams.message_key(team, f"{what}:{booking.id}"), f"{what}.team", **params)
    texts = {language: say(language, f"{what}.expert", **params) for language in tx.event.languages}
    await outbox.add(
        tx, f"expert:{expert.id}:{what}:{booking.id}:builtin", "builtin", expert_channel(expert.id),
        {"author": tx.event.name, "texts": texts},
    )  # fmt: skip
