"""Who the simulated participants are and what each will do, drawn from one seed: the same seed and
numbers give the same cast, the same teams and the same schedule."""

from __future__ import annotations

import random
from dataclasses import dataclass

SKILLS = (
    "python", "javascript", "design", "data", "ux", "legal", "backend", "frontend", "devops",
    "writing", "research", "health", "mobile", "gis", "security", "education",
)  # fmt: skip
ZONES = ("Europe/Berlin", "Europe/Vienna", "Europe/Zurich", "Europe/London", "Europe/Paris")
MATCH_SHARE = 5 / 7  # #WirVsVirus: of 28,000 people about 20,000 came alone and wanted a team
SOLO_PICK_SHARE = 0.3  # of those who want a match, the share who pick challenges beforehand
DISCORD_SHARE = 0.5
CREATE, JOIN, MATCH = "create", "join", "match"


@dataclass(frozen=True)
class Person:
    index: int
    platform: str  # "slack" or "discord"
    user_id: str
    name: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    timezone: str
    arrives: float  # simulated seconds after the kickoff burst begins
    thinks: float  # simulated seconds between reading a reply and the next command
    role: str  # CREATE, JOIN or MATCH
    team: int | None  # the planned team of a CREATE or JOIN
    picks: int  # how many challenges this person ranks (0 to 3)


@dataclass(frozen=True)
class Plan:
    seed: int
    people: tuple[Person, ...]
    teams: tuple[tuple[int, ...], ...]  # the self-formed teams: people's indices, the creator first

    @property
    def pooled(self) -> int:
        return sum(person.role == MATCH for person in self.people)


def cast(count: int, seed: int, *, burst_seconds: float, platforms: tuple[str, ...], max_team: int) -> Plan:
    rng = random.Random(seed)
    roles: list[tuple[str, int | None]] = [(MATCH, None)] * count
    order = list(range(count))
    rng.shuffle(order)
    teams: list[tuple[int, ...]] = []
    placed = 0
    while count - placed - 1 > count * MATCH_SHARE:  # form teams until the rest is the pool's share
        size = min(rng.randint(2, max(2, min(5, max_team))), count - placed)
        members = tuple(order[placed : placed + size])
        roles[members[0]] = (CREATE, len(teams))
        for index in members[1:]:
            roles[index] = (JOIN, len(teams))
        teams.append(members)
        placed += size
    people = []
    for index in range(count):
        role, team = roles[index]
        platform = platforms[0] if len(platforms) == 1 or rng.random() >= DISCORD_SHARE else platforms[1]
        languages = rng.choice((("de", "en"), ("de",), ("en",), ("de", "en")))
        if role == CREATE:
            picks = rng.randint(1, 3)
        elif role == MATCH and rng.random() < SOLO_PICK_SHARE:
            picks = rng.randint(1, 3)
        else:
            picks = 0
        people.append(
            Person(
                index=index,
                platform=platform,
                user_id=f"U{seed % 1000:03d}S{index:06d}" if platform == "slack" else str(9 * 10**17 + index),
                name=f"sim-{index:06d}",
                skills=tuple(rng.sample(SKILLS, rng.randint(1, 3))),
                languages=languages,
                timezone=rng.choice(ZONES),
                # Arrivals crowd the first minutes after kickoff and thin out towards the end.
                arrives=burst_seconds * rng.betavariate(1.5, 3.0),
                thinks=rng.uniform(5.0, 60.0),
                role=role,
                team=team,
                picks=picks,
            )
        )
    return Plan(seed, tuple(people), tuple(teams))
