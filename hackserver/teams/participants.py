"""Participants: created on first contact from any platform, with a profile of skills, languages
and time zone."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import ColumnElement, Select, and_, bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hackserver.foundation import db
from hackserver.foundation.errors import DomainError
from hackserver.foundation.models import Membership, Participant, PlatformIdentity
from hackserver.foundation.plain_text import one_line
from hackserver.foundation.text_limits import LIMITS, bounded
from hackserver.teams import skills

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction

MAX_INTERESTS = 5


@dataclass(frozen=True)
class Identity:
    """A chat account, keyed as its platform keys a person: a Discord or Mattermost user id is one
    person everywhere (workspace ""), a Slack user id within its Enterprise Grid org (its id) or,
    outside a grid, its workspace (the team id)."""

    platform: str  # slack | discord | webhook | builtin
    workspace: str
    user_id: str
    name: str
    # The workspace this account was keyed by before migration 0016 when that differs (a Slack team
    # id in a grid, whose org id no row kept): an account found there is re-keyed on first contact.
    formerly: str = ""


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


async def identify(tx: Transaction, identity: Identity) -> Participant:
    """The participant behind a chat account, created on first contact."""
    return await find(tx.session, identity) or (await register(tx, identity))[0]


async def register(tx: Transaction, identity: Identity) -> tuple[Participant, bool]:
    """The participant of a chat account just found to be new (or made by its other first command
    meanwhile, or known under the account's former workspace), and whether this call made it. It is
    registered at the event's time (the dashboard's charts count on that clock)."""
    session = tx.session
    if identity.formerly and (adopted := await _rekey(session, identity)) is not None:
        return adopted, False
    # Platforms pass on whatever a person put in their profile: bidi overrides and the like go here.
    name = one_line(identity.name)[:120]
    # INSERT … RETURNING the row as an object: one statement, without the unit of work's flush, which
    # cost more CPU than the rest of a first contact.
    participant = await session.scalar(
        insert(Participant)
        .values(event_id=tx.event_id, display_name=name or identity.user_id, created_at=tx.now)
        .returning(Participant)
    )
    assert participant is not None
    claimed = await session.scalar(
        db.insert_unless_there(session, PlatformIdentity)
        .values(
            participant_id=participant.id,
            platform=identity.platform,
            workspace=identity.workspace,
            user_id=identity.user_id,
            user_name=name,
        )
        .returning(PlatformIdentity.id)
    )
    if claimed is None:  # the same person's first two commands raced; the other one created it
        await session.execute(delete(Participant).where(Participant.id == participant.id))
        session.expunge(participant)
        return (await session.scalars(_by_identity(), _params(identity))).one(), False
    return participant, True


async def _rekey(session: AsyncSession, identity: Identity) -> Participant | None:
    participant_id = await session.scalar(
        update(PlatformIdentity)
        .where(
            PlatformIdentity.platform == identity.platform,
            PlatformIdentity.workspace == identity.formerly,
            PlatformIdentity.user_id == identity.user_id,
        )
        .values(workspace=identity.workspace)
        .returning(PlatformIdentity.participant_id)
    )
    return None if participant_id is None else await session.get(Participant, participant_id)


ORGANISERS = "organisers"  # the built-in channels' workspace of accounts signed in with the organiser token


def organiser_account(
    identity: type[PlatformIdentity], organisers: Mapping[str, tuple[str, ...]]
) -> ColumnElement[bool]:
    """An organiser's chat account: signed in with the organiser token on the built-in channels, or
    listed under [organisers] in the event file."""
    listed = [and_(identity.platform == p, identity.user_id.in_(ids)) for p, ids in organisers.items() if ids]
    return or_(and_(identity.platform == "builtin", identity.workspace == ORGANISERS), *listed)


def only_organising(organisers: Mapping[str, tuple[str, ...]]) -> ColumnElement[bool]:
    """A participant who is only an organiser: every account an organiser's, in no team and not in the
    matching pool. Organisers are counted as participants only once they act as one."""
    # One uncorrelated subquery over the organisers' few accounts: the database reads it once and
    # checks each participant against its result, where a correlated test, negated, ran per row and
    # left PostgreSQL's planner guessing (a page of 30,000 people took hundreds of milliseconds).
    theirs, other, joined = aliased(PlatformIdentity), aliased(PlatformIdentity), aliased(Membership)
    person = aliased(Participant)
    organising = (
        select(theirs.participant_id)
        .join(person, person.id == theirs.participant_id)
        .where(
            organiser_account(theirs, organisers),
            ~person.in_match_pool,
            ~exists().where(joined.participant_id == theirs.participant_id),
            ~exists().where(
                other.participant_id == theirs.participant_id, ~organiser_account(other, organisers)
            ),
        )
    )
    return Participant.id.in_(organising)


LINK_SALT = "link-account"
LINK_AGE = 15 * 60  # seconds a link code stays good


def link_code(secret: str, participant_id: int) -> str:
    """A code that, typed on another chat account, makes that account this participant's too."""
    return URLSafeTimedSerializer(secret, salt=LINK_SALT).dumps(participant_id)


