"""What makes a good team, as the matcher sees it: the people it places, the weights of what a team
gains from one more member (new skills, a shared top interest, little time-zone spread), a team
being built, and the quality of a whole matching (for runs, benchmarks and tests)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

SKILL_WEIGHT = 1.0  # per skill the team does not have yet
INTEREST_WEIGHT = 1.0  # per member whose top interest becomes shared with a teammate
TZ_WEIGHT = 1.0  # per hour of added time-zone spread: an hour costs as much as a new skill


@dataclass(frozen=True)
class Person:
    id: int
    languages: tuple[str, ...]  # spoken, never empty
    skills: frozenset[str]
    interests: tuple[str, ...] = ()  # ranked; the first is the top interest
    utc_offset: float = 0.0  # hours


@dataclass(frozen=True)
class Quality:
    teams: int
    shared_language_share: float
    mean_distinct_skills: float
    top_interest_shared_share: float
    max_tz_spread: float
    mean_tz_spread: float
    alone: int


class Forming:
    """A team being built, with what the gain of one more member needs."""

    def __init__(self, cap: int, language: str | None, team_id: int | None = None) -> None:
        self.cap = cap
        self.language = language
        self.team_id = team_id
        self.existing = 0
        self.langs: set[str] | None = None  # languages all members speak; None: no members yet
        self.people: list[Person] = []
        self.skills: set[str] = set()
        self.interests: dict[str, int] = {}  # members naming each interest
        self.unshared: dict[str, int] = {}  # members whose top interest no teammate names, by it
        self.lo = math.inf
        self.hi = -math.inf
        self.score = 0.0  # kept by the swap pass only

    def room(self) -> bool:
        return len(self.people) < self.cap

    def gain(self, p: Person) -> float:
        """How much the team's score (see `score`) grows with p."""
        if not self.people:
            return SKILL_WEIGHT * len(p.skills)
        shared = 0
        interests = p.interests
        if interests:
            if self.unshared:
                for i in interests:
                    shared += self.unshared.get(i, 0)
            shared += interests[0] in self.interests
        o = p.utc_offset
        spread = (o - self.hi if o > self.hi else 0.0) + (self.lo - o if o < self.lo else 0.0)
        return SKILL_WEIGHT * len(p.skills - self.skills) + INTEREST_WEIGHT * shared - TZ_WEIGHT * spread

    def add(self, p: Person) -> None:
        top_shared = bool(p.interests) and p.interests[0] in self.interests
        for i in p.interests:
            self.unshared.pop(i, None)  # their top interest is now also p's
        if p.interests and not top_shared:
            self.unshared[p.interests[0]] = self.unshared.get(p.interests[0], 0) + 1
        for i in dict.fromkeys(p.interests):
            self.interests[i] = self.interests.get(i, 0) + 1
        self.people.append(p)
        self.skills.update(p.skills)
        self.lo = min(self.lo, p.utc_offset)
        self.hi = max(self.hi, p.utc_offset)
        self.langs = set(p.languages) if self.langs is None else self.langs & set(p.languages)


def score(people: Sequence[Person]) -> float:
    """What teams are built for: distinct skills, members whose top interest a teammate names, and
    little time-zone spread."""
    skills = set().union(*[m.skills for m in people])
    tops = [m.interests[0] for m in people if m.interests]
    named = [i for m in people for i in m.interests] if tops else []
    shared = sum(1 for top in tops if named.count(top) >= 2)
    offsets = [m.utc_offset for m in people] or [0.0]
    return SKILL_WEIGHT * len(skills) + INTEREST_WEIGHT * shared - TZ_WEIGHT * (max(offsets) - min(offsets))


def quality(teams: Sequence[Sequence[Person]], alone: int = 0) -> Quality:
    teams = [t for t in teams if t]
    if not teams:
        return Quality(0, 1.0, 0.0, 0.0, 0.0, 0.0, alone)  # no team breaks the language rule
    common = 0
    skills = 0
    with_top = 0
    top_shared = 0
    spreads = []
    for team in teams:
        common += bool(set.intersection(*(set(m.languages) for m in team)))
        skills += len(set().union(*(m.skills for m in team)))
        named = Counter(i for m in team for i in dict.fromkeys(m.interests))
        for m in team:
            if m.interests:
                with_top += 1
                top_shared += named[m.interests[0]] >= 2  # m names it once, so a teammate does too
        spreads.append(max(m.utc_offset for m in team) - min(m.utc_offset for m in team))
    return Quality(
        teams=len(teams),
        shared_language_share=common / len(teams),
        mean_distinct_skills=skills / len(teams),
        top_interest_shared_share=top_shared / with_top if with_top else 0.0,
        max_tz_spread=max(spreads),
        mean_tz_spread=sum(spreads) / len(spreads),
        alone=alone,
    )
