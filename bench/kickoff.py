"""Kickoff: `hackserver simulate --until matching` (profiles, teams made and joined, the matching pool,
challenge picks, then the organisers' matching and challenge assignment) against the scaled-out setup
started here on loopback (PostgreSQL, Redis, `hackserver run --workers 2`, one RQ worker, one clock)
and against the embedded mode (one `hackserver run`, SQLite), each run --runs times (3; a fresh
database each), the setups taking turns; the table shows each setup's medians.

The server talks to a fake Slack and a fake Discord (bench/chat_fakes.py, a process of its own: 20–50
ms a call, Slack's one post a second per channel and Discord's buckets, answering 429 past them), so
team channels are really made, members invited and posts sent: through the RQ worker when scaled
out, in-process when embedded. After the simulation the benchmark waits up to the plan's drain (60 s,
--drain) for the outbox to empty, then matches each post the fakes received to its outbox row (Slack
by the row id in its metadata, Discord by its nonce): delivery latency is from the row's creation to
the fake's receipt of the post; a row not delivered by then is counted, and its wait so far is a
lower bound of its latency.

Plans (the target's arrival rate is #WirVsVirus's: 28,000 people over 10 minutes, 47 a second on
average, crowded early by beta(1.5, 3)):
- default: 28,000 participants over 10 minutes at speed 1; about 13 minutes a run (the arrivals, the
  last people's steps after them, the matching, the drain), 80 minutes for 2 setups × 3 runs.
- `--minutes 2`: the same arrival rate over 2 minutes, 5,600 participants; about 5 minutes a run,
  30 minutes in all.
- `--quick --runs 2`: a smoke run, 600 participants over 10 simulated minutes at speed 20.
`--burst` adds a saturating burst (3,000 participants at speed 40) on the embedded mode and on 1 and
2 web processes, to show how the rate of commands grows with the web processes. With --before REV,
every run is also made with the server of commit REV (its package, migrations and example event).
The simulator and the fakes are processes of their own on the same machine and take their share of
its cores; their memory is not counted in the setup's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from nacl.signing import SigningKey
from sqlalchemy import func, select, text

from bench.chat_fakes import DISCORD_TOKEN, SLACK_TOKEN
from bench.common import (
    HACKSERVER,
    ROOT,
    PeakMemory,
    Report,
    free_port,
    hackserver_command,
    hackserver_env,
    machine_facts,
    postgres_database,
    processes,
    raise_fd_limit,
    scratch_redis,
    upgrade_database,
    wait_until_serving,
)
from bench.kickoff_outcome import COLUMNS, PLATFORMS, Delivery, Outcome, notes, row
from bench.slack_commands import checkout
from hackserver.foundation import db
from hackserver.foundation.models import OutboxMessage
from hackserver.simulation.wire import DISCORD_APP, DISCORD_GUILD

DISCORD_KEY = SigningKey(bytes(range(32)))
RATE = 28_000 / 10  # the target's arrivals a simulated minute
SPARE_SECONDS = 300.0  # beyond the kickoff's own time, before a run is stopped and shown as not finished
SQLITE_SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


@dataclass(frozen=True)
class Plan:
    participants: int
    minutes: float  # simulated minutes of arrivals
    speed: float
    drain: float  # seconds to wait for the outbox to empty after the simulation


FULL = Plan(participants=28_000, minutes=10, speed=1.0, drain=60)
QUICK = Plan(participants=600, minutes=10, speed=20.0, drain=60)
BURST = Plan(participants=3_000, minutes=10, speed=40.0, drain=60)
QUICK_BURST = Plan(participants=600, minutes=10, speed=60.0, drain=30)


@dataclass(frozen=True)
class Target:
    """Where the simulation runs: the embedded mode, or the scaled-out setup with this many web processes."""

    web_processes: int  # 0: embedded

    @property
    def name(self) -> str:
        if not self.web_processes:
            return "embedded (SQLite)"
        return f"scaled: {self.web_processes} web, PostgreSQL + Redis"


def write_event(path: Path, tree: Path) -> None:
    """The tree's example event with every instant moved so that kickoff was a minute ago, and team
    channels on Discord made in the simulator's guild."""
    text = (tree / "config" / "event.example.toml").read_text()
    event = tomllib.loads(text)
    zone = ZoneInfo(event["event"]["timezone"])
    phases: dict[str, datetime] = event["phases"]
    kickoff = datetime.now(UTC).astimezone(zone).replace(tzinfo=None, microsecond=0) - timedelta(minutes=1)
    shift = kickoff - phases["kickoff"]
    for name, at in phases.items():
        text = re.sub(rf"(?m)^{name} = .*$", f"{name} = {(at + shift).isoformat()}", text, count=1)
    if "guild" not in event.get("channels", {}).get("discord", {}):
        text = text.replace("[channels.discord]\n", f'[channels.discord]\nguild = "{DISCORD_GUILD}"\n', 1)
    path.write_text(text)


