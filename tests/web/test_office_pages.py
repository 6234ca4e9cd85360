"""The expert and booking pages and the experts API through real HTTP requests (Starlette's
TestClient): forms, scoped links, refusals tied to their field, time zones and ICS files."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import select
from starlette.testclient import TestClient

from hackserver.app import create_app
from hackserver.bootstrap import bootstrap
from hackserver.foundation.models import Booking, Slot, Team
from hackserver.foundation.settings import Settings
from hackserver.foundation.signing import Scope
from hackserver.officehours import help_queue
from hackserver.runtime import Runtime
from tests.dbstate import migrate
from tests.fakes import FakeClock, event_toml
from tests.office import expert, office_hours_event, publish, team, token

ORGANISER = "organiser-token-for-tests"
AUTH = {"Authorization": f"Bearer {ORGANISER}"}


class Site:
    """The app on a test client, and a second runtime on the same database to set the scene."""

    def __init__(self, settings: Settings, clock: FakeClock, client: TestClient) -> None:
        self.settings, self.clock, self.client = settings, clock, client

    def run(self, use: Callable[[Runtime], Awaitable[Any]]) -> Any:
        async def inside() -> Any:
            async with bootstrap(self.settings, clock=self.clock) as runtime:
                return await use(runtime)

        return asyncio.run(inside())

    def bookings(self) -> list[tuple[int, int]]:
        async def read(runtime: Runtime) -> list[tuple[int, int]]:
            async with runtime.reading() as tx:
                rows = await tx.session.execute(
                    select(Booking.slot_id, Booking.team_id).where(Booking.cancelled_at.is_(None))
                )
                return [(a, b) for a, b in rows]

        return self.run(read)

    def slots(self) -> list[Slot]:
        async def read(runtime: Runtime) -> list[Slot]:
            async with runtime.reading() as tx:
                return list(await tx.session.scalars(select(Slot).order_by(Slot.starts_at)))

        return self.run(read)


@pytest.fixture
def site(database_url: str, tmp_path: Path, kickoff: datetime) -> Iterator[Site]:
    path = tmp_path / "event.toml"
    path.write_text(office_hours_event(event_toml(kickoff), cutoff="30m", max_future_bookings=2))
    settings = Settings(database_url=database_url, event_path=path, organiser_token=ORGANISER)
    if not settings.is_sqlite:
        asyncio.run(migrate(settings.database_url))
    clock = FakeClock(kickoff - timedelta(hours=1))
    with TestClient(create_app(settings, clock=clock, run_clock=False), follow_redirects=False) as client:
        yield Site(settings, clock, client)


def scene(site: Site, kickoff: datetime) -> dict[str, Any]:
    async def make(runtime: Runtime) -> dict[str, Any]:
        anna = await expert(runtime)
        jonas = await expert(runtime, "Jonas Weber", ("law",))
        offered = await publish(runtime, anna.id, kickoff + timedelta(hours=20), minutes=60, length=timedelta(minutes=20))  # fmt: skip
        (theirs,) = await publish(runtime, jonas.id, kickoff + timedelta(hours=22))
        ours, other = await team(runtime, "Luftretter"), await team(runtime, "Wasserwacht")
        return {
            "anna": anna.id, "jonas": jonas.id, "slots": [s.id for s in offered], "jonas_slot": theirs.id,
            "ours": ours.id, "other": other.id,
            "anna_link": await token(runtime, "expert", anna.id), "jonas_link": await token(runtime, "expert", jonas.id),
            "our_link": await token(runtime, "book", ours.id), "their_link": await token(runtime, "book", other.id),
        }  # fmt: skip

    return site.run(make)


def test_an_expert_publishes_a_block_of_slots_with_a_buffer(site: Site, kickoff: datetime) -> None:
    s = scene(site, kickoff)
    page = site.client.get(f"/expert/{s['anna_link']}")
    assert page.status_code == 200 and "Anna Schäfer" in page.text
    form = {
        "start": "2027-03-20T09:00",
        "end": "2027-03-20T10:00",
        "length": "20",
        "buffer": "5",
        "topic": "data",
    }
    reply = site.client.post(f"/expert/{s['anna_link']}/slots", data=form)
    assert reply.status_code == 303, reply.text
    made = [x for x in site.slots() if x.topic == "data"]
    assert [x.starts_at.astimezone(kickoff.tzinfo).strftime("%H:%M") for x in made] == ["09:00", "09:25"]


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"start": "2027-03-20T10:00", "end": "2027-03-20T09:00", "length": "20"}, "end"),
        ({"start": "morgen", "end": "2027-03-20T09:00", "length": "20"}, "start"),
        ({"start": "2027-03-20T09:00", "end": "2027-03-20T10:00", "length": "zwanzig"}, "length"),
        ({"start": "2027-03-20T09:00", "end": "2027-03-20T10:00", "length": "2"}, "length"),
        (
            {"start": "2027-03-20T09:00", "end": "2027-03-20T10:00", "length": "20", "topic": "cooking"},
            "topic",
        ),
        ({"start": "2027-03-19T12:00", "end": "2027-03-19T13:00", "length": "20"}, "start"),
        ({"start": "2027-03-20T14:10", "end": "2027-03-20T14:50", "length": "20"}, "start"),
    ],
)
def test_a_bad_publication_says_which_field_and_changes_nothing(
    site: Site, kickoff: datetime, form: dict[str, str], field: str
) -> None:
    s = scene(site, kickoff)
    before = len(site.slots())
    reply = site.client.post(f"/expert/{s['anna_link']}/slots", data=form)
    assert reply.status_code == 422
    assert f'id="{field}"' in reply.text
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true" aria-describedby="error-{field}"', reply.text)
    assert f'id="error-{field}"' in reply.text and "Traceback" not in reply.text
    assert len(site.slots()) == before


@pytest.mark.parametrize(
    ("form", "fields"),
    [
        ({"start": "2027-03-20T09:00", "end": "2027-03-20T09:00", "length": "zwanzig"}, ["end", "length"]),
        ({"start": "2027-03-20T09:00", "end": "2027-03-20T09:00", "length": "2", "buffer": "x"}, ["end", "length", "buffer"]),
        ({"start": "morgen", "end": "2027-03-20T10:00", "length": "2", "topic": "cooking"}, ["start", "length", "topic"]),
    ],
)  # fmt: skip
def test_a_publication_with_several_wrong_fields_names_each_and_changes_nothing(
    site: Site, kickoff: datetime, form: dict[str, str], fields: list[str]
) -> None:
    s = scene(site, kickoff)
    before = len(site.slots())
    reply = site.client.post(f"/expert/{s['anna_link']}/slots", data=form)
    assert reply.status_code == 422
    summary = reply.text[reply.text.index('id="problems-title"') : reply.text.index("</ul>")]
    assert re.findall(r'href="#([a-z_]+)"', summary) == fields  # in the form's order
    for field in fields:
        assert re.search(
            rf'id="{field}"[^>]*aria-invalid="true" aria-describedby="error-{field}"', reply.text
        )
    assert len(site.slots()) == before


def test_a_time_the_clocks_skip_is_refused_in_the_experts_language(site: Site, kickoff: datetime) -> None:
    s = scene(site, kickoff)
    form = {"start": "2027-03-28T02:30", "end": "2027-03-28T03:30", "length": "20"}
    reply = site.client.post(f"/expert/{s['anna_link']}/slots?lang=de", data=form)
    assert reply.status_code == 422
    assert "2027-03-28 02:30 gibt es in Europe/Berlin nicht (die Uhren werden vorgestellt)" in reply.text


def test_an_expert_link_cannot_withdraw_another_experts_slot(site: Site, kickoff: datetime) -> None:
    s = scene(site, kickoff)
    reply = site.client.post(f"/expert/{s['anna_link']}/slots/{s['jonas_slot']}/withdraw")
    assert reply.status_code == 409
    assert all(x.withdrawn_at is None for x in site.slots())
    mine = site.client.post(f"/expert/{s['anna_link']}/slots/{s['slots'][0]}/withdraw")
    assert mine.status_code == 303
    assert [x.id for x in site.slots() if x.withdrawn_at is not None] == [s["slots"][0]]


def test_a_free_slot_that_has_begun_shows_as_not_booked_and_cannot_be_withdrawn(
    site: Site, kickoff: datetime
) -> None:
    s = scene(site, kickoff)
    first, second = s["slots"][:2]  # Anna's 20-minute slots at kickoff + 20 h and + 20 h 20 min
    site.clock.set(kickoff + timedelta(hours=20, minutes=30))  # the first is over, the second under way
    page = site.client.get(f"/expert/{s['anna_link']}?lang=en").text
    for slot in (first, second):
        assert f"/slots/{slot}/withdraw" not in page
    assert page.count("<div>not booked</div>") == 2
    assert f"/slots/{s['slots'][2]}/withdraw" in page  # the one still to come can be
    reply = site.client.post(f"/expert/{s['anna_link']}/slots/{second}/withdraw?lang=en")
    assert reply.status_code == 409 and "this slot has begun" in reply.text
    assert all(x.withdrawn_at is None for x in site.slots())


def test_a_team_books_sees_its_booking_and_gets_an_ics_file(site: Site, kickoff: datetime) -> None:
    s = scene(site, kickoff)
    page = site.client.get(f"/book/{s['our_link']}")
    assert page.status_code == 200 and "Anna Schäfer" in page.text and "Jonas Weber" in page.text
    reply = site.client.post(f"/book/{s['our_link']}/bookings", data={"slot": s["slots"][0], "question": "Wie anonymisieren wir Standortdaten?"})  # fmt: skip
    assert reply.status_code == 303, reply.text
    assert site.bookings() == [(s["slots"][0], s["ours"])]
    page = site.client.get(reply.headers["location"])
    assert "Wie anonymisieren wir Standortdaten?" in page.text
    ics_path = re.search(r'href="(/book/[^"]+\.ics)"', page.text).group(1)  # type: ignore[union-attr]
    ics = site.client.get(ics_path)
    assert ics.headers["content-type"].startswith("text/calendar")
    (event,) = Calendar.from_ical(ics.content).walk("VEVENT")
    assert event.decoded("dtstart") == kickoff + timedelta(hours=20)
    assert "Wie anonymisieren" in str(event["description"])
    assert str(event["url"]) == "https://meet.example.org/anna"
    # The expert sees the team, its question, and the booking in the feed.
    expert_page = site.client.get(f"/expert/{s['anna_link']}")
    assert "Luftretter" in expert_page.text and "Standortdaten" in expert_page.text
    feed = Calendar.from_ical(site.client.get(f"/expert/{s['anna_link']}/bookings.ics").content)
    assert [str(e["summary"]) for e in feed.walk("VEVENT")] == ["Test Sprint: Luftretter"]


def test_a_team_reschedules_and_cancels_its_booking(site: Site, kickoff: datetime) -> None:
    s = scene(site, kickoff)
    site.client.post(f"/book/{s['our_link']}/bookings", data={"slot": s["slots"][0], "question": "Frage"})
    ((_, _),) = site.bookings()
    booking_id = site.run(_booking_id)
    moved = site.client.post(
        f"/book/{s['our_link']}/bookings/{booking_id}/reschedule", data={"slot": s["slots"][2]}
    )
    assert moved.status_code == 303
    assert site.bookings() == [(s["slots"][2], s["ours"])]
    new_id = site.run(_booking_id)
    assert site.client.post(f"/book/{s['our_link']}/bookings/{new_id}/cancel").status_code == 303
    assert site.bookings() == []


def calendar_of(site: Site, path: str) -> tuple[str, list[Any]]:
    """The calendar's METHOD and its entries."""
    reply = site.client.get(path)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(reply.content)
    return str(cal["method"]), cal.walk("VEVENT")


