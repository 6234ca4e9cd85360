"""Challenge assignment: 1,500 teams, each with up to 3 ranked choices among 600 challenges, get
exactly one challenge each. Measures `hackserver.challenges.solver.assign` (wall time, median of several
runs) and compares its outcome with a first-come greedy baseline on the same input: teams in arrival
order take their best choice with room, else the first challenge with room.

The input is generated from a seed: challenge popularity is Zipf-like (the favourite is wanted by
hundreds of teams), capacities are mostly 3, some 1–2, some 5 and about 10% unlimited; languages are
mostly German, some English, some both, for challenges and teams alike; a few teams pick nothing.
A second measurement re-runs with everyone's current challenge and one new organiser override, and
counts the teams that moved.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence

from bench.common import Report, machine_facts, median
from hackserver.challenges.solver import (
    Assignment,
    ChallengeSpec,
    Outcome,
    TeamChoices,
    assign,
    satisfaction,
    valid_choices,
)

TEAMS = 1_500
CHALLENGES = 600
CHOICES = 3
NO_CHOICES = 0.03  # share of teams that pick nothing
RUNS = 7
LIMIT_SECONDS = 1.0


def languages(rng: random.Random, german: float, english: float) -> frozenset[str]:
    roll = rng.random()
    if roll < german:
        return frozenset({"de"})
    if roll < german + english:
        return frozenset({"en"})
    return frozenset({"de", "en"})


def generate(seed: int) -> tuple[list[TeamChoices], list[ChallengeSpec]]:
    rng = random.Random(seed)
    challenges = [
        ChallengeSpec(
            ident,
            rng.choices((3, 1, 2, 5, None), (60, 7, 8, 15, 10))[0],
            languages(rng, 0.70, 0.15),
        )
        for ident in range(1, CHALLENGES + 1)
    ]
    ids = [c.challenge_id for c in challenges]
    rng.shuffle(ids)  # popularity is independent of id and capacity
    weights = [1 / rank**0.9 for rank in range(1, CHALLENGES + 1)]
    teams = []
    for ident in range(1, TEAMS + 1):
        picks: list[int] = []
        while rng.random() >= NO_CHOICES and len(picks) < CHOICES:
            if (pick := rng.choices(ids, weights)[0]) not in picks:
                picks.append(pick)
        teams.append(TeamChoices(ident, tuple(picks), languages(rng, 0.70, 0.10)))
    rng.shuffle(teams)  # arrival order is not id order
    return teams, challenges


def greedy(teams: Sequence[TeamChoices], challenges: Sequence[ChallengeSpec]) -> dict[int, Outcome]:
    """First come, first served: the best choice with room, else the first challenge with room."""
    room = {c.challenge_id: c.capacity for c in challenges}
    outcomes = {}
    for team in teams:
        valid = valid_choices(team, room)
        free = [c for c in valid if room[c] != 0]
        got = free[0] if free else next((c for c, r in room.items() if r != 0), None)
        if got is None:
            continue
        rank = valid.index(got) if got in valid else None
        outcomes[team.team_id] = Outcome(got, rank, "choice" if rank is not None else "fallback")
        if room[got] is not None:
            room[got] -= 1  # type: ignore[operator]
    return outcomes


def cost(teams: Sequence[TeamChoices], outcomes: Mapping[int, Outcome]) -> tuple[int, int, int]:
    """(teams without one of their choices, rank sum of the others, rank cost with none = 3)."""
    ranks = [o.rank for t in teams if (o := outcomes.get(t.team_id)) is not None and o.rank is not None]
    without = len(teams) - len(ranks)
    return without, sum(ranks), sum(ranks) + CHOICES * without


def violations(
    teams: Sequence[TeamChoices], challenges: Sequence[ChallengeSpec], result: Assignment
) -> list[str]:
    problems = []
    if sorted([*result.outcomes, *result.unplaced]) != sorted(t.team_id for t in teams):
        problems.append("not every team placed exactly once")
    load = Counter(o.challenge_id for o in result.outcomes.values())
    for c in challenges:
        if c.capacity is not None and load[c.challenge_id] > c.capacity:
            problems.append(
                f"challenge {c.challenge_id} over capacity: {load[c.challenge_id]} > {c.capacity}"
            )
    return problems


def language_fit(
    teams: Sequence[TeamChoices], challenges: Sequence[ChallengeSpec], outcomes: Mapping[int, Outcome]
) -> str:
    spec = {c.challenge_id: c for c in challenges}
    placed = [
        (t.languages, spec[o.challenge_id].languages)
        for t in teams
        if (o := outcomes.get(t.team_id)) is not None and o.rank is None
    ]
    fit = sum(1 for team, chal in placed if not team or not chal or team & chal)
    return f"{fit}/{len(placed)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.assignment", description=__doc__)
    parser.add_argument("--seed", type=int, default=2026, help="seed of the input and of the assignment")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs of assign()")
    args = parser.parse_args(argv)
    facts = machine_facts()
    teams, challenges = generate(args.seed)
    gc.collect()

    times = []
    for _ in range(args.runs):
        began = time.perf_counter()
        result = assign(teams, challenges, args.seed)
        times.append(time.perf_counter() - began)
    seconds = median(times)
    baseline = greedy(teams, challenges)

    # Re-run as after an organiser override: everyone keeps their current challenge unless forced.
    by_load = Counter(o.challenge_id for o in result.outcomes.values())
    moved_team = next(t for t in sorted(teams, key=lambda t: t.team_id) if t.team_id in result.outcomes)
    target = next(
        c.challenge_id
        for c in challenges
        if c.capacity is not None and by_load[c.challenge_id] == c.capacity
        and c.challenge_id != result.outcomes[moved_team.team_id].challenge_id
    )  # fmt: skip
    current = [
        TeamChoices(
            t.team_id,
            t.choices,
            t.languages,
            o.challenge_id if (o := result.outcomes.get(t.team_id)) else None,
        )
        for t in teams
    ]
    began = time.perf_counter()
    rerun = assign(current, challenges, args.seed + 1, {moved_team.team_id: target})
    rerun_seconds = time.perf_counter() - began
    changed = sorted(
        t
        for t, o in rerun.outcomes.items()
        if t != moved_team.team_id and o.challenge_id != result.outcomes[t].challenge_id
    )

    problems = violations(teams, challenges, result) + violations(teams, challenges, rerun)
    report = Report(
        f"Challenge assignment: {TEAMS} teams, {CHALLENGES} challenges, {CHOICES} ranked choices",
        [
            "assignment",
            "1st",
            "2nd",
            "3rd",
            "none of theirs",
            "without a choice",
            "rank sum",
            "cost (none = 3)",
            "challenges with teams",
            "fallback language fit",
            "unplaced",
            "time s",
        ],
    )
    for name, outcomes, unplaced, took in (
        ("assign()", result.outcomes, len(result.unplaced), f"{seconds:.3f}"),
        ("first come, first served", baseline, TEAMS - len(baseline), ""),
    ):
        without, rank_sum, total = cost(teams, outcomes)
        report.add(
            name,
            *satisfaction(teams, outcomes).as_row(),
            without,
            rank_sum,
            total,
            len({o.challenge_id for o in outcomes.values()}),
            language_fit(teams, challenges, outcomes),
            unplaced,
            took,
        )
    hows = Counter(o.how for o in result.outcomes.values())
    capacity = sum(c.capacity or 0 for c in challenges)
    unlimited = sum(1 for c in challenges if c.capacity is None)
    top = Counter(c for t in teams for c in t.choices).most_common(3)
    report.notes += [
        f"- seed {args.seed}; time: median of {len(times)} runs ({', '.join(f'{t:.3f}' for t in times)} s);"
        f" capacities: {capacity} places in limited challenges plus {unlimited} unlimited ones;"
        f" most wanted: {', '.join(f'{n} teams' for _, n in top)};"
        f" {sum(1 for t in teams if not t.choices)} teams picked nothing.",
        f"- assign() outcomes: {', '.join(f'{how} {n}' for how, n in sorted(hows.items()))}."
        " none of theirs: share of teams placed outside their choices (or unplaced);"
        " fallback language fit: those whose challenge's languages fit theirs.",
        f"- re-run with everyone's current challenge, another seed and one override into a full challenge:"
        f" {rerun_seconds:.3f} s; teams moved besides the overridden one: {len(changed)}.",
        f"- limit: ≤ {LIMIT_SECONDS:g} s (median) on a shared 2-core machine; violations found: {len(problems)}.",
    ]
    report.publish(facts, ["bench.assignment", *sys.argv[1:]])
    for problem in problems[:10]:
        print(problem)
    return 0 if seconds <= LIMIT_SECONDS and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