def environment(base: dict[str, str], port: int, fakes: str) -> dict[str, str]:
    return base | {
        "HACKSERVER_ORGANISER_TOKEN": "organiser-token-of-the-kickoff-benchmark",
        "HACKSERVER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SLACK_SIGNING_SECRET": "slack-signing-secret-of-the-kickoff-benchmark",
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_API_URL": f"{fakes}/slack/api/",
        "DISCORD_PUBLIC_KEY": DISCORD_KEY.verify_key.encode().hex(),
        "SIMULATE_DISCORD_SIGNING_KEY": DISCORD_KEY.encode().hex(),
        "DISCORD_BOT_TOKEN": DISCORD_TOKEN,
        "DISCORD_API_URL": f"{fakes}/discord",
        "DISCORD_APPLICATION_ID": DISCORD_APP,
    }


def uvicorn(app: str, port: int) -> list[str]:
    host = ("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning")
    return [sys.executable, "-m", "uvicorn", app, "--factory", *host]


def in_database(url: str, query: Callable[[Any], Any]) -> Any:
    """What `query(connection)` returns on the database, through hackserver's own engine (its pragmas)."""

    async def run() -> Any:
        engine = db.create_engine(url)
        try:
            async with engine.connect() as connection:
                return await query(connection)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def durability(url: str) -> str:
    """How a commit is kept, as the database says it is set, not as assumed."""
    if url.startswith("sqlite"):

        async def pragmas(connection: Any) -> str:
            mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            synchronous = (await connection.exec_driver_sql("PRAGMA synchronous")).scalar()
            return (
                f"SQLite journal_mode={mode}, synchronous={SQLITE_SYNCHRONOUS.get(synchronous, synchronous)}"
            )

        return str(in_database(url, pragmas))

    async def settings(connection: Any) -> str:
        shown = [
            (name, (await connection.execute(text(f"SHOW {name}"))).scalar())
            for name in ("fsync", "synchronous_commit")
        ]
        return "PostgreSQL " + ", ".join(f"{name}={value}" for name, value in shown)

    return str(in_database(url, settings))


