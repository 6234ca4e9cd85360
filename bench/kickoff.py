"""Kickoff at full scale: `hackserver simulate --until matching` (profiles, teams made and joined, the
matching pool, challenge picks, then the organisers' matching and challenge assignment) against the
scaled-out setup started here on loopback (PostgreSQL, Redis, `hackserver run --workers N`, one RQ
worker, one clock) and against the embedded mode (one `hackserver run`, SQLite).

With --before REV, every run is made twice in the same run: with this tree's server and with the one
of commit REV (its own package, migrations and example event), under the same simulator.

Two parts, in the same run: the target (N participants arriving over 10 simulated minutes at the
given speed: errors, p99 of the Slack and Discord acknowledgements, the peak RSS of each web
process) on the scaled-out setup with 2 web processes and on the embedded mode; then a saturating
burst (many participants at a high speed) on the embedded mode and on 1 and 2 web processes, to
show how the sustained rate of chat commands grows with the web processes. The simulator is a
process of its own on the same machine and takes its share of the two cores.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from nacl.signing import SigningKey

from bench.common import (
    HACKSERVER,
    ROOT,
    Processes,
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
from bench.slack_commands import checkout
from hackserver.simulation.wire import LATE_REPLIES

DISCORD_KEY = SigningKey(bytes(range(32)))
COMMANDS = ("slack command", "discord command")
TARGET_P99_MS, TARGET_RSS_MB = 100.0, 300.0
KICKOFF_SECONDS = 600.0  # the simulated kickoff's 10 minutes
SPARE_SECONDS = 300.0  # beyond the kickoff's own time, before a run is stopped and shown as not finished


@dataclass(frozen=True)
class Plan:
    participants: int
    speed: float
    burst_participants: int
    burst_speed: float


FULL = Plan(participants=28_000, speed=1.0, burst_participants=3_000, burst_speed=40.0)
QUICK = Plan(participants=600, speed=20.0, burst_participants=600, burst_speed=60.0)


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
    """The tree's example event with every instant moved so that kickoff was a minute ago."""
    text = (tree / "config" / "event.example.toml").read_text()
    event = tomllib.loads(text)
    zone = ZoneInfo(event["event"]["timezone"])
    phases: dict[str, datetime] = event["phases"]
    kickoff = datetime.now(UTC).astimezone(zone).replace(tzinfo=None, microsecond=0) - timedelta(minutes=1)
    shift = kickoff - phases["kickoff"]
    for name, at in phases.items():
        text = re.sub(rf"(?m)^{name} = .*$", f"{name} = {(at + shift).isoformat()}", text, count=1)
    path.write_text(text)


def environment(base: dict[str, str], port: int) -> dict[str, str]:
    return base | {
        "HACKSERVER_ORGANISER_TOKEN": "organiser-token-of-the-kickoff-benchmark",
        "HACKSERVER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SLACK_SIGNING_SECRET": "slack-signing-secret-of-the-kickoff-benchmark",
        "DISCORD_PUBLIC_KEY": DISCORD_KEY.verify_key.encode().hex(),
        "SIMULATE_DISCORD_SIGNING_KEY": DISCORD_KEY.encode().hex(),
        # Late replies to Discord go where the simulator's late Slack replies go: to a closed
        # loopback port that refuses them at once, not to discord.com, which this machine cannot reach.
        "DISCORD_API_URL": LATE_REPLIES,
    }


