"""What the organisers' dashboard shows, as one snapshot read from the database in one read
transaction: where the sprint stands, the counts, delivery health, the coming announcements and the
alerts that need a human. A handful of aggregate queries, whatever the size of the event."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, exists, func, select

from hackserver.clock import schedule
from hackserver.event import PHASES
from hackserver.models import (
    Booking,
    Challenge,
    Expert,
    FiredItem,
    HelpTicket,
    Membership,
    OutboxMessage,
    Participant,
    Slot,
    Submission,
    Team,
)
from hackserver.phases import current_phase, next_phase

if TYPE_CHECKING:
    from hackserver.runtime import Runtime, Transaction

LISTED = 10  # names an alert or a list shows; the count says how many more
WAITING = ("pending", "sending")


@dataclass(frozen=True)
class Alert:
    kind: str  # small_team | uncovered_challenge | idle_expert | dead_letters
    count: int
    names: list[str]


def begun(phases: dict[str, datetime], name: str, now: datetime) -> bool:
    return name in phases and phases[name] <= now


async def snapshot(runtime: Runtime, tx: Transaction) -> dict[str, Any]:
    """Everything the dashboard shows but the feed and the chart, which live in memory."""
    session, event_id, now = tx.session, runtime.event_id, tx.now
    phases = await runtime.phases(session)
    coming = next_phase(phases, now)

    people = (
        await session.execute(
            select(
                func.count(Participant.id),
                func.count(Membership.id),
                func.count(case((and_(Participant.in_match_pool, Membership.id.is_(None)), 1))),
            )
            .select_from(Participant)
            .outerjoin(Membership, Membership.participant_id == Participant.id)
            .where(Participant.event_id == event_id)
        )
    ).one()
    sizes = {
        int(size): int(n)
        for size, n in await session.execute(
            select(Team.member_count, func.count())
            .where(Team.event_id == event_id)
            .group_by(Team.member_count)
        )
    }
    covered = exists().where(Team.challenge_id == Challenge.id)
    challenge_rows = (
        await session.execute(
            select(func.count(), func.count(case((covered, 1)))).where(Challenge.event_id == event_id)
        )
    ).one()
    slots = await _slots(tx, event_id)
    help_desk = await _help_desk(tx, event_id)
    submissions = {
        status: int(n)
        for status, n in await session.execute(
            select(Submission.status, func.count())
            .join(Team, Team.id == Submission.team_id)
            .where(Team.event_id == event_id)
            .group_by(Submission.status)
        )
    }
    delivery = await _delivery(tx)
    alerts = await _alerts(runtime, tx, phases, sizes, delivery)
    return {
        "now": now.isoformat(),
        "speed": runtime.clock.speed,
        "phase": current_phase(phases, now),
        "next": {"phase": coming[0], "at": coming[1].isoformat()} if coming else None,
        "phases": [{"name": n, "at": phases[n].isoformat()} for n in PHASES if n in phases],
        "counts": {
            "registrations": int(people[0]),
            "in_teams": int(people[1]),
            "pool": int(people[2]),
            "teams": sum(sizes.values()),
            "challenges_covered": int(challenge_rows[1]),
            "challenges_uncovered": int(challenge_rows[0]) - int(challenge_rows[1]),
            **slots,
            **help_desk,
            "submissions_draft": submissions.get("draft", 0),
            "submissions_final": sum(n for status, n in submissions.items() if status != "draft"),
        },
        "team_sizes": [[size, n] for size, n in sorted(sizes.items())],
        "team_limits": [runtime.event.team_min_size, runtime.event.team_max_size],
        "delivery": delivery,
        "schedule": await _schedule(runtime, tx, phases),
        "alerts": [alert.__dict__ for alert in alerts],
    }


HELP_SAMPLE = 500  # the latest taken questions the wait percentiles are drawn from


async def _help_desk(tx: Transaction, event_id: int) -> dict[str, int]:
    """Ask-now questions: how many wait for an expert, and how long the latest taken ones waited."""
    waiting = await tx.session.scalar(
        select(func.count(HelpTicket.id)).where(
            HelpTicket.event_id == event_id,
            HelpTicket.claimed_at.is_(None),
            HelpTicket.cancelled_at.is_(None),
        )
    )
    taken = await tx.session.execute(
        select(HelpTicket.created_at, HelpTicket.claimed_at)
        .where(HelpTicket.event_id == event_id, HelpTicket.claimed_at.is_not(None))
        .order_by(HelpTicket.claimed_at.desc())
        .limit(HELP_SAMPLE)
    )
    waits = sorted((claimed - created).total_seconds() for created, claimed in taken if claimed is not None)

    def percentile(share: float) -> int:  # nearest rank; 0 while none was taken
        return round(waits[max(0, math.ceil(share * len(waits)) - 1)]) if waits else 0

    return {
        "help_waiting": int(waiting or 0),
        "help_wait_p50_s": percentile(0.5),
        "help_wait_p90_s": percentile(0.9),
    }


async def _slots(tx: Transaction, event_id: int) -> dict[str, int]:
    live = and_(Booking.slot_id == Slot.id, Booking.cancelled_at.is_(None))
    row = (
        await tx.session.execute(
            select(
                func.count(Booking.id),
                func.count(case((Booking.no_show, 1))),
            )
            .select_from(Booking)
            .join(Slot, Slot.id == Booking.slot_id)
            .join(Expert, Expert.id == Slot.expert_id)
            .where(Expert.event_id == event_id, Booking.cancelled_at.is_(None))
        )
    ).one()
    free = await tx.session.scalar(
        select(func.count(Slot.id))
        .join(Expert, Expert.id == Slot.expert_id)
        .where(
            Expert.event_id == event_id,
            Slot.withdrawn_at.is_(None),
            Slot.starts_at > tx.now,
            ~exists().where(live),
        )
    )
    return {"bookings": int(row[0]), "no_shows": int(row[1]), "free_slots": int(free or 0)}


async def _delivery(tx: Transaction) -> dict[str, Any]:
    """The outbox by platform and status, and the newest dead letters (the retry button's rows)."""
    by_platform: dict[str, dict[str, int]] = {}
    for platform, status, n in await tx.session.execute(
        select(OutboxMessage.platform, OutboxMessage.status, func.count()).group_by(
            OutboxMessage.platform, OutboxMessage.status
        )
    ):
        by_platform.setdefault(platform, {})[status] = int(n)
    dead = [
        {
            "id": m.id,
            "platform": m.platform,
            "channel": m.channel,
            "error": m.last_error or "",
            "attempts": m.attempts,
        }
        for m in await tx.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "dead")
            .order_by(OutboxMessage.id.desc())
            .limit(LISTED)
        )
    ]
    return {
        "queued": sum(n for counts in by_platform.values() for s, n in counts.items() if s in WAITING),
        "dead_count": sum(counts.get("dead", 0) for counts in by_platform.values()),
        "platforms": [
            {"platform": p, **{s: counts.get(s, 0) for s in ("pending", "sending", "delivered", "dead")}}
            for p, counts in sorted(by_platform.items())
        ],
        "dead": dead,
    }