@contextlib.contextmanager
def started(target: Target, work: Path, tree: Path) -> Iterator[tuple[str, dict[str, str], PeakMemory, str]]:
    """The fakes and the target's processes, serving the tree's code; yields the URL, the environment,
    the setup's memory being watched and the fakes' URL."""
    port, fakes_port = free_port(), free_port()
    fakes = f"http://127.0.0.1:{fakes_port}"
    event = work / "event.toml"
    write_event(event, tree)
    hackserver = hackserver_command(tree)
    with contextlib.ExitStack() as stack:
        if target.web_processes:
            database = stack.enter_context(postgres_database("hackserver_bench_kickoff"))
            base = hackserver_env(database, event, stack.enter_context(scratch_redis()))
        else:
            (work / "hs.db").unlink(missing_ok=True)
            base = hackserver_env(f"sqlite+aiosqlite:///{work / 'hs.db'}", event)
        env = environment(base, port, fakes)
        upgrade_database(env, tree)
        subprocess.run(
            [*hackserver, "challenges", "import", str(tree / "config" / "challenges.example.csv")],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        group = stack.enter_context(processes(work))
        group.start("chat fakes", uvicorn("bench.chat_fakes:app", fakes_port), env)
        wait_until_serving(f"{fakes}/bench/recorded", group)
        run = [*hackserver, "run", "--port", str(port)]
        if target.web_processes:
            roots = {
                "clock": group.start("clock", [*hackserver, "clock"], env).pid,
                "worker": group.start("worker", [*hackserver, "worker"], env).pid,
            }
            web = group.start("web", [*run, "--workers", str(target.web_processes)], env)
            roots["web"] = web.pid
        else:
            web = group.start("web", run, env)
            roots = {"web": web.pid}
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{url}/healthz", group)
        if target.web_processes > 1:  # one is `hackserver run` itself
            deadline = time.monotonic() + 60
            while web.log_path.read_text().count("web process") < target.web_processes:
                group.check()
                if time.monotonic() > deadline:
                    raise RuntimeError("the web processes did not all start within 60 s")
                time.sleep(0.2)
        with PeakMemory(roots) as memory:
            yield url, env, memory, fakes
            group.check()


def drain(url: str, within: float) -> None:
    """Waits until no outbox row is still to be sent (delivered or dead), or `within` seconds."""

    async def waiting(connection: Any) -> int:
        return int(
            await connection.scalar(
                select(func.count()).where(OutboxMessage.status.not_in(("delivered", "dead")))
            )
        )

    deadline = time.monotonic() + within
    while in_database(url, waiting) and time.monotonic() < deadline:
        time.sleep(1.0)


def deliveries(url: str, fakes: str) -> tuple[dict[str, Delivery], int]:
    """Each platform's deliveries, the fakes' receipts matched to the outbox rows; and the late
    Discord replies."""

    async def rows(connection: Any) -> list[Any]:
        columns = (
            OutboxMessage.id,
            OutboxMessage.key,
            OutboxMessage.platform,
            OutboxMessage.status,
            OutboxMessage.created_at,
        )
        return list(await connection.execute(select(*columns).where(OutboxMessage.platform.in_(PLATFORMS))))

    found = in_database(url, rows)
    ended = time.time()
    recorded = httpx.get(f"{fakes}/bench/recorded", timeout=60).json()
    outcome = {platform: Delivery() for platform in PLATFORMS}
    for platform in PLATFORMS:
        received = recorded[platform]
        arrived: dict[object, float] = {}  # a post's marker -> when the fake first took it
        for _, marker, at in received["posts"]:
            arrived[marker] = min(at, arrived.get(marker, at))
        delivery = outcome[platform]
        for row_id, key, row_platform, status, created_at in found:
            if row_platform != platform:
                continue
            created = (created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)).timestamp()
            marker = row_id if platform == "slack" else hashlib.sha256(key.encode()).hexdigest()[:25]
            if marker in arrived:
                delivery.latencies.append(arrived[marker] - created)
            elif status != "delivered":  # a delivered row without a post: one seen by one user alone
                delivery.waiting.append(ended - created)
        delivery.channels, delivery.invites = received["channels"], received["invites"]
        delivery.throttled = received["429s"]
    return outcome, int(recorded["discord"]["late replies"])