def test_a_moved_booking_moves_in_the_calendar_and_a_cancelled_one_is_withdrawn(
    site: Site, kickoff: datetime
) -> None:
    s = scene(site, kickoff)
    site.client.post(f"/book/{s['our_link']}/bookings", data={"slot": s["slots"][0], "question": "Frage"})
    first = site.run(_booking_id)
    feed = f"/expert/{s['anna_link']}/bookings.ics"
    _, (booked,) = calendar_of(site, f"/book/{s['our_link']}/bookings/{first}.ics")
    assert booked["sequence"] == 0 and str(booked["status"]) == "CONFIRMED"
    assert booked["organizer"].params["cn"] == "Anna Schäfer"

    site.client.post(f"/book/{s['our_link']}/bookings/{first}/reschedule", data={"slot": s["slots"][2]})
    second = site.run(_booking_id)
    for link in (first, second):  # the file behind the first message shows where it moved to
        method, (moved,) = calendar_of(site, f"/book/{s['our_link']}/bookings/{link}.ics")
        assert method == "PUBLISH" and str(moved["uid"]) == str(booked["uid"])
        assert moved["sequence"] == 1 and moved.decoded("dtstart") != booked.decoded("dtstart")
    _, entries = calendar_of(site, feed)  # one entry, moved: not the old one beside the new one
    assert [(str(e["uid"]), e["sequence"], e.decoded("dtstart")) for e in entries] == [
        (str(booked["uid"]), 1, moved.decoded("dtstart"))
    ]

    site.client.post(f"/book/{s['our_link']}/bookings/{second}/cancel")
    method, (cancelled,) = calendar_of(site, f"/book/{s['our_link']}/bookings/{first}.ics")
    assert method == "CANCEL" and str(cancelled["status"]) == "CANCELLED" and cancelled["sequence"] == 2
    assert str(cancelled["uid"]) == str(booked["uid"])
    _, entries = calendar_of(site, feed)
    assert [(str(e["uid"]), str(e["status"]), e["sequence"]) for e in entries] == [
        (str(booked["uid"]), "CANCELLED", 2)
    ]


