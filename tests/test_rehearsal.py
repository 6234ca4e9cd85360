"""`hackserver rehearse`: kickoff moved to now and the event's clock sped up, stored in the database so
that every process of a scaled-out deployment follows the same clock; and the README's scaled-out
rehearsal, run as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hackserver.bootstrap import Rehearsal, bootstrap, rehearse
from hackserver.foundation.event import load_event
from hackserver.foundation.settings import Settings
from tests import processes
from tests.dbstate import migrate

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


async def test_every_process_started_during_a_rehearsal_follows_its_clock(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime
) -> None:
    await migrate(database_url)
    settings = Settings(database_url=database_url, event_path=event_file(kickoff=kickoff))
    planned = load_event(settings.event_path).phases
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
    stored = await rehearse(settings, Rehearsal(started, started + timedelta(minutes=5), 60.0))
    assert stored.phases["kickoff"] == started + timedelta(minutes=5)

    async with bootstrap(settings) as first, bootstrap(settings, write_plan=True) as second:
        for runtime in (first, second):  # as a web process and a clock started at different times
            assert runtime.event.phases == stored.phases
            assert runtime.clock.speed == 60.0
            # 10 real seconds since the rehearsal began are 10 event minutes
            assert started + timedelta(minutes=10) <= runtime.clock.now() < started + timedelta(minutes=20)
        assert abs(first.clock.now() - second.clock.now()) < timedelta(minutes=1)
        async with second.reading() as tx:
            assert (await tx.phases())["kickoff"] == started + timedelta(minutes=5)

    ended = await rehearse(settings, None)
    assert ended.phases == planned
    async with bootstrap(settings) as after:
        assert after.clock.speed == 1.0 and after.event.phases == planned
        assert abs(after.clock.now() - datetime.now(UTC)) < timedelta(minutes=1)


def test_a_bad_kickoff_lead_is_refused_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HACKSERVER_")}
    env |= {"HACKSERVER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hs.db'}"}
    done = processes.run(
        [str(BIN / "hackserver"), "rehearse", "--kickoff-in", "soon"], env=env, cwd=ROOT, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "hackserver: --kickoff-in 'soon': 'soon' is not a duration like 10m, 1h, 1h30m or 2d"
    ]


def readme_recipe() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Rehearsing scaled out", 1)[1]
    block = re.search(r"\n\n((?:    .*\n)+)", section)
    assert block is not None, "the README's rehearsal has no command block"
    return "\n".join(line.removeprefix("    ") for line in block.group(1).splitlines())


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
def test_the_readmes_scaled_out_rehearsal_works_as_written(
    empty_database_url: str, redis_url: str, free_port: int, tmp_path: Path
) -> None:
    """Only the database, Redis and the port are this test's own; every other word is the README's."""
    script = readme_recipe()
    for name, value in (
        ("HACKSERVER_DATABASE_URL", empty_database_url),
        ("HACKSERVER_REDIS_URL", redis_url),
        ("PORT", str(free_port)),
    ):
        script, found = re.subn(rf"\b{name}=\S+", f"{name}={value}", script)
        assert found == 1, name
    script = script.replace("--host 0.0.0.0", "--host 127.0.0.1")
    for folder in ("config", "deploy"):  # a checkout of its own: the rehearsal writes beside them
        shutil.copytree(ROOT / folder, tmp_path / folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HACKSERVER_", "SLACK_", "DISCORD_"))}
    env |= {"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "SIMULATE_JSON": str(tmp_path / "report.json")}
    script = script.replace("hackserver simulate ", 'hackserver simulate --json "$SIMULATE_JSON" ')
    supervisord_pid = tmp_path / "rehearsal" / "supervisord.pid"
    try:
        done = processes.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, text=True, timeout=900
        )
    finally:
        if supervisord_pid.exists():  # the recipe's last line did not run: stop what it started
            pid = int(supervisord_pid.read_text())
            processes.run(
                [str(BIN / "supervisorctl"), "-c", str(tmp_path / "rehearsal" / "supervisord.conf"), "shutdown"],
                env=env, timeout=120,
            )  # fmt: skip
            processes.end_group(pid)  # supervisord leads a session of its own
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in (tmp_path / "rehearsal").glob("*.log"))
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}\n{logs[-2000:]}"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["failures"] == {}, report["failure_examples"]
    assert report["counts"]["registered"] == 100
    assert report["counts"]["submissions"] > 0 and report["counts"]["scores"] > 0  # the whole event ran
