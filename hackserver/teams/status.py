"""What `status` shows of a participant (their language, the matching pool, their team's name and
size, its challenge, next booking and submission), kept in each web process's memory so that the
most frequent command needs no database.

Every change that can alter it records a domain event. When such a change commits, it moves a
sequence on and marks the statuses it touched (its participants' and teams', or everyone's) as changed
at that point, before anyone hears of the change: in Redis when it is configured (so every process
sees it before the change's reply has gone out), else in this process. An entry is used only while
nothing it shows has changed since the sequence it was read at, so the next `status` after a change,
on any process, reads the database again; the statuses a change did not touch stay kept (a team
formed does not make every other participant's status be read again). An entry is also kept at most
MAX_AGE seconds: that bounds how stale an answer can be after a change that moved nothing (one
committed while Redis was away).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from hackserver.foundation.models import (
    Booking,
    Challenge,
    Membership,
    Participant,
    PlatformIdentity,
    Slot,
    Submission,
    Team,
)
from hackserver.teams.participants import Identity

if TYPE_CHECKING:
    from hackserver.foundation.bus import DomainEvent

log = logging.getLogger(__name__)
MAX_AGE = 30.0  # seconds: a participant asking again within it is answered from memory
MAX_ENTRIES = 100_000
# Busy kinds of events that change nothing `status` shows.
UNRELATED = ("outbox.", "channel.", "announcement.", "clock.", "help.", "jury.", "phase.", "booking.reminded")
EVERYONE = "*"
# The frequent kinds that change only the statuses of the teams ("t") and participants ("p") that
# their data names, by field; any other kind, not UNRELATED, changes everyone's.
SCOPED: dict[str, dict[str, str]] = {
    "team.created": {"team": "t", "by": "p"},
    "team.joined": {"team": "t", "participant": "p"},
    "team.left": {"team": "t", "participant": "p"},
    "team.picked": {"team": "t"},
    "submission.saved": {"team": "t"},
    "match.pool_joined": {"participant": "p"},
    "participant.profile": {"participant": "p"},
}


@dataclass(frozen=True)
class TeamStatus:
    id: int
    name: str
    size: int
    challenge: str | None
    next_booking: datetime | None
    submission: str | None


@dataclass(frozen=True)
class ParticipantStatus:
    participant_id: int
    language: str | None
    timezone: str | None
    in_match_pool: bool
    team: TeamStatus | None

    def holds_at(self, now: datetime) -> bool:
        """False once the next booking has begun: the one after it is then the next."""
        booking = self.team.next_booking if self.team else None
        return booking is None or booking > now

    def keys(self) -> tuple[str, ...]:
        """What a change names when it changes this status."""
        mine = (EVERYONE, f"p:{self.participant_id}")
        return mine if self.team is None else (*mine, f"t:{self.team.id}")


def changed_by(events: Iterable[DomainEvent]) -> set[str]:
    """The keys of the statuses these events change: EVERYONE for a kind not known to be narrower."""
    keys: set[str] = set()
    for event in events:
        if event.kind.startswith(UNRELATED):
            continue
        named = [(prefix, event.data.get(field)) for field, prefix in SCOPED.get(event.kind, {}).items()]
        if not named or any(named_id is None for _, named_id in named):
            return {EVERYONE}
        keys.update(f"{prefix}:{named_id}" for prefix, named_id in named)
    return keys


@functools.cache
def _of_identity() -> Select[Any]:
    return _status(
        PlatformIdentity.platform == bindparam("platform"),
        PlatformIdentity.workspace == bindparam("workspace"),
        PlatformIdentity.user_id == bindparam("user_id"),
    ).join(PlatformIdentity, PlatformIdentity.participant_id == Participant.id)


@functools.cache
def _of_participant() -> Select[Any]:
    return _status(Participant.id == bindparam("participant_id"))


def _status(*where: ColumnElement[bool]) -> Select[Any]:
    """One statement: the participant, and their team's when they have one."""
    next_booking = (
        select(Slot.starts_at)
        .join(Booking)
        .where(Booking.team_id == Team.id, Booking.cancelled_at.is_(None), Slot.starts_at > bindparam("now"))
        .order_by(Slot.starts_at)
        .limit(1)
        .scalar_subquery()
    )
    submission = select(Submission.status).where(Submission.team_id == Team.id).scalar_subquery()
    return (
        select(
            Participant.id,
            Participant.language,
            Participant.timezone,
            Participant.in_match_pool,
            Team.id,
            Team.name,
            Team.member_count,
            Challenge.title,
            next_booking,
            submission,
        )
        .select_from(Participant)
        .outerjoin(Membership, Membership.participant_id == Participant.id)
        .outerjoin(Team, Team.id == Membership.team_id)
        .outerjoin(Challenge, Challenge.id == Team.challenge_id)
        .where(*where)
    )


