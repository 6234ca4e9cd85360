"""The dashboard in each language of the event, over real HTTP and websockets: its sign-in and page
follow the switcher, then the browser's Accept-Language; its actions answer in the page's language;
and each live frame carries its texts in every language, encoded once for every viewer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect

from hackserver.foundation.models import Expert
from tests.servers import runtime_of
from tests.web import test_dashboard
from tests.web.test_dashboard import TOKEN, Screen, act, base, cookie_of, create_team, showing, ws_url

settings, server = test_dashboard.settings, test_dashboard.server  # the fixtures
GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
ENGLISH_LEFT = (
    "Needs a human",
    "Recent activity",
    "Sign out",
    "Pending",
    "Nothing right now",
    "Run matching",
)


@pytest.fixture
async def german(server: uvicorn.Server) -> AsyncIterator[httpx.AsyncClient]:
    """An organiser signed in from a browser that asks for German."""
    async with httpx.AsyncClient(base_url=base(server), timeout=10, headers=GERMAN) as client:
        assert (await client.post("/dashboard/login", data={"token": TOKEN})).status_code == 303
        yield client


def language_of(page: str) -> str:
    found = re.search(r'<html lang="(\w+)">', page)
    assert found is not None
    return found.group(1)


# -- the pages ----------------------------------------------------------------------------------


async def test_the_sign_in_speaks_the_browsers_language_and_offers_the_others(server: uvicorn.Server) -> None:
    async with httpx.AsyncClient(base_url=base(server), headers=GERMAN) as client:
        page = (await client.get("/dashboard")).text
        english = (await client.get("/dashboard?lang=en")).text
    assert language_of(page) == "de" and '<label for="token">Orga-Token</label>' in page
    assert "Anmelden</button>" in page and 'action="/dashboard/login"' in page
    assert 'href="/dashboard?lang=en" lang="en"' in page and 'lang="de" aria-current="true"' in page
    assert language_of(english) == "en" and '<label for="token">Organiser token</label>' in english
    assert 'action="/dashboard/login?lang=en"' in english  # picked: kept past the sign-in


async def test_a_language_picked_on_the_sign_in_is_kept_past_it(server: uvicorn.Server) -> None:
    async with httpx.AsyncClient(base_url=base(server), headers=GERMAN) as client:
        signed_in = await client.post("/dashboard/login?lang=en", data={"token": TOKEN})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/dashboard?lang=en"
        assert language_of((await client.get(signed_in.headers["location"])).text) == "en"
        assert language_of((await client.get("/dashboard")).text) == "en"


async def test_a_wrong_token_is_refused_in_the_pages_language(server: uvicorn.Server) -> None:
    async with httpx.AsyncClient(base_url=base(server)) as client:
        refused = await client.post("/dashboard/login?lang=de", data={"token": TOKEN + "x"})
    assert refused.status_code == 401 and language_of(refused.text) == "de"
    assert (
        '<p id="token-problem" class="problem" role="alert">Dieses Orga-Token stimmt nicht.</p>'
        in refused.text
    )


async def test_a_console_page_asks_for_the_sign_in_in_the_pages_language(server: uvicorn.Server) -> None:
    async with httpx.AsyncClient(base_url=base(server), headers=GERMAN) as client:
        refused = await client.get("/dashboard/teams")
    assert refused.status_code == 401 and language_of(refused.text) == "de"
    assert "Orga-Token" in refused.text and 'href="/dashboard/teams?lang=en"' in refused.text


async def test_the_dashboard_follows_the_browsers_language_completely(german: httpx.AsyncClient) -> None:
    page = (await german.get("/dashboard")).text
    assert language_of(page) == "de"
    for shown in (
        '<h2 id="h-alerts">Braucht Aufmerksamkeit</h2>',
        '<dt id="label-pool">Allein, im Pool</dt>',
        "<summary>Menschen und Teams: als Tabelle</summary>",
        '<figcaption id="cap-commands">Befehle pro Minute</figcaption>',
        '<span id="phase">Kickoff</span>',
        '<option value="submission_deadline">Abgabeschluss</option>',
        '<li class="calm">Noch nichts.</li>',
        '<button type="submit" class="quiet">Abmelden</button>',
        '<span class="when">Ende der Teambildung - 1h</span>',
    ):
        assert shown in page, shown
    assert [text for text in ENGLISH_LEFT if text in page] == []


async def test_the_switcher_picks_english_for_a_german_browser_and_the_choice_sticks(
    german: httpx.AsyncClient,
) -> None:
    picked = await german.get("/dashboard?lang=en")
    assert language_of(picked.text) == "en" and "Needs a human" in picked.text
    assert language_of((await german.get("/dashboard")).text) == "en"
    assert language_of((await german.get("/dashboard?lang=de")).text) == "de"


async def test_the_script_gets_its_words_from_the_page_as_data(german: httpx.AsyncClient) -> None:
    page = (await german.get("/dashboard")).text
    found = re.search(r'<script type="application/json" id="words">(.*?)</script>', page)
    assert found is not None
    words = httpx.Response(200, content=found.group(1)).json()
    assert (words["lang"], words["locale"]) == ("de", "de")
    assert words["t"]["disconnected"] == "Verbindung weg, neuer Versuch …"
    assert words["t"]["countdown"] == "· {phase} in {left}" and words["phases"]["hacking"] == "Hacking"


# -- the actions --------------------------------------------------------------------------------


async def test_the_actions_answer_in_the_pages_language(german: httpx.AsyncClient) -> None:
    sent = await act(german, "announce", "de", text="Pizza ist da", target="all")
    assert sent.json() == {"message": "Ankündigung gesendet an builtin announcements."}
    matched = await act(german, "matching", "de", seed="7")
    assert matched.json()["message"].startswith("Matching fertig: 0 neue Teams")
    empty = await act(german, "announce", "de", text=" ")
    assert empty.status_code == 422 and empty.json()["error"] == "Schreib zuerst die Ankündigung."
    seed = await act(german, "assignment", "de", seed="sieben")
    assert seed.status_code == 422 and seed.json()["error"] == "Ein Seed ist eine ganze Zahl oder leer."
    begun = await act(german, "shift", "de", phase="kickoff", by="+30m")
    assert begun.status_code == 409 and begun.json()["error"].startswith(
        "Die Phase Kickoff hat schon begonnen"
    )


async def test_a_form_posted_without_the_script_leads_back_to_a_notice_in_its_language(
    german: httpx.AsyncClient,
) -> None:
    posted = await german.post("/dashboard/actions/shift?lang=en", data={"phase": "awards", "by": "+10m"})
    assert posted.status_code == 303 and posted.headers["location"] == "/dashboard?done=shift&lang=en"
    page = (await german.get(posted.headers["location"])).text
    assert '<p class="notice" role="status">Phase shifted.</p>' in page


# -- live ---------------------------------------------------------------------------------------


async def test_a_frame_carries_each_text_in_every_language_of_the_event(
    server: uvicorn.Server, german: httpx.AsyncClient
) -> None:
    runtime = runtime_of(server)
    async with connect(ws_url(server), additional_headers=cookie_of(german)) as ws:
        screen = Screen(ws)
        await screen.until(showing(teams=0))
        async with runtime.transaction() as tx:
            tx.session.add(Expert(event_id=runtime.event_id, name="Dr. Anna Schäfer"))
        await create_team(runtime, "U1", "Luftretter")
        shown = await screen.until(showing(teams=1))
    assert shown["feed"][-1]["text"] == {
        "de": "Team „Luftretter“ wurde gegründet",
        "en": "Team “Luftretter” was created",
    }
    alert = next(alert for alert in shown["alerts"] if alert["kind"] == "experts_without_slots")
    assert alert["text"] == {"de": "1 Expert:in bietet keinen Termin an", "en": "1 expert offers no slot"}
