"""Challenge assignment: every team gets exactly one challenge, within each challenge's capacity.

Pure and deterministic: the same teams, challenges, overrides and seed give the same result in any
process and for any input order (teams are sorted by id; ties are broken by a hash of the seed and
the ids, never by iteration order).

What is optimised, most important first (lexicographic, so a lower criterion never buys a higher one):
1. the number of teams that get one of their choices. A team is never pushed out of all its choices
   so that others get better ranks: "nobody left out" is worth more than any number of rank steps.
2. the sum of ranks (first choice 0, second 1, ...; unknown and repeated ids are dropped first, so a
   deleted challenge does not cost a team a rank).
3. stability: the number of teams moved away from their `current` challenge. A re-run keeps everyone
   where they are unless a capacity forces a move or someone's rank improves.
4. a seeded tie-break: a pseudo-random cost in [0, TIE_RANGE) per (team, challenge).

How, exactly: each team's options (its choices, its current challenge, "none of these") form a
bipartite transportation problem: one row per team (sum = 1), one row per limited challenge
(sum <= room left after overrides). Its matrix is totally unimodular, so a vertex optimum of the LP is
integral (checked). HiGHS solves it for costs 1+2 (a fallback costs more than all ranks together).
The dual of that optimum describes every optimal solution (complementary slackness: arcs with a
positive reduced cost are unused, capacities with a non-zero dual are full), so the second LP
optimises 3+4 on exactly that face, which is again a network, and criteria 1+2 stay optimal (checked).

Teams left without a challenge by the LP (no valid choices, or every choice full, and no current
challenge with room) then get a sensible one, one at a time, the teams with the fewest fitting
options first: a challenge with room whose languages fit the team's (any if none fits), the least
loaded first, so that challenges nobody has get teams. This only uses room the choices left over, so
it never changes anyone's choice outcome; it is greedy, not optimal, in how it spreads these teams.

Overrides are fixed, count against capacity (and may exceed it: then nobody else gets that challenge).
`unplaced` lists teams for whom no room was left; that only happens when the capacities are too small.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog
from scipy.sparse import csr_matrix, vstack

TIE_RANGE = 256  # distinct tie-break costs per option; the stability weight grows with it

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TeamChoices:
    team_id: int
    choices: tuple[int, ...]  # challenge ids, most wanted first (unknown ids are ignored)
    languages: frozenset[str] = frozenset()  # empty: unknown, fits anything
    current: int | None = None  # the challenge the team has now, kept if nothing better comes up


@dataclass(frozen=True)
class ChallengeSpec:
    challenge_id: int
    capacity: int | None = None  # max teams; None: unlimited
    languages: frozenset[str] = frozenset()  # empty: any language


@dataclass(frozen=True)
class Outcome:
    challenge_id: int
    rank: int | None  # 0: first choice; None: not one of the team's choices
    how: str  # choice | no_choices | choices_full | override


@dataclass
class Assignment:
    outcomes: dict[int, Outcome]  # team_id -> outcome, for every placed team
    unplaced: list[int]  # teams no room was left for (capacities too small); normally empty


@dataclass(frozen=True)
class Satisfaction:
    teams: int
    first: float
    second: float
    third: float
    other: float  # none of their choices, or unplaced

    def as_row(self) -> tuple[str, str, str, str]:
        first, second, third, other = (f"{s:.1%}" for s in (self.first, self.second, self.third, self.other))
        return first, second, third, other


def valid_choices(team: TeamChoices, known: Mapping[int, object]) -> list[int]:
    """The team's choices that exist, each once, in its order: the index is the rank."""
    return [c for c in dict.fromkeys(team.choices) if c in known]


def satisfaction(teams: Sequence[TeamChoices], outcomes: Mapping[int, Outcome]) -> Satisfaction:
    counts = [0, 0, 0, 0]
    for team in teams:
        outcome = outcomes.get(team.team_id)
        rank = outcome.rank if outcome is not None else None
        counts[rank if rank is not None and rank < 3 else 3] += 1
    n = max(len(teams), 1)
    return Satisfaction(len(teams), *(count / n for count in counts))


