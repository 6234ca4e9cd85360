"""Team matching: crafted cases for each rule, and random pools for the invariants."""

from __future__ import annotations

import json
import os
import random
import sys
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hackserver.teams.matcher import Group, OpenTeam, Result, Rules, match
from hackserver.teams.team_fit import Person, quality
from tests import processes

RULES = Rules(min_size=2, max_size=4, target_size=3)
ROOT = Path(__file__).resolve().parents[2]


def person(
    ident: int, languages: str = "de", skills: str = "python", interests: str = "", tz: float = 1.0
) -> Person:
    return Person(ident, tuple(languages.split()), frozenset(skills.split()), tuple(interests.split()), tz)


def group_of(result: Result, ident: int) -> Group:
    return next(g for g in result.groups if any(m.id == ident for m in g.joiners))


def placed_once(result: Result, pool: list[Person]) -> bool:
    seen = [p.id for g in result.groups for p in g.joiners] + [a.person.id for a in result.alone]
    return sorted(seen) == sorted(p.id for p in pool)


def test_people_without_a_shared_language_are_never_in_one_team() -> None:
    pool = [person(i, "de") for i in range(1, 7)] + [person(i, "en") for i in range(7, 13)]
    result = match(pool, [], RULES, seed=1)
    assert not result.alone
    for group in result.groups:
        assert len({m.languages for m in group.members}) == 1
        assert all(group.language in m.languages for m in group.members)


def test_a_bilingual_person_bridges_so_nobody_is_alone() -> None:
    pool = [person(1, "de"), person(2, "de"), person(3, "en"), person(4, "de en")]
    result = match(pool, [], RULES, seed=1)
    assert not result.alone
    team = group_of(result, 3)
    assert sorted(m.id for m in team.members) == [3, 4]
    assert team.language == "en"


def test_the_only_holder_of_a_skill_is_in_a_team_that_lists_it() -> None:
    pool = [person(i, skills="python") for i in range(1, 9)] + [person(9, skills="law")]
    result = match(pool, [], RULES, seed=3)
    assert "law" in group_of(result, 9).explanation["skills"]


def test_two_holders_of_a_rare_skill_are_spread_over_two_teams() -> None:
    pool = [person(i, skills="python") for i in range(1, 11)]
    pool += [person(11, skills="law python"), person(12, skills="law python")]
    for seed in range(10):
        result = match(pool, [], RULES, seed)
        assert group_of(result, 11) is not group_of(result, 12), seed


def test_teams_mix_complementary_skills() -> None:
    pool = [person(i, skills=skill) for i, skill in enumerate(["python", "design", "law"] * 2, start=1)]
    for seed in range(10):
        result = match(pool, [], Rules(min_size=2, max_size=3, target_size=3), seed)
        assert [g.explanation["distinct_skills"] for g in result.groups] == [3, 3], seed


def test_odd_counts_leave_nobody_alone_and_keep_the_limits() -> None:
    pool = [person(i) for i in range(1, 8)]
    result = match(pool, [], Rules(min_size=2, max_size=4, target_size=3), seed=5)
    assert not result.alone
    assert placed_once(result, pool)
    assert all(2 <= len(g.members) <= 4 for g in result.groups)


def test_identical_people_form_teams_of_the_target_size() -> None:
    pool = [person(i) for i in range(1, 13)]
    result = match(pool, [], RULES, seed=2)
    assert [len(g.members) for g in result.groups] == [3, 3, 3, 3]


def test_a_lone_speaker_is_alone_and_the_reason_names_the_language() -> None:
    pool = [person(i, "de") for i in range(1, 5)] + [person(5, "it")]
    result = match(pool, [], RULES, seed=1)
    assert [(a.person.id, a.reason, a.params) for a in result.alone] == [
        (5, "only_speaker", {"languages": ["it"]})
    ]


def test_someone_the_full_teams_cannot_take_is_alone_for_lack_of_room() -> None:
    pool = [person(i) for i in range(1, 5)]
    result = match(pool, [], Rules(min_size=3, max_size=3, target_size=3), seed=1)
    assert [len(g.members) for g in result.groups] == [3]
    assert [(a.reason, a.params) for a in result.alone] == [("no_room", {"languages": ["de"]})]


