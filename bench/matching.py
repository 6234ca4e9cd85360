"""Team matching at kickoff: 20,000 of 28,000 registered participants ask for a team, and about 200
hand-made open teams among the other 8,000 have free places. Measures `hackserver.teams.matcher.match`
(wall time, median of several runs; peak memory by tracemalloc and by the process's resident set)
and compares its teams with two baselines on the same input: random chunks ignoring language, and
chunks of each first language in registration order.

The population is generated from a seed: mostly German speakers, some bilingual, a few speakers of
other languages; skills drawn from the canonical list with a skewed popularity; most people in
Central European time, some in the UK, a few in America and Asia; top interests over 600 challenges
with a long tail.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import random
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

from bench.common import Report, machine_facts, median
from hackserver.teams.matcher import OpenTeam, Result, Rules, match
from hackserver.teams.skills import SKILLS
from hackserver.teams.team_fit import Person, Quality, quality

REGISTERED = 28_000
POOL = 20_000
OPEN_TEAMS = 200
CHALLENGES = 600
RULES = Rules(min_size=2, max_size=6, target_size=5)  # as in config/event.example.toml
RUNS = 5
LIMIT_SECONDS = 2.0
LIMIT_MB = 300.0

# Relative popularity of the canonical skills: many coders and designers, few lawyers and doctors.
POPULARITY = {
    "python": 20, "javascript": 20, "design": 14, "frontend": 10, "data science": 10, "backend": 8,
    "communication": 8, "project management": 7, "product": 5, "databases": 5, "mobile": 5, "java": 5,
    "devops": 4, "business": 4, "research": 3, "security": 3, "c#": 3, "php": 3, "go": 2, "video": 2,
    "public administration": 2, "rust": 1.5, "hardware": 1, "law": 0.7, "medicine": 0.7,
}  # fmt: skip
OTHER_LANGUAGES = ("tr", "ar", "uk", "fr", "ru", "pl")
OFFSETS = ((1.0, 85), (0.0, 8), (2.0, 2), (-5.0, 2), (-8.0, 1), (5.5, 1), (8.0, 1))


def languages(rng: random.Random) -> tuple[str, ...]:
    roll = rng.random()
    if roll < 0.70:
        return ("de",)
    if roll < 0.90:
        return ("de", "en") if rng.random() < 0.7 else ("en", "de")
    if roll < 0.98:
        return ("en",)
    other = rng.choice(OTHER_LANGUAGES)
    return rng.choice(((other,), (other, "de"), (other, "de"), (other, "en")))


def weighted_sample(rng: random.Random, names: Sequence[str], weights: Sequence[float], k: int) -> list[str]:
    chosen: list[str] = []
    while len(chosen) < k:
        name = rng.choices(names, weights)[0]
        if name not in chosen:
            chosen.append(name)
    return chosen


def population(seed: int) -> tuple[list[Person], list[OpenTeam]]:
    rng = random.Random(seed)
    skill_names = list(SKILLS)  # the canonical names; one added later gets a middling popularity
    skill_weights = [POPULARITY.get(s, 2) for s in skill_names]
    challenges = [f"c{n:03d}" for n in range(1, CHALLENGES + 1)]
    challenge_weights = [1 / rank**0.9 for rank in range(1, CHALLENGES + 1)]
    offsets, offset_weights = zip(*OFFSETS, strict=True)
    people = []
    for ident in range(1, REGISTERED + 1):
        skills = weighted_sample(
            rng, skill_names, skill_weights, rng.choices((1, 2, 3, 4), (35, 35, 20, 10))[0]
        )
        wanted = rng.choices((0, 1, 2, 3), (10, 30, 35, 25))[0]
        people.append(
            Person(
                id=ident,
                languages=languages(rng),
                skills=frozenset(skills),
                interests=tuple(weighted_sample(rng, challenges, challenge_weights, wanted)),
                utc_offset=rng.choices(offsets, offset_weights)[0],
            )
        )
    rng.shuffle(people)  # registration order is not id order
    pool, others = people[:POOL], people[POOL:]
    by_language: dict[str, list[Person]] = {}
    for p in others:
        by_language.setdefault(p.languages[0], []).append(p)
    teams = []
    for ident in range(1, OPEN_TEAMS + 1):
        size = rng.choices((1, 2, 3, 4), (30, 30, 25, 15))[0]
        candidates = by_language["de" if rng.random() < 0.8 else "en"]
        members = tuple(candidates.pop() for _ in range(size))
        teams.append(OpenTeam(id=ident, members=members, free=RULES.max_size - size))
    return pool, teams


def random_baseline(pool: Sequence[Person], seed: int) -> tuple[list[list[Person]], int]:
    shuffled = list(pool)
    random.Random(seed).shuffle(shuffled)
    return chunks(shuffled)


def greedy_baseline(pool: Sequence[Person]) -> tuple[list[list[Person]], int]:
    buckets: dict[str, list[Person]] = {}
    for p in pool:
        buckets.setdefault(p.languages[0], []).append(p)
    teams: list[list[Person]] = []
    alone = 0
    for bucket in buckets.values():
        more, lone = chunks(bucket)
        teams += more
        alone += lone
    return teams, alone


def chunks(people: list[Person]) -> tuple[list[list[Person]], int]:
    size = RULES.target_size
    teams = [people[i : i + size] for i in range(0, len(people), size)]
    if teams and len(teams[-1]) == 1:
        return teams[:-1], 1
    return teams, 0


def violations(result: Result, pool: Sequence[Person], open_teams: Sequence[OpenTeam]) -> list[str]:
    problems = []
    free = {t.id: t.free for t in open_teams}
    seen = [p.id for g in result.groups for p in g.joiners] + [a.person.id for a in result.alone]
    if sorted(seen) != sorted(p.id for p in pool):
        problems.append("not everyone placed exactly once")
    for g in result.groups:
        if not all(g.language in m.languages for m in g.members):
            problems.append(f"group without a shared language: {g.explanation}")
        if len(g.members) > RULES.max_size or (g.team_id is not None and len(g.joiners) > free[g.team_id]):
            problems.append(f"group too large: {g.team_id} {len(g.members)}")
        if g.team_id is None and len(g.members) < RULES.min_size:
            problems.append(f"new team too small: {len(g.members)}")
    return problems


def resident_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    # Linux: writing 5 to clear_refs sets VmHWM back to VmRSS; where it fails the growth is a lower bound.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def row(report: Report, name: str, q: Quality, seconds: str, traced: str, rss: str) -> None:
    report.add(
        name,
        q.teams,
        q.alone,
        f"{q.shared_language_share:.3f}",
        f"{q.mean_distinct_skills:.2f}",
        f"{q.top_interest_shared_share:.3f}",
        f"{q.max_tz_spread:g}",
        f"{q.mean_tz_spread:.3f}",
        seconds,
        traced,
        rss,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.matching", description=__doc__)
    parser.add_argument("--seed", type=int, default=2026, help="seed of the population and of the matching")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs of match()")
    args = parser.parse_args(argv)
    facts = machine_facts()
    pool, open_teams = population(args.seed)
    gc.collect()

    # The first run alone measures the resident set, its high-water mark reset to the current size.
    reset_peak_rss()
    rss_before = resident_mb("VmRSS")
    began = time.perf_counter()
    result = match(pool, open_teams, RULES, args.seed)
    times = [time.perf_counter() - began]
    rss_growth = resident_mb("VmHWM") - rss_before
    for _ in range(args.runs - 1):
        del result
        gc.collect()
        began = time.perf_counter()
        result = match(pool, open_teams, RULES, args.seed)
        times.append(time.perf_counter() - began)
    del result
    gc.collect()
    tracemalloc.start()
    result = match(pool, open_teams, RULES, args.seed)
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    problems = violations(result, pool, open_teams)
    seconds = median(times)
    report = Report(
        f"Team matching: {POOL} of {REGISTERED} participants, {OPEN_TEAMS} open teams",
        [
            "grouping",
            "teams",
            "alone",
            "shared language",
            "distinct skills",
            "top interest shared",
            "tz spread max h",
            "tz spread mean h",
            "time s",
            "tracemalloc peak MB",
            "RSS growth MB",
        ],
    )
    matched = quality([g.members for g in result.groups], len(result.alone))
    row(report, "match()", matched, f"{seconds:.2f}", f"{traced_peak:.0f}", f"{rss_growth:.0f}")
    row(report, "random chunks", quality(*random_baseline(pool, args.seed)), "", "", "")
    row(report, "first language, in order", quality(*greedy_baseline(pool)), "", "", "")
    joined = sum(len(g.joiners) for g in result.groups if g.team_id is not None)
    filled = sum(1 for g in result.groups if g.team_id is not None)
    below = sum(1 for t in open_teams if len(t.members) < RULES.min_size)
    reasons = {a.reason for a in result.alone}
    report.notes += [
        f"- rules: min {RULES.min_size}, max {RULES.max_size}, target {RULES.target_size}; seed {args.seed};"
        f" time: median of {len(times)} runs ({', '.join(f'{t:.2f}' for t in times)} s); tracemalloc in a"
        " separate run; RSS growth: the process's high-water mark after the first run minus its resident"
        " set before it.",
        f"- open teams: {filled} of {len(open_teams)} got joiners ({joined} people); {below} were below the"
        f" minimum size. Alone: {len(result.alone)} ({', '.join(sorted(reasons)) or 'none'}).",
        "- match() counts every team it returns, open teams with their existing members; the baselines"
        " group only the pool and leave open teams alone. shared language: share of teams whose members all"
        " speak one language; distinct skills: mean per team; top interest shared: share of members whose"
        " top interest a teammate also named; tz spread: hours between a team's earliest and latest offset.",
        f"- limits: ≤ {LIMIT_SECONDS:g} s and ≤ {LIMIT_MB:g} MB on a shared 2-core machine;"
        f" rule violations found: {len(problems)}.",
    ]
    report.publish(facts, ["bench.matching", *sys.argv[1:]])
    for problem in problems[:10]:
        print(problem)
    within = seconds <= LIMIT_SECONDS and max(traced_peak, rss_growth) <= LIMIT_MB
    return 0 if within and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
