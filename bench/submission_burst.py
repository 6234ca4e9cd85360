"""The last minute before the deadline: 1,500 teams each save their submission 3 times within the 60
seconds before it, over real HTTP against `hackserver run` (SQLite, embedded; PostgreSQL), then some
try again just after it. Every save before the deadline must be accepted and none after it.

The event file puts the deadline a little over a minute after the server is up, on the real clock.
Before the burst, the same teams read their submission page at the same rate: the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import func, insert, select

from bench.common import (
    HACKSERVER,
    Report,
    free_port,
    hackserver_env,
    machine_facts,
    median,
    percentile,
    postgres_database,
    processes,
    raise_fd_limit,
    upgrade_database,
    wait_until_serving,
)
from hackserver.bootstrap import bootstrap
from hackserver.foundation import links
from hackserver.foundation.channels import ensure_channel
from hackserver.foundation.models import Membership, Participant, Submission, SubmissionVersion, Team
from hackserver.foundation.settings import Settings
from hackserver.teams import teams
from tests.fakes import event_toml

SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
CONCURRENCY = 200  # connections the client keeps open, like that many browsers at once


@dataclass(frozen=True)
class Plan:
    teams: int
    saves: int  # per team, within the window
    window: float  # seconds before the deadline
    late: int  # saves tried in the 5 seconds after the deadline
    lead: float  # seconds from start-up to the deadline


FULL = Plan(teams=1500, saves=3, window=60.0, late=300, lead=150.0)
QUICK = Plan(teams=150, saves=3, window=15.0, late=30, lead=60.0)
FORM = {
    "title": "Luftretter",
    "summary": "Finds free intensive-care beds near you.",
    "problem": "Ambulances call hospitals one by one to find a free bed.",
    "solution": "A live map of free beds, updated by the hospitals themselves.",
    "repository": "https://github.com/example/luftretter",
    "video": "https://video.example.org/luftretter",
}


def event_file(directory: Path, deadline: datetime) -> Path:
    hours = 40.0
    path = directory / "event.toml"
    path.write_text(event_toml(deadline - timedelta(hours=hours), hours=hours, slug="bench-burst"))
    return path


async def seed_teams(settings: Settings, count: int) -> list[tuple[str, list[int]]]:
    """Teams of two with their channels, each with its submission link: (path, member ids)."""
    async with bootstrap(settings) as runtime, runtime.transaction() as tx:
        people_rows = [{"event_id": runtime.event_id, "display_name": f"person{n}"} for n in range(2 * count)]
        people = (
            await tx.session.scalars(
                insert(Participant).returning(Participant.id, sort_by_parameter_order=True), people_rows
            )
        ).all()
        team_rows = [
            {"event_id": runtime.event_id, "name": f"Team {n}", "name_key": f"team {n}",
             "join_code": teams.new_code(), "member_count": 2}
            for n in range(count)
        ]  # fmt: skip
        made = (
            await tx.session.scalars(insert(Team).returning(Team, sort_by_parameter_order=True), team_rows)
        ).all()
        pairs = [
            {"team_id": t.id, "participant_id": people[2 * n + k]} for n, t in enumerate(made) for k in (0, 1)
        ]
        await tx.session.execute(insert(Membership), pairs)
        result = []
        for n, team in enumerate(made):
            name = teams.channel_name(team)
            await ensure_channel(tx.session, runtime.event_id, name, kind="team", team_id=team.id)
            token = await links.grant(tx, "submit", team.id, people[2 * n])  # the first member's own link
            result.append((f"/submit/{token}", [people[2 * n], people[2 * n + 1]]))
        return result


def body(members: list[int], version: int, submit: bool, based_on: int) -> str:
    pairs = list((FORM | {"title": f"Luftretter v{version}"}).items())
    pairs += [("credits", str(m)) for m in members] + [("action", "submit" if submit else "draft")]
    return urlencode([*pairs, ("based_on", str(based_on))])


@dataclass
class Outcome:
    latencies: list[float]
    statuses: dict[int, int]
    stale: int = 0  # refused as based on an older version than the stored one


# A browser's requests to one submission link: each at its moment (seconds on the monotonic clock), or
# once the one before is answered; a POST's body is made from the version the team's form last showed.
Visits = list[tuple[float, Callable[[int], str] | None]]


async def fire(
    client: httpx.AsyncClient, schedule: list[tuple[str, Visits]], shown: dict[str, int]
) -> Outcome:
    """Sends every browser's requests; `shown` keeps each link's latest saved version."""
    outcome = Outcome([], {})
    gate = asyncio.Semaphore(CONCURRENCY)

    async def browse(path: str, visits: Visits) -> None:
        for at, content in visits:
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            async with gate:
                began = time.monotonic()
                try:
                    if content is None:
                        reply = await client.get(path)
                    else:
                        form = content(shown.get(path, 0))
                        reply = await client.post(
                            path, content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
                        )
                    status = reply.status_code
                except httpx.HTTPError:
                    status = 0
                outcome.latencies.append(time.monotonic() - began)
                outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
                if status == 303:
                    shown[path] = int(reply.headers["location"].rsplit("saved=", 1)[1])
                elif status == 409 and 'id="theirs"' in reply.text:
                    outcome.stale += 1

    await asyncio.gather(*(browse(path, visits) for path, visits in schedule))
    return outcome


async def burst(
    base: str, targets: list[tuple[str, list[int]]], plan: Plan, deadline: float, seed: int
) -> dict[str, Outcome]:
    draw = random.Random(seed)
    reads: list[tuple[str, Visits]] = [
        (path, [(deadline - plan.window - 15 + draw.uniform(0, 14), None)]) for path, _ in targets
    ]
    saves: list[tuple[str, Visits]] = []
    for path, members in targets:
        moments = sorted(draw.uniform(-plan.window, -0.5) for _ in range(plan.saves))
        saves.append(
            (path, [(deadline + at, functools.partial(body, members, n + 1, n == plan.saves - 1))
                    for n, at in enumerate(moments)])
        )  # fmt: skip
    late: list[tuple[str, Visits]] = [
        (path, [(deadline + 0.05 + draw.uniform(0, 5), functools.partial(body, m, 9, True))])
        for path, m in draw.sample(targets, plan.late)
    ]
    shown: dict[str, int] = {}
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        results = await asyncio.gather(fire(client, reads, shown), fire(client, saves, shown))
        after = await fire(client, late, shown)  # based on the latest version: refused only as too late
    return {"read": results[0], "save": results[1], "late": after}


async def stored(settings: Settings, deadline: datetime) -> tuple[int, int, int]:
    """Versions saved, versions saved at or after the deadline, submissions submitted."""
    async with bootstrap(settings) as runtime, runtime.reading() as tx:
        total = await tx.session.scalar(select(func.count()).select_from(SubmissionVersion))
        after = await tx.session.scalar(
            select(func.count()).select_from(SubmissionVersion).where(SubmissionVersion.saved_at >= deadline)
        )
        done = await tx.session.scalar(
            select(func.count()).select_from(Submission).where(Submission.status.in_(("submitted", "final")))
        )
        return int(total or 0), int(after or 0), int(done or 0)


def run_one(name: str, database_url: str | None, plan: Plan, seed: int, report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="hackserver-burst-") as scratch:
        directory = Path(scratch)
        url = database_url or f"sqlite+aiosqlite:///{directory / 'hs.db'}"
        deadline_at = (datetime.now(UTC) + timedelta(seconds=plan.lead)).replace(microsecond=0)
        path = event_file(directory, deadline_at)
        env = hackserver_env(url, path) | {"HACKSERVER_SECRET_KEY": SECRET}
        if database_url is not None:
            upgrade_database(env)
        settings = Settings(database_url=url, event_path=path, secret_key=SECRET)
        targets = asyncio.run(seed_teams(settings, plan.teams))
        port = free_port()
        with processes(directory) as group:
            group.start("web", [HACKSERVER, "run", "--port", str(port)], env)
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(base + "/healthz", group)
            wall_left = (deadline_at - datetime.now(UTC)).total_seconds()
            if wall_left < plan.window + 16:
                raise SystemExit(f"set-up took too long: {wall_left:.0f} s left before the deadline")
            deadline = time.monotonic() + wall_left
            results = asyncio.run(burst(base, targets, plan, deadline, seed))
            group.check()
        total, after, submitted = asyncio.run(stored(settings, deadline_at))
    save, late, read = results["save"], results["late"], results["read"]
    accepted = save.statuses.get(303, 0)
    ms = 1000
    report.add(
        name, f"{accepted}/{plan.teams * plan.saves}", f"{late.statuses.get(409, 0)}/{plan.late}",
        f"{len(save.latencies) / plan.window:.0f}",
        f"{median(save.latencies) * ms:.0f}", f"{percentile(save.latencies, 0.99) * ms:.0f}",
        f"{median(read.latencies) * ms:.0f}", f"{percentile(read.latencies, 0.99) * ms:.0f}",
        f"{median(save.latencies) / median(read.latencies):.1f}x", total, after, submitted,
    )  # fmt: skip
    others = {s: n for s, n in (save.statuses | late.statuses).items() if s not in (303, 409)}
    if others or accepted != plan.teams * plan.saves or after:
        report.notes.append(
            f"- {name}: unexpected answers {others}; refused as based on an older version:"
            f" {save.stale + late.stale}; stored after the deadline: {after}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.submission_burst", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="150 teams in 15 seconds: a smoke run")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    raise_fd_limit(4 * CONCURRENCY + 256)
    facts = machine_facts()
    report = Report(
        f"Submission burst: {plan.teams} teams × {plan.saves} saves in the last {plan.window:.0f} s, over HTTP",
        ["database", "accepted before", "refused after", "saves/s", "save p50 ms", "save p99 ms",
         "page p50 ms", "page p99 ms", "save/page p50", "versions stored", "stored after deadline",
         "submitted"],
    )  # fmt: skip
    run_one("SQLite (embedded)", None, plan, args.seed, report)
    if not args.skip_postgres:
        with postgres_database("hackserver_bench_burst") as url:
            run_one("PostgreSQL", url, plan, args.seed, report)
    report.notes += [
        f"- each team saves {plan.saves} times at random moments in the {plan.window:.0f} s before the"
        " deadline (two drafts, then submit), as a browser form post to /submit/{token} answered 303,"
        " each based on the version the team's previous save made (a team's next save waits for its"
        " answer, as one browser does);"
        f" {plan.late} saves follow in the 5 s after it and must be refused (409). One `hackserver run`"
        f" process, the client keeps up to {CONCURRENCY} connections.",
        "- baseline: the same teams read their submission page (GET) at the same rate in the 15 s before"
        " the burst, in the same run; save/page p50 is the ratio of medians.",
        "- every save writes its version, the submission row and (on submit) a confirmation in the team's"
        " channel through the outbox, which the embedded job runner delivers meanwhile.",
    ]
    report.publish(facts, ["bench.submission_burst", *sys.argv[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
