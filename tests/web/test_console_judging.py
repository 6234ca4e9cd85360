"""The console's judging page over real HTTP on SQLite and PostgreSQL: refused without the cookie and
from another site, team names shown as text, an extension granted, the jury assignment run, the
ranking with its uncertainty, and the selection previewed (changing nothing) before it is confirmed."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select, update

from hackserver.foundation.models import Submission, Team
from hackserver.judging import scoring
from hackserver.runtime import Runtime
from hackserver.submissions import entries
from tests.judging.test_judging import assignments, finals_ready
from tests.web.test_dashboard import EVIL


async def selections(runtime) -> list[str | None]:  # type: ignore[no-untyped-def]
    async with runtime.reading() as tx:
        return list(await tx.session.scalars(select(Submission.selection).order_by(Submission.id)))


async def scored(runtime) -> None:  # type: ignore[no-untyped-def]
    """Four finals scored by three jurors each, Team 3 best and Team 0 worst; Team 3 named with markup."""
    await finals_ready(runtime, runtime.clock)
    async with runtime.transaction() as tx:
        await scoring.assign(tx, actor="test")
        titles = {s.id: f["title"] for s, _, f in await entries.finals(tx.session, runtime.event_id)}
    async with runtime.transaction() as tx:
        for submission, juror, _ in await assignments(runtime):
            mark = str(2 + int(titles[submission].split()[-1]) * 2)
            await scoring.score(
                tx, juror, submission, dict.fromkeys(("impact", "feasibility", "quality"), mark), ""
            )
        await tx.session.execute(update(Team).where(Team.name == "Team 3").values(name=EVIL))


async def test_without_the_cookie_or_from_another_site_nothing_is_shown_or_changed(
    organiser: httpx.AsyncClient, stranger: httpx.AsyncClient, audit_actions: Callable[..., Any],
    submitted: Callable[..., Any],
) -> None:  # fmt: skip
    team = await submitted("Luftretter", title="Betten frei")
    page = await stranger.get("/dashboard/judging")
    assert page.status_code == 401 and "Luftretter" not in page.text
    extended = await stranger.post("/dashboard/judging/extension", data={"team": str(team), "by": "+15m"})
    assert extended.status_code == 401
    evil = {"Origin": "https://evil.example"}
    for path, form in (
        ("/dashboard/judging/extension", {"team": str(team), "by": "+15m"}),
        ("/dashboard/judging/assign", {"confirm": "on"}),
        ("/dashboard/judging/select", {"top": "1", "confirm": "on"}),
    ):
        assert (await organiser.post(path, data=form, headers=evil)).status_code == 403, path
    assert await audit_actions() == []


async def test_an_extension_is_granted_and_bad_ones_refused(
    runtime: Runtime, organiser: httpx.AsyncClient, audit_actions: Callable[..., Any],
    submitted: Callable[..., Any],
) -> None:  # fmt: skip
    team = await submitted("Luftretter", title="Betten frei")
    for form, status in (
        ({"team": "abc", "by": "+15m"}, 422),
        ({"team": str(team), "by": "soon"}, 422),
        ({"team": "99999", "by": "+15m"}, 404),
    ):
        refused = await organiser.post("/dashboard/judging/extension", data=form)
        assert refused.status_code == status and 'role="alert"' in refused.text, form
    granted = await organiser.post("/dashboard/judging/extension", data={"team": str(team), "by": "+15m"})
    assert granted.status_code == 303 and granted.headers["location"] == "/dashboard/judging?done=extended"
    async with runtime.reading() as tx:
        assert (await tx.session.scalar(select(Submission.extended_until))) is not None
    page = (await organiser.get("/dashboard/judging?done=extended&lang=en")).text
    assert "The extension is granted." in page and "(extended)" in page and "<td>Luftretter</td>" in page
    assert [a for actor, a in await audit_actions() if actor == "organiser:console"] == ["submission.extend"]


async def test_the_ranking_shows_its_uncertainty_and_the_selection_is_previewed_then_confirmed(
    runtime: Runtime, organiser: httpx.AsyncClient, audit_actions: Callable[..., Any]
) -> None:
    await scored(runtime)
    page = (await organiser.get("/dashboard/judging?lang=en")).text
    assert (
        EVIL not in page
        and "<td>1</td><td>&lt;script&gt;alert(1)&lt;/script&gt;</td><td>mobility</td>" in page
    )
    assert re.search(r"<td>-?\d\.\d\d ± \d\.\d\d</td><td>3</td>", page) and "final, frozen" in page
    preview = await organiser.get("/dashboard/judging?top=1&per_category=on&lang=en")
    assert preview.status_code == 200 and "Would be selected: 2" in preview.text
    assert "<li>&lt;script&gt;alert(1)&lt;/script&gt; (mobility)</li><li>Team 2 (health)</li>" in preview.text
    assert (await organiser.get("/dashboard/judging?top=0")).status_code == 422
    assert await selections(runtime) == [None] * 4  # a preview changes nothing
    unconfirmed = await organiser.post("/dashboard/judging/select", data={"top": "1", "per_category": "on"})
    assert unconfirmed.status_code == 422 and await selections(runtime) == [None] * 4
    chosen = await organiser.post(
        "/dashboard/judging/select?lang=en", data={"top": "1", "per_category": "on", "confirm": "on"}
    )
    assert chosen.status_code == 200 and "Selection done: 2 selected" in chosen.text
    assert sorted(await selections(runtime), key=str) == [
        "not_selected",
        "not_selected",
        "selected",
        "selected",
    ]
    assert ("organiser:console", "jury.select") in await audit_actions()


async def test_the_jury_assignment_runs_after_a_confirmation(
    runtime: Runtime, organiser: httpx.AsyncClient
) -> None:
    await finals_ready(runtime, runtime.clock)  # type: ignore[arg-type]
    unconfirmed = await organiser.post("/dashboard/judging/assign", data={})
    assert unconfirmed.status_code == 422 and await assignments(runtime) == []
    ran = await organiser.post("/dashboard/judging/assign?lang=en", data={"confirm": "on"})
    assert ran.status_code == 200 and "Jury assignment done: 4 submissions" in ran.text
    assert len(await assignments(runtime)) == 12
