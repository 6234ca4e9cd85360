"""Which jurors score which submission: pure, exact, seeded.

Each submission goes to k jurors, never to one with a conflict (the challenge owner's organisation,
or a team the juror declared), and the jurors' loads differ by at most one whenever the conflicts
allow it. Among the balanced assignments it takes the one that best matches the jurors to the
challenge categories they cover (a juror who lists none covers every category, less well). It is a
0/1 programme solved by HiGHS (scipy's `milp`); a bipartite degree-constrained problem like this one
has integral optima, so it solves at the root. Ties are broken by a seed.
"""

from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import LinearConstraint, milp
from scipy.sparse import coo_matrix

COVERS, GENERALIST, OUTSIDE = 0.0, 1.0, 4.0  # the cost of a juror for a submission's category


@dataclass(frozen=True)
class Entry:
    id: int
    team: str  # the team's name, case-folded: what jurors' declared conflicts name
    category: str | None
    owner: str | None  # the organisation that owns the challenge


@dataclass(frozen=True)
class JurorInfo:
    id: int
    organisation: str | None
    categories: frozenset[str] = frozenset()
    conflicts: frozenset[str] = frozenset()  # teams, case-folded


@dataclass
class Plan:
    pairs: list[tuple[int, int]]  # (entry id, juror id)
    short: dict[int, int] = field(default_factory=dict)  # entry id -> jurors missing (too few eligible)
    outside_category: int = 0  # pairs where the juror does not cover the category

    def loads(self) -> dict[int, int]:
        counted: dict[int, int] = {}
        for _, juror in self.pairs:
            counted[juror] = counted.get(juror, 0) + 1
        return counted


def _key(text: str | None) -> str:
    """Names compared as people write them: case, accents and spacing aside ("Charité" = "charite")."""
    plain = unicodedata.normalize("NFKD", text or "")
    return " ".join("".join(c for c in plain if not unicodedata.combining(c)).casefold().split())


def conflicted(juror: JurorInfo, entry: Entry) -> bool:
    same_organisation = bool(_key(juror.organisation)) and _key(juror.organisation) == _key(entry.owner)
    return same_organisation or _key(entry.team) in {_key(t) for t in juror.conflicts}


def cost(juror: JurorInfo, entry: Entry) -> float:
    covered = {_key(c) for c in juror.categories}
    if not covered:
        return GENERALIST
    return COVERS if entry.category and _key(entry.category) in covered else OUTSIDE


def assign(
    entries: Sequence[Entry],
    jurors: Sequence[JurorInfo],
    k: int,
    *,
    seed: int = 0,
    excluded: Iterable[tuple[int, int]] = (),
) -> Plan:
    """k jurors for each entry (fewer only where fewer are eligible, reported in `short`)."""
    banned = set(excluded)
    draw = random.Random(seed)
    edges: list[tuple[int, int, float]] = []  # (entry index, juror index, cost)
    wanted: list[int] = []
    short: dict[int, int] = {}
    for e, entry in enumerate(entries):
        eligible = [
            j
            for j, juror in enumerate(jurors)
            if (entry.id, juror.id) not in banned and not conflicted(juror, entry)
        ]
        wanted.append(min(k, len(eligible)))
        if len(eligible) < k:
            short[entry.id] = k - len(eligible)
        edges += [(e, j, cost(jurors[j], entry) + draw.random() * 1e-3) for j in eligible]
    total = sum(wanted)
    if not edges or total == 0:
        return Plan([], short)
    low, high = total // len(jurors), math.ceil(total / len(jurors))
    chosen = None
    # Balanced if the conflicts allow it; otherwise the smallest maximum load that works.
    for floor_, ceiling in [(low, high), *((0, high + extra) for extra in range(len(entries) + 1))]:
        chosen = _solve(edges, wanted, len(jurors), floor_, ceiling)
        if chosen is not None:
            break
    assert chosen is not None  # with no ceiling left every entry's eligible jurors suffice
    pairs = [(entries[edges[i][0]].id, jurors[edges[i][1]].id) for i in chosen]
    outside = sum(1 for i in chosen if edges[i][2] >= OUTSIDE)
    return Plan(sorted(pairs), short, outside)


def _solve(
    edges: list[tuple[int, int, float]], wanted: list[int], jurors: int, low: int, high: int
) -> list[int] | None:
    n = len(edges)
    entry_rows = [e for e, _, _ in edges]
    juror_rows = [len(wanted) + j for _, j, _ in edges]
    matrix = coo_matrix(
        (np.ones(2 * n), (entry_rows + juror_rows, list(range(n)) * 2)), shape=(len(wanted) + jurors, n)
    ).tocsr()
    lower = np.array(wanted + [low] * jurors, dtype=float)
    upper = np.array(wanted + [high] * jurors, dtype=float)
    result = milp(
        c=np.array([c for _, _, c in edges]),
        constraints=LinearConstraint(matrix, lower, upper),
        integrality=np.ones(n),
        bounds=(0, 1),
    )
    if result.status != 0 or result.x is None:
        return None
    return [i for i in range(n) if result.x[i] > 0.5]


def replacement(
    entry: Entry, jurors: Sequence[JurorInfo], loads: dict[int, int], already: set[int], *, seed: int = 0
) -> JurorInfo | None:
    """Another juror for an entry a juror flagged: eligible, not on it yet, best fit, least loaded."""
    draw = random.Random(seed * 1_000_003 + entry.id)
    candidates = [j for j in jurors if j.id not in already and not conflicted(j, entry)]
    if not candidates:
        return None
    return min(candidates, key=lambda j: (cost(j, entry), loads.get(j.id, 0), draw.random()))