async def _booking_id(runtime: Runtime) -> int:
    async with runtime.reading() as tx:
        found = await tx.session.scalar(select(Booking.id).where(Booking.cancelled_at.is_(None)))
        assert found is not None
        return found


def test_a_team_link_cannot_cancel_another_teams_booking(site: Site, kickoff: datetime) -> None:
    s = scene(site, kickoff)
    site.client.post(f"/book/{s['their_link']}/bookings", data={"slot": s["slots"][0], "question": "Frage"})
    theirs = site.run(_booking_id)
    reply = site.client.post(f"/book/{s['our_link']}/bookings/{theirs}/cancel")
    assert reply.status_code == 409 and "Traceback" not in reply.text
    assert site.bookings() == [(s["slots"][0], s["other"])]
    assert site.client.get(f"/book/{s['our_link']}/bookings/{theirs}.ics").status_code == 404


def test_a_booking_inside_the_cutoff_is_refused_beside_the_slot(site: Site, kickoff: datetime) -> None:
    s = scene(site, kickoff)
    site.clock.set(kickoff + timedelta(hours=19, minutes=45))
    reply = site.client.post(
        f"/book/{s['our_link']}/bookings", data={"slot": s["slots"][0], "question": "Frage"}
    )
    assert reply.status_code == 409
    assert 'id="error-slot"' in reply.text and "30" in reply.text
    assert site.bookings() == []


