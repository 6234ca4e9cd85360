"""What the organisers' dashboard shows, read in one read transaction (the phases from the runtime's
cache, which a shift drops): where the sprint stands, the counts, delivery health, the coming
announcements and the alerts that need a human.

Under load every statement waits for the busy event loop, so a snapshot takes few, whatever the size
of the event: one for all the numbers, one for the group-bys, one for the fired announcements, and one
for each list (dead letters, an alert's names) only when it has something to show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Exists,
    ScalarSelect,
    Select,
    String,
    cast,
    exists,
    func,
    literal,
    null,
    select,
    union_all,
)

from hackserver.foundation.db import microseconds_between
from hackserver.foundation.event import PHASES, RelativeTime
from hackserver.foundation.i18n import say, when
from hackserver.foundation.models import (
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
from hackserver.sprint.phases import current_phase, next_phase
from hackserver.sprint.schedule import schedule
from hackserver.teams.participants import only_organising

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction

LISTED = 10  # names an alert or a list shows; the count says how many more
ALERTS_ONLY = ("experts", "experts_unbooked", "experts_without_slots")  # counts the alerts use, not shown
TIMES = {"en": "en_GB"}  # English times as the organisers write them: 24 hours, day first
WAITING = ("pending", "sending")


@dataclass(frozen=True)
class Alert:
    kind: str  # dead_letters | small_team | uncovered_challenge | experts_without_slots | experts_unbooked
    count: int
    names: list[str]  # the first LISTED; none where a count says enough
    level: str = "act"  # act: someone must do something now; note: worth a look when there is time
    of: int | None = None  # out of how many, where that is what makes the count telling


def time_locale(language: str) -> str:
    """The Babel locale the dashboard writes its times in, for a page in that language."""
    return TIMES.get(language, language)


def begun(phases: dict[str, datetime], name: str, now: datetime) -> bool:
    return name in phases and phases[name] <= now


async def snapshot(tx: Transaction, phases: dict[str, datetime], speed: float) -> dict[str, Any]:
    """Everything the dashboard shows but the feed and the chart, which live in memory; `phases` as
    the process keeps them between shifts, `speed` the event clock's."""
    event_id, now = tx.event_id, tx.now
    coming = next_phase(phases, now)
    counts = await _counts(tx, event_id)
    sizes, outbox = await _tallies(tx, event_id)
    delivery = await _delivery(tx, outbox)
    alerts = await _alerts(tx, phases, counts, sizes, delivery)
    return {
        "now": now.isoformat(),
        "speed": speed,
        "phase": current_phase(phases, now),
        "next": {"phase": coming[0], "at": coming[1].isoformat()} if coming else None,
        "phases": [{"name": n, "at": phases[n].isoformat()} for n in PHASES if n in phases],
        "counts": {name: n for name, n in counts.items() if name not in ALERTS_ONLY},
        "team_sizes": [[size, n] for size, n in sorted(sizes.items())],
        "team_limits": [tx.event.team_min_size, tx.event.team_max_size],
        "delivery": delivery,
        "schedule": await _schedule(tx, phases),
        "alerts": [alert.__dict__ for alert in alerts],
    }


