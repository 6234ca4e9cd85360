"""`hackserver run --demo [--crowd N]` as a new organiser starts it: the example catalogues, experts
with free slots and jurors in an empty event, people arriving on their own, and nothing twice."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests import processes
from tests.test_cli import HACKSERVER, base_env, demo_server, hackserver, one_error_line

__all__ = ["base_env"]  # the fixture
TOKEN = "demo-organiser-token-0123456789"
PEOPLE = 50


def api(port: int, path: str, token: str) -> Any:
    response = httpx.get(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_demo_with_a_crowd_has_challenges_experts_with_free_slots_and_registrations_within_a_minute(
    base_env: dict[str, str], tmp_path: Path, free_port: int
) -> None:
    env = base_env | {"HACKSERVER_ORGANISER_TOKEN": TOKEN}
    started = time.monotonic()
    with (tmp_path / "server.log").open("w") as log:
        process = subprocess.Popen(
            [str(HACKSERVER), "run", "--demo", "--crowd", str(PEOPLE), "--port", str(free_port)],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        seen: dict[str, Any] = {}
        while not (seen.get("challenges") and seen.get("free") and seen.get("registered")):
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() - started < 60, f"within a minute only {seen}"
            try:
                challenges = api(free_port, "/api/v1/challenges", TOKEN)["challenges"]
                experts = api(free_port, "/api/v1/experts", TOKEN)["experts"]
                people = api(free_port, "/api/v1/participants", TOKEN)["participants"]
            except httpx.TransportError:
                time.sleep(0.5)
                continue
            seen = {
                "challenges": len(challenges),
                "free": [e["name"] for e in experts if e["slots"] > e["booked"]],
                "registered": [p["name"] for p in people],
            }
            time.sleep(0.5)
        assert seen["challenges"] == 51  # config/challenges.example.csv
        assert api(free_port, "/api/v1/dashboard", TOKEN)["counts"]["free_slots"] > 0
        assert len(api(free_port, "/api/v1/jurors", TOKEN)["jurors"]) == 5
        assert all(re.fullmatch(r"\w+ [A-Z]\.", name) for name in seen["registered"]), seen["registered"]
        assert TOKEN not in (tmp_path / "server.log").read_text()  # the operator's own is never shown
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        finally:
            processes.end_group(process.pid)
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def catalogue_rows(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("challenges", "experts", "jurors", "slots", "audit_log")
        }


def test_a_second_demo_on_the_same_database_imports_nothing_twice(
    base_env: dict[str, str], tmp_path: Path, free_port: int
) -> None:
    with demo_server(base_env, tmp_path, free_port):
        printed = (tmp_path / "server.log").read_text()
    first = catalogue_rows(tmp_path / "hs.db")
    assert first["challenges"] == 51 and first["experts"] == 12 and first["jurors"] == 5
    assert first["slots"] == 4 * 12

    with demo_server(base_env, tmp_path, free_port):
        again = (tmp_path / "server.log").read_text()
        # Without HACKSERVER_ORGANISER_TOKEN a demo makes one of its own and shows it once, at start.
        token = re.findall(r"/dashboard \(organiser token: (\S+)\)", again)
        assert len(token) == 1 and token[0] not in printed, again
        assert len(api(free_port, "/api/v1/challenges", token[0])["challenges"]) == 51
    assert catalogue_rows(tmp_path / "hs.db") == first


def test_a_crowd_without_a_demo_is_refused_with_one_line(base_env: dict[str, str], tmp_path: Path) -> None:
    result = hackserver("run", "--crowd", "50", env=base_env, cwd=tmp_path)
    assert (
        one_error_line(result)
        == "hackserver: --crowd 50: simulated participants join only a demo; add --demo"
    )
    assert not (tmp_path / "hs.db").exists()
