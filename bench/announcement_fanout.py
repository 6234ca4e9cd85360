"""Announcement fan-out: from the instant the clock is due to fire an announcement to its arrival on
N open websocket viewers of /ws/channels, in the embedded mode (one `hackserver run`, SQLite) and in
the scaled mode (PostgreSQL + Redis: one web, one worker, one clock).

The event file schedules an announcement every INTERVAL seconds of real time (speed 1, no --demo),
so the clock fires them on its own. Viewers are opened in stages (1, then 100, then 1000 in all) on
one server; each stage measures the next announcements that fall due after all its viewers are in.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from bench.common import (
    HACKSERVER,
    Processes,
    Report,
    free_port,
    hackserver_env,
    machine_facts,
    median,
    percentile,
    postgres_database,
    processes,
    raise_fd_limit,
    scratch_redis,
    upgrade_database,
    wait_until_serving,
)
from tests.fakes import event_toml

INTERVAL = 2  # seconds between announcements
LEAD = 6  # seconds from writing the event file to the first announcement
MARGIN = 0.5  # a stage measures announcements due at least this long after its viewers are in
RECEIVE_TIMEOUT = 15.0  # after the last measured announcement is due
CONNECT_CONCURRENCY = 100
CONNECT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Plan:
    viewers: tuple[int, ...]
    per_stage: int  # announcements measured per stage
    scheduled: int  # announcements in the event file, enough for every stage


FULL = Plan(viewers=(1, 100, 1000), per_stage=5, scheduled=150)
QUICK = Plan(viewers=(1, 50), per_stage=2, scheduled=60)


@dataclass(frozen=True)
class Schedule:
    due: dict[str, float]  # announcement id -> due instant, Unix seconds
    by_text: dict[str, str]  # text in the default language -> announcement id


def write_event(path: Path, start: float, count: int) -> Schedule:
    kickoff = int(start) - 7200  # kickoff and hacking have begun: no phase change during the run
    first = int(start) + LEAD
    due = {f"a-{n:03d}": float(first + n * INTERVAL) for n in range(count)}
    announcements = tuple((ident, f"kickoff + {int(at) - kickoff}s", None) for ident, at in due.items())
    path.write_text(
        event_toml(
            datetime.fromtimestamp(kickoff, UTC), zone="UTC", announcements=announcements, slug="bench-fanout"
        )
    )
    return Schedule(due, {f"DE {ident}": ident for ident in due})  # event_toml's de text


@dataclass
class Viewer:
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    arrivals: dict[str, tuple[float, float]] = field(default_factory=dict)  # id -> (arrived, posted_at)
    failed: str | None = None


def instant(iso: str) -> float:
    moment = datetime.fromisoformat(iso)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


async def watch(url: str, viewer: Viewer, schedule: Schedule) -> None:
    try:
        async with connect(url, open_timeout=CONNECT_TIMEOUT, close_timeout=2, ping_interval=None) as ws:
            async for raw in ws:
                arrived = time.time()  # first thing: the loop may be busy with the other viewers
                message = json.loads(raw)
                if message["type"] == "phase":
                    viewer.ready.set()  # history and state sent: subscribed to the bus
                elif message["type"] == "message":
                    ident = schedule.by_text.get(message["message"]["text"])
                    if ident is not None and ident not in viewer.arrivals:
                        viewer.arrivals[ident] = (arrived, instant(message["message"]["posted_at"]))
    except (OSError, TimeoutError, WebSocketException) as error:
        viewer.failed = f"{type(error).__name__}: {error}"
        viewer.ready.set()


@dataclass
class StageResult:
    viewers: int
    connect_seconds: float
    announcements: int
    complete: int
    failed: int
    due_to_arrival: list[float]
    posted_to_arrival: list[float]
    due_to_posted: list[float]


async def open_viewers(
    url: str, count: int, viewers: list[Viewer], tasks: set[asyncio.Task[None]], schedule: Schedule
) -> None:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one() -> None:
        viewer = Viewer()
        viewers.append(viewer)
        async with gate:
            tasks.add(asyncio.create_task(watch(url, viewer, schedule)))
            await viewer.ready.wait()

    async with asyncio.timeout(CONNECT_TIMEOUT):
        await asyncio.gather(*(open_one() for _ in range(count - len(viewers))))


async def run_stage(
    url: str,
    count: int,
    viewers: list[Viewer],
    tasks: set[asyncio.Task[None]],
    schedule: Schedule,
    plan: Plan,
    group: Processes,
) -> StageResult:
    began = time.perf_counter()
    await open_viewers(url, count, viewers, tasks, schedule)
    connect_seconds = time.perf_counter() - began
    group.check()
    now = time.time()
    measured = [ident for ident, at in schedule.due.items() if at >= now + MARGIN][: plan.per_stage]
    if len(measured) < plan.per_stage:
        raise RuntimeError("the event file ran out of announcements; schedule more")
    deadline = schedule.due[measured[-1]] + RECEIVE_TIMEOUT
    live = [v for v in viewers if v.failed is None]
    while time.time() < deadline:
        if all(all(ident in v.arrivals for ident in measured) for v in live):
            break
        await asyncio.sleep(0.2)
    group.check()
    result = StageResult(count, connect_seconds, len(measured), 0, len(viewers) - len(live), [], [], [])
    posted: dict[str, float] = {}
    for viewer in live:
        got = [viewer.arrivals[ident] for ident in measured if ident in viewer.arrivals]
        result.complete += len(got) == len(measured)
        for ident in measured:
            if ident in viewer.arrivals:
                arrived, posted_at = viewer.arrivals[ident]
                posted[ident] = posted_at
                result.due_to_arrival.append(arrived - schedule.due[ident])
                result.posted_to_arrival.append(arrived - posted_at)
    result.due_to_posted = [posted[ident] - schedule.due[ident] for ident in measured if ident in posted]
    return result


async def close_viewers(tasks: set[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):
            await asyncio.gather(*tasks, return_exceptions=True)


async def dropped_events(port: int) -> str:
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(timeout=5) as client:
            for line in (await client.get(f"http://127.0.0.1:{port}/metrics")).text.splitlines():
                if line.startswith("hackserver_bus_dropped_events "):
                    return f"{float(line.split()[1]):.0f}"
    return "?"


async def measure(
    port: int, schedule: Schedule, plan: Plan, group: Processes
) -> tuple[list[StageResult], str]:
    url = f"ws://127.0.0.1:{port}/ws/channels"
    viewers: list[Viewer] = []
    tasks: set[asyncio.Task[None]] = set()
    results = []
    try:
        for count in plan.viewers:
            results.append(await run_stage(url, count, viewers, tasks, schedule, plan, group))
            print(f"  {count} viewers measured", flush=True)
        return results, await dropped_events(port)
    finally:
        await close_viewers(tasks)


def run_embedded(work: Path, plan: Plan) -> tuple[list[StageResult], str]:
    event = work / "embedded.toml"
    schedule = write_event(event, time.time(), plan.scheduled)
    env = hackserver_env(f"sqlite+aiosqlite:///{work / 'embedded.db'}", event)
    port = free_port()
    with processes(work) as group:
        group.start("embedded-web", [HACKSERVER, "run", "--port", str(port)], env)
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", group)
        return asyncio.run(measure(port, schedule, plan, group))


def run_scaled(work: Path, plan: Plan) -> tuple[list[StageResult], str]:
    with postgres_database("hs_bench_fanout") as database_url, scratch_redis() as redis_url:
        event = work / "scaled.toml"
        env = hackserver_env(database_url, event, redis_url)
        schedule = write_event(event, time.time(), plan.scheduled)
        upgrade_database(env)
        port = free_port()
        with processes(work) as group:
            group.start("scaled-clock", [HACKSERVER, "clock"], env)
            group.start("scaled-worker", [HACKSERVER, "worker"], env)
            group.start("scaled-web", [HACKSERVER, "run", "--port", str(port)], env)
            wait_until_serving(f"http://127.0.0.1:{port}/healthz", group)
            return asyncio.run(measure(port, schedule, plan, group))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.announcement_fanout", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run: fewer viewers and announcements"
    )
    parser.add_argument("--mode", choices=("embedded", "scaled"), action="append", help="only this mode")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    modes = args.mode or ["embedded", "scaled"]
    raise_fd_limit(max(plan.viewers) * 2 + 1024)
    facts = machine_facts()
    report = Report(
        "Announcement fan-out to /ws/channels viewers (latencies in ms)",
        [
            "mode",
            "viewers",
            "connect s",
            "announcements",
            "complete viewers",
            "due→arrival p50",
            "p95",
            "max",
            "posted→arrival p50",
            "p95",
            "max",
            "due→posted p50",
        ],
    )
    medians: dict[str, dict[int, float]] = {}
    complete = True
    runners = {"embedded": run_embedded, "scaled": run_scaled}
    with tempfile.TemporaryDirectory(prefix="hs-bench-fanout-") as tmp:
        for mode in modes:
            print(f"{mode} mode", flush=True)
            work = Path(tmp) / mode
            work.mkdir()
            results, dropped = runners[mode](work, plan)
            for r in results:
                report.add(
                    mode,
                    r.viewers,
                    f"{r.connect_seconds:.1f}",
                    r.announcements,
                    f"{r.complete}/{r.viewers}" + (f" ({r.failed} failed to connect)" if r.failed else ""),
                    ms(median(r.due_to_arrival)),
                    ms(percentile(r.due_to_arrival, 0.95)),
                    ms(max(r.due_to_arrival, default=float("nan"))),
                    ms(median(r.posted_to_arrival)),
                    ms(percentile(r.posted_to_arrival, 0.95)),
                    ms(max(r.posted_to_arrival, default=float("nan"))),
                    ms(median(r.due_to_posted)),
                )
                medians.setdefault(mode, {})[r.viewers] = median(r.due_to_arrival)
                complete = complete and r.complete == r.viewers
            report.notes.append(f"- {mode}: events the bus dropped for slow viewers: {dropped}")
    if len(medians) == 2:
        ratios = ", ".join(
            f"N={n}: {medians['scaled'][n] / medians['embedded'][n]:.2f}" for n in plan.viewers
        )
        report.notes.append(f"- scaled ÷ embedded, due→arrival median: {ratios}")
    report.notes += [
        "- due = the announcement's instant in the event file; posted = its `posted_at` (the time of the"
        " delivery's transaction; event time = real time at speed 1); arrival = when the viewer's client read"
        " it. All viewers run in one asyncio process on the same machine, so arrival includes the client's"
        " own queueing.",
        f"- Viewers are opened in stages on one server ({', '.join(map(str, plan.viewers))} in all); each stage"
        f" measures the next {plan.per_stage} announcements ({INTERVAL} s apart) due after all its viewers had"
        " the history and the phase state. `connect s` is the time to open a stage's new viewers,"
        f" {CONNECT_CONCURRENCY} handshakes at a time.",
    ]
    report.publish(facts, ["bench.announcement_fanout", *sys.argv[1:]])
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