def test_an_open_team_below_the_minimum_is_filled_first() -> None:
    pool = [person(1), person(2)]
    team = OpenTeam(7, (person(100),), free=3)
    result = match(pool, [team], RULES, seed=1)
    assert [g.team_id for g in result.groups] == [7]
    assert len(result.groups[0].members) == 3
    assert {"code": "filled_open_team", "needed": "min_size"} in result.groups[0].explanation["why"]


def test_an_open_team_with_free_places_takes_whom_no_new_team_can() -> None:
    pool = [person(i, "de") for i in range(1, 7)] + [person(8, "it")]
    team = OpenTeam(7, (person(100, "it en"), person(101, "it")), free=2)
    result = match(pool, [team], RULES, seed=1)
    joined = next(g for g in result.groups if g.team_id == 7)
    assert [m.id for m in joined.joiners] == [8]
    assert joined.language == "it"
    assert {"code": "filled_open_team", "needed": "free_places"} in joined.explanation["why"]
    assert not result.alone


def test_an_open_team_at_the_minimum_gets_nobody_when_nobody_needs_it() -> None:
    pool = [person(i) for i in range(1, 7)]
    team = OpenTeam(7, (person(100), person(101)), free=2)
    result = match(pool, [team], RULES, seed=1)
    assert all(g.team_id is None for g in result.groups)


def test_a_full_open_team_gets_nobody() -> None:
    pool = [person(1, "it")]
    team = OpenTeam(7, (person(100, "it"), person(101, "it"), person(102, "it"), person(103, "it")), free=0)
    result = match(pool, [team], RULES, seed=1)
    assert not result.groups
    assert [a.reason for a in result.alone] == ["no_room"]


def random_pool(rng: random.Random, size: int) -> list[Person]:
    return [
        Person(
            ident,
            tuple(rng.sample(["de", "en", "fr"], rng.randint(1, 2))),
            frozenset(rng.sample(["python", "design", "law", "data", "video"], rng.randint(1, 3))),
            tuple(rng.sample([f"c{n}" for n in range(8)], rng.randint(0, 3))),
            rng.choice([-5.0, 0.0, 1.0, 1.0, 2.0]),
        )
        for ident in range(1, size + 1)
    ]


def test_the_same_seed_gives_the_same_result_whatever_the_input_order() -> None:
    pool = random_pool(random.Random(4), 200)
    first = match(pool, [], RULES, seed=9)
    assert match(list(reversed(pool)), [], RULES, seed=9) == first


