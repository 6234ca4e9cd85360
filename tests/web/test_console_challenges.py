"""The console's challenges page over real HTTP on SQLite and PostgreSQL: refused without the cookie
and from another site, titles shown as text, a catalogue with bad rows naming each by number and
importing nothing (the console and the API alike), a good one imported and audit-logged, the list
with teams and free places, the assignment run and one team's challenge set by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from hackserver.foundation.models import Challenge, Team
from hackserver.runtime import Runtime
from tests.web.test_console_teams import person, team_id
from tests.web.test_dashboard import EVIL

HEADER = "id,title,description,category,tags,owner,languages,max_teams,contact\n"
GOOD = HEADER + (
    "C1,Betten finden,Freie Betten in Echtzeit,health,beds,Charité,de,2,\n"
    f'C2,"{EVIL}",Markup im Titel,mobility,,BVG,,,\n'
)
BAD = HEADER + (
    "C1,Betten finden,Freie Betten in Echtzeit,health,beds,Charité,de,2,\n"
    ",Ohne Id,Keine Id,health,,,,,\n"
    "C3,Zu viele,Teams,health,,,,viele,\n"
)


async def test_without_the_cookie_or_from_another_site_nothing_is_shown_or_imported(
    organiser: httpx.AsyncClient, stranger: httpx.AsyncClient, upload: Callable[..., Any],
    stored: Callable[..., Any], audit_actions: Callable[..., Any],
) -> None:  # fmt: skip
    page = await stranger.get("/dashboard/challenges")
    assert page.status_code == 401 and 'name="token"' in page.text
    assert (await upload("challenges", GOOD, client=stranger)).status_code == 401
    assigned = await stranger.post("/dashboard/challenges/assign", data={"confirm": "on"})
    assert assigned.status_code == 401
    evil = {"Origin": "https://evil.example"}
    assert (await upload("challenges", GOOD, headers=evil)).status_code == 403
    assigned = await organiser.post("/dashboard/challenges/assign", data={"confirm": "on"}, headers=evil)
    assert assigned.status_code == 403
    assert await stored(Challenge.external_id) == []
    assert await audit_actions() == []


async def test_a_refused_upload_says_why_in_the_pages_language(
    organiser: httpx.AsyncClient, stored: Callable[..., Any]
) -> None:
    empty = await organiser.post("/dashboard/challenges/import?lang=de", data={"note": "no file"})
    assert empty.status_code == 400 and "Wähle zuerst die Datei aus" in empty.text
    evil = {"Origin": "https://evil.example"}
    files = {"catalogue": ("c.csv", GOOD.encode())}
    crossed = await organiser.post("/dashboard/challenges/import?lang=de", files=files, headers=evil)
    assert crossed.status_code == 403 and crossed.text.startswith("Abgelehnt")
    assert await stored(Challenge.external_id) == []


async def test_a_catalogue_with_bad_rows_names_each_and_imports_nothing(
    organiser: httpx.AsyncClient, upload: Callable[..., Any], stored: Callable[..., Any],
    audit_actions: Callable[..., Any],
) -> None:  # fmt: skip
    response = await upload("challenges", BAD + f"C4,Titel,x,y,,,,{EVIL},\n")
    assert response.status_code == 422 and 'role="alert"' in response.text
    assert "<li>Zeile 3: id: fehlt</li>" in response.text  # in the page's language
    assert "<li>Zeile 4: max_teams: erwartet wird eine ganze Zahl von 1 bis 10000" in response.text
    assert "<li>Zeile 5: max_teams:" in response.text and "Zeile 2" not in response.text
    assert EVIL not in response.text and "&lt;script&gt;" in response.text
    for name, data, said in (
        ("catalogue.xlsx", GOOD, "erwartet wird eine .csv- oder .json-Datei</li>"),
        ("catalogue.csv", "", "die Datei ist leer</li>"),
        ("catalogue.json", "{", "kein gültiges JSON: "),
    ):
        refused = await upload("challenges", data, name)
        assert refused.status_code == 422 and f"<li>{name}: {said}" in refused.text, name
    assert (await organiser.post("/dashboard/challenges/import", data={"x": "y"})).status_code == 400
    assert await stored(Challenge.external_id) == []
    assert await audit_actions() == []


async def test_a_good_catalogue_is_imported_listed_with_free_places_and_audit_logged(
    organiser: httpx.AsyncClient, upload: Callable[..., Any], stored: Callable[..., Any],
    audit_actions: Callable[..., Any],
) -> None:  # fmt: skip
    response = await upload("challenges", GOOD)
    assert response.status_code == 200
    assert "Katalog importiert: 2 neu, 0 geändert, 0 unverändert." in response.text
    assert await stored(Challenge.external_id) == ["C1", "C2"]
    page = (await organiser.get("/dashboard/challenges?lang=en")).text
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<td>C1</td><td>Betten finden</td><td>health</td><td>Charité</td><td>0</td><td>2</td>" in page
    assert "<td>unlimited</td>" in page
    assert await audit_actions() == [("organiser:console", "challenges.imported")]


async def test_the_assignment_runs_and_one_teams_challenge_is_set_by_hand(
    runtime: Runtime, organiser: httpx.AsyncClient, upload: Callable[..., Any],
    audit_actions: Callable[..., Any],
) -> None:  # fmt: skip
    await upload("challenges", GOOD)
    await person(runtime, "U1", team="Luftretter")
    luftretter = await team_id(runtime, "Luftretter")
    unconfirmed = await organiser.post("/dashboard/challenges/assign", data={})
    assert unconfirmed.status_code == 422 and 'role="alert"' in unconfirmed.text
    ran = await organiser.post("/dashboard/challenges/assign?lang=en", data={"confirm": "on"})
    assert ran.status_code == 200 and "Assignment done: 1 teams" in ran.text
    runtime.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]  # a FakeClock
    for form, status in [
        ({"team": "abc", "challenge": "C1"}, 422),
        ({"team": str(luftretter), "challenge": "C9"}, 404),
        ({"team": "99999", "challenge": "C1"}, 404),
    ]:
        refused = await organiser.post("/dashboard/challenges/set", data=form)
        assert refused.status_code == status and 'role="alert"' in refused.text, form
    moved = await organiser.post(
        "/dashboard/challenges/set", data={"team": str(luftretter), "challenge": "C2"}
    )
    assert moved.status_code == 303 and moved.headers["location"] == "/dashboard/challenges?done=set"
    async with runtime.reading() as tx:
        team = await tx.session.get(Team, luftretter)
        chosen = await tx.session.get(Challenge, team.challenge_id)  # type: ignore[union-attr]
    assert chosen is not None and chosen.external_id == "C2" and team.challenge_how == "override"  # type: ignore[union-attr]
    page = (await organiser.get("/dashboard/challenges?done=set")).text
    assert 'role="status"' in page
    console = [a for actor, a in await audit_actions() if actor == "organiser:console"]
    assert console == ["challenges.imported", "assignment.run", "challenge.override"]


async def test_the_api_imports_a_catalogue_with_the_same_checks(
    organiser_api: httpx.AsyncClient, stored: Callable[..., Any], audit_actions: Callable[..., Any]
) -> None:
    bad = await organiser_api.post("/api/v1/challenges/import", content=BAD.encode())
    assert bad.status_code == 422
    assert [p["text"] for p in bad.json()["problems"]][:1] == ["row 3: id: required"]
    assert {p["row"] for p in bad.json()["problems"]} == {3, 4}
    assert await stored(Challenge.external_id) == []
    wrong = await organiser_api.post("/api/v1/challenges/import", params={"format": "json"}, content=b"[1")
    assert wrong.status_code == 422 and "error" in wrong.json()
    good = await organiser_api.post("/api/v1/challenges/import", content=GOOD.encode())
    assert good.status_code == 200 and good.json()["added"] == 2
    assert await stored(Challenge.external_id) == ["C1", "C2"]
    assert await audit_actions() == [("organiser:api", "challenges.imported")]


async def test_after_a_form_the_language_links_lead_to_its_page_not_to_the_form(
    organiser: httpx.AsyncClient, upload: Callable[..., Any]
) -> None:
    answer = await upload("challenges", BAD)  # the answer to a POST to /dashboard/challenges/import
    assert 'href="/dashboard/challenges?lang=en"' in answer.text and "/import?lang" not in answer.text
    assert (await organiser.get("/dashboard/challenges?lang=en")).status_code == 200
