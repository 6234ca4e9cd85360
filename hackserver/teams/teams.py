"""Teams: created by hand with a name and a join code, joined, left; organisers move people, merge and
dissolve. Teams can be formed from registration until team formation closes; then they are locked,
except for organisers. The size limit holds under any concurrency: a join is one conditional UPDATE of
member_count that the database decides, and a person's one membership is a unique row."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slugify import slugify
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from hackserver.foundation import outbox
from hackserver.foundation.channels import ensure_channel
from hackserver.foundation.errors import Conflict, NotFound, TooLate
from hackserver.foundation.i18n import say
from hackserver.foundation.models import AuditEntry, Membership, Participant, PlatformIdentity, Team
from hackserver.foundation.text_limits import LIMITS, bounded
from hackserver.sprint.phases import current_phase
from hackserver.teams import picks

if TYPE_CHECKING:
    from hackserver.foundation.bus import DomainEvent
    from hackserver.foundation.event import Event
    from hackserver.foundation.transaction import Transaction

NAME_MIN = 3
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
CODE_LENGTH = 6
_NAME_CHARACTERS = re.compile(r"[\w .'&+!?-]+")
# Platforms where a team gets a channel of its own, besides the built-in one.
TEAM_PLATFORMS = ("slack", "discord")


@dataclass(frozen=True)
class Member:
    participant_id: int
    name: str
    skills: list[str]
    languages: list[str]


def clean_name(raw: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if len(name) < NAME_MIN:
        raise Conflict("team.name_length", low=NAME_MIN, high=LIMITS["team_name"])
    bounded("team_name", name)
    if not _NAME_CHARACTERS.fullmatch(name) or not any(c.isalpha() for c in name):
        raise Conflict("team.name_characters")
    return name


def name_key(name: str) -> str:
    return name.casefold()


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def channel_name(team: Team) -> str:
    """The team's channel on every platform: its name in lowercase Latin letters, digits and dashes
    (ß as ss, Cyrillic and Greek spelt out), unique by the join code (a team's id may be used again
    after it was removed, on SQLite)."""
    return f"team-{slugify(team.name, max_length=60)}-{team.join_code.lower()}".replace("--", "-")


def message_key(team: Team, what: str) -> str:
    """An outbox key for a message to a team: unique to this team, even if its id comes back."""
    return f"team:{team.join_code}:{what}"


async def forming_or_refuse(tx: Transaction, *, locked: str = "team.locked") -> None:
    """Team changes by participants are open from registration until team formation closes."""
    phases = await tx.phases()
    if tx.now >= phases["team_formation_close"]:
        raise TooLate(locked)
    if current_phase(phases, tx.now) == "before":
        raise TooLate("team.not_yet")


async def team_of(session: AsyncSession, participant_id: int) -> Team | None:
    return await session.scalar(
        select(Team).join(Membership).where(Membership.participant_id == participant_id)
    )


async def members(session: AsyncSession, team_id: int) -> list[Member]:
    return (await members_of(session, [team_id])).get(team_id, [])


async def members_of(session: AsyncSession, team_ids: list[int]) -> dict[int, list[Member]]:
    """Each team's members in the order they joined, for many teams in one query."""
    rows = await session.execute(
        select(
            Membership.team_id,
            Participant.id,
            Participant.display_name,
            Participant.skills,
            Participant.languages,
        )
        .join(Membership)
        .where(Membership.team_id.in_(team_ids))
        .order_by(Membership.joined_at, Membership.id)
    )
    found: dict[int, list[Member]] = {}
    for team_id, participant_id, name, skills, languages in rows:
        found.setdefault(team_id, []).append(Member(participant_id, name, skills, languages))
    return found


async def by_code(session: AsyncSession, event_id: int, code: str) -> Team:
    cleaned = code.strip().upper().replace("-", "")
    team = await session.scalar(select(Team).where(Team.event_id == event_id, Team.join_code == cleaned))
    if team is None:
        raise NotFound("team.no_such_code", code=code.strip()[:20])
    return team


