"""The challenges a team inherits from its members: a solo participant's picks (their interests that
are challenge ids, ranked) become their team's choices when the team forms, by matching or by hand,
unless the team has ranked its own."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select

from hackserver.foundation.models import Challenge, ChallengePreference, Membership, Participant

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction

MAX_PICKS = 3  # challenges a team ranks
CHUNK = 5000  # ids per IN (...): PostgreSQL's drivers take at most 32,767 parameters


def merged(ranked: list[list[int]]) -> list[int]:
    """The members' ranked picks as one ranking: a first choice scores 3, a second 2, a third 1, summed
    over the members; ties go to the better best rank, then to the earlier member."""
    score: dict[int, int] = defaultdict(int)
    best: dict[int, int] = {}
    for picks in ranked:
        for rank, challenge in enumerate(picks[:MAX_PICKS]):
            score[challenge] += MAX_PICKS - rank
            best[challenge] = min(best.get(challenge, rank), rank)
    order = {challenge: n for n, challenge in enumerate(dict.fromkeys(c for p in ranked for c in p))}
    return sorted(score, key=lambda c: (-score[c], best[c], order[c]))[:MAX_PICKS]


async def inherit(tx: Transaction, team_ids: list[int]) -> None:
    """Gives each of these teams that has no choices of its own its members' merged picks."""
    session = tx.session
    chosen: set[int] = set()
    interests: dict[int, list[list[str]]] = defaultdict(list)
    for start in range(0, len(team_ids), CHUNK):
        some = team_ids[start : start + CHUNK]
        has_choices = select(ChallengePreference.team_id).where(ChallengePreference.team_id.in_(some))
        chosen.update(team_id for team_id in await session.scalars(has_choices) if team_id is not None)
        for team_id, wanted in await session.execute(
            select(Membership.team_id, Participant.interests)
            .join(Participant, Participant.id == Membership.participant_id)
            .where(Membership.team_id.in_(some))
            .order_by(Membership.id)
        ):
            if wanted:
                interests[team_id].append(wanted)
    if not interests.keys() - chosen:
        return
    ids: dict[str, int] = {
        external_id: challenge_id
        for external_id, challenge_id in await session.execute(
            select(func.lower(Challenge.external_id), Challenge.id).where(Challenge.event_id == tx.event_id)
        )
    }
    rows = [
        {"team_id": team_id, "challenge_id": challenge, "rank": rank}
        for team_id, wishes in interests.items()
        if team_id not in chosen
        for rank, challenge in enumerate(merged([[ids[w] for w in wanted if w in ids] for wanted in wishes]))
    ]
    if rows:
        await session.execute(insert(ChallengePreference), rows)
