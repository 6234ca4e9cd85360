"""`hackserver run --workers 2` on PostgreSQL and Redis: two web processes share one port; a team
created through one shows on an organiser's dashboard connected to the other, and a member leaving
through one stops receiving the team's channel on the other (the bus over Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from hackserver.web.dashboard import COOKIE
from hackserver.web.visitors import COOKIE as CHANNELS_COOKIE
from tests import processes
from tests.bots.test_slack import SECRET, command_body, signed
from tests.dbstate import migrate
from tests.fakes import ORGANISER_TOKEN

HACKSERVER = Path(sys.executable).parent / "hackserver"
PROCESSES = 2
ATTEMPTS = 60  # new connections tried until one lands on each process
RECEIVE_TIMEOUT = 10.0


def owner(client_port: int, server_port: int, pids: list[int]) -> int | None:
    """The process holding the server's end of the loopback connection from client_port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)
            if local == server_port and remote == client_port:
                inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        with os.scandir(f"/proc/{pid}/fd") as fds:
            if any(link_target(fd.path) in inodes for fd in fds):
                return pid
    return None


def link_target(fd_path: str) -> str:
    """What an open file descriptor points at; empty if it was closed while we looked."""
    try:
        return os.readlink(fd_path)
    except FileNotFoundError:
        return ""


