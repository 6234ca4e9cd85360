"""Signed `/hack status` slash commands over loopback HTTP: time to acknowledgement and sustained
rate of `hackserver run` (embedded, SQLite), next to a minimal slack-bolt `AsyncApp` that only acks
the same command, on the same uvicorn options, in the same run.

The load is open-loop: request i is due at start + i / rate whatever happened to the ones before,
and its latency counts from that instant (a server that falls behind is charged for the queue it
causes). Every request is a fresh signed body from one of 500 users with a unique trigger_id. The
trivial Starlette app that only answers 200 runs alongside to show what the generator itself
sustains. Targets alternate within each round so drift in the machine's load hits all alike.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import uvloop
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.common import (
    BIN,
    ROOT,
    Processes,
    Report,
    free_port,
    hackserver_command,
    hackserver_env,
    machine_facts,
    median,
    percentile,
    processes,
    wait_until_serving,
)
from bench.http_baseline import summarise

SECRET_ENV = "BENCH_SLACK_SIGNING_SECRET"
# Enough people that none sends more than the event's limit of ten commands in ten seconds, even in
# the closed loop: with 500, each sent about fifty, and the "slow down" answers (cheap) were counted.
USERS = 6000
WARM_RATE = 300  # first contacts a second while every user is seen once, before the measurement
RATES = (100, 250, 500)
TARGET_RATE, TARGET_P99 = 500, 0.050
TIMEOUT = 10.0
HACKSERVER_NAME, BOLT, BASELINE = "hackserver", "bolt", "baseline"
PROFILE_SECONDS = 10
PROFILED_LIBRARIES: dict[str, str | tuple[str, ...]] = {
    "hackserver": "hackserver/",
    "bots": "bots/",
    "sqlalchemy": "sqlalchemy/",
    "aiosqlite + sqlite3": ("aiosqlite/", "sqlite3/"),
    "slack_sdk": "slack_sdk/",
    "starlette": "starlette/",
    "uvicorn + httptools": ("uvicorn/", "httptools/"),
    "asyncio": "asyncio/",
}


def bolt_app() -> Starlette:
    """The bare Bolt app: verifies the signature, acks `/hack`, nothing else (served with --factory)."""
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_bolt.authorization import AuthorizeResult

    async def authorize(**_: object) -> AuthorizeResult:
        # A token known up front, as `token=` would give, minus the auth.test call to slack.com.
        return AuthorizeResult(
            enterprise_id=None, team_id="TBENCH", bot_token="xoxb-bench", bot_user_id="UBOT"
        )

    app = AsyncApp(
        signing_secret=os.environ[SECRET_ENV], authorize=authorize, request_verification_enabled=True
    )

    @app.command("/hack")
    async def hack(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def commands(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/commands", commands, methods=["POST"])])


def trivial_app() -> Starlette:
    """What the generator and uvicorn sustain at all: reads the body, answers 200 (served with --factory)."""

    async def commands(request: Request) -> Response:
        await request.body()
        return Response(status_code=200)

    return Starlette(routes=[Route("/slack/commands", commands, methods=["GET", "POST"])])


@dataclass(frozen=True)
class Plan:
    rounds: int
    seconds: float  # per open-loop rate
    closed_seconds: float
    connections: int = 64  # the open-loop pool: at 500/s and 50 ms, ~25 are in flight
    closed_connections: int = 32


FULL = Plan(rounds=2, seconds=10, closed_seconds=10)
QUICK = Plan(rounds=1, seconds=2, closed_seconds=2)


class Commands:
    """Signed `/hack` requests, every trigger_id new; `next()` is `/hack status` from users cycling."""

    def __init__(self, secret: str, host: str, path: str = "/slack/commands") -> None:
        self.secret, self.host, self.path = secret.encode(), host, path
        self.users, self.serial = itertools.count(), itertools.count()
        self.run = secrets.token_hex(4)

    def next(self) -> bytes:
        return self.signed(f"U{next(self.users) % USERS:05d}", "status")

    def signed(self, user: str, text: str) -> bytes:
        """One `/hack <text>` from a user, as Slack sends it: the raw request, signed now."""
        body = urlencode(
            {
                "token": "unused",
                "team_id": "TBENCH",
                "team_domain": "bench",
                "channel_id": "CBENCH",
                "channel_name": "general",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/hack",
                "text": text,
                "api_app_id": "ABENCH",
                "response_url": "https://hooks.slack.com/commands/TBENCH/1/none",
                "trigger_id": f"{next(self.serial)}.{self.run}.{secrets.token_hex(8)}",
            }
        ).encode()
        ts = str(int(time.time())).encode()
        signature = hmac.new(self.secret, b"v0:" + ts + b":" + body, hashlib.sha256).hexdigest()
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nX-Slack-Request-Timestamp: {ts.decode()}\r\n"
            f"X-Slack-Signature: v0={signature}\r\n\r\n"
        )
        return head.encode() + body


class Connection:
    """One keep-alive HTTP/1.1 connection, as little client work per request as possible."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


