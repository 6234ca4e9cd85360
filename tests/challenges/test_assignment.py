"""Challenge assignment: crafted cases for each rule, brute force on small random instances."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hackserver.challenges.solver import (
    Assignment,
    ChallengeSpec,
    Outcome,
    Satisfaction,
    TeamChoices,
    assign,
    satisfaction,
    valid_choices,
)

DE, EN = frozenset({"de"}), frozenset({"en"})


def team(
    ident: int, *choices: int, languages: frozenset[str] = frozenset(), current: int | None = None
) -> TeamChoices:
    return TeamChoices(ident, choices, languages, current)


def where(result: Assignment) -> dict[int, int]:
    return {t: o.challenge_id for t, o in result.outcomes.items()}


def with_current(teams: Sequence[TeamChoices], result: Assignment) -> list[TeamChoices]:
    return [TeamChoices(t.team_id, t.choices, t.languages, where(result).get(t.team_id)) for t in teams]


def within_capacity(result: Assignment, challenges: Sequence[ChallengeSpec]) -> bool:
    load = Counter(where(result).values())
    return all(c.capacity is None or load[c.challenge_id] <= c.capacity for c in challenges)


def test_capacities_are_respected() -> None:
    challenges = [ChallengeSpec(1, 2), ChallengeSpec(2, 1), ChallengeSpec(3, 3)]
    teams = [team(i, 1, 2, 3) for i in range(1, 7)]
    result = assign(teams, challenges, seed=1)
    assert Counter(where(result).values()) == {1: 2, 2: 1, 3: 3}
    assert not result.unplaced


def test_beats_first_come_where_greedy_leaves_a_team_without_its_choice() -> None:
    # First come: team 1 takes challenge 1 and team 2 gets nothing it wanted; the optimum serves both.
    challenges = [ChallengeSpec(1, 1), ChallengeSpec(2, 1), ChallengeSpec(3)]
    result = assign([team(1, 1, 2), team(2, 1)], challenges, seed=1)
    assert result.outcomes[1] == Outcome(2, 1, "choice")
    assert result.outcomes[2] == Outcome(1, 0, "choice")


def test_no_team_loses_all_its_choices_to_improve_the_ranks_of_others() -> None:
    # Serving team 5 moves four teams down one rank each; leaving it out would cost 0 ranks.
    challenges = [ChallengeSpec(c, 1) for c in range(1, 6)] + [ChallengeSpec(6)]
    teams = [team(1, 1, 2), team(2, 2, 3), team(3, 3, 4), team(4, 4, 5), team(5, 1)]
    result = assign(teams, challenges, seed=1)
    assert all(o.how == "choice" for o in result.outcomes.values())
    assert [result.outcomes[t].rank for t in range(1, 6)] == [1, 1, 1, 1, 0]


def test_ranks_are_minimised_among_assignments_serving_everyone() -> None:
    challenges = [ChallengeSpec(1, 1), ChallengeSpec(2, 1), ChallengeSpec(3, 1)]
    teams = [team(1, 1, 2, 3), team(2, 2, 1, 3), team(3, 1, 3, 2)]
    result = assign(teams, challenges, seed=1)
    assert sum(o.rank or 0 for o in result.outcomes.values()) == 1  # team 1 or 3 on its 2nd choice
    assert result.outcomes[2] == Outcome(2, 0, "choice")


def test_unknown_challenge_ids_are_ignored_and_do_not_cost_a_rank() -> None:
    challenges = [ChallengeSpec(1, 1), ChallengeSpec(2)]
    result = assign([team(1, 99, 1, 1, 2, current=77)], challenges, seed=1)
    assert result.outcomes[1] == Outcome(1, 0, "choice")


def test_an_override_to_an_unknown_challenge_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        assign([team(1, 1)], [ChallengeSpec(1)], seed=1, overrides={1: 5})


def test_a_team_without_choices_gets_a_challenge_in_its_language() -> None:
    challenges = [ChallengeSpec(1, 3, DE), ChallengeSpec(2, 3, EN), ChallengeSpec(3, 3, DE)]
    for seed in range(8):
        result = assign([team(1, languages=EN), team(2, 99, languages=EN)], challenges, seed)
        assert result.outcomes[1] == Outcome(2, None, "no_choices")
        assert result.outcomes[2] == Outcome(2, None, "no_choices")


def test_a_team_without_choices_takes_any_room_when_no_language_fits() -> None:
    result = assign([team(1, languages=EN)], [ChallengeSpec(1, 1, DE)], seed=1)
    assert result.outcomes[1] == Outcome(1, None, "no_choices")


def test_the_team_with_fewer_fitting_challenges_is_placed_first() -> None:
    challenges = [ChallengeSpec(1, 1, DE), ChallengeSpec(2, 1, EN)]
    for seed in range(8):
        result = assign([team(1, languages=DE | EN), team(2, languages=EN)], challenges, seed)
        assert where(result) == {1: 1, 2: 2}


def test_teams_without_choices_go_to_challenges_nobody_has_first() -> None:
    challenges = [ChallengeSpec(c) for c in range(1, 5)]
    teams = [team(1, 1), team(2, 2), team(3), team(4)]
    for seed in range(8):
        got = where(assign(teams, challenges, seed))
        assert {got[3], got[4]} == {3, 4}


def test_teams_without_choices_then_go_to_the_least_loaded_challenge() -> None:
    challenges = [ChallengeSpec(1), ChallengeSpec(2), ChallengeSpec(3)]
    teams = [team(1, 1), team(2, 1), team(3, 2), team(4, 3), team(5, 3), team(6, 3), team(7)]
    for seed in range(8):
        assert where(assign(teams, challenges, seed))[7] == 2


def test_a_team_whose_choices_are_all_full_is_told_so() -> None:
    challenges = [ChallengeSpec(1, 1), ChallengeSpec(2, 1), ChallengeSpec(3, 2)]
    for seed in range(4):
        result = assign([team(1, 1, 2), team(2, 2, 1), team(3, 1, 2)], challenges, seed)
        assert sorted(o.how for o in result.outcomes.values()) == ["choice", "choice", "choices_full"]
        assert Outcome(3, None, "choices_full") in result.outcomes.values()


def test_overrides_are_fixed_and_count_against_capacity() -> None:
    challenges = [ChallengeSpec(1, 1), ChallengeSpec(2, 1), ChallengeSpec(3)]
    result = assign([team(1, 2), team(2, 1, 2)], challenges, seed=1, overrides={1: 1})
    assert result.outcomes[1] == Outcome(1, None, "override")
    assert result.outcomes[2] == Outcome(2, 1, "choice")


def test_overrides_may_exceed_capacity_and_then_nobody_else_gets_in() -> None:
    challenges = [ChallengeSpec(1, 1), ChallengeSpec(2)]
    result = assign([team(1, 1), team(2, 1), team(3, 1)], challenges, seed=1, overrides={1: 1, 2: 1})
    assert result.outcomes[2] == Outcome(1, 0, "override")
    assert result.outcomes[3] == Outcome(2, None, "choices_full")


def symmetric() -> tuple[list[TeamChoices], list[ChallengeSpec]]:
    """Six teams with the same wishes for three places, two without wishes: many equal optima."""
    challenges = [
        ChallengeSpec(1, 1),
        ChallengeSpec(2, 1),
        ChallengeSpec(3, 1),
        ChallengeSpec(4),
        ChallengeSpec(5),
    ]
    return [team(i, 1, 2, 3) for i in range(1, 7)] + [team(7), team(8)], challenges


def test_the_same_seed_gives_the_same_result_whatever_the_input_order() -> None:
    teams, challenges = symmetric()
    first = assign(teams, challenges, seed=5)
    assert assign(teams, challenges, seed=5) == first
    again = assign(teams[::-1], challenges[::-1], seed=5)
    assert list(again.outcomes.items()) == list(first.outcomes.items())


def test_the_seed_breaks_ties() -> None:
    teams, challenges = symmetric()
    firsts = {
        next(t for t, c in where(assign(teams, challenges, seed)).items() if c == 1) for seed in range(12)
    }
    assert len(firsts) > 1


def test_a_rerun_with_current_challenges_keeps_everyone_whatever_the_seed() -> None:
    teams, challenges = symmetric()
    first = assign(teams, challenges, seed=1)
    assert any(where(assign(teams, challenges, seed)) != where(first) for seed in range(2, 6))
    for seed in range(2, 6):
        assert where(assign(with_current(teams, first), challenges, seed)) == where(first)


def test_a_rerun_with_a_new_override_moves_only_the_overridden_team() -> None:
    teams, challenges = symmetric()
    first = assign(teams, challenges, seed=1)
    target = 4 if where(first)[7] == 5 else 5
    again = where(assign(with_current(teams, first), challenges, 2, {7: target}))
    assert again == where(first) | {7: target}


def test_a_rerun_gives_a_freed_place_to_a_team_that_wanted_it() -> None:
    teams, challenges = symmetric()
    first = assign(teams, challenges, seed=1)
    leaving = next(t for t, c in where(first).items() if c == 2)
    again = assign(with_current(teams, first), challenges, 2, {leaving: 4})
    newcomer = next(t for t, o in again.outcomes.items() if o.challenge_id == 2)
    assert first.outcomes[newcomer].how == "choices_full" and again.outcomes[newcomer].rank == 1
    changed = {t for t in where(first) if where(again)[t] != where(first)[t]}
    assert changed == {leaving, newcomer}


def test_an_override_into_a_full_challenge_moves_one_other_team_only() -> None:
    challenges = [ChallengeSpec(1, 2), ChallengeSpec(2, 2), ChallengeSpec(3)]
    teams = [team(1, 1, 2), team(2, 1, 2), team(3, 1, 2), team(4, 2, 1), team(5, 3)]
    first = where(assign(teams, challenges, seed=1))
    newcomer = next(t for t in (3, 4) if first[t] == 2)
    again = where(assign(with_current(teams, assign(teams, challenges, 1)), challenges, 9, {newcomer: 1}))
    changed = {t for t in first if again[t] != first[t]}
    assert len(changed) == 2 and newcomer in changed
    assert Counter(again.values()) == Counter(first.values())


def test_without_challenges_every_team_is_unplaced() -> None:
    result = assign([team(2, 1), team(1)], [], seed=1)
    assert result.outcomes == {} and result.unplaced == [1, 2]


def test_when_places_run_out_teams_with_choices_are_placed_first() -> None:
    result = assign([team(1), team(2, 1), team(3)], [ChallengeSpec(1, 1), ChallengeSpec(2, 1)], seed=1)
    assert result.outcomes[2] == Outcome(1, 0, "choice")
    assert len(result.unplaced) == 1 and set(result.outcomes) | set(result.unplaced) == {1, 2, 3}


def test_satisfaction_counts_shares_by_rank() -> None:
    teams = [team(1, 1, 2), team(2, 1, 2), team(3, 1, 2, 3), team(4, 1)]
    outcomes = {1: Outcome(1, 0, "choice"), 2: Outcome(2, 1, "choice"), 3: Outcome(3, 2, "choice")}
    assert satisfaction(teams, outcomes) == Satisfaction(4, 0.25, 0.25, 0.25, 0.25)


# Brute force: the best over every assignment of teams to challenges (or to nowhere), by the
# documented order: fewest unplaced, fewest without one of their choices, smallest rank sum, fewest
# moves away from the current challenge.


def key(
    teams: Sequence[TeamChoices], got: Mapping[int, int | None], known: Mapping[int, object]
) -> tuple[int, int, int, int]:
    ranks = [
        valid_choices(t, known).index(c) for t in teams if (c := got[t.team_id]) in valid_choices(t, known)
    ]
    moves = sum(1 for t in teams if t.current in known and got[t.team_id] != t.current)
    return sum(1 for c in got.values() if c is None), len(teams) - len(ranks), sum(ranks), moves


def brute_force(
    teams: Sequence[TeamChoices], challenges: Sequence[ChallengeSpec]
) -> tuple[int, int, int, int]:
    known = {c.challenge_id: c for c in challenges}
    best = None
    for picks in itertools.product([*known, None], repeat=len(teams)):
        load = Counter(c for c in picks if c is not None)
        if all(known[c].capacity is None or n <= known[c].capacity for c, n in load.items()):  # type: ignore[operator]
            k = key(teams, {t.team_id: c for t, c in zip(teams, picks, strict=True)}, known)
            best = k if best is None else min(best, k)
    assert best is not None
    return best


instances = st.integers(1, 4).flatmap(
    lambda n: st.tuples(
        st.lists(st.sampled_from([None, 0, 1, 1, 2]), min_size=n, max_size=n),
        st.lists(
            st.tuples(st.lists(st.integers(1, n + 1), max_size=3), st.none() | st.integers(1, n)),
            min_size=1,
            max_size=6,
        ),
        st.integers(0, 2**32),
    )
)


@given(instances)
@settings(max_examples=80, deadline=None)
def test_matches_the_brute_force_optimum_without_current_challenges(instance: tuple) -> None:  # type: ignore[type-arg]
    caps, wishes, seed = instance
    challenges = [ChallengeSpec(i, cap) for i, cap in enumerate(caps, 1)]
    teams = [team(i, *choices) for i, (choices, _) in enumerate(wishes, 1)]
    result = assign(teams, challenges, seed)
    got = {t.team_id: where(result).get(t.team_id) for t in teams}
    assert within_capacity(result, challenges)
    assert key(teams, got, {c.challenge_id: c for c in challenges}) == brute_force(teams, challenges)


@given(instances)
@settings(max_examples=80, deadline=None)
def test_matches_the_brute_force_optimum_with_current_challenges(instance: tuple) -> None:  # type: ignore[type-arg]
    caps, wishes, seed = instance
    challenges = [ChallengeSpec(i, cap) for i, cap in enumerate(caps, 1)]
    teams = [team(i, *choices, current=current) for i, (choices, current) in enumerate(wishes, 1)]
    result = assign(teams, challenges, seed)
    got = {t.team_id: where(result).get(t.team_id) for t in teams}
    assert within_capacity(result, challenges)
    assert key(teams, got, {c.challenge_id: c for c in challenges}) == brute_force(teams, challenges)


@given(instances)
@settings(max_examples=50, deadline=None)
def test_a_team_told_its_choices_were_full_finds_them_full(instance: tuple) -> None:  # type: ignore[type-arg]
    caps, wishes, seed = instance
    challenges = [ChallengeSpec(i, cap) for i, cap in enumerate(caps, 1)]
    teams = [team(i, *choices) for i, (choices, _) in enumerate(wishes, 1)]
    result = assign(teams, challenges, seed)
    load = Counter(where(result).values())
    known = {c.challenge_id: c.capacity for c in challenges}
    for t in teams:
        if (outcome := result.outcomes.get(t.team_id)) is not None and outcome.how == "choices_full":
            assert all(known[c] is not None and load[c] >= known[c] for c in valid_choices(t, known))  # type: ignore[operator]


def test_a_large_random_instance_is_placed_within_capacity() -> None:
    rng = random.Random(7)
    challenges = [ChallengeSpec(c, rng.choice([1, 2, 3, None])) for c in range(1, 61)]
    teams = [team(i, *rng.sample(range(1, 66), rng.randint(0, 3))) for i in range(1, 151)]
    result = assign(teams, challenges, seed=3)
    assert within_capacity(result, challenges)
    assert sorted(result.outcomes) == list(range(1, 151)) and not result.unplaced