async def create(tx: Transaction, person: Participant, raw_name: str) -> Team:
    await forming_or_refuse(tx)
    name = clean_name(raw_name)
    if (current := await team_of(tx.session, person.id)) is not None:
        raise Conflict("team.already_in", team=current.name)
    await _refuse_taken(tx.session, tx.event_id, name)
    # With its founder counted already: nobody else can join a team before it exists.
    team = Team(
        event_id=tx.event_id,
        name=name,
        name_key=name_key(name),
        join_code=new_code(),
        member_count=1,
        created_at=tx.now,
    )
    tx.session.add(team)
    await tx.session.flush()  # a competing create of the same name or code fails here; the bot retries
    await ensure_channel(tx.session, tx.event_id, channel_name(team), kind="team", team_id=team.id, new=True)
    await _enrol(tx, team, person)
    if person.interests:
        await picks.inherit(tx, [team.id])
    tx.record("team.created", team=team.id, name=team.name, by=person.id)
    await post(tx, team, message_key(team, "created"), "team.welcome_created",
        invite=[person.id], name=team.name, code=team.join_code, person=person.display_name,
    )  # fmt: skip
    return team


async def _refuse_taken(session: AsyncSession, event_id: int, name: str) -> None:
    taken = await session.scalar(
        select(Team.name).where(Team.event_id == event_id, Team.name_key == name_key(name))
    )
    if taken is not None:
        raise Conflict("team.name_taken", name=taken)


async def join(tx: Transaction, person: Participant, code: str) -> Team:
    await forming_or_refuse(tx)
    team = await by_code(tx.session, tx.event_id, code)
    if (current := await team_of(tx.session, person.id)) is not None:
        raise Conflict(
            "team.already_member" if current.id == team.id else "team.already_in", team=current.name
        )
    await _add_member(tx, team, person)
    if person.interests:
        await picks.inherit(tx, [team.id])
    tx.record("team.joined", team=team.id, name=team.name, participant=person.id, size=team.member_count)
    await post(tx, team, message_key(team, f"joined:{person.id}:{tx.now.timestamp()}"), "team.joined",
        invite=[person.id], person=person.display_name, skills=_skills(person.skills),
        size=team.member_count, max=tx.event.team_max_size,
    )  # fmt: skip
    return team


async def leave(tx: Transaction, person: Participant) -> Team:
    await forming_or_refuse(tx)
    team = await team_of(tx.session, person.id)
    if team is None:
        raise Conflict("team.not_in_one")
    await _remove_member(tx, team, person.id)
    tx.record("team.left", team=team.id, name=team.name, participant=person.id, size=team.member_count)
    if team.member_count:
        await post(tx, team, message_key(team, f"left:{person.id}:{tx.now.timestamp()}"), "team.left_note",
            person=person.display_name, size=team.member_count, max=tx.event.team_max_size,
        )  # fmt: skip
    return team


async def enter_pool(tx: Transaction, person: Participant) -> None:
    await forming_or_refuse(tx)
    if (current := await team_of(tx.session, person.id)) is not None:
        raise Conflict("team.already_in", team=current.name)
    if not person.in_match_pool:
        person.in_match_pool = True
        tx.record("match.pool_joined", participant=person.id)


async def _add_member(tx: Transaction, team: Team, person: Participant) -> None:
    size = await tx.session.scalar(
        update(Team)
        .where(Team.id == team.id, Team.member_count < tx.event.team_max_size)
        .values(member_count=Team.member_count + 1)
        .returning(Team.member_count),
        execution_options={"synchronize_session": False},  # the loaded team is told just below
    )
    if size is None:
        if await tx.session.scalar(select(Team.id).where(Team.id == team.id)) is None:
            raise NotFound("team.gone", team=team.name)  # its last member left meanwhile
        raise Conflict("team.full", team=team.name, max=tx.event.team_max_size)
    set_committed_value(team, "member_count", size)  # as the database has it: nothing to write back
    await _enrol(tx, team, person)


async def _enrol(tx: Transaction, team: Team, person: Participant) -> None:
    """The membership row of someone the team's member_count already counts."""
    # A plain INSERT, not the unit of work's flush; a second membership of the same person fails
    # here, on the unique row.
    await tx.session.execute(
        insert(Membership).values(team_id=team.id, participant_id=person.id, joined_at=tx.now)
    )
    if person.in_match_pool:
        person.in_match_pool = False