async def of_identity(session: AsyncSession, identity: Identity, now: datetime) -> ParticipantStatus | None:
    """The status of the participant behind a chat account; None before their first contact."""
    params = {"platform": identity.platform, "workspace": identity.workspace, "user_id": identity.user_id}
    return _from_row((await session.execute(_of_identity(), params | {"now": now})).one_or_none())


async def of_participant(session: AsyncSession, participant_id: int, now: datetime) -> ParticipantStatus:
    row = (await session.execute(_of_participant(), {"participant_id": participant_id, "now": now})).one()
    status = _from_row(row)
    assert status is not None
    return status


def _from_row(row: Any) -> ParticipantStatus | None:
    if row is None:
        return None
    participant_id, language, timezone, pooled, team_id, name, size, challenge, booking, submission = row
    team = None if team_id is None else TeamStatus(team_id, name, size, challenge, booking, submission)
    return ParticipantStatus(participant_id, language, timezone, pooled, team)


class Changes(Protocol):
    """A sequence that every status change moves on, and the point at which each key last changed."""

    async def since(self, keys: Collection[str]) -> tuple[int, int] | None:
        """The sequence now, and the latest point at which any of the keys changed; None when it
        cannot be known (then nothing kept may be used)."""
        ...

    async def advance(self, keys: Collection[str]) -> None: ...


class MemoryChanges:
    """The embedded mode's: one process, so its memory is the whole truth."""

    def __init__(self) -> None:
        self.sequence = 0
        self.changed_at: dict[str, int] = {}

    async def since(self, keys: Collection[str]) -> tuple[int, int] | None:
        return self.sequence, max((self.changed_at.get(key, 0) for key in keys), default=0)

    async def advance(self, keys: Collection[str]) -> None:
        self.sequence += 1
        self.changed_at.update(dict.fromkeys(keys, self.sequence))


# A sequence Redis lost (restarted empty) starts again past every point kept before: at Redis's
# clock in microseconds, which no sequence of one change at a time overtakes.
_START = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[1], now[1] * 1000000 + now[2], 'NX')
end
"""
_SINCE = (
    _START
    + """
local last = 0
for _, at in ipairs(redis.call('HMGET', KEYS[2], unpack(ARGV))) do
  if at and tonumber(at) > last then last = tonumber(at) end
end
return {tonumber(redis.call('GET', KEYS[1])), last}
"""
)
_ADVANCE = (
    _START
    + """
local sequence = redis.call('INCR', KEYS[1])
for _, key in ipairs(ARGV) do redis.call('HSET', KEYS[2], key, sequence) end
return sequence
"""
)


class RedisChanges:
    """Shared by every process: a change's commit moves it before the change's reply goes out."""

    def __init__(self, redis: Redis, key: str) -> None:
        self.keys = [f"{key}:sequence", f"{key}:changed"]
        self._since, self._advance = redis.register_script(_SINCE), redis.register_script(_ADVANCE)

    async def since(self, keys: Collection[str]) -> tuple[int, int] | None:
        try:
            now, last = await self._since(keys=self.keys, args=list(keys))
        except RedisError:
            return None
        return int(now), int(last)

    async def advance(self, keys: Collection[str]) -> None:
        try:
            await self._advance(keys=self.keys, args=list(keys))
        except RedisError:  # the change stands; other processes may show the old status for MAX_AGE
            log.warning("Redis unreachable: other web processes may show a status up to %g s old", MAX_AGE)


Key = tuple[str, str, str]


@dataclass(frozen=True)
class Kept:
    read_at: float  # time.monotonic()
    sequence: int  # the changes' sequence just before it was read
    status: ParticipantStatus


class StatusCache:
    """The statuses read in this process, by chat account, each with the point it was read at."""

    def __init__(self, changes: Changes, max_age: float = MAX_AGE, limit: int = MAX_ENTRIES) -> None:
        self.changes, self.max_age, self.limit = changes, max_age, limit
        self.entries: dict[Key, Kept] = {}

    async def get(
        self, identity: Identity, now: datetime, load: Callable[[], Awaitable[ParticipantStatus | None]]
    ) -> ParticipantStatus | None:
        """The kept status if nothing it shows has changed since it was read, else `load`'s (kept)."""
        key = (identity.platform, identity.workspace, identity.user_id)
        kept = self.entries.get(key)
        known = await self.changes.since(kept.status.keys() if kept else (EVERYONE,))  # before load's read
        if known is None:
            return await load()
        sequence, changed_at = known
        if (
            kept is not None
            and changed_at <= kept.sequence
            and time.monotonic() - kept.read_at < self.max_age
            and kept.status.holds_at(now)
        ):
            return kept.status
        status = await load()
        if status is not None:
            if len(self.entries) >= self.limit and key not in self.entries:
                del self.entries[next(iter(self.entries))]  # the oldest read
            self.entries.pop(key, None)
            self.entries[key] = Kept(time.monotonic(), sequence, status)
        return status

    async def changed(self, keys: Collection[str]) -> None:
        await self.changes.advance(keys)