def simulate(target: Target, work: Path, tree: Path, plan: Plan) -> Outcome:
    """One simulated kickoff (by this tree's simulator) against a fresh target running the tree's server."""
    with started(target, work, tree) as (url, env, memory, fakes):
        database = env["HACKSERVER_DATABASE_URL"]
        out = work / "report.json"
        out.unlink(missing_ok=True)
        args = [HACKSERVER, "simulate", "--url", url, "--participants", str(plan.participants)]
        args += ["--speed", f"{plan.speed:g}", "--kickoff-minutes", f"{plan.minutes:g}"]
        args += ["--until", "matching", "--json", str(out)]
        with (work / "simulate.log").open("wb") as log:
            simulator = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            try:
                simulator.wait(plan.minutes * 60 / plan.speed + SPARE_SECONDS)
            except subprocess.TimeoutExpired:
                simulator.kill()  # its report is not written: the run shows as not finished
                simulator.wait()
        drain(database, plan.drain)
        delivered, late_replies = deliveries(database, fakes)
        kept = durability(database)
    unfinished = {"failures": {"not finished": 1}, "failure_examples": {}, "deferred": {}}
    empty = {"counts": {}, "latency_ms": {}, "stage_seconds": {}}
    report: dict[str, Any] = json.loads(out.read_text()) if out.exists() else unfinished | empty
    return Outcome(report, kept, memory.by_kind(), delivered, late_replies)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kickoff", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (2 runs a setup)")
    parser.add_argument(
        "--runs", type=int, help="runs of each setup, the table shows their medians (default 3)"
    )
    parser.add_argument(
        "--minutes", type=float, help="simulated minutes of arrivals (default 10), at the target's rate"
    )
    parser.add_argument("--participants", type=int, help="the target's participants (default 2,800 a minute)")
    parser.add_argument("--speed", type=float, help="the target's speed (default 1: real time)")
    parser.add_argument("--drain", type=float, help="seconds to wait for the outbox to empty after a run")
    parser.add_argument(
        "--burst", action="store_true", help="also a saturating burst on 0, 1 and 2 web processes"
    )
    parser.add_argument("--before", help="also run the server as it was at this commit, for before/after")
    parser.add_argument("--only", choices=("embedded", "scaled"), help="this setup's target alone")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    minutes = args.minutes or plan.minutes
    plan = Plan(
        participants=args.participants or (plan.participants if args.quick else round(RATE * minutes)),
        minutes=minutes,
        speed=args.speed or plan.speed,
        drain=plan.drain if args.drain is None else args.drain,
    )
    runs = args.runs or (2 if args.quick else 3)
    raise_fd_limit(8192)
    report = Report(
        f"Kickoff: {plan.participants} participants over {plan.minutes:g} simulated minutes at speed"
        f" {plan.speed:g} ({plan.participants * plan.speed / plan.minutes / 60:.0f} arrivals a second on"
        f" average), median of {runs} runs",
        COLUMNS,
    )
    specs = [(Target(n), plan, "target") for n in (2, 0)]
    if args.only is not None:
        specs = [spec for spec in specs if (spec[0].web_processes == 0) == (args.only == "embedded")]
    if args.burst:
        burst = QUICK_BURST if args.quick else BURST
        specs += [(Target(n), burst, "burst") for n in (0, 1, 2)]
    loads: list[str] = []
    outcomes: dict[tuple[int, str], list[Outcome]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-kickoff-") as tmp:
        work = Path(tmp)
        trees = (
            {"": ROOT}
            if args.before is None
            else {"this": ROOT, args.before: checkout(args.before, work / "before")}
        )
        # The setups take turns, run after run: the machine's drift falls on all of them.
        for number, (index, (target, spec_plan, part)), (code, tree) in itertools.product(
            range(runs), enumerate(specs), trees.items()
        ):
            loads.append(f"{os.getloadavg()[0]:.2f}")
            print(
                f"run {number + 1} of {runs}: {code + ', ' if code else ''}{part}: {target.name}", flush=True
            )
            began = time.monotonic()
            outcomes.setdefault((index, code), []).append(simulate(target, work, tree, spec_plan))
            print(f"  took {time.monotonic() - began:.0f} s", flush=True)
    for (index, code), found in outcomes.items():
        target, spec_plan, part = specs[index]
        label = f"{code + ', ' if code else ''}{part}: {target.name}" + (
            f", {spec_plan.participants} at speed {spec_plan.speed:g}" if part == "burst" else ""
        )
        report.add(*row(label, found))
        for number, outcome in enumerate(found, 1):
            if outcome.report["failures"]:
                report.notes.append(
                    f"- {label}, run {number}: failures {outcome.report['failures']}; first of each:"
                    f" {outcome.report['failure_examples']}"
                )
        throttled = ", ".join(
            f"{o.delivery['slack'].throttled} / {o.delivery['discord'].throttled}" for o in found
        )
        late = ", ".join(str(o.late_replies) for o in found)
        report.notes.append(
            f"- {label}: 429s from the fakes per run (Slack / Discord) {throttled};"
            f" deferred Discord answers edited in later per run {late}."
        )
    report.notes += [
        f"- load average (1 min) before each run: {', '.join(loads)}; after: {os.getloadavg()[0]:.2f}.",
    ]
    report.notes += notes(max(spec[1].drain for spec in specs))
    report.publish(machine_facts(), ["bench.kickoff", *(argv if argv is not None else sys.argv[1:])])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
