"""An expert's slots: publishing one or a repeating block, withdrawing free ones, and what is free.

Publishing locks the expert's row, so two pages publishing at once cannot make overlapping slots;
withdrawing locks the slot's row, as booking does, so a slot is either withdrawn or booked, never both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hackserver.foundation.errors import FieldError, NotFound
from hackserver.foundation.i18n import Moment
from hackserver.foundation.models import Booking, Expert, Slot

if TYPE_CHECKING:
    from hackserver.foundation.event import Event
    from hackserver.foundation.transaction import Transaction

MIN_LENGTH, MAX_LENGTH = timedelta(minutes=5), timedelta(hours=2)
MAX_BUFFER = timedelta(hours=1)
MAX_BLOCK = 60  # slots one publication makes
MAX_DAILY = 50


@dataclass(frozen=True)
class Offer:
    """What an expert publishes: one slot (no length) or a block cut into slots with a buffer between."""

    starts_at: datetime
    ends_at: datetime
    length: timedelta | None = None
    buffer: timedelta = timedelta(0)
    topic: str | None = None
    daily_limit: int | None = None

    def cut(self) -> list[tuple[datetime, datetime]]:
        if self.length is None:
            return [(self.starts_at, self.ends_at)]
        cuts, start = [], self.starts_at
        while start + self.length <= self.ends_at:
            cuts.append((start, start + self.length))
            start += self.length + self.buffer
        return cuts


@dataclass(frozen=True)
class FreeSlot:
    slot: Slot
    expert: Expert


def expert_zone(event: Event, expert: Expert) -> ZoneInfo:
    return ZoneInfo(expert.timezone) if expert.timezone else event.timezone


async def locked_expert(tx: Transaction, expert_id: int) -> Expert:
    expert = await tx.session.scalar(select(Expert).where(Expert.id == expert_id).with_for_update())
    if expert is None:
        raise NotFound("expert.gone")
    return expert


class InvalidOffer(FieldError):
    """Every wrong field of an offer, each with its problem (the first is the error's own); nothing
    was published."""

    def __init__(self, problems: dict[str, FieldError]) -> None:
        first = next(iter(problems.values()))
        super().__init__(first.field, first.key, **first.params)
        self.problems = problems


async def check(
    tx: Transaction, expert: Expert, offer: Offer, unread: frozenset[str] = frozenset()
) -> dict[str, FieldError]:
    """Every problem of the offer by field, one each. The `unread` fields (a form could not read
    them; the offer holds stand-ins) are not judged, nor is anything that depends on them."""
    found: dict[str, FieldError] = {}

    def problem(field: str, key: str, **params: object) -> None:
        found.setdefault(field, FieldError(field, key, **params))

    known = {"start", "end", "length", "buffer", "daily_limit"} - unread
    end = (await tx.phases())["end"]
    if "start" in known and offer.starts_at <= tx.now:
        problem("start", "slot.in_past")
    if {"start", "end"} <= known and offer.ends_at <= offer.starts_at:
        problem("end", "slot.end_first")
    if "end" in known and offer.ends_at > end:
        problem("end", "slot.after_event")
    if "length" in known and offer.length is not None and not MIN_LENGTH <= offer.length <= MAX_LENGTH:
        problem("length", "slot.length", low=5, high=120)
    if (
        {"start", "end", "length"} <= known
        and offer.length is None
        and offer.ends_at - offer.starts_at > MAX_LENGTH
    ):
        problem("end", "slot.too_long", high=120)
    if "buffer" in known and not timedelta(0) <= offer.buffer <= MAX_BUFFER:
        problem("buffer", "slot.buffer", high=60)
    if "daily_limit" in known and offer.daily_limit is not None and not 1 <= offer.daily_limit <= MAX_DAILY:
        problem("daily_limit", "slot.daily_limit", high=MAX_DAILY)
    if offer.topic is not None and offer.topic not in expert.topics:
        problem("topic", "slot.topic", topics=", ".join(expert.topics))
    if found or unread:  # what follows judges the offer as a whole
        return found
    cuts = offer.cut()
    if not cuts:
        problem("length", "slot.none_fit")
    elif len(cuts) > MAX_BLOCK:
        problem("end", "slot.too_many", n=len(cuts), high=MAX_BLOCK)
    clash = await tx.session.scalar(
        select(Slot.starts_at)
        .where(
            Slot.expert_id == expert.id,
            Slot.withdrawn_at.is_(None),
            Slot.starts_at < offer.ends_at,
            Slot.ends_at > offer.starts_at,
        )
        .order_by(Slot.starts_at)
        .limit(1)
    )
    if clash is not None:
        problem("start", "slot.overlap", at=Moment(clash, expert_zone(tx.event, expert), named=False))
    return found


async def publish(tx: Transaction, expert_id: int, offer: Offer) -> list[Slot]:
    expert = await locked_expert(tx, expert_id)
    if found := await check(tx, expert, offer):
        raise InvalidOffer(found)
    made = [
        Slot(
            expert_id=expert.id, starts_at=start, ends_at=stop, topic=offer.topic,
            daily_limit=offer.daily_limit,
        )
        for start, stop in offer.cut()
    ]  # fmt: skip
    tx.session.add_all(made)
    await tx.session.flush()
    tx.record("slots.published", expert=expert.id, slots=len(made))
    return made


async def locked_slot(tx: Transaction, slot_id: int) -> Slot | None:
    return await tx.session.scalar(select(Slot).where(Slot.id == slot_id).with_for_update())


async def live_booking(session: AsyncSession, slot_id: int) -> Booking | None:
    return await session.scalar(
        select(Booking).where(Booking.slot_id == slot_id, Booking.cancelled_at.is_(None))
    )


async def withdraw(tx: Transaction, expert_id: int, slot_id: int) -> Slot:
    slot = await locked_slot(tx, slot_id)
    if slot is None or slot.expert_id != expert_id:  # another expert's slot does not exist for this one
        raise NotFound("slot.gone")
    if await live_booking(tx.session, slot.id) is not None:
        raise FieldError("slot", "slot.booked")
    if slot.withdrawn_at is None:
        if slot.starts_at <= tx.now:  # nobody can book it any more: there is nothing to withdraw
            raise FieldError("slot", "slot.begun")
        slot.withdrawn_at = tx.now
        tx.record("slot.withdrawn", expert=expert_id, slot=slot.id)
    return slot


def day_bounds(instant: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    local = instant.astimezone(zone)
    start = datetime(local.year, local.month, local.day, tzinfo=zone)
    return start, datetime.combine(start.date() + timedelta(days=1), start.timetz())


async def booked_that_day(tx: Transaction, expert: Expert, instant: datetime) -> int:
    start, stop = day_bounds(instant, expert_zone(tx.event, expert))
    return int(
        await tx.session.scalar(
            select(func.count())
            .select_from(Booking)
            .join(Slot)
            .where(
                Slot.expert_id == expert.id,
                Booking.cancelled_at.is_(None),
                Slot.starts_at >= start,
                Slot.starts_at < stop,
            )
        )
        or 0
    )


async def free_slots(tx: Transaction, now: datetime) -> list[FreeSlot]:
    """Slots a team may still book: published, not withdrawn, not booked, beyond the cut-off, on a
    day the expert still takes bookings."""
    earliest = now + tx.event.office_hours.cutoff
    rows = await tx.session.execute(
        select(Slot, Expert)
        .join(Expert)
        .outerjoin(Booking, and_(Booking.slot_id == Slot.id, Booking.cancelled_at.is_(None)))
        .where(
            Expert.event_id == tx.event_id,
            Slot.withdrawn_at.is_(None),
            Slot.starts_at > earliest,
            Booking.id.is_(None),
        )
        .order_by(Expert.name, Slot.starts_at)
    )
    found = [FreeSlot(slot, expert) for slot, expert in rows]
    full: dict[tuple[int, datetime], bool] = {}
    kept = []
    for free in found:
        if free.slot.daily_limit is not None:
            day = day_bounds(free.slot.starts_at, expert_zone(tx.event, free.expert))[0]
            if (free.expert.id, day) not in full:
                taken = await booked_that_day(tx, free.expert, free.slot.starts_at)
                full[free.expert.id, day] = taken >= free.slot.daily_limit
            if full[free.expert.id, day]:
                continue
        kept.append(free)
    return kept


def matches(expert: Expert, slot: Slot, topic: str | None) -> bool:
    if not topic:
        return True
    wanted = topic.casefold()
    said = [slot.topic] if slot.topic else expert.topics
    return any(wanted in t.casefold() for t in said)
