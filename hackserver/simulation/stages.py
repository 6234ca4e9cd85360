"""The event as the simulated people and organisers live it, stage by stage, on a schedule in
simulated time that `speed` compresses: the kickoff burst (profiles, teams made and joined, the
matching pool, challenge picks), the matching and challenge assignment, hacking with expert
bookings, submissions, the deadline, judging and the selection. Organiser steps use the organiser
API; participants use only their chat commands and the links the bot replies with."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from hackserver.simulation.forms import forms
from hackserver.simulation.plan import CREATE, JOIN, Person, Plan
from hackserver.simulation.wire import Command, Failed, Tally, Wire

STAGES = ("kickoff", "matching", "bookings", "submissions", "judging")
BOOKING_SECONDS, SUBMISSION_SECONDS, JUDGING_SECONDS = 300.0, 600.0, 600.0  # simulated
BOOKING_SHARE = 0.25  # of the teams, those who book an expert
SLOTS_PER_EXPERT = 6
PHASE_LEAD = 3  # seconds ahead of the server's now that a shifted phase begins
FREEZE_WAIT = 120.0  # seconds for the clock to freeze the submitted entries after the deadline
Progress = Callable[[str, int], None]  # (stage, how many of its steps) starts a stage; ("", 1) advances


class Simulation:
    def __init__(
        self, wire: Wire, tally: Tally, plan: Plan, *, speed: float, burst_seconds: float, progress: Progress
    ) -> None:
        self.wire, self.tally, self.plan = wire, tally, plan
        self.speed, self.burst_seconds, self.progress = speed, burst_seconds, progress
        self.counts: Counter[str] = Counter()
        self.checks: list[tuple[str, int, int]] = []  # what the simulation did, what the server says
        self.codes: dict[int, asyncio.Future[str | None]] = {}
        self.joins_left: dict[int, int] = {}
        self.complete: dict[int, asyncio.Event] = {}
        self.challenges: list[str] = []
        self.slots: list[str] = []  # slot ids, in the order the experts published them
        self.teams: list[dict[str, Any]] = []
        self.by_name = {person.name: person for person in plan.people}

    async def run(self, until: str) -> None:
        await self.setup()
        for stage in STAGES[: STAGES.index(until) + 1]:
            began = time.monotonic()
            await getattr(self, stage)()
            self.tally.stages[stage] = time.monotonic() - began
        await self.verify(until)

    # -- scheduling ---------------------------------------------------------------------------

    async def at(self, simulated: float) -> None:
        """Waits until `simulated` seconds into the current stage (in real time: divided by speed)."""
        due = self.stage_began + simulated / self.speed
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        else:
            self.tally.late.append(-wait)

    def begin_stage(self, name: str, steps: int) -> None:
        self.stage_began = time.monotonic()
        self.progress(name, steps)

    async def each(self, items: Sequence[Any], act: Callable[[Any], Awaitable[None]], kind: str) -> None:
        """Runs act for every item at once (each waits for its own moment); a failure is counted."""

        async def one(item: Any) -> None:
            try:
                await act(item)
            except Failed as failure:
                self.tally.fail(kind, str(failure))
            finally:
                self.progress("", 1)

        await asyncio.gather(*(one(item) for item in items))

    # -- the organisers' preparations -------------------------------------------------------------

    async def setup(self) -> None:
        found = await self.wire.api("GET", "/api/v1/participants?limit=1")
        if found["participants"]:
            raise Failed("the server already has participants: simulate an event on a fresh database")
        phases = await self.wire.api("GET", "/api/v1/phases")
        if phases["current"] not in ("registration", "kickoff"):
            raise Failed(
                f"the event is in phase {phases['current']!r}; teams form in registration and kickoff"
                " (start the server with --demo)"
            )
        self.challenges = [c["id"] for c in (await self.wire.api("GET", "/api/v1/challenges"))["challenges"]]
        if not self.challenges:
            raise Failed(
                "the server has no challenges: import a catalogue first (hackserver challenges import)"
            )

    # -- kickoff ------------------------------------------------------------------------------

    async def kickoff(self) -> None:
        loop = asyncio.get_running_loop()
        for number, members in enumerate(self.plan.teams):
            self.codes[number] = loop.create_future()
            self.joins_left[number] = len(members) - 1
            self.complete[number] = asyncio.Event()
            if len(members) == 1:
                self.complete[number].set()
        self.begin_stage("kickoff", len(self.plan.people))
        await self.each(self.plan.people, self.arrive, "kickoff")

    async def arrive(self, person: Person) -> None:
        try:
            await self.at(person.arrives)
            profile = (
                ("skills", ",".join(person.skills)),
                ("langs", ",".join(person.languages)),
                ("tz", person.timezone),
            )
            await self.wire.command(person, Command(("profile",), profile, keywords=True))
            self.counts["registered"] += 1
            await self.at(person.arrives + person.thinks)
            if person.role == CREATE:
                await self.create(person)
            elif person.role == JOIN:
                await self.join(person)
            else:
                await self.wire.command(person, Command(("match", "me")))
                self.counts["asked for a match"] += 1
            if person.picks:
                await self.at(person.arrives + 2 * person.thinks)
                if person.team is not None:
                    await self.complete[person.team].wait()  # a team picks once everybody is in
                await self.pick(person)
        finally:
            if person.team is not None:
                self.settle(person, person.team)

    def settle(self, person: Person, team: int) -> None:
        """Whatever failed, nobody waits for this person for ever: the team's code is known (or
        known to be missing), and a joiner counts as done."""
        if person.role == CREATE and not self.codes[team].done():
            self.codes[team].set_result(None)
        elif person.role == JOIN:
            self.joins_left[team] -= 1
            if not self.joins_left[team]:
                self.complete[team].set()

    async def create(self, person: Person) -> None:
        assert person.team is not None
        reply = await self.wire.command(
            person, Command(("team", "create"), (("name", f"Sim {self.plan.seed} team {person.team}"),))
        )
        codes = [value for value in reply.fields() if value.isalnum() and len(value) <= 12]
        if not codes:
            raise Failed("team create: no join code in the reply")
        self.codes[person.team].set_result(codes[0])
        self.counts["teams created"] += 1

    async def join(self, person: Person) -> None:
        assert person.team is not None
        code = await self.codes[person.team]
        if code is None:
            raise Failed("team join: the team was not created")
        await self.wire.command(person, Command(("team", "join"), (("code", code),)))
        self.counts["joined a team"] += 1

    async def pick(self, person: Person) -> None:
        chosen = random.Random(self.plan.seed * 1_000_003 + person.index).sample(
            self.challenges, min(person.picks, len(self.challenges))
        )
        await self.wire.command(person, Command(("challenge", "pick"), (("ids", " ".join(chosen)),)))
        self.counts["challenge picks"] += 1

    # -- matching and assignment ----------------------------------------------------------------

    async def matching(self) -> None:
        self.begin_stage("matching", 3)
        run = await self.wire.api("POST", "/api/v1/matching", {"seed": self.plan.seed})
        self.counts["matched teams"] = run["teams_formed"]
        self.counts["placed in open teams"] = run["placed_in_open_teams"]
        self.counts["left alone"] = len(run["alone"]) if isinstance(run["alone"], list) else run["alone"]
        self.progress("", 1)
        assignment = await self.wire.api("POST", "/api/v1/assignment", {"seed": self.plan.seed})
        self.counts["teams given a challenge"] = assignment["teams"]
        self.progress("", 1)
        self.teams = (await self.wire.api("GET", "/api/v1/teams"))["teams"]
        self.progress("", 1)

    def speaker(self, team: dict[str, Any]) -> tuple[Person, int] | None:
        """The member who speaks for the team (the first of ours), with their participant id."""
        ours = [(self.by_name[m["name"]], m["id"]) for m in team["members"] if m["name"] in self.by_name]
        return min(ours, key=lambda pair: pair[0].index) if ours else None

    # -- hacking: office hours --------------------------------------------------------------------

    async def bookings(self) -> None:
        await self.begin("hacking")
        booking = self.teams[: max(1, round(len(self.teams) * BOOKING_SHARE))]
        experts = max(1, -(-len(booking) // SLOTS_PER_EXPERT))
        self.begin_stage("bookings", experts + len(booking))
        await self.each(range(experts), self.publish, "expert slots")
        if len(self.slots) < len(booking):
            raise Failed(f"bookings: {len(self.slots)} slots published for {len(booking)} teams")
        schedule = random.Random(self.plan.seed + 1)
        planned = [
            (team, self.slots[n], schedule.uniform(0, BOOKING_SECONDS)) for n, team in enumerate(booking)
        ]
        self.stage_began = time.monotonic()  # the teams' schedule starts once the slots are out
        await self.each(planned, self.book, "bookings")

    async def publish(self, number: int) -> None:
        expert = await self.wire.api(
            "POST",
            "/api/v1/experts",
            {
                "name": f"Sim {self.plan.seed} expert {number}",
                "topics": ["data", "law", "ux"],
                "languages": ["de", "en"],
                "timezone": "Europe/Berlin",
                "join_url": f"https://meet.example.org/sim-{number}",
            },
        )
        page = urljoin(self.wire.base, expert["link"])
        now = datetime.fromisoformat((await self.wire.api("GET", "/api/v1/phases"))["now"])
        start = (now.astimezone(ZoneInfo("Europe/Berlin")) + timedelta(hours=2)).replace(
            minute=0, second=0, microsecond=0
        )
        end = start + timedelta(minutes=25 * SLOTS_PER_EXPERT)
        form = [("start", f"{start:%Y-%m-%dT%H:%M}"), ("end", f"{end:%Y-%m-%dT%H:%M}"), ("length", "20")]
        form += [("buffer", "5"), ("topic", ""), ("daily_limit", "")]
        published = await self.wire.page(
            "POST", urljoin(page, forms_action(await self.page_html(page), "/slots")), form
        )
        if published.status != 303:
            raise Failed(f"expert page: publishing slots answered HTTP {published.status}")
        withdraw = [f.action for f in forms(await self.page_html(page)) if "/withdraw" in f.action]
        self.slots += [action.split("/slots/")[1].split("/")[0] for action in withdraw]

    async def page_html(self, url: str) -> str:
        return (await self.wire.page("GET", url)).text

    async def book(self, planned: tuple[dict[str, Any], str, float]) -> None:
        team, slot, when = planned
        if (speaker := self.speaker(team)) is None:
            raise Failed("bookings: a team with none of the simulated people")
        person, _ = speaker
        await self.at(when)
        reply = await self.wire.command(person, Command(("experts",)))
        if (link := reply.link(self.wire.base)) is None:
            raise Failed("experts: no booking link in the reply")
        page = forms(await self.page_html(link))
        offered = [f for f in page if f.action.split("?")[0].endswith("/bookings") and f.named("slot")]
        if not offered or slot not in {c.value for c in offered[0].named("slot")}:
            raise Failed("booking page: the planned free slot is not offered")
        form = [("question", "How do we get the data?"), ("slot", slot), ("tz", "")]
        booked = await self.wire.page("POST", urljoin(link, offered[0].action), form)
        if booked.status != 303:
            raise Failed(f"booking page: booking answered HTTP {booked.status}")
        self.counts["bookings"] += 1

    # -- submissions and the deadline -------------------------------------------------------------

    async def submissions(self) -> None:
        await self.begin("hacking")
        schedule = random.Random(self.plan.seed + 2)
        planned = [(team, schedule.uniform(0, SUBMISSION_SECONDS)) for team in self.teams]
        self.begin_stage("submissions", len(planned))
        await self.each(planned, self.submit, "submissions")

    async def submit(self, planned: tuple[dict[str, Any], float]) -> None:
        team, when = planned
        if (speaker := self.speaker(team)) is None:
            raise Failed("submissions: a team with none of the simulated people")
        person, _ = speaker
        await self.at(when)
        reply = await self.wire.command(person, Command(("submit",)))  # the member's own link
        if (link := reply.link(self.wire.base)) is None:
            raise Failed("submit: no submission link in the reply (Discord shows only absolute links:"
                         " set HACKSERVER_PUBLIC_URL on the server)")  # fmt: skip
        found = [f for f in forms(await self.page_html(link)) if f.named("based_on")]
        if not found:
            raise Failed("submission page: no open form")
        form: list[tuple[str, str]] = [("action", "submit")]
        for control in found[0].controls:
            if control.name == "credits":
                form.append(("credits", control.value))
            elif control.tag == "textarea" or (control.tag == "input" and control.type in ("text", "url")):
                form.append((control.name, entry(control.type, control.tag, team["name"], control.attrs)))
        saved = await self.wire.page("POST", urljoin(link, found[0].action), form)
        if saved.status != 303:
            raise Failed(f"submission page: submitting answered HTTP {saved.status}")
        self.counts["submissions"] += 1

    # -- judging ------------------------------------------------------------------------------------

    async def judging(self) -> None:
        for phase in ("team_formation_close", "submission_deadline"):
            await self.begin(phase)
        await self.frozen()
        await self.begin("judging")
        jurors = max(3, -(-self.counts["submissions"] * 3 // 20))  # about 20 entries a juror
        people = [
            {"name": f"Sim {self.plan.seed} juror {n}", "organisation": f"Sim jury {n}", "categories": [], "conflicts": []}
            for n in range(jurors)
        ]  # fmt: skip
        await self.wire.api("POST", "/api/v1/jurors", {"jurors": people})
        assignment = await self.wire.api("POST", "/api/v1/jury/assignment", {"seed": self.plan.seed})
        self.counts["jury assignments"] = assignment["assignments"]
        listed = (await self.wire.api("GET", "/api/v1/jurors"))["jurors"]
        schedule = random.Random(self.plan.seed + 3)
        planned = [(juror["link"], schedule.uniform(0, JUDGING_SECONDS), n) for n, juror in enumerate(listed)]
        self.begin_stage("judging", len(planned))
        await self.each(planned, self.score, "judging")
        ranking = (await self.wire.api("GET", "/api/v1/ranking"))["ranking"]
        self.counts["ranked"] = len(ranking)
        top = max(1, len(ranking) // 10)
        selection = await self.wire.api("POST", "/api/v1/selection", {"top": top})
        self.counts["selected"] = len(selection["selected"])

    async def score(self, planned: tuple[str, float, int]) -> None:
        link, when, number = planned
        await self.at(when)
        url = urljoin(self.wire.base, link)
        marks = random.Random(self.plan.seed * 7919 + number)
        for form in forms(await self.page_html(url)):
            numbers = [c for c in form.controls if c.type == "number"]
            if not numbers:
                continue
            sent = [(c.name, str(marks.randint(int(c.attrs["min"]), int(c.attrs["max"])))) for c in numbers]
            saved = await self.wire.page(
                "POST", urljoin(url, form.action), [*sent, ("comment", ""), ("action", "score")]
            )
            if saved.status != 303:
                raise Failed(f"jury page: scoring answered HTTP {saved.status}")
            self.counts["scores"] += 1

    # -- phases, as organisers shift them -----------------------------------------------------------

    async def begin(self, phase: str) -> None:
        """Shifts a phase that has not begun to a moment from now, and waits until it has."""
        lead = PHASE_LEAD
        while True:
            phases = await self.wire.api("GET", "/api/v1/phases")
            now, at = datetime.fromisoformat(phases["now"]), datetime.fromisoformat(phases["phases"][phase])
            if at <= now:
                return
            by = int((at - now).total_seconds()) - lead
            if by > 0:
                try:
                    await self.wire.api("POST", f"/api/v1/phases/{phase}/shift", {"by": f"-{by}s"})
                except Failed as refused:
                    if "409" not in str(refused) or lead > 60:
                        raise
                    lead *= 2  # the server's clock ran past the new instant before the shift landed
                    continue
            await asyncio.sleep(0.5)

    async def frozen(self) -> None:
        """Waits for the clock to freeze every submitted entry once the deadline has passed."""
        deadline = time.monotonic() + FREEZE_WAIT
        while True:
            found = (await self.wire.api("GET", "/api/v1/submissions"))["submissions"]
            if all(s["status"] == "final" for s in found if s["status"] != "draft"):
                return
            if time.monotonic() > deadline:
                raise Failed(f"the clock froze no submissions within {FREEZE_WAIT:g} s of the deadline")
            await asyncio.sleep(0.5)

    # -- what the server says --------------------------------------------------------------------------

    async def verify(self, until: str) -> None:
        counts = (await self.wire.api("GET", "/api/v1/dashboard"))["counts"]
        expected = {"registrations": self.counts["registered"]}
        if STAGES.index(until) >= STAGES.index("matching"):
            expected["teams"] = self.counts["teams created"] + self.counts["matched teams"]
        else:
            expected["teams"] = self.counts["teams created"]
            expected["pool"] = self.counts["asked for a match"]
        if until in ("bookings", "submissions", "judging"):
            expected["bookings"] = self.counts["bookings"]
        if until in ("submissions", "judging"):
            expected["submissions_final"] = self.counts["submissions"]
        for name, value in expected.items():
            self.checks.append((name, value, counts[name]))
            if value != counts[name]:
                self.tally.fail("check", f"{name}: the simulation counted {value}, the server {counts[name]}")


def forms_action(html: str, ending: str) -> str:
    found = [f.action for f in forms(html) if f.action.split("?")[0].endswith(ending)]
    if not found:
        raise Failed(f"no form sending to …{ending} on the page")
    return found[0]


def entry(kind: str, tag: str, team: str, attrs: dict[str, str]) -> str:
    """A plausible value for a submission field, within its maximum length."""
    if kind == "url":
        text = f"https://example.org/{team.lower().replace(' ', '-')}"
    elif tag == "textarea":
        text = f"{team} built a tool that helps people in need, tested with real users during the sprint."
    else:
        text = f"{team}: the project"
    return text[: int(attrs.get("maxlength") or len(text))]
