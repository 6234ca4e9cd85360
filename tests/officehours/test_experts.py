"""The expert pool's CSV import: every bad row reported at once, nothing imported while one is bad,
a re-import updates by name, and the command prints one line per problem."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hackserver.foundation.models import Expert
from hackserver.officehours import experts
from hackserver.runtime import Runtime
from tests import processes
from tests.fakes import FakeClock

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLE = PROJECT / "config" / "experts.example.csv"
HACKSERVER = Path(sys.executable).parent / "hackserver"
HEADER = "name,topics,languages,bio,timezone,contact,join_url\n"


@pytest.fixture
async def runtime(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, make_runtime: Callable[..., Any]
) -> AsyncIterator[Runtime]:
    async with make_runtime(
        database_url, event_file(kickoff=kickoff), FakeClock(kickoff - timedelta(days=1))
    ) as rt:
        yield rt


async def names(runtime: Runtime) -> list[str]:
    async with runtime.reading() as tx:
        return list(await tx.session.scalars(select(Expert.name).order_by(Expert.name)))


async def test_the_example_pool_imports_cleanly(runtime: Runtime) -> None:
    imported = await experts.import_experts(runtime, EXAMPLE.read_bytes())
    assert imported.problems == [] and imported.added == 12
    assert "Dr. Anna Schäfer" in await names(runtime)


async def test_every_bad_row_is_reported_and_nothing_is_imported(runtime: Runtime) -> None:
    data = HEADER + (
        "Gute Person,data,de,,,,\n,law,de,,,,\nZweite,,xx,,Mars/Base,nobody,ftp://x\ngute person,ux,en,,,,\n"
    )
    imported = await experts.import_experts(runtime, data.encode())
    assert not imported.done
    assert [str(p) for p in imported.problems] == [
        "row 3: name: required",
        "row 4: topics: required: what teams may ask about, like data;law;ux",
        "row 4: languages: xx is not a language of this event (de, en)",
        "row 4: timezone: 'Mars/Base' is not an IANA time zone like Europe/Berlin",
        "row 4: contact: expected an e-mail address or an http(s) URL, got 'nobody'",
        "row 4: join_url: expected an http(s) URL of a video call, got 'ftp://x'",
        "row 5: name: 'gute person' is already in row 2",
    ]
    assert await names(runtime) == []


async def test_a_reimport_updates_by_name_whatever_the_case(runtime: Runtime) -> None:
    await experts.import_experts(runtime, (HEADER + "Jonas Weber,law,de,,,,\n").encode())
    again = await experts.import_experts(runtime, (HEADER + "jonas  weber,law;gdpr,de,,,,\n").encode())
    assert (again.added, again.updated) == (0, 1)
    async with runtime.reading() as tx:
        (only,) = await tx.session.scalars(select(Expert))
    assert only.topics == ["law", "gdpr"]


def test_the_command_reports_bad_rows_one_a_line(tmp_path: Path) -> None:
    own = ("HACKSERVER_", "SLACK_", "DISCORD_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own) and k not in ("PORT", "PYTHONPATH")}
    env |= {"HACKSERVER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hs.db'}",
            "HACKSERVER_EVENT": str(PROJECT / "config" / "event.example.toml")}  # fmt: skip
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "A,data,de,,,,\nB,,de,,,,\n", encoding="utf-8")

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return processes.run(
            [str(HACKSERVER), "experts", "import", str(path)], env=env, cwd=tmp_path, text=True, timeout=60
        )

    result = run(bad)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"hackserver: {bad}: row 3: topics: required: what teams may ask about, like data;law;ux",
        f"hackserver: {bad}: 1 bad row, nothing imported",
    ]
    good = run(EXAMPLE)
    assert good.returncode == 0, good.stderr
    assert good.stdout.splitlines() == [f"{EXAMPLE}: experts: 12 added, 0 updated, 0 unchanged"]
