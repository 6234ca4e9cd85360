"""The example catalogues beside the event file (challenges, experts, jurors), each imported into a
demo whose event has none of its kind yet, through the importers an organiser uses; and a few free
slots for every expert without one ahead, spread over the hacking phase. Starting the demo again
imports nothing twice."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select

from hackserver.challenges import catalogue
from hackserver.foundation.models import Challenge, Expert, Juror, Slot
from hackserver.judging import jurors
from hackserver.officehours import experts, slots
from hackserver.runtime import Runtime

log = logging.getLogger(__name__)
ACTOR = "demo"
SLOTS_PER_EXPERT = 4
SLOT_LENGTH = timedelta(minutes=30)


async def seed(runtime: Runtime) -> list[str]:
    """What was added, a line each."""
    folder = runtime.settings.event_path.parent
    done: list[str] = []
    if not await _any(runtime, Challenge) and (data := _example(folder / "challenges.example.csv")):
        imported = await catalogue.import_catalogue(runtime, data, "challenges.example.csv", actor=ACTOR)
        if imported.result is not None:
            done.append(imported.result.summary())
    if not await _any(runtime, Expert) and (data := _example(folder / "experts.example.csv")):
        if (pool := await experts.import_experts(runtime, data, actor=ACTOR)).done:
            done.append(pool.summary())
    if not await _any(runtime, Juror) and (data := _example(folder / "jurors.example.csv")):
        rows, problems = jurors.parse_csv(data)
        if not problems:
            async with runtime.transaction() as tx:
                added = await jurors.upsert(tx, rows, actor=ACTOR)
            done.append(f"jurors: {len(added)} added")
    if published := await offer_slots(runtime):
        done.append(f"slots: {published} published in the hacking phase")
    return done


async def _any(runtime: Runtime, model: Any) -> bool:
    async with runtime.reading() as tx:
        return bool(await tx.session.scalar(select(exists().where(model.event_id == tx.event_id))))


def _example(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        log.info("demo: no %s beside the event file, so none of that kind", path.name)
        return None


async def offer_slots(runtime: Runtime) -> int:
    """Slots spread over the hacking phase, staggered between experts, for every expert who has no
    free one ahead (a demo started again begins its event anew, later than the slots it had)."""
    async with runtime.transaction() as tx:
        phases = await tx.phases()
        ahead = select(Slot.id).where(
            Slot.expert_id == Expert.id, Slot.withdrawn_at.is_(None), Slot.starts_at > tx.now
        )
        waiting = list(
            await tx.session.scalars(
                select(Expert.id).where(Expert.event_id == tx.event_id, ~ahead.exists()).order_by(Expert.id)
            )
        )
        begins = max(phases["hacking"], tx.now + tx.event.office_hours.cutoff)
        span = (phases["submission_deadline"] - SLOT_LENGTH - begins) / SLOTS_PER_EXPERT
        published = 0
        for number, expert_id in enumerate(waiting):
            for k in range(SLOTS_PER_EXPERT):
                start = quarter_hour(begins + span * (k + (number + 0.5) / len(waiting)))
                offer = slots.Offer(start, start + SLOT_LENGTH)
                published += len(await slots.publish(tx, expert_id, offer))
        return published


def quarter_hour(instant: datetime) -> datetime:
    """Rounded up to a quarter hour, as a person would offer it."""
    later = instant + timedelta(minutes=14, seconds=59)
    return later.replace(minute=later.minute // 15 * 15, second=0, microsecond=0)
