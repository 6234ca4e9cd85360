"""Judging: final submissions assigned to jurors, scored on the rubric, flagged when unreachable or
empty (then re-assigned, never scored zero), ranked with normalised scores, and the best selected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute

from hackserver.foundation.errors import Conflict, NotFound, TooLate
from hackserver.foundation.models import AuditEntry, Challenge, Juror, JuryAssignment, Score, Submission, Team
from hackserver.foundation.numbers import whole
from hackserver.foundation.plain_text import free_text
from hackserver.foundation.text_limits import refused
from hackserver.judging import jury_assignment, ranking
from hackserver.judging.jury_assignment import Entry, JurorInfo
from hackserver.submissions import entries
from hackserver.teams import teams

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction

FLAGS = ("unreachable", "empty")
SET_ASIDE_AFTER = 2  # flags from this many jurors: the organisers look at it, no more re-assigning


@dataclass
class AssignmentRun:
    submissions: int
    assignments: int
    outside_category: int
    short: dict[int, int]  # submission id -> jurors missing


def _entry(submission: Submission, team: Team, challenge: Challenge | None) -> Entry:
    return Entry(
        submission.id,
        team.name_key,
        challenge.category if challenge else None,
        challenge.owner_organisation if challenge else None,
    )


def _juror(juror: Juror) -> JurorInfo:
    return JurorInfo(juror.id, juror.organisation, frozenset(juror.categories), frozenset(juror.conflicts))


async def _finals(tx: Transaction) -> list[tuple[Submission, Team, Challenge | None]]:
    rows = await tx.session.execute(
        select(Submission, Team, Challenge)
        .join(Team, Team.id == Submission.team_id)
        .outerjoin(Challenge, Challenge.id == Team.challenge_id)
        .where(Team.event_id == tx.event_id, Submission.status == entries.FINAL)
        .order_by(Submission.id)
    )
    return [(s, t, c) for s, t, c in rows.all()]


async def jurors_of(tx: Transaction) -> list[Juror]:
    return list(
        await tx.session.scalars(select(Juror).where(Juror.event_id == tx.event_id).order_by(Juror.id))
    )


async def progress(tx: Transaction, by: InstrumentedAttribute[int]) -> dict[int, tuple[int, int, int]]:
    """How far the jury is with each juror or each submission (`by` JuryAssignment.juror_id or
    .submission_id): assignments still counting, of them scored, and flagged."""
    counted = JuryAssignment.flagged.is_(None)
    counts = await tx.session.execute(
        select(
            by,
            func.count().filter(counted),
            func.count().filter(counted, JuryAssignment.scored_at.is_not(None)),
            func.count().filter(JuryAssignment.flagged.is_not(None)),
        ).group_by(by)
    )
    return {key: (assigned, scored, flagged) for key, assigned, scored, flagged in counts}


async def assign(tx: Transaction, *, actor: str, seed: int = 0) -> AssignmentRun:
    """Assigns every final submission without jurors yet to k of them (the event file's jury)."""
    phases = await tx.phases()
    if tx.now < entries.regular_deadline(tx.event, phases):
        raise TooLate("jury.before_deadline")
    await entries.freeze_due(tx)
    people = await jurors_of(tx)
    if not people:
        raise Conflict("jury.no_jurors")
    assigned = set(
        await tx.session.scalars(
            select(JuryAssignment.submission_id).join(Juror).where(Juror.event_id == tx.event_id).distinct()
        )
    )
    finals = [row for row in await _finals(tx) if row[0].id not in assigned]
    plan = jury_assignment.assign(
        [_entry(*row) for row in finals],
        [_juror(j) for j in people],
        tx.event.jury.jurors_per_submission,
        seed=seed,
    )
    for submission_id, juror_id in plan.pairs:
        tx.session.add(JuryAssignment(juror_id=juror_id, submission_id=submission_id, created_at=tx.now))
    tx.session.add(
        AuditEntry(event_id=tx.event_id, actor=actor, action="jury.assign", at=tx.now,
                   details={"seed": seed, "submissions": len(finals), "assignments": len(plan.pairs),
                            "short": plan.short})
    )  # fmt: skip
    tx.record("jury.assigned", submissions=len(finals), assignments=len(plan.pairs))
    return AssignmentRun(len(finals), len(plan.pairs), plan.outside_category, plan.short)


async def assignment_of(tx: Transaction, juror_id: int, submission_id: int) -> JuryAssignment:
    found = await tx.session.scalar(
        select(JuryAssignment).where(
            JuryAssignment.juror_id == juror_id, JuryAssignment.submission_id == submission_id
        )
    )
    if found is None:
        raise NotFound("jury.not_assigned", id=submission_id)
    return found


def _judging_open(phases: dict[str, Any], now: Any) -> None:
    if now >= phases["awards"]:
        raise TooLate("jury.closed")


class InvalidScores(Conflict):
    def __init__(self, problems: dict[str, entries.Problem]) -> None:
        super().__init__("jury.invalid")
        self.problems = problems


async def score(
    tx: Transaction,
    juror_id: int,
    submission_id: int,
    raw: dict[str, str],
    comment: str,
    language: str = "en",
) -> float:
    """Stores the juror's score for each criterion (replacing earlier ones); returns the weighted total."""
    _judging_open(await tx.phases(), tx.now)
    assignment = await assignment_of(tx, juror_id, submission_id)
    if assignment.flagged:
        raise Conflict("jury.flagged_already")
    rubric = tx.event.jury
    low, high = rubric.scale
    values, problems = {}, {}
    for criterion in rubric.criteria:
        value = whole(raw.get(criterion.id, "").strip(), signed=True)
        if value is None or not low <= value <= high:
            problems[criterion.id] = entries.Problem(
                "jury.score_range", {"criterion": criterion.label(language), "low": low, "high": high}
            )
        else:
            values[criterion.id] = float(value)
    comment = free_text(comment)
    if (refusal := refused("comment", comment)) is not None:
        problems["comment"] = entries.Problem(refusal.key, refusal.params)
    if problems:
        raise InvalidScores(problems)
    await tx.session.execute(delete(Score).where(Score.assignment_id == assignment.id))
    for criterion in rubric.criteria:
        tx.session.add(
            Score(assignment_id=assignment.id, criterion=criterion.id, value=values[criterion.id],
                  comment=comment or None)
        )  # fmt: skip
    assignment.scored_at = tx.now
    tx.record("jury.scored", juror=juror_id, submission=submission_id)
    return ranking.weighted_total(values, rubric.criteria)


async def flag(tx: Transaction, juror_id: int, submission_id: int, reason: str) -> int | None:
    """The juror cannot judge it (unreachable, empty): another juror gets it; returns their id, or
    None when it is set aside for the organisers (flagged by enough jurors, or nobody left)."""
    if reason not in FLAGS:
        raise Conflict("jury.flag_reason", reasons=", ".join(FLAGS))
    _judging_open(await tx.phases(), tx.now)
    assignment = await assignment_of(tx, juror_id, submission_id)
    if assignment.flagged:
        return None
    assignment.flagged = reason
    await tx.session.execute(delete(Score).where(Score.assignment_id == assignment.id))
    on_it = list(
        await tx.session.scalars(select(JuryAssignment).where(JuryAssignment.submission_id == submission_id))
    )
    flags = sum(1 for a in on_it if a.flagged)
    tx.record("jury.flagged", juror=juror_id, submission=submission_id, reason=reason)
    if flags >= SET_ASIDE_AFTER:
        return None
    row = (
        await tx.session.execute(
            select(Submission, Team, Challenge)
            .join(Team, Team.id == Submission.team_id)
            .outerjoin(Challenge, Challenge.id == Team.challenge_id)
            .where(Submission.id == submission_id)
        )
    ).one()
    loads = dict(
        (await tx.session.execute(
            select(JuryAssignment.juror_id, func.count()).join(Juror)
            .where(Juror.event_id == tx.event_id, JuryAssignment.flagged.is_(None))
            .group_by(JuryAssignment.juror_id)
        )).all()
    )  # fmt: skip
    people = [_juror(j) for j in await jurors_of(tx)]
    chosen = jury_assignment.replacement(_entry(*row), people, loads, {a.juror_id for a in on_it})
    if chosen is None:
        return None
    tx.session.add(JuryAssignment(juror_id=chosen.id, submission_id=submission_id, created_at=tx.now))
    return chosen.id


@dataclass
class Standing:
    ranked: ranking.Ranked
    submission: Submission
    team: Team
    category: str | None
    flags: int
    fields: dict[str, Any] = field(default_factory=dict)


async def standings(tx: Transaction) -> list[Standing]:
    """Every final submission, best first, with how many scored it and how far they agree."""
    criteria = tx.event.jury.criteria
    rows = await tx.session.execute(
        select(JuryAssignment.juror_id, JuryAssignment.submission_id, Score.criterion, Score.value)
        .join(Score, Score.assignment_id == JuryAssignment.id)
        .join(Juror, Juror.id == JuryAssignment.juror_id)
        .where(Juror.event_id == tx.event_id, JuryAssignment.flagged.is_(None))
    )
    values: dict[tuple[int, int], dict[str, float]] = {}
    for juror, submission, criterion, value in rows:
        values.setdefault((juror, submission), {})[criterion] = value
    wanted = {c.id for c in criteria}
    scored = [
        ranking.Scored(juror, submission, ranking.weighted_total(v, criteria))
        for (juror, submission), v in values.items()
        if wanted <= v.keys()  # a rubric changed since: only complete scores count
    ]
    finals = {s.id: (s, t, c) for s, t, c in await _finals(tx)}
    scored = [s for s in scored if s.submission in finals]
    flags = dict(
        (await tx.session.execute(
            select(JuryAssignment.submission_id, func.count()).join(Juror)
            .where(Juror.event_id == tx.event_id, JuryAssignment.flagged.is_not(None))
            .group_by(JuryAssignment.submission_id)
        )).all()
    )  # fmt: skip
    result = []
    for ranked in ranking.rank(scored, unscored=finals):
        s, t, c = finals[ranked.submission]
        result.append(Standing(ranked, s, t, c.category if c else None, int(flags.get(s.id, 0))))
    return result


def pick(table: list[Standing], top: int, *, per_category: bool) -> tuple[list[Standing], list[Standing]]:
    """The best `top` scored submissions (overall, or in each category) and the others, changing
    nothing: what select_top marks, and what an organiser previews before it does."""
    if top < 1:
        raise Conflict("jury.top_positive")
    taken: dict[str | None, int] = {}
    selected, others = [], []
    for standing in table:
        group = standing.category if per_category else None
        if standing.ranked.count > 0 and taken.get(group, 0) < top:
            taken[group] = taken.get(group, 0) + 1
            selected.append(standing)
        else:
            others.append(standing)
    return selected, others


async def select_top(
    tx: Transaction, top: int, *, per_category: bool, actor: str
) -> tuple[list[int], list[int]]:
    """Marks the best `top` (overall, or in each category) selected and every other final submission
    not selected; tells each team whose mark changed. Returns (selected, not selected) submission ids."""
    selected, others = pick(await standings(tx), top, per_category=per_category)
    for chosen, standings_marked in ((True, selected), (False, others)):
        mark = "selected" if chosen else "not_selected"
        for standing in standings_marked:
            if standing.submission.selection == mark:
                continue
            standing.submission.selection = mark
            await teams.post(tx, standing.team, teams.message_key(standing.team, f"selection:{mark}"),
                f"jury.{mark}", name=standing.team.name, rank=standing.ranked.rank,
            )  # fmt: skip
    tx.session.add(
        AuditEntry(event_id=tx.event_id, actor=actor, action="jury.select", at=tx.now,
                   details={"top": top, "per_category": per_category,
                            "selected": [s.submission.id for s in selected]})
    )  # fmt: skip
    tx.record("jury.selected", selected=len(selected), not_selected=len(others))
    return [s.submission.id for s in selected], [s.submission.id for s in others]