def _mix(seed: int, a: IntArray, b: IntArray) -> IntArray:
    """A seeded hash of id pairs (splitmix64's finaliser): the same pair gets the same value whatever
    else is in the input, so tie-breaks do not shift when a team or challenge is added."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed & (2**64 - 1)) + a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ b.astype(np.uint64)) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(31))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(29))).astype(np.int64) & np.int64(2**62 - 1)


def _solve(
    rows: IntArray,
    caps: IntArray,
    cost: FloatArray,
    n_teams: int,
    room: FloatArray,
    full: npt.NDArray[np.bool_],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """min cost·x with x >= 0, each team's options summing to 1 and each limited challenge's to at
    most its room (exactly, where `full`). Returns x (integral) and the reduced costs and the duals of
    the capacity rows."""
    n = len(cost)
    cols = np.arange(n)
    limited = caps >= 0
    team_rows = csr_matrix((np.ones(n), (rows, cols)), shape=(n_teams, n))
    cap_rows = csr_matrix((np.ones(int(limited.sum())), (caps[limited], cols[limited])), shape=(len(room), n))
    a_eq, b_eq = vstack([team_rows, cap_rows[full]]), np.concatenate([np.ones(n_teams), room[full]])
    has_ub = bool((~full).any())
    result = linprog(
        cost,
        A_ub=cap_rows[~full] if has_ub else None,
        b_ub=room[~full] if has_ub else None,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=(0, None),
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"assignment LP failed: {result.message}")
    x: FloatArray = result.x
    if np.abs(x - np.round(x)).max() > 1e-6:  # cannot happen for a vertex of a network LP
        raise RuntimeError("assignment LP returned a fractional solution")
    duals = np.zeros(len(room))
    duals[full] = result.eqlin.marginals[n_teams:]
    if has_ub:
        duals[~full] = result.ineqlin.marginals
    reduced = cost - result.eqlin.marginals[:n_teams][rows]
    reduced[limited] -= duals[caps[limited]]
    return np.round(x), reduced, duals


def assign(
    teams: Sequence[TeamChoices],
    challenges: Sequence[ChallengeSpec],
    seed: int,
    overrides: Mapping[int, int] = {},
) -> Assignment:
    specs = {c.challenge_id: c for c in sorted(challenges, key=lambda c: c.challenge_id)}
    ordered = sorted(teams, key=lambda t: t.team_id)
    if len(specs) != len(challenges) or len({t.team_id for t in ordered}) != len(ordered):
        raise ValueError("a team or a challenge id occurs twice")
    if unknown := sorted({c for c in overrides.values() if c not in specs}):
        raise ValueError(f"overrides to unknown challenges: {unknown}")
    outcomes: dict[int, Outcome] = {}
    load = dict.fromkeys(specs, 0)
    free: list[TeamChoices] = []
    for team in ordered:
        if (fixed := overrides.get(team.team_id)) is None:
            free.append(team)
            continue
        valid = valid_choices(team, specs)
        outcomes[team.team_id] = Outcome(fixed, valid.index(fixed) if fixed in valid else None, "override")
        load[fixed] += 1
    room = {c: None if s.capacity is None else max(s.capacity - load[c], 0) for c, s in specs.items()}

    # Each team's options: its choices and its current challenge where there is room, and "none of
    # these" (placed afterwards). Per option: team row, challenge (None: none), rank (-1: not a choice).
    cap_row = {c: i for i, c in enumerate(c for c, r in room.items() if r is not None and r > 0)}
    lp_teams: list[TeamChoices] = []
    options: list[tuple[int, int | None, int]] = []
    for team in free:
        valid = valid_choices(team, specs)
        mine: list[tuple[int | None, int]] = [(c, rank) for rank, c in enumerate(valid) if room[c] != 0]
        if team.current in specs and team.current not in valid and room[team.current] != 0:
            mine.append((team.current, -1))
        if mine:
            options += [(len(lp_teams), c, rank) for c, rank in [*mine, (None, -1)]]
            lp_teams.append(team)
    placed: dict[int, tuple[int, int | None]] = {}
    if lp_teams:
        rows = np.array([o[0] for o in options], dtype=np.int64)
        rank = np.array([o[2] for o in options], dtype=np.int64)
        caps = np.array([-1 if o[1] is None else cap_row.get(o[1], -1) for o in options], dtype=np.int64)
        rooms = np.array([float(room[c] or 0) for c in cap_row], dtype=np.float64)
        # 1+2: a team without a choice costs more than any sum of ranks could save.
        big = float(sum(max(len(valid_choices(t, specs)) - 1, 0) for t in lp_teams) + 1)
        cost1 = np.where(rank >= 0, rank, big).astype(np.float64)
        x1, reduced, duals = _solve(rows, caps, cost1, len(lp_teams), rooms, np.zeros(len(rooms), dtype=bool))
        # 3+4 on the face of optima of 1+2; a move outweighs any sum of tie-break costs.
        tol = 1e-6 * big
        keep = (reduced <= tol) | (x1 > 0.5)
        used = np.bincount(caps[caps >= 0], weights=x1[caps >= 0], minlength=len(rooms))
        full = (duals < -tol) & (used >= rooms - 0.5)
        moves = np.array(
            [lp_teams[r].current is not None and c != lp_teams[r].current for r, c, _ in options]
        )
        targets = np.array([-1 if c is None else c for _, c, _ in options], dtype=np.int64)
        ties = _mix(seed, np.array([lp_teams[r].team_id for r in rows]), targets) % TIE_RANGE
        cost2 = moves * float(len(lp_teams) * (TIE_RANGE - 1) + 1) + ties
        x2, _, _ = _solve(rows[keep], caps[keep], cost2[keep].astype(np.float64), len(lp_teams), rooms, full)
        if abs(float(cost1[keep] @ x2) - float(cost1 @ x1)) > 0.5:
            raise RuntimeError("assignment LP lost optimality between its two stages")
        for j in np.flatnonzero(keep)[x2 > 0.5].tolist():
            if (c := options[j][1]) is not None:
                placed[lp_teams[options[j][0]].team_id] = (c, None if options[j][2] < 0 else options[j][2])

    rest: list[TeamChoices] = []
    for team in free:
        how = "choices_full" if valid_choices(team, specs) else "no_choices"
        if (got := placed.get(team.team_id)) is None:
            rest.append(team)
            continue
        outcomes[team.team_id] = Outcome(got[0], got[1], "choice" if got[1] is not None else how)
        _take(got[0], load, room)
    unplaced = _fallback(rest, specs, load, room, seed, outcomes)
    return Assignment(dict(sorted(outcomes.items())), unplaced)


def _take(challenge: int, load: dict[int, int], room: dict[int, int | None]) -> None:
    load[challenge] += 1
    if (left := room[challenge]) is not None:
        room[challenge] = left - 1


def _fits(team: frozenset[str], challenge: frozenset[str]) -> bool:
    return not team or not challenge or bool(team & challenge)


def _fallback(
    rest: list[TeamChoices],
    specs: Mapping[int, ChallengeSpec],
    load: dict[int, int],
    room: dict[int, int | None],
    seed: int,
    outcomes: dict[int, Outcome],
) -> list[int]:
    """Greedy placement of the teams the choices left out: fitting languages, then least loaded."""
    ids = np.array(list(specs), dtype=np.int64)
    key = dict(zip(specs, _mix(seed, ids, np.full(len(ids), -2)).tolist(), strict=True))
    team_ids = np.array([t.team_id for t in rest], dtype=np.int64)
    team_key = dict(
        zip(team_ids.tolist(), _mix(seed, team_ids, np.full(len(rest), -3)).tolist(), strict=True)
    )
    open_now = [c for c, r in room.items() if r != 0]
    fitting = {
        langs: [c for c in open_now if _fits(langs, specs[c].languages)]
        for langs in {t.languages for t in rest}
    }
    heaps = {langs: [(load[c], key[c], c) for c in cs] for langs, cs in fitting.items()}
    anywhere = [(load[c], key[c], c) for c in open_now]
    for heap in [*heaps.values(), anywhere]:
        heapq.heapify(heap)

    def pick(heap: list[tuple[int, int, int]]) -> int | None:
        while heap:
            seen, _, c = heap[0]
            if room[c] == 0:
                heapq.heappop(heap)
            elif seen != load[c]:  # loads only grow: refresh the stale entry
                heapq.heapreplace(heap, (load[c], key[c], c))
            else:
                return c
        return None

    unplaced: list[int] = []
    # Teams with the fewest fitting challenges go first, so the others do not take their room.
    for team in sorted(rest, key=lambda t: (len(fitting[t.languages]), team_key[t.team_id])):
        c = pick(heaps[team.languages])
        if c is None:
            c = pick(anywhere)
        if c is None:
            unplaced.append(team.team_id)
            continue
        how = "choices_full" if valid_choices(team, specs) else "no_choices"
        outcomes[team.team_id] = Outcome(c, None, how)
        _take(c, load, room)
    return sorted(unplaced)
