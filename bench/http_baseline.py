"""HTTP throughput and latency of /healthz, /channels (with 100 announcements in its history) and
/metrics in the embedded mode, against a trivial Starlette app served by uvicorn with the same options
on the same machine in the same run. Targets alternate within each round, so drift in the machine's
load hits all of them alike; ratios are per round, then the median."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bench.common import (
    BIN,
    HACKSERVER,
    Processes,
    Report,
    free_port,
    hackserver_env,
    machine_facts,
    median,
    processes,
    wait_until_serving,
)
from tests.fakes import event_toml

HISTORY = 100  # announcements fired before measuring: a full /channels page
ENDPOINTS = ("/healthz", "/channels", "/metrics")
BASELINE = "baseline"
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
PROFILE_SECONDS = 10


def baseline_app() -> Starlette:
    """What a Starlette app under uvicorn can do here at all (served with --factory)."""

    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", ok)])


@dataclass(frozen=True)
class Plan:
    rounds: int
    seconds: int
    warmup: int
    threads: int = 2
    connections: int = 50


FULL = Plan(rounds=3, seconds=8, warmup=2)
QUICK = Plan(rounds=1, seconds=2, warmup=1)


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50: float  # seconds
    p99: float
    non_2xx: int  # non-2xx/3xx responses
    socket_errors: int  # connect, read, write errors and timeouts (wrk's timeout is 2 s)


def seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match[1]) * UNITS[match[2]]


def wrk_command(url: str, duration: int, plan: Plan) -> list[str]:
    return ["wrk", f"-t{plan.threads}", f"-c{plan.connections}", f"-d{duration}s", "--latency", url]


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if rps is None or p50 is None or p99 is None:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    non_2xx = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = sum(int(n) for n in sockets.groups()) if sockets is not None else 0
    return WrkResult(float(rps[1]), seconds(p50[1]), seconds(p99[1]), non_2xx, socket_errors)


def run_wrk(url: str, duration: int, plan: Plan) -> WrkResult:
    result = subprocess.run(wrk_command(url, duration, plan), capture_output=True, text=True, check=True)
    return parse_wrk(result.stdout)


def write_event(path: Path, now: float) -> None:
    """HISTORY announcements due in the last minutes: the clock fires them all (late) at start-up."""
    kickoff = int(now) - 7200
    announcements = tuple(
        (f"h-{n:03d}", f"kickoff + {7200 - HISTORY - 10 + n}s", None) for n in range(HISTORY)
    )
    path.write_text(
        event_toml(
            datetime.fromtimestamp(kickoff, UTC), zone="UTC", announcements=announcements, slug="bench-http"
        )
    )


def wait_for_history(base: str, group: Processes, timeout: float = 60.0) -> int:
    """Waits until the outbox has delivered every fired announcement; returns the messages on the page."""
    deadline = time.monotonic() + timeout
    pattern = re.compile(r'^hackserver_outbox_messages\{status="delivered"\} ([\d.]+)$', re.M)
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            group.check()
            found = pattern.search(client.get(f"{base}/metrics").text)
            if found is not None and float(found[1]) >= HISTORY:
                return client.get(f"{base}/channels").text.count("data-id=")
            time.sleep(0.2)
    raise RuntimeError(f"the clock did not deliver {HISTORY} announcements within {timeout:.0f} s")


def profile(url: str, pid: int, path: Path, plan: Plan) -> list[str]:
    """Samples the server with py-spy while wrk loads one endpoint; returns a summary of the hot spots."""
    load = subprocess.Popen(
        wrk_command(url, PROFILE_SECONDS + 2, plan), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        time.sleep(1)
        subprocess.run(
            [
                *(str(BIN / "py-spy"), "record", "--pid", str(pid), "-d", str(PROFILE_SECONDS)),
                *("--native", "--format", "raw", "-o", str(path)),  # native: see inside sqlite3
            ],
            check=True,
            capture_output=True,
        )
    finally:
        load.wait()
    return summarise(path.read_text())


LIBRARIES: dict[str, str | tuple[str, ...]] = {
    "sqlalchemy": "sqlalchemy/",
    "aiosqlite + sqlite3": ("aiosqlite/", "sqlite3/"),
    "jinja2 (templates)": "jinja2/",
    "starlette": "starlette/",
    "uvicorn + httptools": ("uvicorn/", "httptools/"),
    "hackserver": "hackserver/",
    "prometheus_client": "prometheus_client/",
    "asyncio": "asyncio/",
}


def summarise(
    collapsed: str, top: int = 8, libraries: dict[str, str | tuple[str, ...]] = LIBRARIES
) -> list[str]:
    """Shares of the samples: by library on the stack (inclusive) and by innermost function (self)."""
    total = 0
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    busy = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        for library, markers in libraries.items():
            if any(marker in stack for marker in ((markers,) if isinstance(markers, str) else markers)):
                inclusive[library] += count
        if "sqlite3InvokeBusyHandler" in stack:
            busy += count
        python_frames = [frame for frame in stack.split(";") if frame.endswith(".py)") or ".py:" in frame]
        if python_frames:
            leaves[re.sub(r":\d+\)$", ")", python_frames[-1])] += count
    if not total:
        return ["(py-spy took no samples)"]
    lines = [
        f"{total} samples of all threads (py-spy --native, sleeping threads included); share with the library on the stack:"
    ]
    lines += [f"  {share / total:6.1%}  {library}" for library, share in inclusive.most_common()]
    lines.append(
        f"  {busy / total:6.1%}  of all: sqlite3 sleeping in its busy handler (waiting for the lock)"
    )
    lines.append("innermost Python functions (native frames folded into their caller):")
    lines += [f"  {share / total:6.1%}  {leaf}" for leaf, share in leaves.most_common(top)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_baseline", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run: one short round")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="/tmp/hackserver-profile.txt",
        metavar="FILE",
        help="also sample the slowest endpoint with py-spy; FILE gets the collapsed stacks",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    facts = machine_facts()
    runs: dict[str, list[WrkResult]] = {target: [] for target in (BASELINE, *ENDPOINTS)}
    ratios: dict[str, list[float]] = {endpoint: [] for endpoint in ENDPOINTS}
    hot_spots: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hs-bench-http-") as tmp, processes(Path(tmp)) as group:
        work = Path(tmp)
        write_event(work / "event.toml", time.time())
        env = hackserver_env(f"sqlite+aiosqlite:///{work / 'http.db'}", work / "event.toml")
        port, baseline_port = free_port(), free_port()
        web = group.start("web", [HACKSERVER, "run", "--port", str(port)], env)
        group.start(
            "baseline",
            [
                *(sys.executable, "-m", "uvicorn", "bench.http_baseline:baseline_app", "--factory"),
                *("--host", "127.0.0.1", "--port", str(baseline_port), "--log-level", "warning"),
                *("--lifespan", "on", "--proxy-headers"),  # as `hackserver run` calls uvicorn
            ],
            env,
        )
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{base}/healthz", group)
        wait_until_serving(f"http://127.0.0.1:{baseline_port}/", group)
        shown = wait_for_history(base, group)
        urls = {BASELINE: f"http://127.0.0.1:{baseline_port}/"} | {e: f"{base}{e}" for e in ENDPOINTS}
        for url in urls.values():
            run_wrk(url, plan.warmup, plan)
        targets = list(urls)
        for round_ in range(plan.rounds):
            order = targets[round_ % len(targets) :] + targets[: round_ % len(targets)]
            this_round = {target: run_wrk(urls[target], plan.seconds, plan) for target in order}
            for target, result in this_round.items():
                runs[target].append(result)
            for endpoint in ENDPOINTS:
                ratios[endpoint].append(
                    this_round[endpoint].requests_per_second / this_round[BASELINE].requests_per_second
                )
            print(f"  round {round_ + 1}/{plan.rounds} done", flush=True)
        slowest = min(ENDPOINTS, key=lambda e: median([r.requests_per_second for r in runs[e]]))
        if args.profile:
            hot_spots = [f"py-spy on `{slowest}` (the slowest endpoint) under the same wrk load:"]
            hot_spots += profile(urls[slowest], web.pid, Path(args.profile), plan)
        group.check()
    report = Report(
        "HTTP endpoints (embedded mode) against a trivial Starlette app",
        [
            "target",
            "req/s",
            "× baseline req/s",
            "p50 ms",
            "p99 ms",
            "× baseline p50",
            "non-2xx",
            "socket errors",
        ],
    )
    baseline_p50 = median([r.p50 for r in runs[BASELINE]])
    for target, results in runs.items():
        p50 = median([r.p50 for r in results])
        report.add(
            "baseline (PlainTextResponse)" if target == BASELINE else target,
            f"{median([r.requests_per_second for r in results]):.0f}",
            "1.00" if target == BASELINE else f"{median(ratios[target]):.2f}",
            f"{p50 * 1000:.1f}",
            f"{median([r.p99 for r in results]) * 1000:.1f}",
            f"{p50 / baseline_p50:.1f}",
            sum(r.non_2xx for r in results),
            sum(r.socket_errors for r in results),
        )
    report.notes += [
        f"- wrk -t{plan.threads} -c{plan.connections} -d{plan.seconds}s --latency, {plan.rounds} round(s),"
        " targets interleaved; medians over the rounds, ratios per round then their median. Both servers"
        " are one uvicorn process each on the same machine as wrk.",
        f"- /channels renders {shown} announcements (its full history page); the database is SQLite.",
    ]
    if hot_spots:
        report.notes += ["", "```", *hot_spots, "```"]
    report.publish(facts, ["bench.http_baseline", *sys.argv[1:]])
    return 1 if any(r.non_2xx or r.socket_errors for results in runs.values() for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