async def link(session: AsyncSession, secret: str, code: str, asker: Participant) -> Participant:
    """Moves the asker's chat accounts to the participant the code names, with their team and what
    their profile adds; the asker's now empty participant is removed."""
    try:
        target_id = URLSafeTimedSerializer(secret, salt=LINK_SALT).loads(code.strip(), max_age=LINK_AGE)
    except BadData:
        raise ProfileError("bad_link_code") from None
    target = await session.get(Participant, target_id)
    if target is None or target.event_id != asker.event_id:
        raise ProfileError("bad_link_code")
    if target.id == asker.id:
        raise ProfileError("already_linked")
    teams = dict(
        (await session.execute(select(Membership.participant_id, Membership.team_id).where(
            Membership.participant_id.in_([asker.id, target.id])
        ))).all()
    )  # fmt: skip
    if len(teams) == 2:
        raise ProfileError("both_in_teams")
    await session.execute(
        update(PlatformIdentity)
        .where(PlatformIdentity.participant_id == asker.id)
        .values(participant_id=target.id)
    )
    if asker.id in teams:
        await session.execute(
            update(Membership).where(Membership.participant_id == asker.id).values(participant_id=target.id)
        )
    target.skills = target.skills or asker.skills
    target.languages = target.languages or asker.languages
    target.language = target.language or asker.language
    target.timezone = target.timezone or asker.timezone
    target.interests = target.interests or asker.interests
    target.in_match_pool = (target.in_match_pool or asker.in_match_pool) and not teams
    await session.delete(asker)
    await session.flush()
    return target


class ProfileError(DomainError):
    """A profile value refused: its key is profile.<code>."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(f"profile.{code}", **params)


def set_skills(participant: Participant, raw: str) -> list[tuple[str, str]]:
    """Stores the skills by their common names; returns those typed otherwise, each with the name it
    was stored under ("react", "javascript"), so that the person can be told."""
    typed = [" ".join(part.split()) for part in raw.split(",") if part.strip()]
    names = [skills.normalise(word) for word in typed]
    if not names:
        raise ProfileError("no_skills")
    for name in names:
        bounded("skill", name)
    unique = list(dict.fromkeys(names))
    if len(unique) > skills.MAX_SKILLS:
        raise ProfileError("too_many_skills", limit=skills.MAX_SKILLS)
    participant.skills = unique
    return list(
        dict.fromkeys((word, name) for word, name in zip(typed, names, strict=True) if word.lower() != name)
    )


def set_languages(participant: Participant, raw: str, known: tuple[str, ...]) -> list[str]:
    """Only the event's languages: matching puts people together by them, so any other code would
    leave its speaker unmatched."""
    codes = list(dict.fromkeys(part.strip().lower() for part in re.split(r"[,\s]+", raw) if part.strip()))
    bad = [c for c in codes if c not in known]
    if not codes or bad:
        raise ProfileError(
            "bad_languages", codes=", ".join(bad)[:40] or raw.strip()[:40], known=", ".join(known)
        )
    participant.languages = codes
    participant.language = codes[0]
    return codes


def set_interests(participant: Participant, raw: str) -> list[str]:
    """What someone wants to work on, most wanted first: challenge ids or topic words."""
    wanted = list(dict.fromkeys(w.strip().lower() for w in re.split(r"[,\s]+", raw) if w.strip()))
    if not wanted:
        raise ProfileError("no_interests")
    for wish in wanted:
        bounded("interest", wish)
    if len(wanted) > MAX_INTERESTS:
        raise ProfileError("too_many_interests", limit=MAX_INTERESTS, length=LIMITS["interest"])
    participant.interests = wanted
    return wanted


def set_timezone(participant: Participant, raw: str) -> str:
    try:
        zone = ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ProfileError("bad_timezone", zone=raw.strip()[:40]) from None
    participant.timezone = zone.key
    return zone.key
