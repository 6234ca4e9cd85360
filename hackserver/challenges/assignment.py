"""The assignment use case: every team gets one challenge (hackserver.challenges.solver, exact, in a thread),
written in the caller's transaction; each team whose challenge changed is told why in its channel.
The clock runs it when team formation closes, after the matching; organisers run it by bot or API,
and can set one team's challenge by hand, which later runs keep."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hackserver.challenges import solver
from hackserver.foundation.errors import Conflict, NotFound
from hackserver.foundation.i18n import Count, say
from hackserver.foundation.models import (
    AuditEntry,
    Challenge,
    ChallengePreference,
    Membership,
    Participant,
    Team,
)
from hackserver.teams import teams
from hackserver.teams.matching import MAX_SEED, default_seed

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction


@dataclass(frozen=True)
class AssignmentRun:
    seed: int
    teams: int
    changed: int
    by_rank: dict[str, int]  # "1st" / "2nd" / "3rd" / "no_choices" / "choices_full" / "override" -> teams
    unplaced: list[str]  # names of teams no challenge had room for

    def summary(self, language: str) -> str:
        """What the run did, for the organisers."""
        ranks = ", ".join(
            f"{say(language, f'assignment.rank.{how}')}: {n}" for how, n in sorted(self.by_rank.items())
        )
        teams = Count("assignment.done.teams", self.teams)
        lines = [say(language, "assignment.done", teams=teams, changed=self.changed, ranks=ranks)]
        if self.unplaced:
            lines.append(say(language, "assignment.unplaced", names=", ".join(self.unplaced[:20])))
        return "\n".join(lines)


async def run(tx: Transaction, *, actor: str, seed: int | None = None) -> AssignmentRun:
    session, event_id = tx.session, tx.event_id
    seed = default_seed(tx.event.slug) if seed is None else seed
    if not 0 <= seed <= MAX_SEED:
        raise Conflict("match.bad_seed", max=MAX_SEED)
    team_rows = {t.id: t for t in await session.scalars(select(Team).where(Team.event_id == event_id))}
    choices: dict[int, list[int]] = defaultdict(list)
    for team_id, challenge_id in await session.execute(
        select(ChallengePreference.team_id, ChallengePreference.challenge_id)
        .join(Team, Team.id == ChallengePreference.team_id)
        .where(Team.event_id == event_id)
        .order_by(ChallengePreference.team_id, ChallengePreference.rank)
    ):
        choices[team_id or 0].append(challenge_id)
    spoken: dict[int, set[str]] = defaultdict(set)
    for team_id, languages in await session.execute(
        select(Membership.team_id, Participant.languages)
        .join(Participant, Participant.id == Membership.participant_id)
        .join(Team, Team.id == Membership.team_id)
        .where(Team.event_id == event_id)
    ):
        spoken[team_id].update(languages)
    challenges = {
        c.id: c for c in await session.scalars(select(Challenge).where(Challenge.event_id == event_id))
    }
    wishes = [
        solver.TeamChoices(t.id, tuple(choices[t.id]), frozenset(spoken[t.id]), t.challenge_id)
        for t in team_rows.values()
    ]
    specs = [solver.ChallengeSpec(c.id, c.max_teams, frozenset(c.languages)) for c in challenges.values()]
    overrides = {
        t.id: t.challenge_id for t in team_rows.values() if t.challenge_how == "override" and t.challenge_id
    }
    result = await run_in_threadpool(solver.assign, wishes, specs, seed, overrides)

    changed = 0
    by_rank: dict[str, int] = defaultdict(int)
    for team_id, outcome in sorted(result.outcomes.items()):
        team = team_rows[team_id]
        by_rank[ORDINALS[outcome.rank] if outcome.rank is not None and outcome.rank < 3 else outcome.how] += 1
        if (team.challenge_id, team.challenge_rank, team.challenge_how) == (
            outcome.challenge_id, outcome.rank, outcome.how,
        ):  # fmt: skip
            continue
        changed += 1
        team.challenge_id, team.challenge_rank, team.challenge_how = (
            outcome.challenge_id,
            outcome.rank,
            outcome.how,
        )
        await tell(tx, team, challenges[outcome.challenge_id], [challenges[c] for c in choices[team_id]])
    unplaced = sorted(team_rows[t].name for t in result.unplaced)
    session.add(
        AuditEntry(
            event_id=event_id, actor=actor, action="assignment.run", at=tx.now,
            details={"seed": seed, "teams": len(team_rows), "changed": changed, "unplaced": unplaced[:50]},
        )
    )  # fmt: skip
    tx.record("challenges.assigned", teams=len(team_rows), changed=changed, unplaced=len(unplaced))
    return AssignmentRun(seed, len(team_rows), changed, dict(by_rank), unplaced)


ORDINALS = ("1st", "2nd", "3rd")


async def override(tx: Transaction, team_id: int, external_id: str, *, actor: str) -> Team:
    """An organiser sets one team's challenge; later assignment runs keep it."""
    team = await tx.session.get(Team, team_id)
    if team is None or team.event_id != tx.event_id:
        raise NotFound("team.no_such_team", id=team_id)
    challenge = await tx.session.scalar(
        select(Challenge).where(Challenge.event_id == tx.event_id, Challenge.external_id == external_id)
    )
    if challenge is None:
        raise NotFound("challenge.unknown", ids=external_id[:40])
    before = team.challenge_id
    picks = [c.id for c in await tx.session.scalars(
        select(Challenge).join(ChallengePreference).where(ChallengePreference.team_id == team.id)
        .order_by(ChallengePreference.rank)
    )]  # fmt: skip
    team.challenge_id, team.challenge_how = challenge.id, "override"
    team.challenge_rank = picks.index(challenge.id) if challenge.id in picks else None
    tx.session.add(
        AuditEntry(
            event_id=tx.event_id, actor=actor, action="challenge.override", at=tx.now,
            details={"team": team.id, "challenge": challenge.external_id, "before": before},
        )
    )  # fmt: skip
    tx.record("challenge.overridden", team=team.id, name=team.name, challenge=challenge.external_id)
    await tell(tx, team, challenge, [])
    return team


async def tell(tx: Transaction, team: Team, challenge: Challenge, picked: list[Challenge]) -> None:
    """The team's channel hears its challenge and, unless it was its first choice, why."""
    texts = {}
    for language in tx.event.languages:
        title = say(language, "challenge.yours", id=challenge.external_id, title=challenge.title)
        if team.challenge_how == "choice" and team.challenge_rank is not None:
            why = say(language, f"challenge.why.rank{min(team.challenge_rank, 2)}")
        elif team.challenge_how == "choices_full":
            names = ", ".join(c.external_id for c in picked)
            why = say(language, "challenge.why.choices_full", picked=names)
        else:
            why = say(language, f"challenge.why.{team.challenge_how}")
        texts[language] = f"{title} {why}"
    key = teams.message_key(team, f"challenge:{challenge.external_id}:{tx.now.timestamp()}")
    await teams.post_texts(tx, team, key, texts)
