"""`run --demo --crowd N`: N simulated participants arrive on the built-in channels over the first
minutes, in this process, and type their commands in the bot channel as a person would: a profile,
then a team made or joined or the matching pool, then challenge picks. Who does what is the
simulator's cast (hackserver.simulation.plan) with names that look like people's; the same seed
gives the same people, so a demo started again sees them again rather than twice as many."""

from __future__ import annotations

import asyncio
import logging
import random

from sqlalchemy import select

from bots import builtin
from bots.commands import Invocation, Reply
from hackserver.foundation.models import Challenge
from hackserver.runtime import Runtime
from hackserver.simulation.plan import CREATE, JOIN, Person, cast
from hackserver.teams.participants import Identity, identify

log = logging.getLogger(__name__)
WORKSPACE = "demo-crowd"
ARRIVALS = 120.0  # real seconds over which the crowd arrives, at most
CAST_BURST = 600.0  # the simulator's kickoff burst, in whose seconds a person's thinking is drawn
FIRST_NAMES = {
    "de": (
        "Anna", "Lena", "Mia", "Hannah", "Lea", "Marie", "Sophie", "Emma", "Clara", "Greta", "Ida", "Jana",
        "Paul", "Jonas", "Felix", "Lukas", "Leon", "Max", "Elias", "Noah", "Finn", "Moritz", "Tim", "Jan",
    ),
    "en": (
        "Olivia", "Amelia", "Isla", "Ava", "Grace", "Chloe", "Ruby", "Zoe", "Priya", "Aisha", "Maya", "Nora",
        "Oliver", "George", "Harry", "Jack", "Oscar", "Leo", "Arthur", "Samuel", "Omar", "Ethan", "Kai", "Ben",
    ),
}  # fmt: skip
INITIALS = "ABCDEFGHKLMNPRSTVWZ"
TEAM_WORDS = (
    ("Bright", "Quick", "Open", "Civic", "Green", "Brave", "Kind", "Clever", "Steady", "Curious"),
    ("Owls", "Foxes", "Otters", "Herons", "Badgers", "Lynxes", "Beavers", "Swifts", "Hares", "Wrens"),
)


class Crowd:
    def __init__(self, runtime: Runtime, count: int, seed: int = 1) -> None:
        self.runtime = runtime
        real = runtime.clock.real_seconds_until(runtime.event.phases["team_formation_close"])
        self.arrivals = max(10.0, min(ARRIVALS, real / 2))  # everybody in before teams are locked
        self.plan = cast(
            count,
            seed,
            burst_seconds=self.arrivals,
            platforms=("builtin",),
            max_team=runtime.event.team_max_size,
        )
        self.codes: dict[int, asyncio.Future[str | None]] = {}
        self.challenges: list[str] = []

    async def run(self) -> None:
        async with self.runtime.reading() as tx:
            self.challenges = list(
                await tx.session.scalars(
                    select(Challenge.external_id)
                    .where(Challenge.event_id == tx.event_id)
                    .order_by(Challenge.id)
                )
            )
        loop = asyncio.get_running_loop()
        self.codes = {team: loop.create_future() for team in range(len(self.plan.teams))}
        log.info("demo: %d simulated participants arrive over %.0f s", len(self.plan.people), self.arrivals)
        await asyncio.gather(*(self.arrive(person) for person in self.plan.people))

    async def arrive(self, person: Person) -> None:
        try:
            await self.act(person)
        except Exception:  # one simulated person's trouble is no reason to stop the server or the others
            log.exception("demo: simulated participant %d stopped", person.index)
        finally:
            if person.role == CREATE and person.team is not None and not self.codes[person.team].done():
                self.codes[person.team].set_result(None)  # the joiners stop waiting

    async def act(self, person: Person) -> None:
        languages = [language for language in person.languages if language in self.runtime.event.languages]
        language = (languages or [self.runtime.event.default_language])[0]
        name = person_name(self.plan.seed, person.index, language)
        identity = Identity("builtin", WORKSPACE, f"crowd-{self.plan.seed}-{person.index}", name)
        thinking = person.thinks * self.arrivals / CAST_BURST
        await asyncio.sleep(person.arrives)
        async with self.runtime.transaction() as tx:
            participant = await identify(tx, identity)
            participant.language = participant.language or language
            participant_id = participant.id

        async def type_in(text: str) -> Reply | None:
            invocation = Invocation(identity, text, locale=language)
            return await builtin.converse(self.runtime, identity, participant_id, name, invocation)

        await type_in(f"/hack profile skills {','.join(person.skills)} langs {','.join(languages or [language])}"
                  f" tz {person.timezone}")  # fmt: skip
        await asyncio.sleep(thinking)
        if person.role == CREATE and person.team is not None:
            reply = await type_in(f"/hack team create {team_name(self.plan.seed, person.team)}")
            code = reply.fields[0][1] if reply is not None and reply.ok and reply.fields else None
            self.codes[person.team].set_result(code)
        elif person.role == JOIN and person.team is not None:
            if (code := await self.codes[person.team]) is not None:
                await type_in(f"/hack team join {code}")
        else:
            await type_in("/hack match me")
        if person.picks and self.challenges:
            await asyncio.sleep(thinking)
            picked = random.Random(self.plan.seed * 1_000_003 + person.index).sample(
                self.challenges, min(person.picks, len(self.challenges))
            )
            await type_in(f"/hack challenge pick {' '.join(picked)}")


def person_name(seed: int, index: int, language: str) -> str:
    """A first name of the person's language and an initial, the same for the same seed."""
    rng = random.Random(seed * 7_919 + index)
    return f"{rng.choice(FIRST_NAMES.get(language, FIRST_NAMES['en']))} {rng.choice(INITIALS)}."


def team_name(seed: int, number: int) -> str:
    adjectives, animals = TEAM_WORDS
    round_, adjective = divmod(number, len(adjectives))
    name = f"{adjectives[adjective]} {animals[(round_ + seed) % len(animals)]}"
    return name if round_ < len(animals) else f"{name} {number}"
