"""From jurors' scores to a ranking with its uncertainty: pure.

A juror's weighted total for a submission is normalised against that juror's own totals (a z-score:
how far above or below their own average, in their own spread), so a harsh juror does not sink a team
and a generous one does not lift it. A juror with fewer than two scored submissions, or who gave every
one the same total, says nothing about order: their z-scores are 0. A submission's score is the mean
of its z-scores; its uncertainty is how many there are and how far they spread.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from hackserver.foundation.event_forms import Criterion


@dataclass(frozen=True)
class Scored:
    juror: int
    submission: int
    total: float  # the weighted total on the rubric's scale


@dataclass(frozen=True)
class Ranked:
    submission: int
    rank: int
    score: float  # mean z-score
    count: int  # how many jurors scored it
    spread: float  # the sample standard deviation of its z-scores (0 with fewer than two)
    error: float  # spread / sqrt(count): the standard error of the score
    raw: float  # mean weighted total, before normalisation


def weighted_total(values: Mapping[str, float], criteria: Sequence[Criterion]) -> float:
    weight = sum(c.weight for c in criteria)
    return sum(c.weight * values[c.id] for c in criteria) / weight


def normalise(scores: Iterable[Scored]) -> dict[tuple[int, int], float]:
    """(juror, submission) -> z-score within that juror's totals."""
    by_juror: dict[int, list[Scored]] = {}
    for item in scores:
        by_juror.setdefault(item.juror, []).append(item)
    z: dict[tuple[int, int], float] = {}
    for juror, items in by_juror.items():
        totals = [i.total for i in items]
        mean = statistics.fmean(totals)
        spread = statistics.pstdev(totals) if len(totals) > 1 else 0.0
        for item in items:
            z[(juror, item.submission)] = (item.total - mean) / spread if spread > 1e-12 else 0.0
    return z


def rank(scores: Sequence[Scored], unscored: Iterable[int] = ()) -> list[Ranked]:
    """Best first; ties by raw mean, then by id. Submissions without scores come last, unranked by merit."""
    z = normalise(scores)
    by_submission: dict[int, list[tuple[float, float]]] = {}
    for item in scores:
        by_submission.setdefault(item.submission, []).append((z[(item.juror, item.submission)], item.total))
    rows = []
    for submission, pairs in by_submission.items():
        zs = [p[0] for p in pairs]
        spread = statistics.stdev(zs) if len(zs) > 1 else 0.0
        rows.append(
            (statistics.fmean(zs), statistics.fmean(p[1] for p in pairs), len(zs), spread, submission)
        )
    rows.sort(key=lambda r: (-r[0], -r[1], r[4]))
    ranked = [
        Ranked(
            s,
            n + 1,
            round(score, 6),
            count,
            round(spread, 6),
            round(spread / math.sqrt(count), 6),
            round(raw, 6),
        )
        for n, (score, raw, count, spread, s) in enumerate(rows)
    ]
    tail = sorted(set(unscored) - set(by_submission))
    ranked += [Ranked(s, len(ranked) + n + 1, 0.0, 0, 0.0, 0.0, 0.0) for n, s in enumerate(tail)]
    return ranked