def test_a_missing_question_is_refused_beside_the_question(site: Site, kickoff: datetime) -> None:
    s = scene(site, kickoff)
    reply = site.client.post(
        f"/book/{s['our_link']}/bookings", data={"slot": s["slots"][0], "question": "  "}
    )
    assert reply.status_code == 409
    assert re.search(r'id="question"[^>]*aria-invalid="true"', reply.text)
    assert site.bookings() == []


def test_times_show_in_the_viewers_zone_with_the_events_beside(site: Site, kickoff: datetime) -> None:
    s = scene(site, kickoff)
    # 2027-03-20 14:00 in Berlin (still winter time) is 09:00 in New York (already summer time);
    # the page speaks the event's default language, German, and writes its dates so.
    page = site.client.get(f"/book/{s['our_link']}?tz=America/New_York")
    assert "Sa., 20. März, 09:00" in page.text and "Sa 14:00 Europe/Berlin" in page.text
    wrong = site.client.get(f"/book/{s['our_link']}?tz=Mars/Olympus")
    assert wrong.status_code == 200 and 'id="error-tz"' in wrong.text and "Sa., 20. März, 14:00" in wrong.text


@pytest.mark.parametrize("ending", ["revoked", "expired", "changed"])
def test_a_dead_link_gets_a_clear_page(site: Site, kickoff: datetime, ending: str) -> None:
    s = scene(site, kickoff)
    link = s["our_link"]
    if ending == "revoked":
        assert site.client.delete(f"/api/v1/links/book/{s['ours']}", headers=AUTH).status_code == 200
    elif ending == "expired":
        site.clock.set(kickoff + timedelta(days=30))
    else:
        link = link[:-2] + "xx"
    page = site.client.get(f"/book/{link}")
    assert page.status_code == {"revoked": 403, "expired": 410, "changed": 404}[ending]
    assert "This link does not work" in page.text or "Dieser Link geht nicht" in page.text
    assert ending == "expired" or "<code>/hack experts</code>" in page.text  # past the end, the organisers
    assert "`" not in page.text
    assert (
        site.client.post(f"/book/{link}/bookings", data={"slot": s["slots"][0], "question": "x"}).status_code
        >= 400
    )
    assert site.bookings() == []