def web_processes(parent: int) -> list[int]:
    children = [int(pid) for pid in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
    return [pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


@pytest.fixture
def server(
    database_url: str, redis_url: str, event_file: Callable[..., Path], free_port: int, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    asyncio.run(migrate(database_url))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HACKSERVER_", "SLACK_", "DISCORD_"))}
    env |= {
        "HACKSERVER_DATABASE_URL": database_url,
        "HACKSERVER_REDIS_URL": redis_url,
        "HACKSERVER_EVENT": str(event_file(kickoff=datetime.now(UTC) + timedelta(hours=1))),
        "HACKSERVER_ORGANISER_TOKEN": ORGANISER_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
    }
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(HACKSERVER), "run", "--workers", str(PROCESSES), "--port", str(free_port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count("web process") < PROCESSES:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield process, free_port
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, log.read_text()
        assert "Traceback" not in log.read_text()
    finally:
        processes.end_group(process.pid)  # the web processes uvicorn started, too
        process.wait()


@contextlib.asynccontextmanager
async def clients_on_each(port: int, pids: list[int]) -> AsyncIterator[dict[int, httpx.AsyncClient]]:
    """One single-connection client per web process (signed in to the dashboard)."""
    found: dict[int, httpx.AsyncClient] = {}
    spare: list[httpx.AsyncClient] = []
    # Sign in once: every process honours the same cookie.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as signing_in:
        signed_in = await signing_in.post("/dashboard/login", data={"token": ORGANISER_TOKEN})
        assert signed_in.status_code == 303, signed_in.text
    try:
        for _ in range(ATTEMPTS):
            client = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                limits=httpx.Limits(max_connections=1),
                timeout=10,
                cookies={COOKIE: signed_in.cookies[COOKIE]},
            )
            response = await client.get("/healthz")
            assert response.status_code == 200, response.text
            local = response.extensions["network_stream"].get_extra_info("client_addr")[1]
            pid = owner(local, port, pids)
            if pid is None or pid in found:
                spare.append(client)
            else:
                found[pid] = client
            if len(found) == len(pids):
                break
        yield found
    finally:
        for client in [*found.values(), *spare]:
            await client.aclose()


async def dashboard_on(pid: int, port: int, pids: list[int], cookie: str) -> ClientConnection:
    for _ in range(ATTEMPTS):
        ws = await connect(
            f"ws://127.0.0.1:{port}/ws/dashboard", additional_headers={"Cookie": f"{COOKIE}={cookie}"}
        )
        if owner(ws.local_address[1], port, pids) == pid:
            return ws
        await ws.close()
    raise AssertionError(f"no dashboard connection landed on process {pid}")


async def teams_shown(ws: ClientConnection, count: int) -> None:
    """Until the dashboard shows `count` teams: a snapshot holds every count, a change those that moved."""
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] in ("snapshot", "change") and frame.get("counts", {}).get("teams") == count:
                return


@pytest.mark.redis
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_team_created_through_one_web_process_shows_on_a_dashboard_of_the_other(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = server
    pids = web_processes(process.pid)
    assert len(pids) == PROCESSES
    async with clients_on_each(port, pids) as clients:
        assert set(clients) == set(pids), "the connections never reached both processes"
        first, second = pids
        cookie = clients[second].cookies[COOKIE]
        ws = await dashboard_on(second, port, pids, cookie)
        try:
            await teams_shown(ws, 0)
            body = command_body("team create Luftretter", user="U1")
            headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(body)}
            created = await clients[first].post("/slack/commands", content=body, headers=headers)
            assert created.status_code == 200 and "Luftretter" in created.text
            await teams_shown(ws, 1)
        finally:
            await ws.close()
        listed = await clients[second].get(
            "/api/v1/teams", headers={"Authorization": f"Bearer {ORGANISER_TOKEN}"}
        )
        assert [team["name"] for team in listed.json()["teams"]] == ["Luftretter"]


@pytest.mark.redis
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_metrics_of_commands_served_by_either_web_process_appear_in_one_scrape(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = server
    pids = web_processes(process.pid)
    async with clients_on_each(port, pids) as clients:
        assert set(clients) == set(pids), "the connections never reached both processes"
        for pid, client in clients.items():
            body = command_body("help", user="U1", trigger=f"metrics.{pid}")
            headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(body)}
            assert (await client.post("/slack/commands", content=body, headers=headers)).status_code == 200
        for client in clients.values():
            scraped = (await client.get("/metrics")).text
            helped = [
                found.value
                for family in text_string_to_metric_families(scraped)
                for found in family.samples
                if found.name == "hackserver_command_seconds_count"
                and found.labels == {"platform": "slack", "command": "help", "outcome": "ok"}
            ]
            assert helped == [PROCESSES]


async def channels_on(pid: int, port: int, pids: list[int], cookie: str, channel: str) -> ClientConnection:
    for _ in range(ATTEMPTS):
        ws = await connect(
            f"ws://127.0.0.1:{port}/ws/channels?channel={channel}&lang=en",
            additional_headers={"Cookie": f"{CHANNELS_COOKIE}={cookie}"},
        )
        if owner(ws.local_address[1], port, pids) == pid:
            return ws
        await ws.close()
    raise AssertionError(f"no channels connection landed on process {pid}")


async def frames_until(
    ws: ClientConnection, wanted: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        while not wanted(frame := json.loads(await ws.recv())):
            seen.append(frame)
    return [*seen, frame]


def a_reply(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message" and frame["message"]["reply"] is not None


@pytest.mark.redis
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_member_who_leaves_through_one_web_process_no_longer_receives_the_team_channel_on_the_other(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = server
    pids = web_processes(process.pid)
    async with clients_on_each(port, pids) as clients:
        assert set(clients) == set(pids), "the connections never reached both processes"
        first, second = pids
        people: dict[str, tuple[str, str]] = {}  # name: session cookie, bot channel
        for name in ("Alice", "Bob"):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as browser:
                joined = await browser.post("/channels/join?lang=en", data={"name": name})
            people[name] = (
                joined.cookies[CHANNELS_COOKIE],
                httpx.URL(joined.headers["location"]).params["channel"],
            )

        async def say(name: str, channel: str, text: str) -> None:
            cookie = {"Cookie": f"{CHANNELS_COOKIE}={people[name][0]}"}
            said = await clients[first].post(
                f"/channels/{channel}/messages", data={"text": text}, headers=cookie
            )
            assert said.status_code == 303, said.text

        await say("Alice", people["Alice"][1], "team create Luftretter")
        organiser = {"Authorization": f"Bearer {ORGANISER_TOKEN}"}
        [team] = (await clients[first].get("/api/v1/teams", headers=organiser)).json()["teams"]
        await say("Bob", people["Bob"][1], f"team join {team['join_code']}")
        ws = await channels_on(second, port, pids, people["Alice"][0], people["Alice"][1])
        try:
            await frames_until(ws, lambda f: f["type"] == "phase")
            await say("Bob", team["channel"], "before")
            await frames_until(ws, lambda f: f.get("channel") == team["channel"])
            await say("Alice", people["Alice"][1], "team leave")
            await frames_until(ws, a_reply)
            await say("Bob", team["channel"], "after")
            await say("Alice", people["Alice"][1], "help")  # one process publishes both, in this order
            seen = await frames_until(ws, a_reply)
        finally:
            await ws.close()
    assert [f for f in seen if f.get("channel") == team["channel"]] == []


def test_several_web_processes_need_redis_and_postgresql(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HACKSERVER_", "SLACK_", "DISCORD_"))}
    env["HACKSERVER_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'hs.db'}"
    result = processes.run([str(HACKSERVER), "run", "--workers", "2"], env=env, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hackserver: --workers 2: needs HACKSERVER_REDIS_URL and a PostgreSQL HACKSERVER_DATABASE_URL"
    ]