async def _remove_member(tx: Transaction, team: Team, participant_id: int) -> None:
    await tx.session.execute(
        delete(Membership).where(Membership.team_id == team.id, Membership.participant_id == participant_id)
    )
    team.member_count = (
        await tx.session.scalar(
            update(Team)
            .where(Team.id == team.id)
            .values(member_count=Team.member_count - 1)
            .returning(Team.member_count)
        )
        or 0
    )
    if team.member_count == 0:  # an empty team is gone, and its name free again
        await tx.session.delete(team)
        tx.record("team.dissolved", team=team.id, name=team.name, why="empty")


async def post(
    tx: Transaction,
    team: Team,
    key: str,
    message: str,
    *,
    invite: Iterable[int] = (),
    builtin: bool = True,
    **params: object,
) -> None:
    """Posts to the team's channel on the built-in channels and on each chat platform its members use,
    making sure the channel exists there and the invited members are in it."""
    texts = {language: say(language, message, **params) for language in tx.event.languages}
    await post_texts(tx, team, key, texts, invite=invite, builtin=builtin)


async def post_texts(
    tx: Transaction,
    team: Team,
    key: str,
    texts: dict[str, str],
    *,
    invite: Iterable[int] = (),
    builtin: bool = True,
) -> None:
    name = channel_name(team)
    if builtin:
        payload = {"author": tx.event.name, "texts": texts}
        await outbox.add(tx, f"{key}:builtin", "builtin", name, payload)
    platforms = [p for p in TEAM_PLATFORMS if p in tx.platforms and team_channels_on(tx.event, p)]
    if not platforms:
        return
    invited = set(invite)
    rows = await tx.session.execute(
        select(PlatformIdentity.platform, PlatformIdentity.user_id, PlatformIdentity.participant_id)
        .join(Membership, Membership.participant_id == PlatformIdentity.participant_id)
        .where(Membership.team_id == team.id, PlatformIdentity.platform.in_(platforms))
        .order_by(PlatformIdentity.id)
    )
    by_platform: dict[str, list[str]] = {}
    for platform, user_id, participant_id in rows:
        users = by_platform.setdefault(platform, [])
        if participant_id in invited:
            users.append(user_id)
    for platform, users in by_platform.items():
        payload = {"author": tx.event.name, "texts": texts, "channel_members": users}
        await outbox.add(tx, f"{key}:{platform}", platform, name, payload)


def team_channels_on(event: Event, platform: str) -> bool:
    return platform == "slack" or bool(event.channels.get(platform, {}).get("guild"))


def _skills(skills: Sequence[str]) -> str:
    return ", ".join(skills) or "–"


@dataclass
class OpenTeam:
    id: int
    name: str
    code: str
    size: int
    skills: set[str]
    languages: set[str]

    def fit(self, asker: Participant) -> tuple[bool, int, int, int]:
        """Best first: a shared language, most of the asker's skills missing, most in need of people."""
        speaks = not asker.languages or not self.languages or bool(self.languages & set(asker.languages))
        brings = len(set(asker.skills) - self.skills)
        return (not speaks, -brings, self.size, self.id)


async def open_for(
    session: AsyncSession, event: Event, event_id: int, asker: Participant, skill: str | None, limit: int = 10
) -> list[OpenTeam]:
    """Teams with free places (lacking `skill`, if given), the best fit for the asker first."""
    rows = await session.execute(
        select(
            Team.id, Team.name, Team.join_code, Team.member_count, Participant.skills, Participant.languages
        )
        .join(Membership, Membership.team_id == Team.id)
        .join(Participant, Participant.id == Membership.participant_id)
        .where(Team.event_id == event_id, Team.member_count < event.team_max_size)
    )
    found: dict[int, OpenTeam] = {}
    for team_id, name, code, size, skills, languages in rows:
        team = found.setdefault(team_id, OpenTeam(team_id, name, code, size, set(), set()))
        team.skills.update(skills)
        team.languages.update(languages)
    candidates = [t for t in found.values() if skill is None or skill not in t.skills]
    return sorted(candidates, key=lambda t: t.fit(asker))[:limit]


# Organisers' moves: allowed in every phase, each audit-logged.


