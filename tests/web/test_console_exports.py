"""The console's exports over real HTTP on SQLite and PostgreSQL: refused without the cookie, each
table downloaded as CSV and JSON with the bytes `hackserver export` writes, the same from the API
with the token, and every download audit-logged."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from hackserver.judging import export
from hackserver.runtime import Runtime
from tests.web.test_dashboard import EVIL

FORMULA = '=HYPERLINK("https://evil.example")'


async def test_without_the_cookie_the_page_and_the_downloads_answer_401(
    stranger: httpx.AsyncClient, audit_actions: Callable[..., Any], submitted: Callable[..., Any]
) -> None:
    await submitted("Luftretter", title="Betten frei")
    for path in ("/dashboard/exports", "/dashboard/exports/submissions?format=json"):
        response = await stranger.get(path)
        assert response.status_code == 401 and 'name="token"' in response.text, path
        assert "Betten frei" not in response.text
    refused = await stranger.get("/api/v1/exports/submissions")
    assert refused.status_code == 401 and "Betten frei" not in refused.text
    assert await audit_actions() == []


async def test_each_table_downloads_as_the_cli_writes_it_and_is_audit_logged(
    runtime: Runtime, organiser: httpx.AsyncClient, audit_actions: Callable[..., Any],
    submitted: Callable[..., Any], tmp_path: Path,
) -> None:  # fmt: skip
    await submitted("Luftretter", title=FORMULA, summary=EVIL)
    page = (await organiser.get("/dashboard/exports?lang=en")).text
    for table in ("submissions", "scores", "ranking"):
        for form in ("csv", "json"):
            assert f'href="/dashboard/exports/{table}?format={form}"' in page
    found = await export.tables(runtime)
    export.write(found, tmp_path / "csv", "csv")
    export.write(found, tmp_path / "json", "json")
    downloaded = []
    for table in ("submissions", "scores", "ranking"):
        for form in ("csv", "json"):
            response = await organiser.get(f"/dashboard/exports/{table}?format={form}")
            assert response.status_code == 200
            assert response.headers["content-disposition"] == f'attachment; filename="{table}.{form}"'
            assert response.content == (tmp_path / form / f"{table}.{form}").read_bytes()
            downloaded.append(response)
    rows = list(csv.DictReader(io.StringIO(downloaded[0].text)))
    assert [(r["title"], r["summary"]) for r in rows] == [("'" + FORMULA, EVIL)]  # never a formula
    assert downloaded[0].headers["content-type"] == "text/csv; charset=utf-8"
    assert json.loads(downloaded[1].text)[0]["title"] == FORMULA
    assert json.loads(downloaded[5].text) == []  # no scores yet, no ranking
    assert await audit_actions() == [("organiser:console", "export.download")] * 6


async def test_the_api_serves_the_same_files_with_the_token(
    organiser: httpx.AsyncClient, organiser_api: httpx.AsyncClient, audit_actions: Callable[..., Any],
    submitted: Callable[..., Any],
) -> None:  # fmt: skip
    await submitted("Luftretter", title="Betten frei")
    by_api = await organiser_api.get("/api/v1/exports/submissions", params={"format": "json"})
    assert (await organiser_api.get("/api/v1/exports/scores")).text == ""  # no rows, no header
    unknown = await organiser_api.get("/api/v1/exports/people")
    bad = await organiser_api.get("/api/v1/exports/ranking", params={"format": "xlsx"})
    by_console = await organiser.get("/dashboard/exports/submissions?format=json")
    assert by_api.status_code == 200 and by_api.content == by_console.content
    assert json.loads(by_api.text)[0]["title"] == "Betten frei"
    assert unknown.status_code == 404 and "submissions, scores, ranking" in unknown.json()["error"]
    assert bad.status_code == 422 and "csv or json" in bad.json()["error"]
    assert (await organiser.get("/dashboard/exports/people")).status_code == 404
    actions = await audit_actions()
    assert actions == [("organiser:api", "export.download")] * 2 + [("organiser:console", "export.download")]
