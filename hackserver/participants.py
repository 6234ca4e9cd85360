"""Participants: created on first contact from any platform, with a profile of skills, languages
and time zone."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hackserver import skills
from hackserver.errors import DomainError
from hackserver.models import Participant, PlatformIdentity


@dataclass(frozen=True)
class Identity:
    platform: str  # slack | discord | webhook | builtin
    workspace: str  # Slack team id, Discord guild id, ...
    user_id: str
    name: str


@functools.cache
def _by_identity() -> Select[Participant]:
    # Built once: composing the expression costs more than running it on every command.
    return (
        select(Participant)
        .join(PlatformIdentity)
        .where(
            PlatformIdentity.platform == bindparam("platform"),
            PlatformIdentity.workspace == bindparam("workspace"),
            PlatformIdentity.user_id == bindparam("user_id"),
        )
    )


async def find(session: AsyncSession, identity: Identity) -> Participant | None:
    """The participant behind a chat account, if it has been in contact before."""
    return await session.scalar(_by_identity(), _params(identity))


def _params(identity: Identity) -> dict[str, str]:
    return {"platform": identity.platform, "workspace": identity.workspace, "user_id": identity.user_id}


async def identify(session: AsyncSession, event_id: int, identity: Identity) -> Participant:
    """The participant behind a chat account, created on first contact."""
    participant = await find(session, identity)
    if participant is not None:
        return participant
    try:
        async with session.begin_nested():
            participant = Participant(event_id=event_id, display_name=identity.name[:120] or identity.user_id)
            session.add(participant)
            await session.flush()
            session.add(
                PlatformIdentity(
                    participant_id=participant.id,
                    platform=identity.platform,
                    workspace=identity.workspace,
                    user_id=identity.user_id,
                    user_name=identity.name[:120],
                )
            )
    except IntegrityError:  # the same person's first two commands raced; the other one created it
        return (await session.scalars(_by_identity(), _params(identity))).one()
    return participant


class ProfileError(DomainError):
    """A profile value refused; `code` and `params` let the edge say it in the asker's language."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code, self.params = code, params


def set_skills(participant: Participant, raw: str) -> list[str]:
    names = [skills.normalise(part) for part in raw.split(",") if part.strip()]
    if not names:
        raise ProfileError("no_skills")
    too_long = [n for n in names if len(n) > skills.MAX_LENGTH]
    if too_long:
        raise ProfileError("skill_too_long", limit=skills.MAX_LENGTH, skill=too_long[0][:40])
    unique = list(dict.fromkeys(names))
    if len(unique) > skills.MAX_SKILLS:
        raise ProfileError("too_many_skills", limit=skills.MAX_SKILLS)
    participant.skills = unique
    return unique


def set_languages(participant: Participant, raw: str, known: tuple[str, ...]) -> list[str]:
    codes = list(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
    bad = [c for c in codes if len(c) != 2 or not c.isalpha() or not c.isascii()]
    if not codes or bad:
        raise ProfileError("bad_languages")
    participant.languages = codes
    participant.language = next((c for c in codes if c in known), participant.language)
    return codes


def set_timezone(participant: Participant, raw: str) -> str:
    try:
        zone = ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ProfileError("bad_timezone", zone=raw.strip()[:40]) from None
    participant.timezone = zone.key
    return zone.key
