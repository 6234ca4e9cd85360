"""Team matching at kickoff: solo participants of the pool into new teams and into open teams.

Pure and deterministic: the same pool, open teams, rules and seed give the same result in any
process (string hashing never decides anything: whatever is iterated is sorted or only counted).

How: every person gets one matching language (the one most of the pool speaks among theirs; people
with several languages then move between language buckets so that each bucket can be cut into teams
within the size limits). Open teams below the minimum size are filled first, from their language's
bucket. Each bucket is sorted by time zone and top interest, cut into windows of a few teams' worth
of neighbours, and inside a window the holders of the rarest skills seed the teams while everyone
else joins the team where they add the most (see team_fit): new skills, shared interests, little time-zone spread;
a pass of pairwise swaps between the window's teams then mends what the greedy order spoilt. People a bucket cannot seat go into a team with room that shares a language (open teams below the
minimum first, then open teams with free places, then new teams), else form teams among themselves,
else stay alone with a reason.

`Group.explanation["why"]` is a list of reason codes with their parameters:
- `language` {language}: the language every member speaks
- `skills` {count}: the number of distinct skills in the team
- `interest` {interest, members}: a challenge or topic several members named (the two most shared)
- `time_zones` {spread}: hours between the members' earliest and latest UTC offset
- `filled_open_team` {needed}: the joiners went into an existing team that was below the minimum
  size (`min_size`) or only had free places (`free_places`)

`Alone.reason`: `only_speaker` (nobody else speaks any of their languages) or `no_room` (others do,
but their teams are full and too few are left to form one); params: {languages}.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hackserver.teams.team_fit import Forming, Person, score

WINDOW_TEAMS = 8  # teams built together from a run of neighbours: more mixes skills better, costs time
OPEN_CANDIDATES = 48  # people near an open team's time zone considered for each of its places
OPEN_PER_INTEREST = 8  # plus this many per interest of the open team


@dataclass(frozen=True)
class OpenTeam:
    id: int
    members: tuple[Person, ...]
    free: int  # places left before the size limit


@dataclass(frozen=True)
class Rules:
    min_size: int
    max_size: int
    target_size: int  # min_size <= target_size <= max_size


@dataclass
class Group:
    team_id: int | None  # None: a new team; else the open team the joiners go into
    joiners: list[Person]
    existing: list[Person]
    language: str
    explanation: dict[str, Any]

    @property
    def members(self) -> list[Person]:
        return self.existing + self.joiners


@dataclass
class Alone:
    person: Person
    reason: str  # only_speaker | no_room
    params: dict[str, Any]


@dataclass
class Result:
    groups: list[Group]
    alone: list[Alone]


def match(pool: Sequence[Person], open_teams: Sequence[OpenTeam], rules: Rules, seed: int) -> Result:
    if not (1 <= rules.min_size <= rules.target_size <= rules.max_size and rules.max_size >= 2):
        raise ValueError(f"need 1 <= min_size <= target_size <= max_size and max_size >= 2, got {rules}")
    people = sorted(pool, key=lambda p: p.id)  # the input's order must not matter
    if len({p.id for p in people}) != len(people):
        raise ValueError("a person is in the pool twice")
    if not all(p.languages for p in people):
        raise ValueError("every person needs at least one language")
    rng = random.Random(seed)
    tie = {p.id: rng.random() for p in people}
    lowest = max(rules.min_size, 2)  # a new team of one is no team

    def fits(n: int) -> bool:
        return n == 0 or (n >= lowest and -(-n // rules.max_size) <= n // lowest)

    speakers = Counter(lang for p in people for lang in set(p.languages))
    freq = Counter(s for p in people for s in p.skills)
    rarity = {p.id: min((freq[s] for s in p.skills), default=len(people) + 1) for p in people}
    buckets: dict[str, list[Person]] = defaultdict(list)
    for p in people:
        buckets[min(p.languages, key=lambda lang: (-speakers[lang], lang))].append(p)

    def order(ps: Iterable[Person]) -> list[Person]:
        return sorted(ps, key=lambda p: (p.utc_offset, p.interests[:1], tie[p.id]))

    for lang in buckets:
        buckets[lang] = order(buckets[lang])
    opens, taken = _fill_open_teams(open_teams, buckets, rules, tie)
    for lang in list(buckets):
        buckets[lang] = [p for p in buckets[lang] if p.id not in taken]
    _rebalance(buckets, fits, tie)

    teams: list[Forming] = []
    leftovers: list[Person] = []
    for lang in sorted(buckets):
        bucket = order(buckets[lang])
        sizes, extra = _sizes(len(bucket), rules, lowest)
        if extra:  # those with most languages have the best chance elsewhere
            out = {p.id for p in sorted(bucket, key=lambda p: (-len(p.languages), tie[p.id]))[:extra]}
            leftovers += [p for p in bucket if p.id in out]
            bucket = [p for p in bucket if p.id not in out]
        start = 0
        for w in range(0, len(sizes), WINDOW_TEAMS):
            caps = sizes[w : w + WINDOW_TEAMS]
            window = bucket[start : start + sum(caps)]
            start += sum(caps)
            teams += _build(window, caps, lang, rarity, tie)

    for team in teams:
        team.cap = rules.max_size  # built to even sizes; room up to the limit for leftovers
    alone = _seat_leftovers(leftovers, opens, teams, rules, rarity, tie)
    formed: list[Forming] = []  # the rest form teams among themselves where a language allows
    for lang in sorted({x for p in alone for x in p.languages}, key=lambda x: (-speakers[x], x)):
        group = [p for p in alone if lang in p.languages]
        sizes, extra = _sizes(len(group), rules, lowest)
        if sizes:
            group = group[: len(group) - extra]
            formed += _build(group, sizes, lang, rarity, tie)
            seated = {p.id for p in group}
            alone = [p for p in alone if p.id not in seated]
    for team in formed:
        team.cap = rules.max_size
    alone = _seat_leftovers(alone, [], formed, rules, rarity, tie)
    teams += formed

    everyone = Counter(x for p in people for x in set(p.languages))
    everyone.update(x for t in open_teams for m in t.members for x in set(m.languages))
    result = Result([], [])
    for t in sorted(opens, key=lambda t: t.team_id or 0) + teams:
        if len(t.people) > t.existing:
            result.groups.append(_group(t, rules))
    for p in alone:
        langs = sorted(set(p.languages))
        reason = "no_room" if any(everyone[x] > 1 for x in langs) else "only_speaker"
        result.alone.append(Alone(p, reason, {"languages": langs}))
    return result


def _sizes(n: int, rules: Rules, lowest: int) -> tuple[list[int], int]:
    """Team sizes for n people, as even as possible near the target, and how many cannot be seated."""
    if n < lowest:
        return [], n
    fewest, most = -(-n // rules.max_size), n // lowest
    if fewest > most:  # tight limits: full teams and a remainder
        return [rules.max_size] * most, n - most * rules.max_size
    k = min(max(-(-n // rules.target_size), fewest), most)
    return [n // k + (i < n % k) for i in range(k)], 0


def _fill_open_teams(
    open_teams: Sequence[OpenTeam], buckets: dict[str, list[Person]], rules: Rules, tie: dict[int, float]
) -> tuple[list[Forming], set[int]]:
    """Open teams below the minimum size get joiners from their language's bucket, nearest in time
    zone and interests first; returns every open team with room, and who was taken."""
    taken: set[int] = set()
    left = {lang: len(ps) for lang, ps in buckets.items()}
    offsets = {lang: [p.utc_offset for p in ps] for lang, ps in buckets.items()}
    by_top: dict[str, dict[str, list[Person]]] = {}
    for lang, ps in buckets.items():
        by_top[lang] = defaultdict(list)
        for p in ps:
            if p.interests:
                by_top[lang][p.interests[0]].append(p)
    opens = []
    for ot in sorted(open_teams, key=lambda t: (len(t.members) >= rules.min_size, len(t.members), t.id)):
        cap = max(len(ot.members), min(len(ot.members) + ot.free, rules.max_size))
        team = Forming(cap, None, ot.id)
        for m in ot.members:
            team.add(m)
        team.existing = len(ot.members)
        if not team.room() or team.langs == set():
            continue
        opens.append(team)
        need = min(rules.min_size, cap) - len(ot.members)
        usable = [x for x in left if left[x] and (team.langs is None or x in team.langs)]
        if need <= 0 or not usable:
            continue
        lang = min(usable, key=lambda x: (-left[x], x))
        team.language = lang
        bucket = buckets[lang]
        centre = (team.lo + team.hi) / 2 if ot.members else 0.0
        pos = bisect.bisect_left(offsets[lang], centre)
        near: dict[int, Person] = {}
        below, above = pos - 1, pos
        while len(near) < OPEN_CANDIDATES and (below >= 0 or above < len(bucket)):
            for i in (below, above):
                if 0 <= i < len(bucket) and bucket[i].id not in taken:
                    near[bucket[i].id] = bucket[i]
            below, above = below - 1, above + 1
        for interest in sorted(team.interests):
            fresh = [p for p in by_top[lang].get(interest, ()) if p.id not in taken]
            near.update((p.id, p) for p in fresh[:OPEN_PER_INTEREST])
        candidates = sorted(near.values(), key=lambda p: tie[p.id])
        for _ in range(min(need, len(candidates))):
            best = max(candidates, key=team.gain)  # the first of equals: seeded order
            candidates.remove(best)
            team.add(best)
            taken.add(best.id)
            left[lang] -= 1
    return opens, taken


def _rebalance(buckets: dict[str, list[Person]], fits: Callable[[int], bool], tie: dict[int, float]) -> None:
    """Moves people who speak several languages so that buckets can be cut into teams: into a bucket
    too small (or of an awkward size) when their own keeps fitting, else out of it."""
    count = {lang: len(ps) for lang, ps in buckets.items()}
    where: dict[int, str] = {}
    multi: dict[str, list[Person]] = defaultdict(list)  # by every language they speak
    for lang in sorted(buckets):
        for p in buckets[lang]:
            if len(p.languages) > 1:
                where[p.id] = lang
                for x in sorted(set(p.languages)):
                    multi[x].append(p)

    def move(p: Person, dst: str) -> None:
        count[where[p.id]] -= 1
        count[dst] = count.get(dst, 0) + 1
        where[p.id] = dst

    for lang in sorted(buckets, key=lambda x: (count[x], x)):
        if fits(count[lang]):
            continue
        need = next(d for d in itertools.count(1) if fits(count[lang] + d))  # a multiple of the minimum fits
        donors = sorted(
            (p for p in multi[lang] if where[p.id] != lang), key=lambda p: (-count[where[p.id]], tie[p.id])
        )
        trial = dict(count)
        moves: list[Person] = []
        for p in donors:
            if len(moves) == need:
                break
            if fits(trial[where[p.id]] - 1):
                moves.append(p)
                trial[where[p.id]] -= 1
        if len(moves) == need:
            for p in moves:
                move(p, lang)
            continue
        for p in sorted((p for p in multi[lang] if where[p.id] == lang), key=lambda p: tie[p.id]):
            if fits(count[lang]):
                break
            dst = min(set(p.languages) - {lang}, key=lambda x: (-count.get(x, 0), x))
            if fits(count.get(dst, 0) + 1):
                move(p, dst)
    moved: dict[str, list[Person]] = defaultdict(list)
    for lang in sorted(buckets):
        for p in buckets[lang]:
            moved[where.get(p.id, lang)].append(p)
    buckets.clear()
    buckets.update(moved)


def _build(
    people: Sequence[Person], caps: Sequence[int], lang: str, rarity: dict[int, int], tie: dict[int, float]
) -> list[Forming]:
    """Teams of the given sizes from these people: the rarest skills seed them, then each person
    (most skills first) joins the team with room they add most to; then pairs swap where it helps."""
    ranked = sorted(people, key=lambda p: (rarity[p.id], tie[p.id]))
    teams = [Forming(cap, lang) for cap in caps]
    for team, p in zip(teams, ranked, strict=False):
        team.add(p)
    for p in sorted(ranked[len(teams) :], key=lambda p: (-len(p.skills), rarity[p.id], tie[p.id])):
        best, best_gain = None, -math.inf
        for team in teams:
            if len(team.people) < team.cap:
                gain = team.gain(p)
                if gain > best_gain:
                    best, best_gain = team, gain
        assert best is not None  # the caps add up to the people
        best.add(p)
    _swap(teams, lang)
    return teams


def _swap(teams: list[Forming], lang: str) -> None:
    """One pass over all pairs of members of different teams, swapping them where the two teams'
    scores grow. Only pairs whose gains elsewhere exceed their losses get an exact look: the last
    people greedy places have no choice left."""

    def losses(t: Forming) -> list[float]:
        return [t.score - score(t.people[:k] + t.people[k + 1 :]) for k in range(len(t.people))]

    def rebuild(k: int, people: list[Person]) -> None:
        teams[k] = Forming(teams[k].cap, lang)
        for p in people:
            teams[k].add(p)
        teams[k].score = score(people)
        loss[k] = losses(teams[k])
        gain[k] = {}

    for t in teams:
        t.score = score(t.people)
    loss = [losses(t) for t in teams]
    gain: list[dict[int, float]] = [{} for _ in teams]  # into a team not one's own, as needed
    for i, j in itertools.combinations(range(len(teams)), 2):
        for ai in range(len(teams[i].people)):
            a = teams[i].people[ai]
            if (a_gain := gain[j].get(a.id)) is None:
                a_gain = gain[j][a.id] = teams[j].gain(a)
            for bj in range(len(teams[j].people)):
                b = teams[j].people[bj]
                if (b_gain := gain[i].get(b.id)) is None:
                    b_gain = gain[i][b.id] = teams[i].gain(b)
                if a_gain + b_gain <= loss[i][ai] + loss[j][bj]:
                    continue
                to_i = [*teams[i].people[:ai], b, *teams[i].people[ai + 1 :]]
                to_j = [*teams[j].people[:bj], a, *teams[j].people[bj + 1 :]]
                if score(to_i) + score(to_j) > teams[i].score + teams[j].score + 1e-9:
                    rebuild(i, to_i)
                    rebuild(j, to_j)
                    a = b
                    a_gain = gain[j][a.id] = teams[j].gain(a)


def _seat_leftovers(
    leftovers: list[Person],
    opens: list[Forming],
    teams: list[Forming],
    rules: Rules,
    rarity: dict[int, int],
    tie: dict[int, float],
) -> list[Person]:
    """Seats people no bucket could take in a team with room that shares a language: open teams below
    the minimum, then open teams with free places, then new teams. Returns those still unseated."""
    if not leftovers:
        return []
    anyone: list[tuple[int, Forming]] = []  # empty open teams: any language will do
    speaking: dict[str, list[tuple[int, Forming]]] = defaultdict(list)
    for rank, group in enumerate((opens, teams)):
        for team in group:
            for lang in sorted(team.langs) if team.langs is not None else ():
                speaking[lang].append((rank, team))
            if team.langs is None:
                anyone.append((rank, team))
    unseated = []
    for p in sorted(leftovers, key=lambda p: (len(p.languages), rarity[p.id], tie[p.id])):
        spoken = set(p.languages)
        best: Forming | None = None
        best_key = (math.inf, math.inf)
        for rank, team in [*anyone, *(pair for lang in p.languages for pair in speaking.get(lang, ()))]:
            if team.room() and (team.langs is None or team.langs & spoken):
                below = rank == 0 and len(team.people) < rules.min_size
                key = (rank * 2 + (not below), -team.gain(p))
                if key < best_key:
                    best, best_key = team, key
        if best is None:
            unseated.append(p)
            continue
        best.add(p)
        assert best.langs
        if best.language not in best.langs:
            best.language = min(best.langs)
    return unseated


def _group(team: Forming, rules: Rules) -> Group:
    members = team.people
    assert team.langs and team.language in team.langs
    skills = sorted(set().union(*(m.skills for m in members)))
    named = Counter(i for m in members for i in dict.fromkeys(m.interests))
    shared = {i: n for i, n in sorted(named.items(), key=lambda kv: (-kv[1], kv[0])) if n >= 2}
    spread = max(m.utc_offset for m in members) - min(m.utc_offset for m in members)
    why: list[dict[str, Any]] = [
        {"code": "language", "language": team.language},
        {"code": "skills", "count": len(skills)},
    ]
    why += [{"code": "interest", "interest": i, "members": n} for i, n in list(shared.items())[:2]]
    why.append({"code": "time_zones", "spread": spread})
    if team.team_id is not None:
        needed = "min_size" if team.existing < rules.min_size else "free_places"
        why.append({"code": "filled_open_team", "needed": needed})
    explanation = {
        "language": team.language,
        "skills": skills,
        "distinct_skills": len(skills),
        "shared_interests": shared,
        "tz_spread_hours": spread,
        "size": len(members),
        "why": why,
    }
    existing = members[: team.existing]
    return Group(team.team_id, members[team.existing :], existing, team.language, explanation)