@contextlib.contextmanager
def started(
    target: Target, work: Path, tree: Path
) -> Iterator[tuple[Processes, str, dict[str, str], list[int]]]:
    """The target's processes, serving the tree's code; yields them, the URL, the environment and the
    web pids."""
    port = free_port()
    event = work / "event.toml"
    write_event(event, tree)
    hackserver = hackserver_command(tree)
    with contextlib.ExitStack() as stack:
        if target.web_processes:
            database = stack.enter_context(postgres_database("hackserver_bench_kickoff"))
            env = environment(hackserver_env(database, event, stack.enter_context(scratch_redis())), port)
        else:
            (work / "hs.db").unlink(missing_ok=True)
            env = environment(hackserver_env(f"sqlite+aiosqlite:///{work / 'hs.db'}", event), port)
        upgrade_database(env, tree)
        subprocess.run(
            [*hackserver, "challenges", "import", str(tree / "config" / "challenges.example.csv")],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        group = stack.enter_context(processes(work))
        run = [*hackserver, "run", "--port", str(port)]
        if target.web_processes:
            group.start("clock", [*hackserver, "clock"], env)
            group.start("worker", [*hackserver, "worker"], env)
            web = group.start("web", [*run, "--workers", str(target.web_processes)], env)
        else:
            web = group.start("web", run, env)
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{url}/healthz", group)
        pids = [web.pid]
        if target.web_processes > 1:  # one is `hackserver run` itself
            deadline = time.monotonic() + 60
            while web.log_path.read_text().count("web process") < target.web_processes:
                group.check()
                if time.monotonic() > deadline:
                    raise RuntimeError("the web processes did not all start within 60 s")
                time.sleep(0.2)
            children = Path(f"/proc/{web.pid}/task/{web.pid}/children").read_text().split()
            pids = [int(p) for p in children if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        yield group, url, env, pids


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def simulate(
    target: Target, work: Path, tree: Path, participants: int, speed: float
) -> tuple[dict[str, Any], list[float]]:
    """One simulated kickoff (by this tree's simulator) against a fresh target running the tree's
    server: the simulator's report and each web process's peak RSS."""
    with started(target, work, tree) as (group, url, env, pids):
        out = work / "report.json"
        args = [HACKSERVER, "simulate", "--url", url, "--participants", str(participants)]
        args += ["--speed", f"{speed:g}", "--until", "matching", "--json", str(out)]
        with (work / "simulate.log").open("wb") as log:
            simulator = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            try:
                simulator.wait(KICKOFF_SECONDS / speed + SPARE_SECONDS)
            except subprocess.TimeoutExpired:
                simulator.kill()  # its report is not written: the run shows as not finished
                simulator.wait()
        group.check()
        if not out.exists():
            return {"counts": {}, "failures": {"not finished": 1}, "failure_examples": {}, "latency_ms": {},
                    "stage_seconds": {}}, [peak_rss_mb(pid) for pid in pids]  # fmt: skip
        report: dict[str, Any] = json.loads(out.read_text())
        return report, [peak_rss_mb(pid) for pid in pids]


def commands(report: dict[str, Any]) -> int:
    return sum(report["latency_ms"].get(kind, {}).get("requests", 0) for kind in COMMANDS)


def p99(report: dict[str, Any], kind: str) -> str:
    row = report["latency_ms"].get(kind)
    return f"{row['p99']:.0f}" if row else "–"


def row(report: dict[str, Any], rss: list[float], label: str) -> list[object]:
    counts, failures = report["counts"], sum(report["failures"].values())
    kickoff = report["stage_seconds"].get("kickoff", float("nan"))
    matching = report["latency_ms"].get("organiser POST /api/v1/matching", {}).get("max", float("nan"))
    return [
        label,
        counts.get("registered", 0),
        counts.get("asked for a match", 0),
        counts.get("matched teams", 0),
        failures,
        f"{kickoff:.0f}",
        f"{commands(report) / kickoff:.0f}",
        *(f"{report['latency_ms'].get(kind, {}).get('p50', float('nan')):.0f}" for kind in COMMANDS),
        *(p99(report, kind) for kind in COMMANDS),
        f"{matching / 1000:.1f}",
        " / ".join(f"{mb:.0f}" for mb in rss),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kickoff", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--participants", type=int, help="the target's participants (default 28000)")
    parser.add_argument("--speed", type=float, help="the target's speed (default 1: 10 real minutes)")
    parser.add_argument(
        "--burst-participants", type=int, help="the burst's participants (default 3000; 0: no burst)"
    )
    parser.add_argument("--before", help="also run the server as it was at this commit, for before/after")
    parser.add_argument(
        "--only",
        choices=("embedded", "scaled"),
        help="this setup's target alone, without the bursts (e.g. to find the largest N it holds)",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    plan = replace(
        plan,
        participants=args.participants or plan.participants,
        speed=args.speed or plan.speed,
        burst_participants=plan.burst_participants
        if args.burst_participants is None
        else args.burst_participants,
    )
    raise_fd_limit(8192)
    report = Report(
        f"Kickoff: {plan.participants} participants over 10 simulated minutes at speed {plan.speed:g}"
        f" ({plan.participants * plan.speed / 600:.0f} arrivals a second on average)",
        [
            "run", "registered", "asked for a match", "matched teams", "failures", "kickoff s", "commands/s",
            "Slack p50 ms", "Discord p50 ms", "Slack p99 ms", "Discord p99 ms", "matching s", "peak RSS MB per web",
        ],
    )  # fmt: skip
    loads: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-kickoff-") as tmp:
        work = Path(tmp)
        trees = (
            {"": ROOT}
            if args.before is None
            else {"this": ROOT, args.before: checkout(args.before, work / "before")}
        )
        runs = [(Target(n), plan.participants, plan.speed, "target") for n in (2, 0)]
        if args.only is not None:  # that setup's target alone, without the bursts
            runs = [run for run in runs if (run[0].web_processes == 0) == (args.only == "embedded")]
        elif plan.burst_participants:
            runs += [(Target(n), plan.burst_participants, plan.burst_speed, "burst") for n in (0, 1, 2)]
        # Each run right after the same run of the other tree: the machine's drift falls on both.
        for (target, participants, speed, part), (code, tree) in itertools.product(runs, trees.items()):
            loads.append(f"{os.getloadavg()[0]:.2f}")
            found, rss = simulate(target, work, tree, participants, speed)
            label = f"{code + ', ' if code else ''}{part}: {target.name}" + (
                f", {participants} at speed {speed:g}" if part == "burst" else ""
            )
            report.add(*row(found, rss, label))
            if found["failures"]:
                report.notes.append(
                    f"- {label}: failures {found['failures']}; first of each: {found['failure_examples']}"
                )
    report.notes += [
        f"- load average (1 min) before each run: {', '.join(loads)}; after: {os.getloadavg()[0]:.2f}.",
        "- target: the arrivals crowd the first minutes (beta(1.5, 3) over 10 simulated minutes); each person"
        " sends a profile, then creates or joins a team or asks for a match, and some pick challenges; half on"
        " Slack, half on Discord, every request signed. Latency is from sending a request to its answer.",
        "- burst: as many participants as fast as the simulator can send them; commands/s is the chat"
        " commands answered over the kickoff stage's wall time, the rate the target sustained.",
        f"- goals: zero failures, p99 acknowledgement ≤ {TARGET_P99_MS:.0f} ms, peak RSS ≤ {TARGET_RSS_MB:.0f} MB per web process.",
        "- the simulator runs on the same 2 cores as every server process.",
    ]
    report.publish(machine_facts(), ["bench.kickoff", *(argv if argv is not None else [])])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
