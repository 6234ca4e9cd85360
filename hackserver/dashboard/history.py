"""The dashboard's charts: the event so far, read from the database on each load, so they survive a
reload and agree across web processes.

The time from the first registration to now is cut into at most BUCKETS equal steps of whole
minutes, and each series is one GROUP BY over that step (a handful of statements however large the
event). A point is the value at the end of its step; help waits are the mean wait of the questions
taken in it, None where none was.

What the database keeps decides what can be drawn honestly:
- people in teams counts each person by when they joined the team they are in now: someone who left
  a team, or whose team was dissolved, is not counted at the time they were in one;
- teams are those that still exist, by when they were made;
- without a team is registered minus in teams (who was in the matching pool when is not kept);
- queued deliveries are the messages created and not yet delivered (dead letters left out: when a
  message was given up on is not kept);
- submissions are those marked submitted, by when they first were;
- commands per minute are the commands the web processes answered, which each counts in memory and
  writes a minute's count at a time (hackserver/dashboard/command_counts.py: a killed process's last
  few seconds are lost); a step's value is its commands over its minutes (the current step's: over
  those that have passed, a whole one at least), its minutes counted by when they began.

Every series is on the axis's clock, the event's (`tx.now`, which runs `speed` times as fast as real
time in a demo or a rehearsal): the rows of people, teams, help requests and submissions are written
with the transaction's clock. The outbox's rows keep real time (their delivery is paced in real
seconds), so they are placed on the axis through the clock's speed, as if it had run at this speed
for the whole event (rows of an earlier run at another speed are placed as this run would have).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, literal, literal_column, select

from hackserver.foundation.db import microseconds_between
from hackserver.foundation.models import (
    CommandMinute,
    HelpTicket,
    Membership,
    OutboxMessage,
    Participant,
    Submission,
    Team,
    UTCDateTime,
)
from hackserver.teams.participants import only_organising

if TYPE_CHECKING:
    from sqlalchemy import Select

    from hackserver.foundation.transaction import Transaction

BUCKETS = 120  # points at most per series
SERIES = (
    "registrations",
    "in_teams",
    "without_team",
    "teams",
    "queued",
    "help_wait_s",
    "submissions",
    "commands",
)


def step(start: datetime, now: datetime) -> int:
    """Seconds per point: whole minutes, enough of them that the event so far fits BUCKETS points."""
    span = max(0.0, (now - start).total_seconds())
    return 60 * max(1, math.ceil(span / 60 / BUCKETS))


async def history(tx: Transaction, speed: float) -> dict[str, Any]:
    """{"start", "step" (seconds), "times" (each point's end, epoch seconds), one list per SERIES};
    `speed` is the event clock's (event seconds per real second)."""
    event_id, now = tx.event_id, tx.now
    people = (Participant.event_id == event_id, ~only_organising(tx.event.organisers))
    first = await tx.session.scalar(select(func.min(Participant.created_at)).where(*people))
    start = min(first or now, now)
    width = step(start, now)
    elapsed = (now - start).total_seconds()
    points = int(elapsed // width) + 1
    # When real time stood at the axis's start: a real instant's step is its real microseconds since
    # then, sped up, over the step's.
    real_start = datetime.now(UTC) - (now - start) / speed
    thousandths = max(1, round(speed * 1000))

    def per_step(at: Any, query: Select[Any], *, real: bool = False) -> Select[Any]:
        # The step an instant falls in, in SQL: integer division of whole microseconds since start.
        if real:
            since = microseconds_between(literal(real_start, UTCDateTime()), at) * thousandths
            index = since // (width * 1_000_000_000)
        else:
            index = microseconds_between(literal(start, UTCDateTime()), at) // (width * 1_000_000)
        return query.add_columns(index.label("i"), func.count()).group_by(literal_column("i"))

    async def counted(at: Any, query: Select[Any], *, real: bool = False) -> list[int]:
        found = [0] * points
        for i, n in await tx.session.execute(per_step(at, query, real=real)):
            found[min(max(int(i), 0), points - 1)] += int(n)
        return found

    registered = _running(
        await counted(Participant.created_at, select().select_from(Participant).where(*people))
    )
    in_teams = _running(
        await counted(
            Membership.joined_at,
            select().select_from(Membership).join(Participant).where(Participant.event_id == event_id),
        )
    )
    teams = _running(
        await counted(Team.created_at, select().select_from(Team).where(Team.event_id == event_id))
    )
    alive = OutboxMessage.status != "dead"
    created = await counted(
        OutboxMessage.created_at, select().select_from(OutboxMessage).where(alive), real=True
    )
    delivered = await counted(
        OutboxMessage.delivered_at,
        select().select_from(OutboxMessage).where(alive, OutboxMessage.delivered_at.is_not(None)),
        real=True,
    )
    submitted = _running(
        await counted(
            Submission.submitted_at,
            select()
            .select_from(Submission)
            .join(Team)
            .where(Team.event_id == event_id, Submission.submitted_at.is_not(None)),
        )
    )
    return {
        "start": start.isoformat(),
        "step": width,
        "times": [(start + timedelta(seconds=width * (i + 1))).timestamp() for i in range(points)],
        "registrations": registered,
        "in_teams": in_teams,
        "without_team": [max(0, r - t) for r, t in zip(registered, in_teams, strict=True)],
        "teams": teams,
        "queued": [max(0, c - d) for c, d in zip(_running(created), _running(delivered), strict=True)],
        "help_wait_s": await _waits(tx, per_step, points),
        "submissions": submitted,
        "commands": await _commands(tx, per_step, [min(width, elapsed - width * i) for i in range(points)]),
    }


def _running(counts: list[int]) -> list[int]:
    total, found = 0, []
    for n in counts:
        total += n
        found.append(total)
    return found


async def _commands(tx: Transaction, per_step: Any, seconds: list[float]) -> list[float]:
    """The commands answered per minute in each step, given how many seconds of each have passed."""
    query = select(func.sum(CommandMinute.commands)).where(CommandMinute.event_id == tx.event_id)
    found = [0] * len(seconds)
    for total, i, _minutes in await tx.session.execute(per_step(CommandMinute.minute, query)):
        found[min(max(int(i), 0), len(seconds) - 1)] += int(total or 0)
    return [round(n * 60 / max(60.0, passed), 1) for n, passed in zip(found, seconds, strict=True)]


async def _waits(tx: Transaction, per_step: Any, points: int) -> list[int | None]:
    """The mean wait, in whole seconds, of the questions taken in each step."""
    wait: ColumnElement[int] = microseconds_between(HelpTicket.created_at, HelpTicket.claimed_at)
    query = (
        select(func.sum(wait))
        .where(HelpTicket.event_id == tx.event_id, HelpTicket.claimed_at.is_not(None))
        .select_from(HelpTicket)
    )
    found: list[int | None] = [None] * points
    sums = [0] * points
    counts = [0] * points
    for total, i, n in await tx.session.execute(per_step(HelpTicket.claimed_at, query)):
        k = min(max(int(i), 0), points - 1)
        sums[k] += int(total or 0)
        counts[k] += int(n)
    for k in range(points):
        if counts[k]:
            found[k] = round(sums[k] / counts[k] / 1_000_000)
    return found
