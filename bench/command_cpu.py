"""CPU per command, by kind, as at kickoff: the server's CPU milliseconds per signed Slack command and
the closed-loop rate, for each command kind (a first contact, a kept `status`, `profile`,
`team create`, `team join`, `match me`, `challenge pick`), on SQLite and on PostgreSQL, beside a bare
slack-bolt AsyncApp that only acknowledges, in the same run.

Each kind runs closed loop (CONNECTIONS keep-alive connections sending back to back) over its own
people: new ones for the first contacts, who then send every later kind (two kept `status` and one
`profile` each, within the event's limit per person); teams are created by a
fifth of them, joined by three fifths, the rest ask to be matched, and the creators pick a challenge
of the demo's catalogue. What the commands did is checked in the database afterwards (participants,
teams, members, the pool, picks), so a refusal cannot pass for a fast command. The CPU is the server
process's user + system time from /proc over the kind's run (all its threads, the in-process jobs
that deliver messages to a fake Slack included: bench/chat_fakes.py, answering 20-50 ms later), per
command answered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop
from sqlalchemy import Select, func, select

from bench.chat_fakes import SLACK_TOKEN
from bench.common import (
    ROOT,
    Processes,
    Report,
    free_port,
    hackserver_command,
    hackserver_env,
    machine_facts,
    median,
    postgres_database,
    processes,
    upgrade_database,
    wait_until_serving,
)
from bench.slack_commands import (
    BOLT,
    SECRET_ENV,
    Commands,
    Pool,
    Result,
    checkout,
    cpu_seconds,
    uvicorn_args,
)
from hackserver.foundation.db import create_engine
from hackserver.foundation.models import Challenge, ChallengePreference, Membership, Participant, Team

EVENT = ROOT / "config" / "event.example.toml"
CONNECTIONS = 32
KINDS = (
    "first contact",
    "kept status",
    "profile",
    "team create",
    "team join",
    "match me",
    "challenge pick",
)
CPU_TARGET_MS = 1.0  # every write command, the goal
SETTLE = 30.0  # seconds the database may take to show what late-acknowledged commands did
PER_TEAM = 3  # joiners a team gets: a team of four, below the example's maximum of six


@dataclass(frozen=True)
class Plan:
    people: int  # first contacts, who then send the other kinds
    seconds: float  # how long each run of the Bolt app lasts


FULL = Plan(people=3000, seconds=8)
QUICK = Plan(people=300, seconds=2)


async def closed_loop(port: int, pid: int, requests: Iterator[bytes], seconds: float) -> Result:
    """Every request of the iterator (or as many as `seconds` allow), CONNECTIONS at a time."""
    result = Result("", None)
    async with Pool(port, CONNECTIONS) as pool:
        stop = time.perf_counter() + seconds

        async def client() -> None:
            for raw in requests:  # one iterator shared: each request is sent once
                began = time.perf_counter()
                result.sent += 1
                try:
                    status = await pool.send(raw)
                except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
                    result.failures[type(error).__name__] += 1
                    continue
                if status == 200:
                    result.latencies.append(time.perf_counter() - began)
                else:
                    result.failures[f"HTTP {status}"] += 1
                if time.perf_counter() > stop:
                    return

        cpu, began = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CONNECTIONS)))
        result.elapsed = time.perf_counter() - began
        result.cpu = cpu_seconds(pid) - cpu
    return result


def cycling(commands: Commands, users: list[str], text: str) -> Iterator[bytes]:
    while True:
        for user in users:
            yield commands.signed(user, text)


class Database:
    """What the commands left behind, read by the benchmark itself."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    async def scalar(self, query: Select[Any]) -> Any:
        async with self.engine.connect() as connection:
            return await connection.scalar(query)

    async def column(self, query: Select[Any]) -> list[Any]:
        async with self.engine.connect() as connection:
            return list(await connection.scalars(query))

    async def settled(self, query: Select[Any], expected: int) -> int:
        """The count once it reaches what the commands should have made: a command acknowledged
        late (past Slack's 3 s) finishes after its answer."""
        for _ in range(int(SETTLE / 0.2)):
            if (found := int(await self.scalar(query))) >= expected:
                break
            await asyncio.sleep(0.2)
        return found