@dataclass
class Result:
    target: str
    rate: int | None  # None: closed loop
    sent: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, successful answers only
    elapsed: float = float("nan")
    lag: list[float] = field(default_factory=list)  # how late the generator put each request on the wire
    failures: Counter[str] = field(default_factory=Counter)  # HTTP status or exception, by kind
    cpu: float = float("nan")  # seconds of CPU the server process used meanwhile, all its threads

    @property
    def cpu_per_command(self) -> float:
        return self.cpu / len(self.latencies) if self.latencies else float("nan")

    @property
    def achieved(self) -> float:
        return len(self.latencies) / self.elapsed

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)


class Pool:
    def __init__(self, port: int, size: int) -> None:
        self.port, self.size = port, size
        self.free: asyncio.LifoQueue[Connection] = asyncio.LifoQueue()

    async def __aenter__(self) -> Pool:
        for connection in await asyncio.gather(*(Connection.open(self.port) for _ in range(self.size))):
            self.free.put_nowait(connection)
        return self

    async def __aexit__(self, *exc: object) -> None:
        while not self.free.empty():
            self.free.get_nowait().close()

    async def send(self, raw: bytes) -> int:
        connection = await self.free.get()
        if (
            connection.reader.at_eof()
        ):  # the server closed it while idle (keep-alive timeout), as clients expect
            connection.close()
            connection = await Connection.open(self.port)
        try:
            status = await asyncio.wait_for(connection.request(raw), TIMEOUT)
        except BaseException:
            connection.close()  # a half-read answer would poison the next request
            connection = await Connection.open(self.port)
            raise
        finally:
            self.free.put_nowait(connection)
        return status


async def open_loop(
    target: str, port: int, commands: Commands, rate: int, seconds: float, plan: Plan
) -> Result:
    result = Result(target, rate)
    total = int(rate * seconds)
    async with Pool(port, plan.connections) as pool:

        async def one(due: float) -> None:
            raw = commands.next()
            result.lag.append(time.perf_counter() - due)
            try:
                status = await pool.send(raw)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
                result.failures[type(error).__name__] += 1
                return
            if status == 200:
                result.latencies.append(time.perf_counter() - due)
            else:
                result.failures[f"HTTP {status}"] += 1

        start = time.perf_counter() + 0.05
        tasks = []
        for n in range(total):
            due = start + n / rate
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
        result.sent = total
        result.elapsed = max(time.perf_counter() - start, seconds)
    return result


async def closed_loop(
    target: str, port: int, requests: Iterator[bytes], seconds: float, connections: int
) -> Result:
    """The iterator's requests back to back over `connections` connections (one iterator shared:
    each request is sent once), until it ends or `seconds` have passed."""
    result = Result(target, None)
    async with Pool(port, connections) as pool:
        stop = time.perf_counter() + seconds

        async def client() -> None:
            for raw in requests:
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
                if time.perf_counter() >= stop:
                    return

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(connections)))
        result.elapsed = time.perf_counter() - began
    return result


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux): a cost per command that the machine's other
    load does not inflate the way it does latencies and rates."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def uvicorn_args(factory: str, port: int) -> list[str]:
    return [
        *(sys.executable, "-m", "uvicorn", factory, "--factory"),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        *("--lifespan", "on", "--proxy-headers"),  # as `hackserver run` calls uvicorn
    ]


