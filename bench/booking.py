"""The office-hour rush: 1,000 concurrent booking attempts by 500 teams on 100 slots of 10 experts
(each slot wanted by ten teams), through `hackserver.officehours.bookings.book` as the booking page calls it, on
SQLite and PostgreSQL. Baseline in the same run: as many concurrent transactions that each write one
audit row, so the ratio shows what the locks, checks and notifications of a booking cost."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.common import (
    ROOT,
    Report,
    hackserver_env,
    machine_facts,
    median,
    percentile,
    postgres_database,
    upgrade_database,
)
from hackserver.bootstrap import bootstrap
from hackserver.foundation.errors import DomainError
from hackserver.foundation.models import AuditEntry, Booking, Team
from hackserver.foundation.settings import Settings
from hackserver.foundation.timekeeping import Clock
from hackserver.officehours import bookings, experts, slots
from hackserver.runtime import Runtime
from hackserver.teams import teams

EVENT = ROOT / "config" / "event.example.toml"
EXPERTS, SLOTS_EACH, TEAMS, TRIES_EACH = 10, 10, 500, 2


class Fixed:
    """The event's clock held an hour before kickoff, so every slot is bookable."""

    speed = 1.0

    def __init__(self, now: object) -> None:
        self.current = now

    def now(self):  # type: ignore[no-untyped-def]
        return self.current

    def real_seconds_until(self, instant: object) -> float:
        return 30.0


async def seed(runtime: Runtime) -> list[tuple[int, int]]:
    kickoff = runtime.event.phases["kickoff"]
    offered = []
    async with runtime.transaction() as tx:
        for n in range(EXPERTS):
            person = await experts.add(tx, {"name": f"Expert {n}", "topics": ["data"], "languages": ["de"]})
            start = kickoff + timedelta(hours=2 + 4 * n)
            offer = slots.Offer(start, start + timedelta(minutes=20 * SLOTS_EACH), timedelta(minutes=20))
            offered += [s.id for s in await slots.publish(tx, person.id, offer)]
        await tx.session.execute(
            insert(Team),
            [{"event_id": runtime.event_id, "name": f"Team {n}", "name_key": f"team {n}", "join_code": teams.new_code()}
             for n in range(TEAMS)],
        )  # fmt: skip
        ids = list(await tx.session.scalars(select(Team.id).order_by(Team.id)))
    return [
        (team, offered[(n + k * 50) % len(offered)]) for n, team in enumerate(ids) for k in range(TRIES_EACH)
    ]


async def timed(work: object) -> tuple[float, str]:
    start = time.perf_counter()
    outcome = await work  # type: ignore[misc]
    return time.perf_counter() - start, outcome


async def attempt(runtime: Runtime, team: int, slot: int) -> str:
    try:
        async with runtime.transaction() as tx:
            await bookings.book(tx, team, slot, "Wie anonymisieren wir Standortdaten?")
    except DomainError as refused:
        return refused.key
    return "booked"


async def audit(runtime: Runtime, n: int) -> str:
    async with runtime.transaction() as tx:
        tx.session.add(
            AuditEntry(event_id=runtime.event_id, actor="bench", action="bench", details={"n": n}, at=tx.now)
        )
    return "written"


async def measure(url: str) -> dict[str, object]:
    from hackserver.foundation.event import load_event

    kickoff = load_event(EVENT).phases["kickoff"]
    clock: Clock = Fixed(kickoff - timedelta(hours=1))  # type: ignore[assignment]
    async with bootstrap(Settings(database_url=url, event_path=EVENT), clock=clock) as runtime:
        tries = await seed(runtime)
        start = time.perf_counter()
        base = await asyncio.gather(*(timed(audit(runtime, n)) for n in range(len(tries))))
        baseline_wall = time.perf_counter() - start
        start = time.perf_counter()
        done = await asyncio.gather(*(timed(attempt(runtime, t, s)) for t, s in tries))
        wall = time.perf_counter() - start
        async with runtime.reading() as tx:
            live = await tx.session.scalar(
                select(func.count()).select_from(Booking).where(Booking.cancelled_at.is_(None))
            )
            distinct = await tx.session.scalar(
                select(func.count(Booking.slot_id.distinct())).where(Booking.cancelled_at.is_(None))
            )
    outcomes = [o for _, o in done]
    latencies = [s for s, _ in done]
    return {
        "booked": outcomes.count("booked"), "taken": outcomes.count("booking.taken"), "live": live,
        "distinct": distinct, "wall": wall, "p50": median(latencies), "p95": percentile(latencies, 0.95),
        "baseline_wall": baseline_wall, "baseline_p50": median([s for s, _ in base]),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.booking", description=__doc__)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args(argv)
    report = Report(
        f"Office-hour rush: {TEAMS * TRIES_EACH} concurrent booking attempts on {EXPERTS * SLOTS_EACH} slots",
        ["database", "booked", "refused (taken)", "live bookings / distinct slots", "all attempts s",
         "attempt p50 ms", "attempt p95 ms", "baseline s (1 audit row each)", "ratio"],
    )  # fmt: skip
    results: dict[str, dict[str, object]] = {}
    scratch = Path("/tmp/hackserver-bench-booking.db")
    scratch.unlink(missing_ok=True)
    results["SQLite"] = asyncio.run(measure(f"sqlite+aiosqlite:///{scratch}"))
    scratch.unlink(missing_ok=True)
    if not args.skip_postgres:
        with postgres_database("hackserver_bench_booking") as url:
            upgrade_database(hackserver_env(url, EVENT))
            results["PostgreSQL"] = asyncio.run(measure(url))
    for name, r in results.items():
        report.add(
            name, r["booked"], r["taken"], f"{r['live']} / {r['distinct']}", f"{r['wall']:.2f}",
            f"{float(r['p50']) * 1000:.0f}", f"{float(r['p95']) * 1000:.0f}", f"{r['baseline_wall']:.2f}",
            f"{float(r['wall']) / float(r['baseline_wall']):.1f}x",
        )  # fmt: skip
    report.notes += [
        "- Each attempt is one transaction: lock the team's row, lock the slot's row, check the cut-off,"
        " the team's limit and overlaps, insert the booking (the partial unique index decides a race), and"
        " write the team-channel and expert notices to the outbox. Latency counts queueing for the"
        " database (SQLite: one writer; PostgreSQL: a pool of 30 connections).",
        "- Baseline: the same number of concurrent transactions writing one audit row each, same run.",
    ]
    report.publish(machine_facts(), ["bench.booking", *sys.argv[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