async def kinds(port: int, pid: int, secret: str, plan: Plan, url: str) -> dict[str, Result]:
    """Each kind in turn against one server; the database says afterwards what they did."""
    commands = Commands(secret, f"127.0.0.1:{port}")
    run = secrets.token_hex(3)
    people = [f"U{run}{n:06d}" for n in range(plan.people)]
    creators = people[: plan.people // 5]
    joiners = people[len(creators) : len(creators) * (1 + PER_TEAM)]
    solo = people[len(creators) * (1 + PER_TEAM) :]
    database = Database(url)
    found: dict[str, Result] = {}
    checks: list[str] = []

    async def kind(name: str, requests: Iterator[bytes], seconds: float = 600.0) -> None:
        found[name] = await closed_loop(port, pid, requests, seconds)
        print(f"  {name}: {len(found[name].latencies)} commands", flush=True)

    counted = select(func.count()).select_from
    await kind("first contact", (commands.signed(user, "status") for user in people))
    checks.append(f"participants {await database.settled(counted(Participant), len(people))}")
    # Each person sends at most five commands in all, within the event's limit of ten in ten seconds:
    # a person past it gets a quick "slow down", which is not what is measured.
    await kind("kept status", (commands.signed(user, "status") for _ in range(2) for user in people))
    await kind(
        "profile", (commands.signed(user, "profile skills python,data langs de,en") for user in people)
    )
    await kind("team create", (commands.signed(user, f"team create Bench {user}") for user in creators))
    made = await database.settled(counted(Team).where(Team.name.like("Bench %")), len(creators))
    codes = await database.column(select(Team.join_code).where(Team.name.like("Bench %")).order_by(Team.id))
    checks.append(f"teams {made}/{len(creators)}")
    await kind(
        "team join",
        (commands.signed(user, f"team join {codes[n % len(codes)]}") for n, user in enumerate(joiners)),
    )
    checks.append(f"members {await database.settled(counted(Membership), len(creators) + len(joiners))}")
    await kind("match me", (commands.signed(user, "match me") for user in solo))
    pooled = counted(Participant).where(Participant.in_match_pool)
    checks.append(f"in the pool {await database.settled(pooled, len(solo))}/{len(solo)}")
    challenges = await database.column(select(Challenge.external_id).order_by(Challenge.id))
    await kind(
        "challenge pick",
        (
            commands.signed(user, f"challenge pick {challenges[n % len(challenges)]}")
            for n, user in enumerate(creators)
        ),
    )
    checks.append(f"picks {await database.settled(counted(ChallengePreference), len(creators))}")
    await database.engine.dispose()
    print("  " + ", ".join(checks), flush=True)
    return found


def start_hackserver(
    group: Processes, secret: str, url: str, name: str, fakes: str, tree: Path = ROOT
) -> tuple[int, int]:
    """(port, pid) of `hackserver run --demo` of the tree on the database at url, posting to the fake
    Slack."""
    env = hackserver_env(url, EVENT) | {"SLACK_SIGNING_SECRET": secret, "SLACK_BOT_TOKEN": SLACK_TOKEN}
    env["SLACK_API_URL"] = f"{fakes}/slack/api/"
    if not url.startswith("sqlite"):
        upgrade_database(env, tree)
    port = free_port()
    process = group.start(name, [*hackserver_command(tree), "run", "--demo", "--port", str(port)], env)
    wait_until_serving(f"http://127.0.0.1:{port}/healthz", group)
    return port, process.pid


def measure(
    plan: Plan, databases: list[str], before: str | None
) -> tuple[dict[str, dict[str, Result]], list[Result]]:
    """Each kind's result by server ("SQLite", "SQLite at <before>", …), and the Bolt app's runs."""
    secret = secrets.token_hex(16)
    results: dict[str, dict[str, Result]] = {}
    bolt: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="hs-bench-cpu-") as tmp, processes(Path(tmp)) as group:
        bolt_port = free_port()
        env = hackserver_env("sqlite://", EVENT) | {SECRET_ENV: secret}
        bolt_pid = group.start(BOLT, uvicorn_args("bench.slack_commands:bolt_app", bolt_port), env).pid
        wait_until_serving(f"http://127.0.0.1:{bolt_port}/slack/commands", group)
        bolt_commands = Commands(secret, f"127.0.0.1:{bolt_port}")
        fakes_port = free_port()  # where the replies and team channels go, as to Slack across the net
        group.start("chat fakes", uvicorn_args("bench.chat_fakes:app", fakes_port), env)
        fakes = f"http://127.0.0.1:{fakes_port}"
        wait_until_serving(f"{fakes}/bench/recorded", group)
        users = [f"UBOLT{n:05d}" for n in range(plan.people)]
        trees = (
            {"": ROOT}
            if before is None
            else {f" at {before}": checkout(before, Path(tmp) / "before"), "": ROOT}
        )

        def bolt_run() -> None:
            requests = cycling(bolt_commands, users, "status")
            bolt.append(uvloop.run(closed_loop(bolt_port, bolt_pid, requests, plan.seconds)))

        for database in databases:
            for suffix, tree in trees.items():  # the commit before first, then this tree
                bolt_run()  # before each server's kinds and once at the end: the machine's drift shows
                with contextlib.ExitStack() as stack:
                    if database == "SQLite":
                        url = f"sqlite+aiosqlite:///{Path(tmp) / f'commands{len(results)}.db'}"
                    else:
                        url = stack.enter_context(postgres_database("hackserver_bench_command_cpu"))
                    name = database + suffix
                    port, pid = start_hackserver(group, secret, url, f"hackserver {name}", fakes, tree)
                    print(f"{name}:", flush=True)
                    results[name] = uvloop.run(kinds(port, pid, secret, plan, url))
                    group.started.pop().stop()  # done with: not an early exit
        bolt_run()
        group.check()
    return results, bolt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.command_cpu", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--before", metavar="REV", help="also run hackserver as it was at this commit, in the same run"
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    facts = machine_facts()
    databases = ["SQLite"] if args.skip_postgres else ["SQLite", "PostgreSQL"]
    results, bolt = measure(plan, databases, args.before)
    bolt_rate = median([r.achieved for r in bolt])
    bolt_cpu = median([r.cpu_per_command for r in bolt]) * 1000
    report = Report(
        "CPU per command, by kind: hackserver against a bare Bolt app",
        [
            "database",
            "command",
            "commands",
            "cmd/s",
            "× Bolt cmd/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "CPU ms/cmd",
        ],
    )
    met = True
    for server, by_kind in results.items():
        for name in KINDS:
            r = by_kind[name]
            cpu = r.cpu_per_command * 1000
            if name != "kept status" and " at " not in server:  # a first contact writes too
                met &= cpu <= CPU_TARGET_MS
            report.add(
                server,
                name,
                len(r.latencies),
                f"{r.achieved:.0f}",
                f"{r.achieved / bolt_rate:.2f}",
                f"{r.p50 * 1000:.1f}",
                f"{r.p99 * 1000:.1f}",
                r.sent - len(r.latencies),
                f"{cpu:.2f}",
            )
    report.add("—", "Bolt AsyncApp, ack only", sum(len(r.latencies) for r in bolt), f"{bolt_rate:.0f}",
               "1.00", f"{median([r.p50 for r in bolt]) * 1000:.1f}",
               f"{median([r.p99 for r in bolt]) * 1000:.1f}", sum(r.sent - len(r.latencies) for r in bolt),
               f"{bolt_cpu:.2f}")  # fmt: skip
    report.notes += [
        f"- `hackserver run --demo` (one process; SQLite, then PostgreSQL 15 on the same machine), signed"
        f" Slack `/hack` commands over loopback, {CONNECTIONS} keep-alive connections sending back to"
        f" back. {plan.people} new people make their first contact, then send two kept `status` and one"
        f" `profile` each; {plan.people // 5} create a team, {PER_TEAM} join each, the rest"
        " ask to be matched; the creators pick a challenge. The database is read afterwards to check the"
        " commands did what they say.",
        f"- Bolt: `AsyncApp` acking `/hack` only, closed loop over {plan.people} users, run before each"
        f" database and at the end ({len(bolt)} runs: "
        + ", ".join(f"{r.achieved:.0f}/s" for r in bolt)
        + "); its median rate is the ratios' base.",
        "- `… at REV`: hackserver as it was at that commit (git archive of its tree), run just before"
        " this tree on the same database kind.",
        "- CPU ms/cmd: the server process's user + system CPU over the kind's run (all its threads, from"
        " /proc), per command answered. The target is ≤ 1 ms for a first contact and every write.",
    ]
    report.publish(facts, ["bench.command_cpu", *sys.argv[1:]])
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
