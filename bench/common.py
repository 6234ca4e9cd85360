"""Shared pieces of the benchmarks: servers as real subprocesses on free loopback ports, scratch
databases, the machine's facts and the dated report in docs/benchmarks.md."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

import asyncpg  # type: ignore[import-untyped]
import httpx
from redis import Redis
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HACKSERVER = str(BIN / "hackserver")


REPORT = ROOT / "docs" / "benchmarks.md"
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

REPORT_HEADER = """\
# Benchmarks

Each script starts its own servers as subprocesses on free loopback ports, measures, stops them and
appends a dated section below with its table and the machine it ran on. Run from the repository root:

    .venv/bin/python -m bench.announcement_fanout   # clock → websocket viewers, embedded and scaled
    .venv/bin/python -m bench.http_baseline         # wrk against /healthz, /channels, /metrics
    .venv/bin/python -m bench.http_baseline --profile  # plus py-spy on the slowest endpoint

`--quick` is a short smoke run (its numbers are not worth comparing). The scaled mode needs
PostgreSQL (`BENCH_POSTGRES_URL`, default `postgresql://postgres@127.0.0.1:5432/test`; a scratch
database is created and dropped) and Redis (`BENCH_REDIS_URL`, default `redis://127.0.0.1:6379/14`,
flushed before and after); the HTTP benchmark needs `wrk`.