async def move(tx: Transaction, participant_id: int, team_id: int, *, actor: str) -> Team:
    person = await tx.session.get(Participant, participant_id)
    target = await tx.session.get(Team, team_id)
    if person is None or person.event_id != tx.event_id:
        raise NotFound("team.no_such_participant", id=participant_id)
    if target is None or target.event_id != tx.event_id:
        raise NotFound("team.no_such_team", id=team_id)
    source = await team_of(tx.session, person.id)
    if source is not None and source.id == target.id:
        raise Conflict("team.already_member", team=target.name)
    if source is not None:
        await _remove_member(tx, source, person.id)
    await _add_member(tx, target, person)
    _audit(
        tx,
        actor,
        "team.move",
        participant=person.id,
        to=target.id,
        from_=source.id if source else None,
    )
    tx.record(
        "team.member_moved", participant=person.id, to=target.id, name=target.name,
        from_team=source.id if source else None,
    )  # fmt: skip
    await post(tx, target, message_key(target, f"moved:{person.id}:{tx.now.timestamp()}"), "team.moved_in",
        invite=[person.id], person=person.display_name, skills=_skills(person.skills),
        size=target.member_count, max=tx.event.team_max_size,
    )  # fmt: skip
    return target


async def merge(tx: Transaction, team_id: int, into_id: int, *, actor: str) -> Team:
    if team_id == into_id:
        raise Conflict("team.merge_itself")
    source, target = await tx.session.get(Team, team_id), await tx.session.get(Team, into_id)
    for wanted, found in ((team_id, source), (into_id, target)):
        if found is None or found.event_id != tx.event_id:
            raise NotFound("team.no_such_team", id=wanted)
    assert source is not None and target is not None
    if source.member_count + target.member_count > tx.event.team_max_size:
        raise Conflict(
            "team.merge_too_big", source=source.name, target=target.name, max=tx.event.team_max_size
        )
    moving = [m.participant_id for m in await members(tx.session, source.id)]
    await tx.session.execute(
        update(Membership).where(Membership.team_id == source.id).values(team_id=target.id)
    )
    target.member_count += len(moving)
    source.member_count = 0
    _audit(tx, actor, "team.merge", team=source.id, name=source.name, into=target.id, members=moving)
    tx.record(
        "team.merged",
        team=source.id,
        name=source.name,
        into=target.id,
        into_name=target.name,
        size=target.member_count,
        members=moving,
    )
    await post(tx, target, message_key(target, f"merged:{source.join_code}"), "team.merged_in",
        invite=moving, source=source.name, size=target.member_count, max=tx.event.team_max_size,
    )  # fmt: skip
    await tx.session.delete(source)
    return target


async def dissolve(tx: Transaction, team_id: int, *, actor: str) -> list[int]:
    """Removes a team; its members go back to the matching pool. The built-in channel goes with the
    team; a chat platform's channel stays, with a note saying so."""
    team = await tx.session.get(Team, team_id)
    if team is None or team.event_id != tx.event_id:
        raise NotFound("team.no_such_team", id=team_id)
    former = [m.participant_id for m in await members(tx.session, team.id)]
    note = message_key(team, "dissolved")
    await post(tx, team, note, "team.dissolved_note", builtin=False, name=team.name)
    await tx.session.execute(update(Participant).where(Participant.id.in_(former)).values(in_match_pool=True))
    await tx.session.execute(delete(Membership).where(Membership.team_id == team.id))
    await tx.session.delete(team)
    _audit(tx, actor, "team.dissolve", team=team.id, name=team.name, members=former)
    tx.record("team.dissolved", team=team.id, name=team.name, why="organiser", members=former)
    return former


def members_changed(event: DomainEvent) -> list[int]:
    """The participants whose team an event changed: who may read which team channel changed with it."""
    data = event.data
    match event.kind:
        case "team.created":
            return [data["by"]]
        case "team.joined" | "team.left" | "team.member_moved":
            return [data["participant"]]
        case "team.merged" | "team.dissolved" | "matching.done":
            return list(data.get("members", []))  # a team dissolved as its last member left: none
    return []


def _audit(tx: Transaction, actor: str, action: str, **details: object) -> None:
    tx.session.add(AuditEntry(event_id=tx.event_id, actor=actor, action=action, details=details, at=tx.now))
