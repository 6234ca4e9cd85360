"""Announcements to 1,500 Slack channels, k messages each (k announcements in a row), through the
fake Slack of tests/fake_slack.py (its own uvicorn process) that answers 429 to a channel posted to
faster than it allows: total time from the commit of the outbox rows to the last accepted post, lost
and duplicated messages, 429s. The hackserver runtime runs in this process (`bootstrap`, the embedded
job runner), on SQLite and on PostgreSQL.

The floor: Slack documents "1 message per second per channel, short bursts allowed" without saying
how short, so our pacer sends one a second per channel and the fake allows exactly that (burst 1).
A channel's k-th message can then be accepted no sooner than k − 1 seconds after its first: the
floor is (k − 1) s from the moment the first wave could all go at once. With k = 2 that second is
about as long as posting the first wave itself takes, so the total mostly measures our own posting
speed; with k = 5 and more the limit binds.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.common import (
    ROOT,
    Processes,
    Report,
    free_port,
    machine_facts,
    postgres_database,
    processes,
    wait_until_serving,
)
from bench.slack_commands import cpu_seconds
from hackserver.bootstrap import bootstrap
from hackserver.foundation import db, outbox
from hackserver.foundation.models import OutboxMessage
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from tests.fake_slack import FakeSlack

TOKEN = "xoxb-bench"
DEADLINE = 300.0  # seconds for one fan-out to finish before it is called lost


def fake_app() -> object:
    """FakeSlack with its burst from the environment, plus what it recorded (served with --factory)."""
    fake = FakeSlack(token=TOKEN, burst=int(os.environ.get("BENCH_FAKE_BURST", "2")))

    async def recorded(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "posts": [[p.channel, p.text, p.at] for p in fake.posts],
                "throttled": fake.throttled,
                "attempts": len(fake.attempts),
                "now": time.monotonic(),
            }
        )

    fake.app.router.routes.append(Route("/bench/recorded", recorded))
    return fake.app


@dataclass(frozen=True)
class Plan:
    channels: int
    per_channel: int = 2


FULL = Plan(channels=1500)
QUICK = Plan(channels=150)
PER_CHANNEL = (2, 5)


@dataclass
class Outcome:
    code: str
    database: str
    burst: int
    messages: int
    floor: float
    total: float  # commit → last accepted post, seconds
    first_wave: float  # commit → every channel's first message accepted, seconds
    lost: int
    duplicated: int
    throttled: int  # 429s answered by the fake
    dead: int
    cpu: float = float("nan")  # seconds of CPU this process used from the commit to the end
    fake_cpu: float = float("nan")  # seconds of CPU the fake used meanwhile


async def fan_out(database_url: str, fake_url: str, plan: Plan, burst: int) -> Outcome:
    settings = Settings(
        database_url=database_url,
        event_path=ROOT / "config" / "event.example.toml",
        slack_bot_token=TOKEN,
        slack_api_url=f"{fake_url}/api/",
    )
    if not settings.is_sqlite:
        engine = db.create_engine(database_url)
        await db.upgrade(engine)
        await engine.dispose()
    channels = [f"C{n:05d}" for n in range(plan.channels)]
    expected = {(c, text_of(c, k)) for c in channels for k in range(plan.per_channel)}
    async with bootstrap(settings) as runtime, httpx.AsyncClient(base_url=fake_url, timeout=30) as client:
        # As `hackserver run` does once started (start_up_frozen in hackserver/app.py; written out
        # here, as this file also runs older commits' code): start-up's objects out of the collector's
        # way, and its thresholds (GC_THRESHOLDS in hackserver/runtime.py).
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        await write_announcements(runtime, channels, plan.per_channel)
        committed = time.monotonic()  # CLOCK_MONOTONIC: the fake's clock too
        cpu = time.process_time()
        deadline = committed + DEADLINE
        while True:
            await asyncio.sleep(0.05)
            async with runtime.sessions() as session:
                open_rows = await session.scalar(
                    select(func.count()).where(OutboxMessage.status.in_(("pending", "sending")))
                )
            if not open_rows or time.monotonic() > deadline:
                break
        cpu = time.process_time() - cpu
        recorded = (await client.get("/bench/recorded")).json()
        async with runtime.sessions() as session:
            dead = await session.scalar(select(func.count()).where(OutboxMessage.status == "dead")) or 0
    posts = Counter((channel, text) for channel, text, _ in recorded["posts"])
    last = max((at for _, _, at in recorded["posts"]), default=committed)
    firsts: dict[str, float] = {}
    for channel, _, at in recorded["posts"]:
        firsts[channel] = min(at, firsts.get(channel, at))
    return Outcome(
        code="",
        database="SQLite" if settings.is_sqlite else "PostgreSQL",
        burst=burst,
        messages=len(expected),
        floor=max(0, plan.per_channel - burst) * 1.0,  # seconds at 1 message a second
        total=last - committed,
        first_wave=max(firsts.values(), default=committed) - committed,
        lost=len(expected - set(posts)),
        duplicated=sum(n - 1 for n in posts.values() if n > 1),
        throttled=int(recorded["throttled"]),
        dead=int(dead),
        cpu=cpu,
    )


async def write_announcements(runtime: Runtime, channels: list[str], per_channel: int) -> None:
    """In one transaction, announcement by announcement, as the clock writes them; its rows are
    garbage once it returns, as in the clock, not kept alive through the fan-out."""
    async with runtime.transaction() as tx:
        for k in range(per_channel):
            for channel in channels:
                text = text_of(channel, k)
                await outbox.add(
                    tx, f"bench:{k}:{channel}", "slack", channel, {"author": "bench", "texts": {"en": text}}
                )


def text_of(channel: str, k: int) -> str:
    return f"Announcement {k + 1}: kickoff is in one hour ({channel})"


def child() -> None:
    """One fan-out in this process, with the code found first on sys.path; prints its outcome."""
    database_url, fake_url, channels, per_channel, burst = sys.argv[1:6]
    outcome = asyncio.run(fan_out(database_url, fake_url, Plan(int(channels), int(per_channel)), int(burst)))
    print(json.dumps(dataclasses.asdict(outcome)))


def run_fan_out(
    tree: Path, database_url: str, fake_url: str, plan: Plan, burst: int, fake_pid: int
) -> Outcome:
    """A fan-out in a fresh process running the code of `tree` (this checkout, or an older commit's)."""
    fake_cpu = cpu_seconds(fake_pid)
    main = f"import sys; sys.path.insert(0, {str(tree)!r}); from bench.slack_fanout import child; child()"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            main,
            database_url,
            fake_url,
            str(plan.channels),
            str(plan.per_channel),
            str(burst),
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the fan-out failed:\n{result.stderr[-3000:]}")
    outcome = Outcome(**json.loads(result.stdout.strip().splitlines()[-1]))
    return dataclasses.replace(outcome, fake_cpu=cpu_seconds(fake_pid) - fake_cpu)


def checkout(revision: str, into: Path) -> Path:
    """The tree of a commit, with this benchmark and the fake Slack of today copied in."""
    into.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    shutil.copy(Path(__file__), into / "bench" / "slack_fanout.py")
    shutil.copy(ROOT / "tests" / "fake_slack.py", into / "tests" / "fake_slack.py")
    return into


def serve_fake(group: Processes, burst: int) -> str:
    port = free_port()
    env = dict(os.environ) | {"BENCH_FAKE_BURST": str(burst)}
    group.start(
        f"fake-slack-burst-{burst}",
        [
            *(sys.executable, "-m", "uvicorn", "bench.slack_fanout:fake_app", "--factory"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        ],
        env,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(f"{url}/bench/recorded", group)
    return url


def counts(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slack_fanout", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK.channels} channels")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument(
        "--before", metavar="REV", help="also run the fan-out with the code of this commit, for before/after"
    )
    parser.add_argument(
        "--per-channel",
        type=counts,
        default=PER_CHANNEL,
        metavar="K,…",
        help="messages per channel, one run each (default 2,5)",
    )
    parser.add_argument(
        "--fake-burst", type=counts, default=(1,), metavar="B,…", help="the fake's bursts (default 1)"
    )
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    facts = machine_facts()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="hs-bench-fanout-") as tmp:
        work = Path(tmp)
        trees = {"working tree": ROOT}
        if args.before:
            trees[args.before] = checkout(args.before, work / "before")
        for per_channel in args.per_channel:
            plan = dataclasses.replace(base, per_channel=per_channel)
            for burst in args.fake_burst:
                for n, (code, tree) in enumerate(trees.items()):
                    with processes(work) as group:
                        fake_url = serve_fake(group, burst)
                        sqlite_url = f"sqlite+aiosqlite:///{work / f'fanout-{per_channel}-{burst}-{n}.db'}"
                        outcome = run_fan_out(tree, sqlite_url, fake_url, plan, burst, group.started[-1].pid)
                        outcomes.append(dataclasses.replace(outcome, code=code))
                        group.check()
                    if not args.sqlite_only:
                        with (
                            postgres_database(f"hs_bench3_fanout_{per_channel}_{burst}_{n}") as url,
                            processes(work) as group,
                        ):
                            fake_url = serve_fake(group, burst)
                            outcome = run_fan_out(tree, url, fake_url, plan, burst, group.started[-1].pid)
                            outcomes.append(dataclasses.replace(outcome, code=code))
                            group.check()
                print(f"  {per_channel} per channel, fake burst {burst} done", flush=True)
    report = Report(
        f"Slack announcement fan-out: {base.channels} channels × "
        + ", ".join(str(k) for k in args.per_channel)
        + " messages",
        [
            "code",
            "database",
            "per channel",
            "fake's burst",
            "messages",
            "first wave s",
            "floor s",
            "total s",
            "× floor",
            "messages/s",
            "lost",
            "duplicated",
            "429s",
            "dead",
            "CPU ms/msg",
            "fake's CPU s",
        ],
    )
    for o in outcomes:
        report.add(
            o.code,
            o.database,
            o.messages // base.channels,
            o.burst,
            o.messages,
            f"{o.first_wave:.2f}",
            f"{o.floor:.1f}",
            f"{o.total:.2f}",
            f"{o.total / o.floor:.2f}" if o.floor else "n/a",
            f"{o.messages / o.total:.0f}" if o.total > 0 else "n/a",
            o.lost,
            o.duplicated,
            o.throttled,
            o.dead,
            f"{o.cpu / o.messages * 1000:.2f}",
            f"{o.fake_cpu:.1f}",
        )
    report.notes += [
        "- total: from the commit of the announcements' outbox rows (one transaction, announcement by"
        " announcement) to the last post the fake accepted; first wave: until every channel's first message"
        " was accepted; lost: messages the fake never accepted; duplicated: a channel's message accepted"
        " twice; 429s: posts the fake refused because their channel was posted to too fast.",
        "- The fake allows 1 message per second per channel with a burst as given (a GCRA, 0.25 s leeway"
        " for jitter); our pacer sends at most 1 per second per channel (burst 1). floor = (messages per"
        " channel − burst) × 1 s: a channel's last message is accepted no sooner after its first, and the"
        " first wave could all go at once. × floor = total ÷ floor; the target is ≤ 1.1.",
        "- The runtime (embedded job runner) runs in the benchmark's process; the fake in its own uvicorn"
        " process; PostgreSQL is local. One run each, same machine.",
        "- CPU ms/msg: the CPU the delivering process used from the commit to the end (its polling for the"
        " end included), per message; fake's CPU s: the fake's meanwhile. On a machine shared with other"
        " work these move far less than the times do.",
    ]
    report.publish(facts, ["bench.slack_fanout", *sys.argv[1:]])
    return 0 if all(o.lost == 0 and o.duplicated == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
