"""`hackserver clock` fires each item exactly once across a SIGKILL and a restart, in real time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import select

from hackserver.foundation.models import ChannelMessage, FiredItem
from tests import processes
from tests.dbstate import eventually, rows

HACKSERVER = Path(sys.executable).parent / "hackserver"
# Seconds after the schedule starts; the clock is killed after "opening" and is down for a few
# items, which the restarted clock must catch up.
PHASES = {
    "registration": 0,
    "kickoff": 1,
    "hacking": 6,  # 5 s after "opening": the kill lands before it even on a slow, busy machine
    "team_formation_close": 8,
    "submission_deadline": 11,
    "judging": 12,
    "awards": 13,
    "end": 14,
}
ANNOUNCEMENTS = {  # id: (phase, seconds after it)
    "opening": ("kickoff", 0),
    "start-hacking": ("hacking", 1),
    "teams-closed": ("team_formation_close", 0),
    "last-call": ("submission_deadline", -1),
    "deadline-passed": ("submission_deadline", 1),
    "goodbye": ("end", 0),
}
RESTART_AFTER = 9  # seconds after the start of the schedule


def write_event(path: Path, start: datetime) -> dict[str, datetime]:
    """Writes an event file whose phases begin at `start` (UTC); returns each item's instant."""
    phases = {name: start + timedelta(seconds=offset) for name, offset in PHASES.items()}
    lines = [
        "[event]",
        'slug = "clock-process"',
        'name = "Clock Process"',
        'timezone = "UTC"',
        'languages = ["en"]',
        "[phases]",
        *(f"{name} = {at.replace(tzinfo=None).isoformat()}" for name, at in phases.items()),
    ]
    instants = {f"phase:{name}": at for name, at in phases.items()}
    for ident, (phase, seconds) in ANNOUNCEMENTS.items():
        at = f"{phase} {'-' if seconds < 0 else '+'} {abs(seconds)}s" if seconds else phase
        lines += ["[[announcements]]", f'id = "{ident}"', f'at = "{at}"', 'too_late = "10m"']
        lines += ["[announcements.text]", f'en = "Announcement {ident}"']
        instants[f"announcement:{ident}"] = phases[phase] + timedelta(seconds=seconds)
    instants["submissions:freeze"] = phases["submission_deadline"]  # no grace: at the deadline
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return instants


async def hackserver(*args: str, env: dict[str, str], output: IO[bytes]) -> asyncio.subprocess.Process:
    """The command in a process group of its own, which `stop` ends whole."""
    return await asyncio.create_subprocess_exec(
        str(HACKSERVER), *args, env=env, stdout=output, stderr=output, start_new_session=True
    )


async def fired(database_url: str) -> list[tuple[str, datetime, str, datetime]]:
    statement = select(FiredItem.key, FiredItem.instant, FiredItem.status, FiredItem.fired_at).order_by(
        FiredItem.id
    )
    return [(key, instant, status, at) for key, instant, status, at in await rows(database_url, statement)]


async def texts(database_url: str) -> list[str]:
    return [text for (text,) in await rows(database_url, select(ChannelMessage.text))]


async def wait_until_fired(
    database_url: str, keys: set[str], process: asyncio.subprocess.Process, log: Path, within: float
) -> None:
    async def done() -> bool:
        assert process.returncode is None, read(log)
        return keys <= {key for key, *_ in await fired(database_url)}

    await eventually(done, within)


def read(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")


async def sleep_until(instant: datetime) -> None:
    await asyncio.sleep(max(0.0, (instant - datetime.now(UTC)).total_seconds()))


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), timeout=10)
    processes.end_group(process.pid)
    await process.wait()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "clock.log"


@pytest.fixture
def output(log: Path) -> Iterator[IO[bytes]]:
    with log.open("ab") as file:
        yield file


async def test_the_clock_fires_each_item_exactly_once_across_a_kill_and_a_restart(
    database_url: str, tmp_path: Path, log: Path, output: IO[bytes]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HACKSERVER_")}
    env |= {"HACKSERVER_DATABASE_URL": database_url, "HACKSERVER_EVENT": str(tmp_path / "event.toml")}
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    instants = write_event(tmp_path / "event.toml", start)
    upgrade = await hackserver("db", "upgrade", env=env, output=output)  # as a deployment does first
    assert await upgrade.wait() == 0, read(log)
    expected_texts = Counter(f"Announcement {ident}" for ident in ANNOUNCEMENTS)

    first = await hackserver("clock", env=env, output=output)
    try:
        await wait_until_fired(
            database_url, {"announcement:opening"}, first, log, within=seconds_to(start) + 5
        )
        killed_at = datetime.now(UTC)
        first.kill()
        assert await first.wait() == -signal.SIGKILL
    finally:
        await stop(first)

    await sleep_until(start + timedelta(seconds=RESTART_AFTER))
    restarted_at = datetime.now(UTC)
    second = await hackserver("clock", env=env, output=output)
    try:
        within = seconds_to(start) + PHASES["end"] + 8
        await wait_until_fired(database_url, set(instants), second, log, within)

        async def all_posted() -> bool:
            return Counter(await texts(database_url)) == expected_texts

        await eventually(all_posted, within=5)
    finally:
        await stop(second)

    outcome = await fired(database_url)
    assert Counter(key for key, *_ in outcome) == Counter(list(instants)), read(log)
    assert {key: instant for key, instant, _, _ in outcome} == instants
    assert {status for _, _, status, _ in outcome} == {"fired"}
    missed = {key for key, at in instants.items() if killed_at < at < restarted_at}
    assert {"phase:hacking", "announcement:start-hacking", "phase:team_formation_close"} <= missed
    caught_up = {key for key, _, _, fired_at in outcome if fired_at >= restarted_at}
    assert missed <= caught_up
    assert Counter(await texts(database_url)) == expected_texts


def seconds_to(instant: datetime) -> float:
    return max(0.0, (instant - datetime.now(UTC)).total_seconds())
