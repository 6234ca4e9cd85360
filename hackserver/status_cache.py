"""What `status` shows of a participant (their language, the matching pool, their team's name and
size, its challenge, next booking and submission), kept in each web process's memory so that the
most frequent command needs no database.

Every change that can alter it records a domain event. When such a change commits, the cache's
version moves on before anyone hears of the change: in Redis when it is configured (so
every process sees it before the change's reply has gone out), else in this process. An entry is used
only under the version it was read under, so the next `status` after a change, on any process, reads
the database again. An entry is also kept at most MAX_AGE seconds: that bounds how stale an answer
can be after a change that moved no version (one committed while Redis was away).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from hackserver.models import (
    Booking,
    Challenge,
    Membership,
    Participant,
    PlatformIdentity,
    Slot,
    Submission,
    Team,
)
from hackserver.participants import Identity

log = logging.getLogger(__name__)
MAX_AGE = 30.0  # seconds: a participant asking again within it is answered from memory
MAX_ENTRIES = 100_000
# Busy kinds of events that change nothing `status` shows; every other kind moves the version.
UNRELATED = ("outbox.", "channel.", "announcement.", "clock.", "help.", "jury.", "phase.", "booking.reminded")


@dataclass(frozen=True)
class TeamStatus:
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


def changes_status(kind: str) -> bool:
    return not kind.startswith(UNRELATED)


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
    participant_id, language, timezone, pooled, name, size, challenge, booking, submission = row
    team = None if name is None else TeamStatus(name, size, challenge, booking, submission)
    return ParticipantStatus(participant_id, language, timezone, pooled, team)


class Version(Protocol):
    async def current(self) -> int | None:
        """The version now; None when it cannot be known (then nothing kept may be used)."""
        ...

    async def advance(self) -> None: ...


class MemoryVersion:
    """The embedded mode's: one process, so its memory is the whole truth."""

    def __init__(self) -> None:
        self.value = 0

    async def current(self) -> int | None:
        return self.value

    async def advance(self) -> None:
        self.value += 1


class RedisVersion:
    """Shared by every process: a change's commit moves it before the change's reply goes out."""

    def __init__(self, redis: Redis, key: str) -> None:
        self.redis, self.key = redis, key

    async def current(self) -> int | None:
        try:
            value = await self.redis.get(self.key)
        except RedisError:
            return None
        return int(value or 0)

    async def advance(self) -> None:
        try:
            await self.redis.incr(self.key)
        except RedisError:  # the change stands; other processes may show the old status for MAX_AGE
            log.warning("Redis unreachable: other web processes may show a status up to %g s old", MAX_AGE)


Key = tuple[str, str, str]


class StatusCache:
    """The statuses read in this process under the current version, by chat account."""

    def __init__(self, version: Version, max_age: float = MAX_AGE, limit: int = MAX_ENTRIES) -> None:
        self.version, self.max_age, self.limit = version, max_age, limit
        self.seen: int | None = None  # the version the kept entries were read under
        self.entries: dict[Key, tuple[float, ParticipantStatus]] = {}  # account -> (read at, status)

    async def get(
        self, identity: Identity, now: datetime, load: Callable[[], Awaitable[ParticipantStatus | None]]
    ) -> ParticipantStatus | None:
        """The kept status, or `load`'s (kept if the version did not move meanwhile)."""
        version = await self.version.current()  # before load's transaction: its snapshot is newer
        if version != self.seen:
            self.entries.clear()
            self.seen = version
        key = (identity.platform, identity.workspace, identity.user_id)
        kept = self.entries.get(key)
        if kept is not None and time.monotonic() - kept[0] < self.max_age and kept[1].holds_at(now):
            return kept[1]
        status = await load()
        if status is not None and version is not None and version == self.seen:
            if len(self.entries) >= self.limit:
                del self.entries[next(iter(self.entries))]  # the oldest read
            self.entries.pop(key, None)
            self.entries[key] = (time.monotonic(), status)
        return status

    async def changed(self) -> None:
        await self.version.advance()
