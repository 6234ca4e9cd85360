"""`hackserver simulate` against a real `hackserver run --demo`: a whole small event with no failures,
its report's counts equal to what the server's API says, and the same seed giving the same counts."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nacl.signing import SigningKey

from tests import processes

PROJECT = Path(__file__).resolve().parents[2]
HACKSERVER = Path(sys.executable).parent / "hackserver"
ORGANISER_TOKEN = "organiser-token-for-the-simulation"
DISCORD_KEY = SigningKey(bytes(range(32)))
PEOPLE, SPEED, SEED = 60, 100, 7  # 10 simulated minutes of arrivals in 6 s


def server_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HACKSERVER_", "SLACK_", "DISCORD_"))}
    return env | {
        "HACKSERVER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hs.db'}",
        "HACKSERVER_EVENT": str(PROJECT / "config" / "event.example.toml"),
        "HACKSERVER_ORGANISER_TOKEN": ORGANISER_TOKEN,
        "HACKSERVER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SLACK_SIGNING_SECRET": "slack-signing-secret-of-the-simulation",
        "DISCORD_PUBLIC_KEY": DISCORD_KEY.verify_key.encode().hex(),
        "SIMULATE_DISCORD_SIGNING_KEY": DISCORD_KEY.encode().hex(),
    }


@pytest.fixture
def demo(tmp_path: Path, free_port: int) -> Iterator[tuple[str, dict[str, str]]]:
    with running_demo(tmp_path, free_port) as running:
        yield running


@contextlib.contextmanager
def running_demo(tmp_path: Path, free_port: int) -> Iterator[tuple[str, dict[str, str]]]:
    """A `hackserver run --demo` with the example catalogue: its URL and the environment it runs in."""
    env = server_env(tmp_path, free_port)
    catalogue = str(PROJECT / "config" / "challenges.example.csv")
    processes.run([str(HACKSERVER), "challenges", "import", catalogue], env=env, check=True)
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [str(HACKSERVER), "run", "--demo", "--port", str(free_port)],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{free_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not answer /healthz within 30 s"
            time.sleep(0.2)
        yield url, env
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        finally:
            processes.end_group(process.pid)
            log.close()
        assert "Traceback" not in (tmp_path / "server.log").read_text()


def simulate(url: str, env: dict[str, str], out: Path, *args: str) -> dict[str, Any]:
    result = processes.run(
        [str(HACKSERVER), "simulate", "--url", url, "--participants", str(PEOPLE), "--speed", str(SPEED),
         "--seed", str(SEED), "--json", str(out), *args],
        env=env, text=True, timeout=600,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    report: dict[str, Any] = json.loads(out.read_text())
    assert result.returncode == (1 if report["failures"] else 0), result.stdout
    return report


def api(url: str, path: str) -> Any:
    response = httpx.get(f"{url}{path}", headers={"Authorization": f"Bearer {ORGANISER_TOKEN}"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_whole_simulated_event_has_no_failures_and_counts_what_the_server_counts(
    demo: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = demo
    report = simulate(url, env, tmp_path / "report.json")
    assert report["failures"] == {}, report["failure_examples"]
    counts = report["counts"]
    assert counts["registered"] == PEOPLE
    assert counts["teams created"] + counts["joined a team"] + counts["asked for a match"] == PEOPLE
    teams = api(url, "/api/v1/teams")["teams"]
    assert len(teams) == counts["teams created"] + counts["matched teams"] > counts["teams created"]
    assert sum(team["size"] for team in teams) == PEOPLE - counts["left alone"]
    assert sum(team["challenge"] is not None for team in teams) == counts["teams given a challenge"]
    final = [s for s in api(url, "/api/v1/submissions")["submissions"] if s["status"] == "final"]
    assert len(final) == counts["submissions"] == len(teams)
    assert api(url, "/api/v1/dashboard")["counts"]["bookings"] == counts["bookings"] > 0
    ranking = api(url, "/api/v1/ranking")["ranking"]
    assert sum(row["scores"] for row in ranking) == counts["scores"] == counts["jury assignments"]
    assert sum(row["selection"] == "selected" for row in ranking) == counts["selected"] >= 1
    assert {"slack command", "discord command", "page submit", "page book", "page jury"} <= set(
        report["latency_ms"]
    )


def test_the_same_seed_gives_the_same_counts(demo: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, env = demo
    first = simulate(url, env, tmp_path / "first.json", "--until", "matching")
    (tmp_path / "again").mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with running_demo(tmp_path / "again", port) as (url, env):
        second = simulate(url, env, tmp_path / "second.json", "--until", "matching")
    assert first["failures"] == {}, first["failure_examples"]
    assert second["failures"] == {}, second["failure_examples"]
    assert first["counts"] == second["counts"]


def test_without_the_organiser_token_simulate_says_so_in_one_line(tmp_path: Path) -> None:
    env = server_env(tmp_path, 1) | {"HACKSERVER_ORGANISER_TOKEN": ""}
    result = processes.run([str(HACKSERVER), "simulate"], env=env, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hackserver: HACKSERVER_ORGANISER_TOKEN: the simulator needs the server's organiser token"
    ]


def test_a_discord_key_that_does_not_match_the_servers_public_key_is_refused(tmp_path: Path) -> None:
    env = server_env(tmp_path, 1) | {"SIMULATE_DISCORD_SIGNING_KEY": bytes(32).hex()}
    result = processes.run([str(HACKSERVER), "simulate"], env=env, text=True, timeout=60)
    assert result.returncode == 2
    assert "its public key is not DISCORD_PUBLIC_KEY" in result.stderr and "Traceback" not in result.stderr