async def _counts(tx: Transaction, event_id: int) -> dict[str, int]:
    """Every single number, in the order shown, each a subquery of one SELECT."""
    in_team = exists().where(Membership.participant_id == Participant.id)
    bookings = (
        select(func.count())
        .select_from(Booking)
        .join(Slot, Slot.id == Booking.slot_id)
        .join(Expert, Expert.id == Slot.expert_id)
        .where(Expert.event_id == event_id, Booking.cancelled_at.is_(None))
    )
    submissions = select(func.count()).select_from(Submission).join(Team).where(Team.event_id == event_id)
    p50, p90 = _help_waits(event_id)
    numbers = {
        "registrations": _count(
            Participant, Participant.event_id == event_id, ~only_organising(tx.event.organisers)
        ),
        "in_teams": _count(Participant, Participant.event_id == event_id, in_team),
        "pool": _count(Participant, Participant.event_id == event_id, Participant.in_match_pool, ~in_team),
        "teams": _count(Team, Team.event_id == event_id),
        "challenges_covered": _count(Challenge, Challenge.event_id == event_id, _taken()),
        "challenges_uncovered": _count(Challenge, Challenge.event_id == event_id, ~_taken()),
        "bookings": bookings.scalar_subquery(),
        "no_shows": bookings.where(Booking.no_show).scalar_subquery(),
        "free_slots": select(func.count())
        .select_from(Slot)
        .join(Expert)
        .where(
            Expert.event_id == event_id,
            Slot.withdrawn_at.is_(None),
            Slot.starts_at > tx.now,
            ~_live_booking(),
        )
        .scalar_subquery(),
        # Ask-now questions waiting for an expert, and how long the latest taken ones waited.
        "help_waiting": _count(
            HelpTicket,
            HelpTicket.event_id == event_id,
            HelpTicket.claimed_at.is_(None),
            HelpTicket.cancelled_at.is_(None),
        ),
        "help_wait_p50_s": p50,
        "help_wait_p90_s": p90,
        "submissions_draft": submissions.where(Submission.status == "draft").scalar_subquery(),
        "submissions_final": submissions.where(Submission.status != "draft").scalar_subquery(),
        # For the alerts: experts nobody booked yet, and those who offer no slot at all.
        "experts": _count(Expert, Expert.event_id == event_id),
        "experts_unbooked": _count(Expert, Expert.event_id == event_id, ~_booked_expert()),
        "experts_without_slots": _count(Expert, Expert.event_id == event_id, ~_offering_expert()),
    }
    row = (await tx.session.execute(select(*(q.label(name) for name, q in numbers.items())))).one()
    found = {name: int(n or 0) for name, n in row._mapping.items()}
    for name in ("help_wait_p50_s", "help_wait_p90_s"):  # microseconds so far
        found[name] = round(found[name] / 1_000_000)
    return found


def _count(entity: Any, *where: Any) -> ScalarSelect[int]:
    return select(func.count()).select_from(entity).where(*where).scalar_subquery()


HELP_SAMPLE = 500  # the latest taken questions the wait percentiles are drawn from


