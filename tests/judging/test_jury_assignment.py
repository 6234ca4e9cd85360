"""The jury assignment (each submission k times, loads within one, never a conflict, categories
matched) on crafted and random cases, and the normalisation against a hand-computed example."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hackserver.foundation.event_forms import Criterion
from hackserver.judging.jury_assignment import Entry, JurorInfo, assign, conflicted, replacement
from hackserver.judging.ranking import Scored, normalise, rank, weighted_total


def check(plan_pairs: list[tuple[int, int]], entries: list[Entry], jurors: list[JurorInfo], k: int) -> None:
    per_entry = Counter(e for e, _ in plan_pairs)
    assert all(per_entry[e.id] == k for e in entries), per_entry
    assert len(set(plan_pairs)) == len(plan_pairs)  # never the same juror twice on one entry
    loads = Counter(j for _, j in plan_pairs)
    counted = [loads.get(j.id, 0) for j in jurors]
    assert max(counted) - min(counted) <= 1, counted
    by_id = {j.id: j for j in jurors}
    by_entry = {e.id: e for e in entries}
    assert not any(conflicted(by_id[j], by_entry[e]) for e, j in plan_pairs)


def test_crafted_conflicts_of_organisation_and_team_are_kept_out() -> None:
    entries = [
        Entry(1, "luftretter", "health", "Charité"),
        Entry(2, "schulweg", "mobility", "BVG"),
        Entry(3, "amtsbot", "administration", None),
    ]
    jurors = [
        JurorInfo(10, "charité", frozenset({"health"})),  # same organisation as entry 1, any case
        JurorInfo(11, "BVG", frozenset({"mobility"})),  # same as entry 2
        JurorInfo(12, None, frozenset({"health", "mobility"}), frozenset({"Amtsbot"})),  # declared team 3
        JurorInfo(13, "Uni"),
    ]
    plan = assign(entries, jurors, 2, seed=1)
    check(plan.pairs, entries, jurors, 2)
    assert (1, 10) not in plan.pairs and (2, 11) not in plan.pairs and (3, 12) not in plan.pairs
    assert plan.short == {}


def test_categories_are_matched_when_balance_allows() -> None:
    entries = [Entry(n, f"t{n}", "health" if n < 4 else "mobility", None) for n in range(8)]
    jurors = [
        JurorInfo(1, None, frozenset({"health"})),
        JurorInfo(2, None, frozenset({"health"})),
        JurorInfo(3, None, frozenset({"mobility"})),
        JurorInfo(4, None, frozenset({"mobility"})),
    ]
    plan = assign(entries, jurors, 2, seed=3)
    check(plan.pairs, entries, jurors, 2)
    assert plan.outside_category == 0


def test_too_few_eligible_jurors_is_reported_not_hidden() -> None:
    entries = [Entry(1, "a", None, "Org"), Entry(2, "b", None, None)]
    jurors = [JurorInfo(1, "Org"), JurorInfo(2, None), JurorInfo(3, None)]
    plan = assign(entries, jurors, 3)
    assert plan.short == {1: 1}
    assert Counter(e for e, _ in plan.pairs) == {1: 2, 2: 3}


def test_a_replacement_is_eligible_and_new_to_the_entry() -> None:
    entry = Entry(1, "luftretter", "health", "Charité")
    jurors = [
        JurorInfo(1, None),
        JurorInfo(2, "Charité", frozenset({"health"})),
        JurorInfo(3, None, frozenset({"health"})),
    ]
    found = replacement(entry, jurors, {1: 0, 3: 5}, already={1})
    assert found is not None and found.id == 3  # covers the category; 2 has a conflict; 1 flagged it
    assert replacement(entry, jurors, {}, already={1, 3}) is None


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Entry], list[JurorInfo], int]:
    categories = ["health", "mobility", "education", None]
    organisations = ["A", "B", "C", None, None]
    k = draw(st.integers(1, 3))
    count = draw(st.integers(k + 2, 9))
    jurors = [
        JurorInfo(
            j,
            draw(st.sampled_from(organisations)),
            frozenset(draw(st.sets(st.sampled_from(categories[:3]), max_size=2))),
            frozenset(draw(st.sets(st.sampled_from([f"t{n}" for n in range(6)]), max_size=1))),
        )
        for j in range(count)
    ]
    entries = [
        Entry(n, f"t{n}", draw(st.sampled_from(categories)), draw(st.sampled_from(organisations)))
        for n in range(draw(st.integers(1, 25)))
    ]
    return entries, jurors, k


@settings(max_examples=60, deadline=None)
@given(cases(), st.integers(0, 1000))
def test_random_cases_keep_every_property(case: tuple[list[Entry], list[JurorInfo], int], seed: int) -> None:
    entries, jurors, k = case
    plan = assign(entries, jurors, k, seed=seed)
    by_id = {j.id: j for j in jurors}
    per_entry = Counter(e for e, _ in plan.pairs)
    for entry in entries:
        eligible = sum(not conflicted(j, entry) for j in jurors)
        assert per_entry[entry.id] == min(k, eligible)
    assert not any(conflicted(by_id[j], next(e for e in entries if e.id == s)) for s, j in plan.pairs)
    loads = [plan.loads().get(j.id, 0) for j in jurors]
    if not plan.short and max(loads) - min(loads) > 1:  # only when the conflicts leave no balanced plan
        assert _balanced_impossible(entries, jurors, k)


def _balanced_impossible(entries: list[Entry], jurors: list[JurorInfo], k: int) -> bool:
    from hackserver.judging import jury_assignment

    total = len(entries) * k
    edges = [
        (e, j, 0.0)
        for e, entry in enumerate(entries)
        for j, juror in enumerate(jurors)
        if not conflicted(juror, entry)
    ]
    low, high = total // len(jurors), math.ceil(total / len(jurors))
    return jury_assignment._solve(edges, [k] * len(entries), len(jurors), low, high) is None


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(3, 12), st.integers(1, 3), st.integers(0, 99))
def test_without_conflicts_loads_always_differ_by_at_most_one(
    entries: int, jurors: int, k: int, seed: int
) -> None:
    made = [Entry(n, f"t{n}", None, None) for n in range(entries)]
    people = [JurorInfo(j, None) for j in range(jurors)]
    check(assign(made, people, k, seed=seed).pairs, made, people, k)


def test_the_same_input_and_seed_give_the_same_plan() -> None:
    entries = [Entry(n, f"t{n}", None, None) for n in range(20)]
    jurors = [JurorInfo(j, None) for j in range(7)]
    assert assign(entries, jurors, 3, seed=5).pairs == assign(entries, jurors, 3, seed=5).pairs


# -- normalisation ------------------------------------------------------------------------------


def test_normalisation_matches_a_hand_computed_example() -> None:
    # Juror 1 is harsh (2 and 4: mean 3, sd 1); juror 2 generous (8, 10, 9: mean 9, sd sqrt(2/3)).
    scores = [
        Scored(1, 101, 2.0),
        Scored(1, 102, 4.0),
        Scored(2, 101, 8.0),
        Scored(2, 102, 10.0),
        Scored(2, 103, 9.0),
    ]
    z = normalise(scores)
    assert z[(1, 101)] == pytest.approx(-1.0) and z[(1, 102)] == pytest.approx(1.0)
    assert z[(2, 101)] == pytest.approx(-1.224745, abs=1e-6) and z[(2, 103)] == pytest.approx(0.0)
    ranked = {r.submission: r for r in rank(scores, unscored=[104])}
    assert ranked[102].rank == 1 and ranked[102].score == pytest.approx(1.112372, abs=1e-6)
    assert ranked[103].rank == 2 and ranked[103].count == 1 and ranked[103].spread == 0.0
    assert ranked[101].rank == 3 and ranked[101].score == pytest.approx(-1.112372, abs=1e-6)
    # the spread of (-1, -1.224745) is their sample standard deviation: 0.158919
    assert ranked[101].spread == pytest.approx(0.158919, abs=1e-6)
    assert ranked[101].error == pytest.approx(0.158919 / math.sqrt(2), abs=1e-6)
    assert ranked[104].rank == 4 and ranked[104].count == 0


def test_a_harsh_juror_does_not_sink_a_team() -> None:
    # Team 1 meets only the harsh juror, who gives it their best mark; team 2 only the generous one,
    # who gives it their worst. Raw totals would put team 2 first.
    scores = [Scored(1, 1, 5.0), Scored(1, 3, 3.0), Scored(2, 2, 7.0), Scored(2, 4, 9.0)]
    order = [r.submission for r in rank(scores)]
    assert order.index(1) < order.index(2)


def test_a_juror_with_one_score_or_one_value_says_nothing_about_order() -> None:
    z = normalise([Scored(1, 1, 7.0), Scored(2, 1, 5.0), Scored(2, 2, 5.0)])
    assert z == {(1, 1): 0.0, (2, 1): 0.0, (2, 2): 0.0}


def test_weighted_total() -> None:
    criteria = [Criterion("impact", 2.0, {"en": "Impact"}), Criterion("quality", 1.0, {"en": "Quality"})]
    assert weighted_total({"impact": 9, "quality": 3}, criteria) == pytest.approx(7.0)