async def _schedule(runtime: Runtime, tx: Transaction, phases: dict[str, datetime]) -> list[dict[str, Any]]:
    """The announcements still to come: the event file's, at their instants after shifts, not yet fired."""
    fired = {
        (key, instant)
        for key, instant in await tx.session.execute(
            select(FiredItem.key, FiredItem.instant).where(FiredItem.event_id == runtime.event_id)
        )
    }
    language = runtime.event.default_language
    coming = [
        {
            "id": item.announcement.id,
            "at": item.instant.isoformat(),
            "when": str(item.announcement.at),
            "channel": item.announcement.channel,
            "text": item.announcement.texts.get(language) or next(iter(item.announcement.texts.values()), ""),
        }
        for item in schedule(runtime.event, phases)
        if item.announcement is not None and (item.key, item.instant) not in fired and item.instant > tx.now
    ]
    return coming[:LISTED]


async def _alerts(
    runtime: Runtime,
    tx: Transaction,
    phases: dict[str, datetime],
    sizes: dict[int, int],
    delivery: dict[str, Any],
) -> list[Alert]:
    session, event_id, now, found = tx.session, runtime.event_id, tx.now, []
    if begun(phases, "team_formation_close", now):
        minimum = runtime.event.team_min_size
        small = sum(n for size, n in sizes.items() if size < minimum)
        if small:
            names = await session.scalars(
                select(Team.name)
                .where(Team.event_id == event_id, Team.member_count < minimum)
                .order_by(Team.member_count, Team.name)
                .limit(LISTED)
            )
            found.append(Alert("small_team", small, list(names)))
        nobody = ~exists().where(Team.challenge_id == Challenge.id)
        untaken = await _counted(
            tx,
            select(Challenge.external_id + ": " + Challenge.title)
            .where(Challenge.event_id == event_id, nobody)
            .order_by(Challenge.external_id),
        )
        if untaken[0]:
            found.append(Alert("uncovered_challenge", *untaken))
    if begun(phases, "kickoff", now):
        booked = exists().where(
            Slot.expert_id == Expert.id, Booking.slot_id == Slot.id, Booking.cancelled_at.is_(None)
        )
        idle = await _counted(
            tx, select(Expert.name).where(Expert.event_id == event_id, ~booked).order_by(Expert.name)
        )
        if idle[0]:
            found.append(Alert("idle_expert", *idle))
    if delivery["dead_count"]:
        dead = [f"#{d['id']} {d['platform']}" for d in delivery["dead"]]
        found.append(Alert("dead_letters", delivery["dead_count"], dead))
    return found


async def _counted(tx: Transaction, query: Any) -> tuple[int, list[str]]:
    """How many rows a query of names has, and the first few of them."""
    total = await tx.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    names = list(await tx.session.scalars(query.limit(LISTED)))
    return int(total or 0), names
