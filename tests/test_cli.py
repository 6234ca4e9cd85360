"""The `hackserver` console script, run as a real process: one clear line per error, clean start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from alembic.script import ScriptDirectory

from hackserver.foundation import db
from tests import processes
from tests.dbstate import migrate
from tests.fakes import event_toml

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLE_EVENT = PROJECT / "config" / "event.example.toml"
HACKSERVER = Path(sys.executable).parent / "hackserver"
OWN_SETTINGS = ("HACKSERVER_", "SLACK_", "DISCORD_")
HEAD = ScriptDirectory.from_config(db.alembic_config()).get_current_head()


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    """The caller's environment without any hackserver, Slack or Discord setting, plus a fresh SQLite file."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(OWN_SETTINGS) and key not in ("PORT", "PYTHONPATH")
    }
    env["HACKSERVER_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'hs.db'}"
    env["HACKSERVER_EVENT"] = str(EXAMPLE_EVENT)
    return env


def hackserver(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return processes.run([str(HACKSERVER), *args], env=env, cwd=cwd, text=True, timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def test_the_console_script_is_installed() -> None:
    assert HACKSERVER.is_file(), f"{HACKSERVER} is missing; install the project with pip install -e ."


def test_run_with_a_bad_setting_prints_one_line_naming_it(base_env: dict[str, str], tmp_path: Path) -> None:
    result = hackserver(
        "run", env={**base_env, "HACKSERVER_DATABASE_URL": "mysql://hack@db/hack"}, cwd=tmp_path
    )
    line = one_error_line(result)
    assert line.startswith("hackserver: HACKSERVER_DATABASE_URL: expected sqlite+aiosqlite:///FILE")
    assert result.stdout == ""


def test_run_with_a_bad_token_prints_one_line_without_the_token(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    result = hackserver("run", env={**base_env, "SLACK_BOT_TOKEN": "xoxp-private-user-token"}, cwd=tmp_path)
    line = one_error_line(result)
    assert line.startswith("hackserver: SLACK_BOT_TOKEN: expected")
    assert "private-user-token" not in result.stderr + result.stdout


def test_run_without_an_event_file_names_the_setting(base_env: dict[str, str], tmp_path: Path) -> None:
    env = {key: value for key, value in base_env.items() if key != "HACKSERVER_EVENT"}
    line = one_error_line(hackserver("run", env=env, cwd=tmp_path))
    assert line.startswith("hackserver: HACKSERVER_EVENT: expected the path of an event TOML file")


def test_run_with_a_broken_event_file_names_the_field_path(base_env: dict[str, str], tmp_path: Path) -> None:
    text = event_toml(datetime(2027, 3, 19, 18, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    event = tmp_path / "broken.toml"
    event.write_text(text.replace('at = "kickoff"', 'at = "kickof + 1h"'), encoding="utf-8")
    line = one_error_line(hackserver("run", env={**base_env, "HACKSERVER_EVENT": str(event)}, cwd=tmp_path))
    assert line.startswith(f"hackserver: {event}: ")
    assert "announcements[kickoff].at: unknown phase 'kickof'" in line


def test_db_upgrade_creates_the_tables_in_a_fresh_sqlite_file(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    result = hackserver("db", "upgrade", env=base_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "newest schema" in result.stdout
    assert {"outbox", "fired_items", "alembic_version"} <= tables(tmp_path / "hs.db")


def test_db_upgrade_twice_changes_nothing_the_second_time(base_env: dict[str, str], tmp_path: Path) -> None:
    first = hackserver("db", "upgrade", env=base_env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = tables(tmp_path / "hs.db")
    second = hackserver("db", "upgrade", env=base_env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert tables(tmp_path / "hs.db") == before
    with sqlite3.connect(tmp_path / "hs.db") as connection:
        assert len(connection.execute("SELECT version_num FROM alembic_version").fetchall()) == 1


def test_worker_without_redis_exits_with_one_clear_line(base_env: dict[str, str], tmp_path: Path) -> None:
    line = one_error_line(hackserver("worker", env=base_env, cwd=tmp_path))
    assert line.startswith("hackserver: HACKSERVER_REDIS_URL: ")
    assert "needs Redis" in line


@pytest.mark.parametrize("speed", ["0", "-2", "fast"])
def test_run_refuses_a_speed_that_is_not_a_positive_number(
    speed: str, base_env: dict[str, str], tmp_path: Path
) -> None:
    result = hackserver("run", "--speed", speed, env=base_env, cwd=tmp_path)
    assert result.returncode == 2
    assert "--speed" in result.stderr
    assert "expected a number" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "hs.db").exists()


def test_run_demo_serves_prints_its_url_and_stops_cleanly_on_sigterm(
    base_env: dict[str, str], tmp_path: Path, free_port: int
) -> None:
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(
            [str(HACKSERVER), "run", "--demo", "--speed", "600", "--port", str(free_port)],
            env=base_env,
            cwd=tmp_path,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 20
        health: httpx.Response | None = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{free_port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None, f"no /healthz within 20 s (exit {process.poll()}): {stderr.read_text()}"
        assert health.status_code == 200, health.text
        assert f"http://127.0.0.1:{free_port}/channels" in stdout.read_text()

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, stderr.read_text()
        assert "Traceback" not in stderr.read_text()
    finally:
        processes.end_group(process.pid)
        process.wait(timeout=10)


def stored_phases(database: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(database) as connection:
        return connection.execute(
            "SELECT name, planned_at, shift_seconds FROM phases ORDER BY name"
        ).fetchall()


@contextlib.contextmanager
def demo_server(env: dict[str, str], cwd: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`hackserver run --demo` until the block ends, once it answers /healthz."""
    with (cwd / "server.log").open("w") as log:
        process = subprocess.Popen(
            [str(HACKSERVER), "run", "--demo", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 20
        while process.poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (cwd / "server.log").read_text()
                time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        finally:
            processes.end_group(process.pid)


def test_a_command_beside_a_running_demo_leaves_the_events_instants_alone(
    base_env: dict[str, str], tmp_path: Path, free_port: int
) -> None:
    with demo_server(base_env, tmp_path, free_port):
        shifted = stored_phases(tmp_path / "hs.db")
        for command in (
            ("challenges", "import", str(PROJECT / "config" / "challenges.example.csv")),
            ("experts", "import", str(PROJECT / "config" / "experts.example.csv")),
            ("export", "--out", str(tmp_path / "export")),
        ):
            result = hackserver(*command, env=base_env, cwd=tmp_path)
            assert result.returncode == 0, result.stderr
            assert stored_phases(tmp_path / "hs.db") == shifted, command
        health = httpx.get(f"http://127.0.0.1:{free_port}/healthz", timeout=5).json()
        assert health["phase"] == "kickoff"


def test_a_second_server_that_cannot_listen_changes_nothing(
    base_env: dict[str, str], tmp_path: Path, free_port: int
) -> None:
    with demo_server(base_env, tmp_path, free_port):
        shifted = stored_phases(tmp_path / "hs.db")
        time.sleep(1.1)  # a demo started now would shift the instants by a whole second more
        second = hackserver("run", "--demo", "--port", str(free_port), env=base_env, cwd=tmp_path)
        assert one_error_line(second).endswith(
            f"cannot listen on 127.0.0.1:{free_port}: address already in use"
        )
        assert stored_phases(tmp_path / "hs.db") == shifted


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("command", ["run", "clock", "worker"])
def test_a_process_on_a_postgresql_database_without_its_schema_says_to_run_db_upgrade(
    command: str,
    empty_database_url: str,
    redis_url: str,
    base_env: dict[str, str],
    tmp_path: Path,
    free_port: int,
) -> None:
    env = base_env | {"HACKSERVER_DATABASE_URL": empty_database_url, "HACKSERVER_REDIS_URL": redis_url}
    env["PORT"] = str(free_port)
    line = one_error_line(hackserver(command, env=env, cwd=tmp_path))
    assert (
        line
        == f'hackserver: the database has no schema, this version needs {HEAD}: run "hackserver db upgrade"'
    )


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
def test_a_clock_on_a_postgresql_database_behind_the_code_names_both_revisions(
    empty_database_url: str, base_env: dict[str, str], tmp_path: Path
) -> None:
    asyncio.run(migrate(empty_database_url, "0010"))
    env = {**base_env, "HACKSERVER_DATABASE_URL": empty_database_url}
    line = one_error_line(hackserver("clock", env=env, cwd=tmp_path))
    needs = f'this version needs {HEAD}: run "hackserver db upgrade"'
    assert line == f"hackserver: the database is at revision 0010, {needs}"