def test_the_result_does_not_depend_on_string_hashing() -> None:
    script = (
        "import random\n"
        "from tests.teams.test_matching import RULES, random_pool\n"
        "from hackserver.teams.matcher import match\n"
        "result = match(random_pool(random.Random(4), 300), [], RULES, seed=9)\n"
        "print([[m.id for m in g.members] for g in result.groups], result.alone)\n"
    )
    outputs = {
        processes.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_the_explanation_is_json_and_describes_the_team() -> None:
    pool = [
        person(1, skills="python law", interests="c1 c2", tz=0.0),
        person(2, skills="python design", interests="c2 c1", tz=1.0),
        person(3, skills="video", interests="c3 c1", tz=1.0),
    ]
    result = match(pool, [], Rules(min_size=2, max_size=3, target_size=3), seed=1)
    [group] = result.groups
    explanation = json.loads(json.dumps(group.explanation))
    assert explanation == {
        "language": "de",
        "skills": ["design", "law", "python", "video"],
        "distinct_skills": 4,
        "shared_interests": {"c1": 3, "c2": 2},
        "tz_spread_hours": 1.0,
        "size": 3,
        "why": [
            {"code": "language", "language": "de"},
            {"code": "skills", "count": 4},
            {"code": "interest", "interest": "c1", "members": 3},
            {"code": "interest", "interest": "c2", "members": 2},
            {"code": "time_zones", "spread": 1.0},
        ],
    }


def test_teams_prefer_neighbouring_time_zones() -> None:
    pool = [person(i, tz=-5.0) for i in range(1, 4)] + [person(i, tz=8.0) for i in range(4, 7)]
    result = match(pool, [], RULES, seed=1)
    assert all(g.explanation["tz_spread_hours"] == 0 for g in result.groups)


def test_quality_measures_teams() -> None:
    a = person(1, "de en", skills="python law", interests="c1", tz=0.0)
    b = person(2, "en", skills="python", interests="c2 c1", tz=2.0)
    c = person(3, "fr", skills="design", interests="c3")
    q = quality([[a, b], [a, c]], alone=1)
    assert q.teams == 2
    assert q.shared_language_share == 0.5
    assert q.mean_distinct_skills == 2.5
    assert q.top_interest_shared_share == 1 / 4  # a's c1 is b's second interest
    assert (q.max_tz_spread, q.mean_tz_spread, q.alone) == (2.0, 1.5, 1)


languages = st.lists(st.sampled_from(["de", "en", "fr", "it"]), min_size=1, max_size=2, unique=True)
people = st.builds(
    lambda langs, skills, interests, tz: (tuple(langs), frozenset(skills), tuple(interests), tz),
    languages,
    st.lists(st.sampled_from(["python", "design", "law", "video"]), max_size=3),
    st.lists(st.sampled_from(["c1", "c2", "c3"]), max_size=2, unique=True),
    st.sampled_from([-8.0, 0.0, 1.0, 5.5]),
)
rules = st.tuples(st.integers(1, 4), st.integers(0, 3), st.integers(0, 3)).map(
    lambda t: Rules(min_size=t[0], target_size=t[0] + t[1], max_size=max(t[0] + t[1] + t[2], 2))
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(people, max_size=40),
    st.lists(st.tuples(st.lists(languages, max_size=4), st.integers(0, 4)), max_size=4),
    rules,
    st.integers(0, 3),
)
def test_random_pools_keep_every_rule(
    specs: list[tuple[tuple[str, ...], frozenset[str], tuple[str, ...], float]],
    team_specs: list[tuple[list[list[str]], int]],
    rules: Rules,
    seed: int,
) -> None:
    pool = [Person(i, *spec) for i, spec in enumerate(specs, start=1)]
    open_teams = [
        OpenTeam(
            t, tuple(Person(1000 * t + i, tuple(langs), frozenset()) for i, langs in enumerate(ms)), free
        )
        for t, (ms, free) in enumerate(team_specs, start=1)
    ]
    result = match(pool, open_teams, rules, seed)
    lowest = max(rules.min_size, 2)
    assert placed_once(result, pool)
    free = {t.id: t.free for t in open_teams}
    for group in result.groups:
        assert all(group.language in m.languages for m in group.members)
        assert group.joiners
        if group.team_id is None:
            assert lowest <= len(group.members) <= rules.max_size
        else:
            assert len(group.joiners) <= free[group.team_id]
            assert len(group.members) <= max(rules.max_size, len(group.existing))
    # Nobody is alone who could have been seated: no team with room shares a language with them,
    # and too few are alone in any language to form a team.
    rooms = [(g.members, rules.max_size - len(g.members)) for g in result.groups if g.team_id is None]
    joined = {g.team_id: len(g.joiners) for g in result.groups}
    for t in open_teams:
        left = min(t.free - joined.get(t.id, 0), rules.max_size - len(t.members) - joined.get(t.id, 0))
        members = [*t.members, *next((g.joiners for g in result.groups if g.team_id == t.id), [])]
        rooms.append((members, left))
    everyone = Counter(x for p in pool for x in p.languages)
    everyone.update(x for t in open_teams for m in t.members for x in m.languages)
    for lonely in result.alone:
        for members, left in rooms:
            common = set(lonely.person.languages).intersection(*(m.languages for m in members))
            assert left <= 0 or not common, (lonely, members)
        only = all(everyone[x] == 1 for x in lonely.person.languages)
        assert lonely.reason == ("only_speaker" if only else "no_room")
    alone_speakers = Counter(x for a in result.alone for x in a.person.languages)
    assert all(n < lowest for n in alone_speakers.values())
