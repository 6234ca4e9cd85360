"""The console's jurors page over real HTTP on SQLite and PostgreSQL: refused without the cookie and
from another site, names shown as text, a juror added by hand, a juror file with bad rows naming each
by number and importing nothing, a good one imported and audit-logged, each juror's progress, and a
juror's link shown on demand and revoked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select

from hackserver.foundation.models import AuditEntry, Juror, JuryAssignment, Link, Submission
from hackserver.runtime import Runtime
from tests.submissions.test_submissions import entry, new_team, save
from tests.web.test_dashboard import EVIL

GOOD = f'name,organisation,categories,conflicts\nDr. Jana Roth,Charité,health,\n"{EVIL}",,,\n'
BAD = "name,organisation,categories,conflicts\nDr. Jana Roth,Charité,health,\n,Ohne Namen,,\nX,,,\nX,,,\n"


async def test_without_the_cookie_or_from_another_site_nothing_is_shown_or_changed(
    organiser: httpx.AsyncClient, stranger: httpx.AsyncClient, upload: Callable[..., Any],
    stored: Callable[..., Any], audit_actions: Callable[..., Any],
) -> None:  # fmt: skip
    page = await stranger.get("/dashboard/jurors")
    assert page.status_code == 401 and 'name="token"' in page.text
    assert (await stranger.post("/dashboard/jurors/add", data={"name": "Jana"})).status_code == 401
    assert (await upload("jurors", GOOD, client=stranger)).status_code == 401
    evil = {"Origin": "https://evil.example"}
    added = await organiser.post("/dashboard/jurors/add", data={"name": "Jana"}, headers=evil)
    assert added.status_code == 403
    assert (await upload("jurors", GOOD, headers=evil)).status_code == 403
    assert await stored(Juror.name) == [] and await audit_actions() == []


async def test_a_juror_is_added_by_hand_and_a_bad_one_refused(
    organiser: httpx.AsyncClient, stored: Callable[..., Any], audit_actions: Callable[..., Any]
) -> None:
    refused = await organiser.post("/dashboard/jurors/add", data={"name": " ", "organisation": "x"})
    assert refused.status_code == 422 and "<li>name: fehlt</li>" in refused.text
    assert await stored(Juror.name) == []
    added = await organiser.post(
        "/dashboard/jurors/add",
        data={"name": EVIL, "organisation": "Charité", "categories": "health; mobility", "conflicts": ""},
    )
    assert added.status_code == 303 and added.headers["location"] == "/dashboard/jurors?done=juror_added"
    page = (await organiser.get("/dashboard/jurors?done=juror_added&lang=en")).text
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page and 'role="status"' in page
    assert "<td>Charité</td><td>health, mobility</td><td>0</td><td>0</td><td>0</td>" in page
    assert await audit_actions() == [("organiser:console", "jurors.import")]


async def test_a_juror_file_with_bad_rows_names_each_and_imports_nothing_and_a_good_one_is_imported(
    upload: Callable[..., Any], stored: Callable[..., Any], audit_actions: Callable[..., Any]
) -> None:
    bad = await upload("jurors", BAD)
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    assert "<li>Zeile 3: name: fehlt</li>" in bad.text  # in the page's language
    assert "<li>Zeile 5: name: X steht zweimal in der Datei</li>" in bad.text and "Zeile 2" not in bad.text
    empty = await upload("jurors", "")
    assert (
        empty.status_code == 422
        and "<li>jurors.csv: erwartet wird eine Kopfzeile mit den Spalten" in empty.text
    )
    assert await stored(Juror.name) == [] and await audit_actions() == []
    good = await upload("jurors", GOOD)
    assert good.status_code == 200 and "Jury importiert oder geändert: 2." in good.text
    assert await stored(Juror.name) == [EVIL, "Dr. Jana Roth"]
    assert await audit_actions() == [("organiser:console", "jurors.import")]


async def test_each_jurors_progress_and_their_link_shown_and_revoked(
    runtime: Runtime, organiser: httpx.AsyncClient, upload: Callable[..., Any]
) -> None:
    await upload("jurors", GOOD)
    made = []
    for name in ("Luftretter", "Wasserwerk", "Stadtgrün"):
        team, members = await new_team(runtime, name)
        await save(runtime, team, entry(members, title=name))
        made.append(team)
    async with runtime.transaction() as tx:
        jana = await tx.session.scalar(select(Juror).where(Juror.name == "Dr. Jana Roth"))
        assert jana is not None
        submissions = await tx.session.scalars(select(Submission.id).where(Submission.team_id.in_(made)))
        for submission, (scored, flagged) in zip(
            submissions, ((True, None), (False, None), (False, "empty")), strict=True
        ):
            tx.session.add(
                JuryAssignment(
                    juror_id=jana.id, submission_id=submission, flagged=flagged,
                    scored_at=tx.now if scored else None,
                )
            )  # fmt: skip
    page = (await organiser.get("/dashboard/jurors")).text
    assert "<td>Dr. Jana Roth</td><td>Charité</td><td>health</td><td>2</td><td>1</td><td>1</td>" in page
    assert "/jury/" not in page
    shown = await organiser.post(f"/dashboard/jurors/{jana.id}/link", data={})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    link = shown.text.split('id="link" value="')[1].split('"')[0]
    assert link.startswith(str(organiser.base_url.join("/jury/")))
    assert (await organiser.post("/dashboard/jurors/99999/link", data={})).status_code == 404
    unconfirmed = await organiser.post("/dashboard/jurors/revoke", data={"juror": str(jana.id)})
    assert unconfirmed.status_code == 422
    revoked = await organiser.post("/dashboard/jurors/revoke", data={"juror": str(jana.id), "confirm": "on"})
    assert revoked.status_code == 303
    async with runtime.reading() as tx:
        assert list(await tx.session.scalars(select(Link).where(Link.revoked_at.is_(None)))) == []
        entries = list(await tx.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [e.action for e in entries if e.actor == "organiser:console"] == [
        "jurors.import", "link.shown", "link.revoked"
    ]  # fmt: skip
    assert all(link.rsplit("/", 1)[1] not in str(e.details) for e in entries)


async def test_the_api_shows_a_jurors_link_and_logs_that_it_did(
    organiser_api: httpx.AsyncClient, audit_actions: Callable[..., Any]
) -> None:
    made = await organiser_api.post("/api/v1/jurors", json={"jurors": [{"name": "Jana"}]})
    juror = made.json()["jurors"][0]["id"]
    shown = await organiser_api.post(f"/api/v1/jurors/{juror}/link", json={})
    assert shown.status_code == 200 and "/jury/" in shown.json()["link"]
    assert (await organiser_api.post("/api/v1/jurors/99999/link", json={})).status_code == 404
    assert await audit_actions() == [
        ("organiser:api", "jurors.import"),
        ("organiser:api", "link.shown"),
    ]
