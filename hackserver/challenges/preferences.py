"""Challenges as teams see them: the catalogue to search (cached until an import changes it), each
challenge's standing, and preferences: a team ranks up to three challenges; a solo participant's picks
become the interests that the team matching weighs, and their team's choices when it forms
(hackserver.teams.picks). Picking again replaces the earlier picks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hackserver.challenges.search import Catalogue
from hackserver.foundation.errors import Conflict, NotFound
from hackserver.foundation.models import AuditEntry, Challenge, ChallengePreference, Participant, Team
from hackserver.teams import teams
from hackserver.teams.participants import MAX_INTERESTS
from hackserver.teams.picks import MAX_PICKS

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction


@dataclass(frozen=True)
class Listed:
    """A challenge as the search shows it: a snapshot, safe to keep between requests."""

    id: int
    external_id: str
    title: str
    description: str
    category: str | None
    tags: list[str]
    max_teams: int | None


class CachedCatalogue:
    """The search index of the event's challenges, built again only when they changed: a re-import
    always writes an audit entry, so its id, with the count and the newest id, tells."""

    def __init__(self) -> None:
        self.version: tuple[int, int, int] | None = None
        self.catalogue: Catalogue[Listed] = Catalogue.build([])

    async def get(self, session: AsyncSession, event_id: int) -> Catalogue[Listed]:
        count, newest = (
            await session.execute(
                select(func.count(), func.coalesce(func.max(Challenge.id), 0)).where(
                    Challenge.event_id == event_id
                )
            )
        ).one()
        imported = await session.scalar(
            select(func.coalesce(func.max(AuditEntry.id), 0)).where(
                AuditEntry.event_id == event_id, AuditEntry.action == "challenges.imported"
            )
        )
        version = (count, newest, imported or 0)
        if version != self.version:
            rows = await session.execute(
                select(
                    Challenge.id, Challenge.external_id, Challenge.title, Challenge.description,
                    Challenge.category, Challenge.tags, Challenge.max_teams,
                ).where(Challenge.event_id == event_id)
            )  # fmt: skip
            self.catalogue = Catalogue.build(Listed(*row) for row in rows)
            self.version = version
        return self.catalogue


@dataclass(frozen=True)
class Picked:
    team: Team | None  # None: the picks are a solo participant's interests
    chosen: list[Challenge]
    unknown: list[str]


@dataclass(frozen=True)
class Standing:
    """How a challenge stands: teams assigned to it, and teams that want it most."""

    assigned: int
    first_choice: int

    def free(self, challenge: Challenge | Listed) -> int | None:
        return None if challenge.max_teams is None else max(0, challenge.max_teams - self.assigned)


async def pick(tx: Transaction, person: Participant, ids: list[str]) -> Picked:
    await teams.forming_or_refuse(tx, locked="challenge.locked")
    wanted = list(dict.fromkeys(i.strip().upper() for i in ids if i.strip()))
    if not wanted:
        raise Conflict("challenge.no_ids")
    if len(wanted) > MAX_PICKS:
        raise Conflict("challenge.too_many", limit=MAX_PICKS)
    found = {
        c.external_id.upper(): c
        for c in await tx.session.scalars(
            select(Challenge).where(
                Challenge.event_id == tx.event_id, func.upper(Challenge.external_id).in_(wanted)
            )
        )
    }
    unknown = [i for i in wanted if i not in found]
    if len(unknown) == len(wanted):
        raise NotFound("challenge.unknown", ids=", ".join(unknown))
    chosen = [found[i] for i in wanted if i in found]
    team = await teams.team_of(tx.session, person.id)
    if team is None:  # the new picks first; the topics the person wants stay, earlier picks go
        any_id = select(func.lower(Challenge.external_id)).where(Challenge.event_id == tx.event_id)
        challenge_ids: set[str] = set(await tx.session.scalars(any_id))
        topics = [wish for wish in person.interests if wish not in challenge_ids]
        person.interests = ([c.external_id.lower() for c in chosen] + topics)[:MAX_INTERESTS]
        tx.record("participant.profile", participant=person.id)
        return Picked(None, chosen, unknown)
    await tx.session.execute(delete(ChallengePreference).where(ChallengePreference.team_id == team.id))
    tx.session.add_all(
        ChallengePreference(team_id=team.id, challenge_id=c.id, rank=rank) for rank, c in enumerate(chosen)
    )
    tx.record(
        "team.picked", team=team.id, name=team.name, challenges=[c.external_id for c in chosen], by=person.id
    )
    return Picked(team, chosen, unknown)


async def picks_of(session: AsyncSession, team_id: int) -> list[Challenge]:
    return list(
        await session.scalars(
            select(Challenge)
            .join(ChallengePreference)
            .where(ChallengePreference.team_id == team_id)
            .order_by(ChallengePreference.rank)
        )
    )


async def standings(session: AsyncSession, event_id: int) -> dict[int, Standing]:
    assigned: dict[int, int] = {}
    for challenge_id, n in await session.execute(
        select(Team.challenge_id, func.count())
        .where(Team.event_id == event_id, Team.challenge_id.is_not(None))
        .group_by(Team.challenge_id)
    ):
        assigned[challenge_id or 0] = n
    first: dict[int, int] = {}
    for challenge_id, n in await session.execute(
        select(ChallengePreference.challenge_id, func.count())
        .join(Team, Team.id == ChallengePreference.team_id)
        .where(Team.event_id == event_id, ChallengePreference.rank == 0)
        .group_by(ChallengePreference.challenge_id)
    ):
        first[challenge_id] = n
    return {cid: Standing(assigned.get(cid, 0), first.get(cid, 0)) for cid in assigned.keys() | first.keys()}
