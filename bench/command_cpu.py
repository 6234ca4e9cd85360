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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop
from sqlalchemy import Select, func, select

from bench import slack_commands
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
from bench.slack_commands import BOLT, SECRET_ENV, Commands, Result, checkout, cpu_seconds, uvicorn_args
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
    """Every request of the iterator (or as many as `seconds` allow), CONNECTIONS at a time, with
    the server's CPU meanwhile."""
    cpu = cpu_seconds(pid)
    result = await slack_commands.closed_loop("", port, requests, seconds, CONNECTIONS)
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


@dataclass
class Server:
    """One hackserver under measurement, its database, and what each kind gave."""

    name: str
    port: int
    pid: int
    database: Database
    commands: Commands
    found: dict[str, Result] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)


async def kinds(servers: list[Server], plan: Plan) -> None:
    """Each kind in turn against every server, their order alternating from kind to kind so that the
    machine's drift hits them alike; each database says afterwards what the commands did."""
    run = secrets.token_hex(3)
    people = [f"U{run}{n:06d}" for n in range(plan.people)]
    creators = people[: plan.people // 5]
    joiners = people[len(creators) : len(creators) * (1 + PER_TEAM)]
    solo = people[len(creators) * (1 + PER_TEAM) :]
    counted = select(func.count()).select_from
    turn = 0

    async def kind(name: str, requests: Callable[[Server], Iterator[bytes]]) -> None:
        nonlocal turn
        for server in servers if turn % 2 == 0 else servers[::-1]:
            server.found[name] = await closed_loop(server.port, server.pid, requests(server), 600.0)
        turn += 1
        print(f"  {name}: " + ", ".join(f"{len(s.found[name].latencies)}" for s in servers), flush=True)

    async def check(label: str, query: Select[Any], expected: int) -> None:
        for server in servers:
            server.checks.append(f"{label} {await server.database.settled(query, expected)}/{expected}")

    def each(users: list[str], text: Callable[[int, str], str]) -> Callable[[Server], Iterator[bytes]]:
        return lambda server: (server.commands.signed(user, text(n, user)) for n, user in enumerate(users))

    await kind("first contact", each(people, lambda n, user: "status"))
    await check("participants", counted(Participant), len(people))
    # Each person sends at most five commands in all, within the event's limit of ten in ten seconds:
    # a person past it gets a quick "slow down", which is not what is measured.
    await kind("kept status", each(people + people, lambda n, user: "status"))
    await kind("profile", each(people, lambda n, user: "profile skills python,data langs de,en"))
    await kind("team create", each(creators, lambda n, user: f"team create Bench {user}"))
    await check("teams", counted(Team).where(Team.name.like("Bench %")), len(creators))
    codes = {
        s.name: await s.database.column(
            select(Team.join_code).where(Team.name.like("Bench %")).order_by(Team.id)
        )
        for s in servers
    }
    await kind(
        "team join",
        lambda server: (
            server.commands.signed(user, f"team join {codes[server.name][n % len(codes[server.name])]}")
            for n, user in enumerate(joiners)
        ),
    )
    await check("members", counted(Membership), len(creators) + len(joiners))
    await kind("match me", each(solo, lambda n, user: "match me"))
    await check("in the pool", counted(Participant).where(Participant.in_match_pool), len(solo))
    challenges = await servers[0].database.column(select(Challenge.external_id).order_by(Challenge.id))
    await kind(
        "challenge pick", each(creators, lambda n, user: f"challenge pick {challenges[n % len(challenges)]}")
    )
    await check("picks", counted(ChallengePreference), len(creators))
    for server in servers:
        await server.database.engine.dispose()
        print(f"  {server.name}: " + ", ".join(server.checks), flush=True)


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
            bolt_run()  # before each database's kinds and once at the end: the machine's drift shows
            with contextlib.ExitStack() as stack:
                servers = []
                for n, (suffix, tree) in enumerate(trees.items()):  # the commit before first
                    if database == "SQLite":
                        url = f"sqlite+aiosqlite:///{Path(tmp) / f'commands-{database}-{n}.db'}"
                    else:
                        url = stack.enter_context(postgres_database(f"hackserver_bench_command_cpu_{n}"))
                    name = database + suffix
                    port, pid = start_hackserver(group, secret, url, f"hackserver {name}", fakes, tree)
                    commands = Commands(secret, f"127.0.0.1:{port}")
                    servers.append(Server(name, port, pid, Database(url), commands))
                print(f"{database}: " + ", ".join(server.name for server in servers), flush=True)
                uvloop.run(kinds(servers, plan))
                for server in servers:
                    results[server.name] = server.found
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
            "server",
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
        "- `… at REV`: hackserver as it was at that commit (git archive of its tree), served beside this"
        " tree on a database of its own; each kind runs on both, the order alternating from kind to kind.",
        "- CPU ms/cmd: the server process's user + system CPU over the kind's run (all its threads, from"
        " /proc), per command answered. The target is ≤ 1 ms for a first contact and every write.",
    ]
    report.publish(facts, ["bench.command_cpu", *sys.argv[1:]])
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