Absolute numbers depend on the machine and on whatever else it is doing: compare the ratios to the
baseline measured in the same run, and medians across runs, not single values.
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Process:
    """One subprocess with its output in a log file; stopped with SIGTERM, killed if it hangs."""

    def __init__(self, name: str, args: Sequence[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log: IO[bytes] = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            list(args),
            env=dict(env),
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches the benchmark, which stops its servers in order
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print(f"  {self.name} did not stop within {STOP_TIMEOUT:.0f} s; killed", flush=True)
                # The whole session: a killed RQ worker would leave its scheduler child running.
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.log.close()

    def tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class Processes:
    """The processes a benchmark started; `stop_all` stops them in reverse order of start."""

    log_dir: Path
    started: list[Process] = field(default_factory=list)

    def start(self, name: str, args: Sequence[str], env: Mapping[str, str]) -> Process:
        process = Process(name, args, env, self.log_dir)
        self.started.append(process)
        return process

    def check(self) -> None:
        for process in self.started:
            if not process.alive():
                raise RuntimeError(f"{process.name} exited early; its log ends with:\n{process.tail()}")

    def stop_all(self) -> None:
        while self.started:
            self.started.pop().stop()


@contextlib.contextmanager
def processes(log_dir: Path) -> Iterator[Processes]:
    group = Processes(log_dir)
    try:
        yield group
    finally:
        group.stop_all()


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory so far (VmHWM), in MiB; NaN once it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def descendants(pid: int) -> Iterator[int]:
    """Every process forked or spawned below pid, at any depth, as /proc shows them now."""
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                yield int(child)
                yield from descendants(int(child))


class PeakMemory:
    """The peak RSS of each process of a setup: every started process and its descendants, looked for
    each second (a child that ends between two looks is missed), each named by its kind: the started
    process's name, "web process" for one that `--workers` spawned, "<name>'s child" for the others
    (the RQ scheduler a worker forks)."""

    def __init__(self, roots: Mapping[str, int], every: float = 1.0) -> None:
        self.roots, self.every = dict(roots), every
        self.peaks: dict[int, tuple[str, float]] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.watch, name="peak-memory", daemon=True)

    def __enter__(self) -> PeakMemory:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        self.look()

    def watch(self) -> None:
        while not self.done.wait(self.every):
            self.look()

    def look(self) -> None:
        for name, root in self.roots.items():
            for pid in [root, *descendants(root)]:
                mb = peak_rss_mb(pid)
                if mb == mb:  # not NaN: still there
                    kind = name if pid == root else self.kind(name, pid)
                    self.peaks[pid] = (kind, max(mb, self.peaks.get(pid, (kind, 0.0))[1]))

    @staticmethod
    def kind(name: str, pid: int) -> str:
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"spawn_main" in command:
                return "web process" if name == "web" else f"{name}'s spawned child"
            if b"resource_tracker" in command:  # multiprocessing's, beside spawned children
                return f"{name}'s resource tracker"
        return f"{name}'s child"

    def by_kind(self) -> dict[str, list[float]]:
        """Each kind's processes' peaks, in MiB."""
        kinds: dict[str, list[float]] = {}
        for kind, mb in self.peaks.values():
            kinds.setdefault(kind, []).append(mb)
        return kinds


def wait_until_serving(url: str, group: Processes, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while True:
            group.check()
            with contextlib.suppress(httpx.TransportError):
                if client.get(url).status_code < 500:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
            time.sleep(0.1)


def hackserver_env(database_url: str, event_path: Path, redis_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HACKSERVER_", "SLACK_", "DISCORD_"))}
    env |= {"HACKSERVER_DATABASE_URL": database_url, "HACKSERVER_EVENT": str(event_path)}
    if redis_url is not None:
        env["HACKSERVER_REDIS_URL"] = redis_url
    return env


def hackserver_command(tree: Path) -> list[str]:
    """`hackserver` as the tree has it (a checkout of an earlier commit, or ROOT): its own package
    first, ahead of the working directory's."""
    if tree == ROOT:
        return [HACKSERVER]
    code = f"import sys; sys.path.insert(0, {str(tree)!r}); from hackserver.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code]


def upgrade_database(env: Mapping[str, str], tree: Path = ROOT) -> None:
    subprocess.run(
        [*hackserver_command(tree), "db", "upgrade"], env=dict(env), cwd=ROOT, check=True, capture_output=True
    )


@contextlib.contextmanager
def postgres_database(name: str) -> Iterator[str]:
    """A scratch PostgreSQL database for one run; dropped afterwards. Yields its SQLAlchemy URL."""

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(POSTGRES_URL)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def scratch_redis() -> Iterator[str]:
    """The benchmark's Redis database, empty before and after."""
    client = Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return result.stdout.strip()


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_facts() -> dict[str, str]:
    dirty = " with uncommitted changes" if git("status", "--porcelain", "--", "hackserver", "bots") else ""
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu_model(),
        "load average (1 min)": f"{os.getloadavg()[0]:.2f}",
        "python": platform.python_version(),
        "git HEAD": (git("rev-parse", "--short", "HEAD") or "unknown") + dirty,
    }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class Report:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(cell) for cell in cells])

    def table(self) -> Table:
        table = Table(title=self.title)
        for index, column in enumerate(self.columns):
            table.add_column(column, justify="left" if index == 0 else "right")
        for row in self.rows:
            table.add_row(*row)
        return table

    def markdown(self, facts: Mapping[str, str], command: str) -> str:
        stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        lines = [f"## {self.title} — {stamp}", "", f"`{command}`", ""]
        lines += [f"- {name}: {value}" for name, value in facts.items()]
        lines += ["", "| " + " | ".join(self.columns) + " |"]
        lines.append("| " + " | ".join(["---"] + ["---:"] * (len(self.columns) - 1)) + " |")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.notes:
            lines += ["", *self.notes]
        return "\n".join(lines) + "\n"

    def publish(self, facts: Mapping[str, str], argv: Sequence[str]) -> None:
        # Wide enough for the whole table even when the output is a pipe or a log file.
        console = Console(width=max(shutil.get_terminal_size().columns, 200))
        console.print(self.table())
        for note in self.notes:
            console.print(note, markup=False, highlight=False, soft_wrap=True)
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        if not REPORT.exists():
            REPORT.write_text(REPORT_HEADER)
        command = " ".join(["python -m", *argv])
        with REPORT.open("a") as report:
            report.write("\n" + self.markdown(facts, command))
        console.print(f"appended to {REPORT.relative_to(ROOT)}")
