"""Reminders of booked slots, `[office_hours] reminder` before each (10 minutes by default), to the
team's channel and the expert, fired by the clock exactly once: a fired marker per booking, written
in the transaction that writes the messages, as the clock does for its other items. A reminder whose
slot has begun is not sent any more."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hackserver.foundation import outbox
from hackserver.foundation.i18n import say
from hackserver.foundation.models import Booking, Expert, FiredItem, Slot, Team
from hackserver.officehours.bookings import when
from hackserver.officehours.experts import expert_channel
from hackserver.teams import teams

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transactions


def key_of(booking_id: int) -> str:
    return f"reminder:booking:{booking_id}"


async def fire_due(transactions: Transactions) -> datetime | None:
    """Sends every due reminder not yet sent; returns when the next one is due."""
    lead = transactions.event.office_hours.reminder
    async with transactions.reading() as tx:
        now = tx.now
        rows = (
            await tx.session.execute(
                select(Booking.id, Slot.starts_at)
                .join(Slot)
                .join(Expert)
                .where(Expert.event_id == tx.event_id, Booking.cancelled_at.is_(None), Slot.starts_at > now)
                .order_by(Slot.starts_at)
            )
        ).all()
        fired = set(
            await tx.session.scalars(
                select(FiredItem.key).where(
                    FiredItem.event_id == tx.event_id, FiredItem.key.like("reminder:booking:%")
                )
            )
        )
    for booking_id, starts_at in rows:
        if key_of(booking_id) in fired:
            continue
        if starts_at - lead > now:
            return starts_at - lead
        await fire(transactions, booking_id, starts_at - lead)
    return None


async def fire(transactions: Transactions, booking_id: int, instant: datetime) -> bool:
    try:
        async with transactions.transaction() as tx:
            tx.session.add(
                FiredItem(event_id=tx.event_id, key=key_of(booking_id), instant=instant, status="fired")
            )
            await tx.session.flush()  # a second clock stops here, on the unique marker
            booking = await tx.session.get_one(Booking, booking_id)
            slot = await tx.session.get_one(Slot, booking.slot_id)
            if booking.cancelled_at is not None or slot.starts_at <= tx.now:
                return False  # cancelled since it was read, or begun: the marker says it is done
            team = await tx.session.get_one(Team, booking.team_id)
            expert = await tx.session.get_one(Expert, slot.expert_id)
            params: dict[str, Any] = {
                "minutes": max(1, round((slot.starts_at - tx.now).total_seconds() / 60)),
                "expert_name": expert.name, "team_name": team.name, "question": booking.question,
                "join": expert.join_url or "–", "when": when(tx.event, slot.starts_at),
            }  # fmt: skip
            await teams.post(tx, team, teams.message_key(team, key_of(booking.id)), "reminder.team", **params)
            texts = {language: say(language, "reminder.expert", **params) for language in tx.event.languages}
            await outbox.add(
                tx, f"expert:{expert.id}:{key_of(booking.id)}:builtin", "builtin", expert_channel(expert.id),
                {"author": tx.event.name, "texts": texts},
            )  # fmt: skip
            tx.record("booking.reminded", booking=booking.id, team=team.id, expert=expert.id)
    except IntegrityError:
        return False
    return True