def checkout(revision: str, into: Path) -> Path:
    """The tree of a commit, to run the code as it was (its own package, config and migrations)."""
    into.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def start_servers(group: Processes, work: Path, secret: str, before: str | None) -> dict[str, int]:
    """The servers' ports by name; each one's process is group.started in the same order."""
    trees = {HACKSERVER_NAME: ROOT}
    if before is not None:
        trees[f"{HACKSERVER_NAME} {before}"] = checkout(before, work / "before")
    ports = {name: free_port() for name in (*trees, BOLT, BASELINE)}
    for n, (name, tree) in enumerate(trees.items()):
        env = hackserver_env(
            f"sqlite+aiosqlite:///{work / f'commands-{n}.db'}", tree / "config" / "event.example.toml"
        )
        env |= {"SLACK_SIGNING_SECRET": secret, "SLACK_BOT_TOKEN": "xoxb-bench"}
        group.start(name, [*hackserver_command(tree), "run", "--demo", "--port", str(ports[name])], env)
    env = hackserver_env("sqlite://", ROOT / "config" / "event.example.toml") | {SECRET_ENV: secret}
    group.start(BOLT, uvicorn_args("bench.slack_commands:bolt_app", ports[BOLT]), env)
    group.start(BASELINE, uvicorn_args("bench.slack_commands:trivial_app", ports[BASELINE]), env)
    for name in trees:
        wait_until_serving(f"http://127.0.0.1:{ports[name]}/healthz", group)
    for name in (BOLT, BASELINE):
        wait_until_serving(f"http://127.0.0.1:{ports[name]}/slack/commands", group)
    return ports


