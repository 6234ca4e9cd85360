"""Drill: the shipped supervisord configuration runs the whole scaled-out deployment (web processes,
two workers, two clocks). A worker and a clock are killed by SIGKILL in the middle of a burst of
deliveries: supervisord starts both again, the other processes carry on, and every message
arrives once. The systemd units are checked by systemd-analyze."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from hackserver.clock import LOCK_TTL
from tests import processes
from tests.bots.test_slack import TOKEN
from tests.conftest import unavailable
from tests.dbstate import eventually, queue_messages
from tests.fake_slack import FakeSlack
from tests.fakes import FakeClock
from tests.servers import serving
from tests.test_drill_worker import undelivered

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHANNELS = [f"C{n:04}" for n in range(120)]
STATUS = re.compile(r"^hackserver:(\S+)\s+(\S+)(?:\s+pid (\d+))?", re.MULTILINE)


@pytest.fixture
async def fake_slack(free_port: int) -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, delay=0.02)  # slowed a little, so that the kills land mid-burst
    async with serving(fake.app, free_port) as server:
        fake.url = f"http://127.0.0.1:{server.config.port}"
        yield fake


def another_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Supervisor:
    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.config, self.env = config, env

    def ctl(self, *args: str) -> str:
        done = processes.run(
            [str(BIN / "supervisorctl"), "-c", str(self.config), *args], env=self.env, text=True
        )
        return str(done.stdout)

    def processes(self) -> dict[str, tuple[str, int | None]]:
        """Each process's state and pid, as `supervisorctl status` shows them."""
        found = STATUS.findall(self.ctl("status"))
        return {name: (state, int(pid) if pid else None) for name, state, pid in found}

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.config.parent.glob("*.log"))
        )


@pytest.fixture
async def supervised(
    database_url: str,
    redis_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    fake_slack: FakeSlack,
    tmp_path: Path,
) -> AsyncIterator[tuple[Supervisor, int]]:
    event_path = event_file(kickoff=kickoff)
    port = another_port()
    config = tmp_path / "deploy" / "supervisord.conf"
    config.parent.mkdir()
    config.write_text((ROOT / "deploy" / "supervisord.conf").read_text().replace("0.0.0.0", "127.0.0.1"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HACKSERVER_", "SLACK_"))}
    env |= {
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "PORT": str(port),
        "HACKSERVER_DATABASE_URL": database_url,
        "HACKSERVER_REDIS_URL": redis_url,
        "HACKSERVER_EVENT": str(event_path),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": f"{fake_slack.url}/api/",
    }
    async with make_runtime(database_url, event_path, FakeClock(kickoff), redis_url):
        pass  # the schema and the event's instants are in the database before the processes start
    supervisord = await asyncio.create_subprocess_exec(
        str(BIN / "supervisord"), "-n", "-c", str(config),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    supervisor = Supervisor(config, env)
    try:

        async def all_running() -> bool:
            assert supervisord.returncode is None, supervisor.logs()
            states = supervisor.processes()
            return len(states) == 5 and all(state == "RUNNING" for state, _ in states.values())

        try:
            await eventually(all_running, within=90, interval=0.5)
        except TimeoutError:
            raise AssertionError(f"{supervisor.processes()}\n{supervisor.logs()}") from None
        yield supervisor, port
    finally:
        supervisor.ctl("shutdown")  # stops every program, then itself
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(supervisord.wait(), 60)
        processes.end_group(supervisord.pid)  # whatever did not stop
        await supervisord.wait()


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_killed_worker_and_clock_are_started_again_and_no_message_is_lost(
    supervised: tuple[Supervisor, int],
    database_url: str,
    redis_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    fake_slack: FakeSlack,
) -> None:
    supervisor, port = supervised
    async with httpx.AsyncClient() as client:

        async def serving() -> bool:
            try:
                return (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            except httpx.TransportError:  # still starting
                return False

        await eventually(serving, within=60, interval=0.5)
    before = supervisor.processes()
    async with make_runtime(
        database_url, event_file(kickoff=kickoff), FakeClock(kickoff), redis_url
    ) as runtime:
        await queue_messages(runtime, "slack", CHANNELS)  # one RQ job a row, for the two workers
    await eventually(lambda: asyncio.sleep(0, len(fake_slack.posts) >= 20), within=60)
    for victim in ("worker-0", "clock-0"):
        pid = before[victim][1]
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

    async def back_again() -> bool:
        now = supervisor.processes()
        return all(now[v][0] == "RUNNING" and now[v][1] != before[v][1] for v in ("worker-0", "clock-0"))

    try:
        await eventually(back_again, within=60, interval=0.5)
    except TimeoutError:
        raise AssertionError(f"{supervisor.processes()}\n{supervisor.logs()}") from None
    untouched = {name: pid for name, (_, pid) in before.items() if name not in ("worker-0", "clock-0")}
    assert {name: supervisor.processes()[name][1] for name in untouched} == untouched

    async def all_delivered() -> bool:
        return not await undelivered(database_url)

    try:
        await eventually(all_delivered, within=90, interval=0.5)
    except TimeoutError:
        raise AssertionError(f"{await undelivered(database_url)}\n{supervisor.logs()}") from None
    per_channel = Counter(post.channel for post in fake_slack.posts)
    assert per_channel == dict.fromkeys(CHANNELS, 1)  # the one in flight was found in Slack's history
    # One clock leads again: the other, once the killed leader's lock has run out, or the restarted one.
    connection = Redis.from_url(redis_url)
    try:
        await eventually(
            lambda: asyncio.sleep(0, bool(connection.keys("hackserver:*:clock"))), within=LOCK_TTL * 2
        )
    finally:
        connection.close()


def test_the_systemd_units_are_valid(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        unavailable("systemd-analyze is not installed (Debian's systemd package has it)")
    for unit in (ROOT / "deploy" / "systemd").iterdir():
        text = unit.read_text()  # this machine has neither the user nor the paths of a server
        text = text.replace("/opt/hackserver/.venv/bin/hackserver", str(BIN / "hackserver"))
        text = text.replace("EnvironmentFile=/etc", "EnvironmentFile=-/etc").replace(
            "User=hackserver", "User=root"
        )
        (tmp_path / unit.name).write_text(text)
    units = [str(tmp_path / name) for name in sorted(p.name for p in tmp_path.iterdir())]
    done = processes.run([analyze, "verify", "--man=no", *units], text=True)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
