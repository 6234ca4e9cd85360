"""Team matching as the clock runs it, against a real database: 28,000 registered participants (the
population of bench.matching), 20,000 in the pool, 200 open teams. Times the whole use case
(`hackserver.teams.matching.run`: read the pool and the open teams, match in a thread, write the teams,
memberships, channels and welcome messages, commit) on SQLite and PostgreSQL, then how long the
welcome messages take to land in the built-in team channels; and the process's peak memory growth.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.common import ROOT, Report, hackserver_env, machine_facts, postgres_database, upgrade_database
from bench.matching import OPEN_TEAMS, POOL, REGISTERED, population, reset_peak_rss, resident_mb
from hackserver.bootstrap import bootstrap
from hackserver.foundation.jobs import EmbeddedJobs
from hackserver.foundation.models import MatchRun, Membership, OutboxMessage, Participant, Team
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from hackserver.teams import matching, teams
from hackserver.teams.team_fit import Person

EVENT = ROOT / "config" / "event.example.toml"
# A zone for each UTC offset the population uses (as they are in March, when the example sprint runs).
ZONES = {
    1.0: "Europe/Berlin",
    0.0: "Europe/London",
    2.0: "Europe/Athens",
    -5.0: "America/Bogota",
    -8.0: "Pacific/Pitcairn",
    5.5: "Asia/Kolkata",
    8.0: "Asia/Shanghai",
}


def as_row(person: Person, event_id: int, pooled: bool) -> dict[str, object]:
    return {
        "event_id": event_id,
        "display_name": f"person{person.id}",
        "languages": list(person.languages),
        "skills": sorted(person.skills),
        "interests": list(person.interests),
        "timezone": ZONES[person.utc_offset],
        "in_match_pool": pooled,
    }


async def seed_database(runtime: Runtime, seed: int) -> None:
    pool, open_teams = population(seed)
    members = [p for team in open_teams for p in team.members]
    others = [Person(0, ("de",), frozenset(), (), 1.0)] * (REGISTERED - len(pool) - len(members))
    async with runtime.transaction() as tx:
        rows = [as_row(p, runtime.event_id, True) for p in pool]
        rows += [as_row(p, runtime.event_id, False) for p in members + others]
        ids: list[int] = []
        for start in range(0, len(rows), 5000):
            inserted = await tx.session.scalars(
                insert(Participant).returning(Participant.id, sort_by_parameter_order=True),
                rows[start : start + 5000],
            )
            ids += inserted.all()
        db_id = {p.id: ids[len(pool) + n] for n, p in enumerate(members)}
        names = [f"Open Team {team.id}" for team in open_teams]
        team_ids = await tx.session.scalars(
            insert(Team).returning(Team.id, sort_by_parameter_order=True),
            [{"event_id": runtime.event_id, "name": name, "name_key": name.lower(), "join_code": teams.new_code(),
              "member_count": len(team.members)} for name, team in zip(names, open_teams, strict=True)],
        )  # fmt: skip
        await tx.session.execute(
            insert(Membership),
            [{"team_id": team_id, "participant_id": db_id[p.id]}
             for team_id, team in zip(team_ids.all(), open_teams, strict=True) for p in team.members],
        )  # fmt: skip


async def measure(database_url: str, seed: int) -> dict[str, float | int]:
    settings = Settings(database_url=database_url, event_path=EVENT)
    async with bootstrap(settings) as runtime:
        await seed_database(runtime, seed)
        gc.collect()
        reset_peak_rss()
        rss_before = resident_mb("VmRSS")
        began = time.perf_counter()
        async with runtime.transaction() as tx:
            run = await matching.run(tx, actor="bench", seed=seed)
        committed = time.perf_counter() - began
        rss_growth = resident_mb("VmHWM") - rss_before
        assert isinstance(runtime.jobs, EmbeddedJobs)
        await runtime.jobs.idle()
        delivered = time.perf_counter() - began
        async with runtime.sessions() as session:
            welcomes = await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "delivered")
            )
            runs = await session.scalar(select(func.count()).select_from(MatchRun))
        assert runs == 1
        return {
            "teams": run.teams_formed,
            "placed": run.placed_in_open_teams,
            "alone": len(run.alone),
            "committed": committed,
            "delivered": delivered,
            "welcomes": int(welcomes or 0),
            "rss": rss_growth,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.matching_db", description=__doc__)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args(argv)
    facts = machine_facts()
    report = Report(
        f"Team matching through the database: {POOL} of {REGISTERED} participants, {OPEN_TEAMS} open teams",
        ["database", "new teams", "placed in open teams", "alone", "run + commit s", "welcomes delivered s",
         "welcome messages", "RSS growth MB"],
    )  # fmt: skip
    results: dict[str, dict[str, float | int]] = {}
    scratch = Path("/tmp/hackserver-bench-matching.db")
    scratch.unlink(missing_ok=True)
    results["SQLite"] = asyncio.run(measure(f"sqlite+aiosqlite:///{scratch}", args.seed))
    scratch.unlink(missing_ok=True)
    if not args.skip_postgres:
        with postgres_database("hackserver_bench_matching") as url:
            upgrade_database(hackserver_env(url, EVENT))
            results["PostgreSQL"] = asyncio.run(measure(url, args.seed))
    for name, r in results.items():
        report.add(
            name, r["teams"], r["placed"], r["alone"], f"{r['committed']:.2f}", f"{r['delivered']:.2f}",
            r["welcomes"], f"{r['rss']:.0f}",
        )  # fmt: skip
    report.notes += [
        "- run + commit: `matching.run` in one transaction, as the clock runs it when team formation"
        " closes (reading 20,000 pool rows and the open teams, `match()` in a worker thread, writing teams,"
        " memberships, built-in channels, welcome messages in the outbox, the run's record), until commit.",
        "- welcomes delivered: until the embedded job runner has written every welcome into its built-in"
        " team channel. RSS growth: the process's high-water mark during run + commit minus its resident set"
        " before. One run each, same machine; the database is local.",
    ]
    report.publish(facts, ["bench.matching_db", *sys.argv[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