def profile(pid: int, port: int, secret: str, path: Path, plan: Plan) -> list[str]:
    """py-spy on hackserver while the generator holds TARGET_RATE: the samples of threads holding the
    GIL, i.e. where the process spends its CPU (idle database threads are left out)."""
    spy = subprocess.Popen(
        [
            *(str(BIN / "py-spy"), "record", "--pid", str(pid), "-d", str(PROFILE_SECONDS)),
            *("--gil", "--format", "raw", "-o", str(path)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    commands = Commands(secret, f"127.0.0.1:{port}")
    uvloop.run(open_loop(HACKSERVER_NAME, port, commands, TARGET_RATE, PROFILE_SECONDS + 1, plan))
    spy.wait()
    lines = summarise(path.read_text(), libraries=PROFILED_LIBRARIES)
    return [
        lines[0].replace("--native, sleeping threads included", "--gil: threads holding the GIL"),
        *lines[1:],
    ]


Results = dict[tuple[str, int | None], list[Result]]


def run(plan: Plan, profile_path: Path | None, before: str | None) -> tuple[list[str], Results, list[str]]:
    secret = secrets.token_hex(16)
    results: Results = {}
    hot_spots: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hs-bench-slack-") as tmp, processes(Path(tmp)) as group:
        ports = start_servers(group, Path(tmp), secret, before)
        targets = list(ports)
        pids = {name: process.pid for name, process in zip(targets, group.started, strict=True)}
        generators = {name: Commands(secret, f"127.0.0.1:{port}") for name, port in ports.items()}

        async def measure() -> None:
            # Every user once, slowly: first contact (a participant row) is not what is measured.
            for name in targets:
                await open_loop(name, ports[name], generators[name], WARM_RATE, USERS / WARM_RATE, plan)
            for round_ in range(plan.rounds):
                shift = round_ % len(targets)
                order = targets[shift:] + targets[:shift]
                for rate in RATES:
                    for name in order:
                        cpu = cpu_seconds(pids[name])
                        result = await open_loop(
                            name, ports[name], generators[name], rate, plan.seconds, plan
                        )
                        result.cpu = cpu_seconds(pids[name]) - cpu
                        results.setdefault((name, rate), []).append(result)
                for name in order:
                    cpu = cpu_seconds(pids[name])
                    endless = iter(generators[name].next, b"")  # `next` never returns b""
                    result = await closed_loop(
                        name, ports[name], endless, plan.closed_seconds, plan.closed_connections
                    )
                    result.cpu = cpu_seconds(pids[name]) - cpu
                    results.setdefault((name, None), []).append(result)
                print(f"  round {round_ + 1}/{plan.rounds} done", flush=True)

        uvloop.run(measure())
        group.check()
        if profile_path is not None:
            web = group.started[0]
            hot_spots = [f"py-spy --gil on hackserver at {TARGET_RATE} commands/s (open loop):"]
            hot_spots += profile(web.pid, ports[HACKSERVER_NAME], secret, profile_path, plan)
        group.check()
    return targets, results, hot_spots


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slack_commands", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run: one short round")
    parser.add_argument(
        "--before",
        metavar="REV",
        help="also run hackserver as it was at this commit (git archive), for before/after in one run",
    )
    parser.add_argument(
        "--profile",
        nargs="?",
        const="/tmp/hackserver-slack-profile.txt",
        metavar="FILE",
        help=f"also sample hackserver with py-spy at {TARGET_RATE}/s; FILE gets the collapsed stacks",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    facts = machine_facts()
    targets, results, hot_spots = run(plan, Path(args.profile) if args.profile else None, args.before)
    report = Report(
        "Signed Slack commands: hackserver against a bare Bolt app",
        [
            "load",
            "server",
            "cmd/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "× Bolt cmd/s",
            "× Bolt p99",
            "CPU ms/cmd",
            "× Bolt CPU/cmd",
        ],
    )
    names = {BOLT: "Bolt AsyncApp (ack only)", BASELINE: "trivial app (generator check)"}
    for rate in (*RATES, None):
        bolt = results[(BOLT, rate)]
        for name in targets:
            runs = results[(name, rate)]
            report.add(
                f"open loop {rate}/s" if rate else f"closed loop, {plan.closed_connections} conn.",
                names.get(name, name),
                f"{median([r.achieved for r in runs]):.0f}",
                ms(median([r.p50 for r in runs])),
                ms(median([r.p99 for r in runs])),
                sum(r.sent - len(r.latencies) for r in runs),  # refused, failed or timed out
                f"{median([r.achieved / b.achieved for r, b in zip(runs, bolt, strict=True)]):.2f}",
                f"{median([r.p99 / b.p99 for r, b in zip(runs, bolt, strict=True)]):.1f}",
                f"{median([r.cpu_per_command for r in runs]) * 1000:.2f}",
                f"{median([r.cpu_per_command / b.cpu_per_command for r, b in zip(runs, bolt, strict=True)]):.2f}",
            )
    at_target = results[(HACKSERVER_NAME, TARGET_RATE)]
    met_p99 = median([r.p99 for r in at_target]) <= TARGET_P99
    met_rate = median([r.achieved for r in at_target]) >= 0.98 * TARGET_RATE
    closed = median(
        [
            h.achieved / b.achieved
            for h, b in zip(results[(HACKSERVER_NAME, None)], results[(BOLT, None)], strict=True)
        ]
    )
    failures: Counter[str] = Counter()
    for (name, _), runs in results.items():
        for r in runs:
            failures.update({f"{names.get(name, name)}: {kind}": n for kind, n in r.failures.items()})
    lag = [lag for runs in results.values() for r in runs if r.rate == TARGET_RATE for lag in r.lag]
    report.notes += [
        f"- Open loop: {plan.seconds:g} s per rate, latency from each request's due instant to its answer"
        f" (pool of {plan.connections} keep-alive connections, uvloop, one process); closed loop:"
        f" {plan.closed_connections} connections sending back to back for {plan.closed_seconds:g} s, its"
        f" cmd/s is the most the server sustains. {plan.rounds} round(s), servers interleaved, medians over"
        " rounds, ratios per round then their median.",
        f"- Every request is `/hack status` from one of {USERS} users (each had one command before the"
        " measurement), a unique trigger_id and its own v0 signature. hackserver: `hackserver run --demo`"
        " on SQLite (event config/event.example.toml); Bolt: `AsyncApp` + `AsyncSlackRequestHandler`"
        " acking `/hack` only (its `authorize` returns the bot token without calling auth.test); trivial"
        " app: Starlette reading the body and answering 200. All under uvicorn with the same options, one"
        " process each, on the same 2-core machine as the generator.",
        "- CPU ms/cmd: the server process's user + system CPU during the load (all its threads, from"
        " /proc), per command answered; on a machine shared with other work it moves far less than the"
        " rates and latencies do.",
        f"- Generator lag at {TARGET_RATE}/s (request put on the wire after its due instant), all servers:"
        f" p50 {ms(percentile(lag, 0.5))} ms, p99 {ms(percentile(lag, 0.99))} ms.",
        f"- Target at {TARGET_RATE}/s: p99 ≤ {TARGET_P99 * 1000:.0f} ms {'met' if met_p99 else 'missed'},"
        f" the rate held as Bolt holds it {'met' if met_rate else 'missed'}; the most hackserver sustains"
        f" (closed loop) is {closed:.2f} × Bolt's.",
        "- Errors by kind: "
        + (", ".join(f"{kind} × {n}" for kind, n in sorted(failures.items())) or "none")
        + ".",
    ]
    if hot_spots:
        report.notes += ["", "```", *hot_spots, "```"]
    report.publish(facts, ["bench.slack_commands", *sys.argv[1:]])
    return 0 if met_p99 and met_rate else 1


if __name__ == "__main__":
    sys.exit(main())