def _help_waits(event_id: int) -> tuple[ScalarSelect[int], ScalarSelect[int]]:
    """The median and 90th percentile (nearest rank) of the latest taken questions' waits, in
    microseconds; NULL while none was taken."""
    latest = (
        select(microseconds_between(HelpTicket.created_at, HelpTicket.claimed_at).label("wait"))
        .where(HelpTicket.event_id == event_id, HelpTicket.claimed_at.is_not(None))
        .order_by(HelpTicket.claimed_at.desc())
        .limit(HELP_SAMPLE)
        .subquery()
    )
    ranked = select(
        latest.c.wait,
        func.row_number().over(order_by=latest.c.wait).label("rank"),
        func.count().over().label("taken"),
    ).subquery()

    def nearest_rank(tenths: int) -> ScalarSelect[int]:  # rank ceil(tenths / 10 * taken), in integers
        return (
            select(ranked.c.wait)
            .where(ranked.c.rank == (tenths * ranked.c.taken + 9) // 10)
            .scalar_subquery()
        )

    return nearest_rank(5), nearest_rank(9)


async def _tallies(tx: Transaction, event_id: int) -> tuple[dict[int, int], dict[str, dict[str, int]]]:
    """The teams by size, and the outbox by platform and status: two group-bys in one round trip,
    each row tagged with the one it belongs to."""
    sizes = (
        select(literal("team_size"), cast(Team.member_count, String), null(), func.count())
        .where(Team.event_id == event_id)
        .group_by(Team.member_count)
    )
    outbox = select(literal("outbox"), OutboxMessage.platform, OutboxMessage.status, func.count()).group_by(
        OutboxMessage.platform, OutboxMessage.status
    )
    by_size: dict[int, int] = {}
    by_platform: dict[str, dict[str, int]] = {}
    rows: list[Any] = list(await tx.session.execute(union_all(sizes, outbox)))  # label, key, status, count
    for tally, key, status, n in rows:
        if tally == "team_size":
            by_size[int(key)] = int(n)
        else:
            by_platform.setdefault(key, {})[status] = int(n)
    return by_size, by_platform


async def _delivery(tx: Transaction, by_platform: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The outbox by platform and status, and the newest dead letters (the retry button's rows)."""
    dead_count = sum(counts.get("dead", 0) for counts in by_platform.values())
    dead = (
        [
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
        if dead_count
        else []
    )
    return {
        "queued": sum(n for counts in by_platform.values() for s, n in counts.items() if s in WAITING),
        "dead_count": dead_count,
        "platforms": [
            {"platform": p, **{s: counts.get(s, 0) for s in ("pending", "sending", "delivered", "dead")}}
            for p, counts in sorted(by_platform.items())
        ],
        "dead": dead,
    }


async def _schedule(tx: Transaction, phases: dict[str, datetime]) -> list[dict[str, Any]]:
    """The announcements still to come: the event file's, at their instants after shifts, not yet fired."""
    fired = set(
        await tx.session.scalars(
            select(FiredItem.key).where(
                FiredItem.event_id == tx.event_id, FiredItem.key.startswith("announcement:")
            )
        )
    )
    coming = [
        (item.instant, item.announcement)
        for item in schedule(tx.event, phases)
        if item.announcement is not None and item.key not in fired and item.instant > tx.now
    ][:LISTED]
    languages, zone = tx.event.languages, tx.event.timezone
    return [
        {
            "id": announcement.id,
            "at": instant.isoformat(),
            # Each text in every language of the event: one snapshot serves every page's language.
            "local": {lang: when(instant, time_locale(lang), zone) for lang in languages},
            "when": {lang: _relative(announcement.at, lang) for lang in languages},
            "channel": announcement.channel,
            "text": {lang: _text(announcement.texts, lang, tx.event.default_language) for lang in languages},
        }
        for instant, announcement in coming
    ]


def _relative(at: RelativeTime, language: str) -> str:
    """ "Submission deadline - 1h": the phase by its name in the language, the offset as the file writes it."""
    return say(language, f"phase.{at.phase}") + str(at)[len(at.phase) :]


def _text(texts: dict[str, str], language: str, default: str) -> str:
    return texts.get(language) or texts.get(default) or next(iter(texts.values()), "")


async def _alerts(
    tx: Transaction,
    phases: dict[str, datetime],
    counts: dict[str, int],
    sizes: dict[int, int],
    delivery: dict[str, Any],
) -> list[Alert]:
    """The counts are known already; the names are read only for an alert that is raised."""
    event_id, now, found = tx.event_id, tx.now, []
    if begun(phases, "team_formation_close", now):
        minimum = tx.event.team_min_size
        if small := sum(n for size, n in sizes.items() if size < minimum):
            names = await _names(
                tx,
                select(Team.name)
                .where(Team.event_id == event_id, Team.member_count < minimum)
                .order_by(Team.member_count, Team.name),
            )
            found.append(Alert("small_team", small, names))
        if untaken := counts["challenges_uncovered"]:
            names = await _names(
                tx,
                select(Challenge.external_id + ": " + Challenge.title)
                .where(Challenge.event_id == event_id, ~_taken())
                .order_by(Challenge.external_id),
            )
            found.append(Alert("uncovered_challenge", untaken, names, "note"))
    if begun(phases, "kickoff", now):
        # Many experts are unbooked for hours, and that is no fault: a count says enough. Those who
        # offer no slot at all can be asked to, so they are named.
        if without := counts["experts_without_slots"]:
            names = await _names(
                tx,
                select(Expert.name)
                .where(Expert.event_id == event_id, ~_offering_expert())
                .order_by(Expert.name),
            )
            found.append(Alert("experts_without_slots", without, names, "note"))
        if unbooked := counts["experts_unbooked"]:
            found.append(Alert("experts_unbooked", unbooked, [], "note", of=counts["experts"]))
    if delivery["dead_count"]:
        dead = [f"#{d['id']} {d['platform']}" for d in delivery["dead"]]
        found.insert(0, Alert("dead_letters", delivery["dead_count"], dead))
    return found


async def _names(tx: Transaction, query: Select[Any]) -> list[str]:  # of one column of text
    return list(await tx.session.scalars(query.limit(LISTED)))


def _taken() -> Exists:  # of a challenge: some team works on it
    return exists().where(Team.challenge_id == Challenge.id)


def _live_booking() -> Exists:  # of a slot
    return exists().where(Booking.slot_id == Slot.id, Booking.cancelled_at.is_(None))


def _offering_expert() -> Exists:  # of an expert: some slot of theirs is not withdrawn
    return exists().where(Slot.expert_id == Expert.id, Slot.withdrawn_at.is_(None))


def _booked_expert() -> Exists:  # of an expert: some slot of theirs has a live booking
    return exists().where(
        Slot.expert_id == Expert.id, Booking.slot_id == Slot.id, Booking.cancelled_at.is_(None)
    )
