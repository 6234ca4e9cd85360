"""The console's teams page with 30,000 participants in 6,000 teams (and 6,000 more alone), on SQLite
and PostgreSQL: median and p99 over real HTTP (uvicorn on loopback, signed in) of a name search,
filters (a skill and a language; people without a team; teams below the minimum size) and a page
change deep in the list, each beside the first page as the baseline, with the CPU of the process
(server and client) per request."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import insert, select, text

from bench.common import (
    ROOT,
    Report,
    free_port,
    hackserver_env,
    machine_facts,
    median,
    percentile,
    postgres_database,
    upgrade_database,
)
from hackserver.app import create_app
from hackserver.bootstrap import bootstrap
from hackserver.foundation.models import Membership, Participant, PlatformIdentity, Team
from hackserver.foundation.settings import Settings

EVENT = ROOT / "config" / "event.example.toml"
TOKEN = "bench-organiser-token-0123456789"
SKILLS = ["python", "javascript", "design", "data", "ux", "law", "java", "devops", "writing", "research"]
GOAL_MS = 100.0


async def seed(settings: Settings, participants: int, team_count: int, rng: random.Random) -> None:
    """Core inserts: people, one chat account each, teams of four and their memberships."""
    async with bootstrap(settings) as runtime, runtime.transaction() as tx:
        event = tx.event_id
        rows = [
            {
                "event_id": event,
                "display_name": f"person{n} {rng.choice(['Berg', 'Kaya', 'Smith', 'Nowak'])}",
                "skills": rng.sample(SKILLS, 2),
                "languages": rng.choice([["de"], ["en"], ["de", "en"]]),
                "in_match_pool": n % 7 == 0,
            }
            for n in range(participants)
        ]
        for start in range(0, len(rows), 5000):
            await tx.session.execute(insert(Participant), rows[start : start + 5000])
        ids = list(await tx.session.scalars(select(Participant.id).order_by(Participant.id)))
        accounts = [
            {"participant_id": p, "platform": rng.choice(["slack", "discord", "builtin"]), "workspace": "W",
             "user_id": f"U{p}"}
            for p in ids
        ]  # fmt: skip
        for start in range(0, len(accounts), 5000):
            await tx.session.execute(insert(PlatformIdentity), accounts[start : start + 5000])
        sizes = [rng.choice([1, 3, 4, 4, 5]) for _ in range(team_count)]
        await tx.session.execute(
            insert(Team),
            [
                {"event_id": event, "name": f"Team {n}", "name_key": f"team {n}", "join_code": f"B{n:08d}",
                 "member_count": size}
                for n, size in enumerate(sizes)
            ],
        )  # fmt: skip
        teams = list(await tx.session.scalars(select(Team.id).order_by(Team.id)))
        members, at = [], 0
        for team, size in zip(teams, sizes, strict=True):
            members += [{"team_id": team, "participant_id": p} for p in ids[at : at + size]]
            at += size
        for start in range(0, len(members), 5000):
            await tx.session.execute(insert(Membership), members[start : start + 5000])
    if settings.database_url.startswith("postgresql"):
        # What autovacuum does minutes after such a load: without statistics the planner guesses.
        async with bootstrap(settings) as runtime, runtime.transaction() as tx:
            await tx.session.execute(text("ANALYZE"))


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, run_clock=False), host="127.0.0.1", port=port, log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            assert (await client.post("/dashboard/login", data={"token": TOKEN})).status_code == 303
            yield client
    finally:
        server.should_exit = True
        await task


async def measure(database_url: str, participants: int, teams: int, requests: int) -> dict[str, list[float]]:
    settings = Settings(database_url=database_url, event_path=EVENT, organiser_token=TOKEN)
    rng = random.Random(2026)
    await seed(settings, participants, teams, rng)
    queries = {
        "first page (baseline)": lambda: "",
        "search a name": lambda: f"q=person{rng.randrange(participants)}",
        "skill and language": lambda: f"skill={rng.choice(SKILLS)}&language={rng.choice(['de', 'en'])}",
        "without a team": lambda: "solo=on",
        "teams below the minimum": lambda: "view=teams&small=on",
        "page change": lambda: f"after={rng.randrange(participants)}",
    }
    found: dict[str, list[float]] = {}
    async with serving(settings) as client:
        for name, query in queries.items():
            for _ in range(5):  # warm
                await client.get("/dashboard/teams?" + query())
            took: list[float] = []
            cpu = time.process_time()
            for _ in range(requests):
                started = time.perf_counter()
                response = await client.get("/dashboard/teams?" + query())
                took.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text[:200]
            found[name] = [*took, (time.process_time() - cpu) * 1000 / requests]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__)
    parser.add_argument("--participants", type=int, default=30_000)
    parser.add_argument("--teams", type=int, default=6_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args(argv)
    facts = machine_facts()
    report = Report(
        f"Console teams page: {args.participants:,} participants, {args.teams:,} teams",
        ["database", "request", "median ms", "p99 ms", f"p99 ≤ {GOAL_MS:.0f} ms", "CPU ms / request"],
    )
    results: dict[str, dict[str, list[float]]] = {}
    scratch = Path("/tmp/hackserver-bench-console.db")
    scratch.unlink(missing_ok=True)
    sqlite = f"sqlite+aiosqlite:///{scratch}"
    upgrade_database(hackserver_env(sqlite, EVENT))
    results["SQLite"] = asyncio.run(measure(sqlite, args.participants, args.teams, args.requests))
    scratch.unlink(missing_ok=True)
    if not args.skip_postgres:
        with postgres_database("hackserver_bench_console") as url:
            upgrade_database(hackserver_env(url, EVENT))
            results["PostgreSQL"] = asyncio.run(measure(url, args.participants, args.teams, args.requests))
    for database, found in results.items():
        for name, values in found.items():
            took, cpu = values[:-1], values[-1]
            p99 = percentile(took, 0.99)
            ok = "yes" if p99 <= GOAL_MS else "no"
            report.add(database, name, f"{median(took):.1f}", f"{p99:.1f}", ok, f"{cpu:.1f}")
    report.notes += [
        "- Each request: GET /dashboard/teams signed in, over loopback HTTP to uvicorn in the same process,"
        " 50 rows and the count of all matching; after 5 warm-up requests. CPU is the process's (server and"
        " client) per request. The first page is the baseline each other request is compared with.",
    ]
    report.publish(facts, ["bench.console", *sys.argv[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