@pytest.mark.parametrize(
    ("scope", "hint"),
    [
        ("book", "Type <code>/hack experts</code> in your team's chat"),
        ("submit", "Type <code>/hack submit</code> in your team's chat"),
        ("expert", "Please ask the organisers for a new link to your office hours."),
        ("jury", "Please ask the organisers for a new link to your jury work."),
    ],
)
def test_every_kind_of_dead_link_gets_the_same_page_saying_what_its_holder_can_do(
    site: Site, kickoff: datetime, scope: Scope, hint: str
) -> None:
    s = scene(site, kickoff)
    link = site.run(lambda runtime: token(runtime, scope, s["ours"]))
    assert site.client.delete(f"/api/v1/links/{scope}/{s['ours']}", headers=AUTH).status_code == 200
    for path, status in ((f"/{scope}/{link}", 403), (f"/{scope}/{link[:-2]}xx", 404)):
        page = site.client.get(path, params={"lang": "en"})
        assert page.status_code == status and page.headers["content-type"].startswith("text/html")
        assert '<link rel="stylesheet" href="/static/office.css">' in page.text
        text = html.unescape(page.text)
        assert "<h1>This link does not work</h1>" in text and hint in text
        assert "`" not in text and "bot" not in text.replace("the bot answers", "")
    german = site.client.get(f"/{scope}/{link}", headers={"accept-language": "de"})
    assert "Dieser Link wurde vom Orga-Team gesperrt" in german.text and 'lang="de"' in german.text


def test_a_cross_site_form_is_refused(site: Site, kickoff: datetime) -> None:
    s = scene(site, kickoff)
    reply = site.client.post(
        f"/book/{s['our_link']}/bookings", data={"slot": s["slots"][0], "question": "x"},
        headers={"origin": "https://evil.example"},
    )  # fmt: skip
    assert reply.status_code == 403
    assert site.bookings() == []


def test_organisers_add_experts_and_fetch_their_links(site: Site, kickoff: datetime) -> None:
    body = {
        "name": "Priya Raman",
        "topics": ["ux", "accessibility"],
        "languages": ["en"],
        "timezone": "Europe/London",
    }
    assert site.client.post("/api/v1/experts", json=body).status_code == 401
    made = site.client.post("/api/v1/experts", json=body, headers=AUTH)
    assert made.status_code == 200, made.text
    assert made.json()["link"].startswith("/expert/")
    again = site.client.post("/api/v1/experts", json=body, headers=AUTH)
    assert again.status_code == 422 and "already" in again.json()["error"]
    bad = site.client.post(
        "/api/v1/experts", json={"name": "X", "topics": [], "timezone": "Nowhere"}, headers=AUTH
    )
    assert bad.status_code == 422 and "topics" in bad.json()["error"] and "timezone" in bad.json()["error"]
    listed = site.client.get("/api/v1/experts", headers=AUTH).json()["experts"]
    assert [e["name"] for e in listed] == ["Priya Raman"]
    link = site.client.post(f"/api/v1/experts/{listed[0]['id']}/link", headers=AUTH).json()["link"]
    assert link == made.json()["link"]
    assert site.client.get(link).status_code == 200
    assert site.client.post("/api/v1/experts/9999/link", headers=AUTH).status_code == 404


def test_one_expert_is_shown_with_their_slots_and_bookings_as_in_the_list(
    site: Site, kickoff: datetime
) -> None:
    s = scene(site, kickoff)
    booked = site.client.post(
        f"/book/{s['our_link']}/bookings", data={"slot": s["slots"][0], "question": "x"}
    )
    assert booked.status_code == 303, booked.text
    anna = site.client.get(f"/api/v1/experts/{s['anna']}", headers=AUTH).json()
    assert (anna["slots"], anna["booked"]) == (len(s["slots"]), 1)
    listed = site.client.get("/api/v1/experts", headers=AUTH).json()["experts"]
    assert [e for e in listed if e["id"] == s["anna"]] == [anna]
    assert site.client.get("/api/v1/experts/9999", headers=AUTH).status_code == 404


def test_an_expert_takes_a_waiting_question_on_the_page(site: Site, kickoff: datetime) -> None:
    s = scene(site, kickoff)

    async def ask_for_help(runtime: Runtime) -> int:
        async with runtime.transaction() as tx:
            ours = await tx.session.get_one(Team, s["ours"])
            return (await help_queue.ask(tx, ours, "law", "Dürfen wir Fotos zeigen?")).id

    ticket = site.run(ask_for_help)
    anna_page = site.client.get(f"/expert/{s['anna_link']}?lang=en")
    assert "Dürfen wir Fotos zeigen?" in anna_page.text and "Take it" in anna_page.text
    assert site.client.post(f"/expert/{s['jonas_link']}/help/{ticket}/claim").status_code == 303
    late = site.client.post(f"/expert/{s['anna_link']}/help/{ticket}/claim?lang=en")
    assert late.status_code == 409 and "someone has already taken this question" in late.text
    assert "Dürfen wir Fotos zeigen?" not in site.client.get(f"/expert/{s['anna_link']}").text
