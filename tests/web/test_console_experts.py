"""The console's experts page over real HTTP on SQLite and PostgreSQL: refused without the cookie and
from another site, names shown as text, an expert file with bad rows naming each by number and
importing nothing (the console and the API alike), a good one imported and audit-logged, the pool with
slots, bookings and no-shows, the help requests waiting, and an expert's link shown and revoked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from hackserver.foundation.models import AuditEntry, Booking, Expert, Link, Slot
from hackserver.officehours import help_queue
from hackserver.runtime import Runtime
from tests.office import expert, team
from tests.web.test_dashboard import EVIL

HEADER = "name,topics,languages,bio,timezone,contact,join_url\n"
GOOD = HEADER + (
    "Anna Schäfer,data;law,de;en,Datenschutz,Europe/Berlin,anna@example.org,https://meet.example.org/a\n"
    f'"{EVIL}",ux,,,,,\n'
)
BAD = HEADER + (
    "Anna Schäfer,data;law,de;en,Datenschutz,Europe/Berlin,anna@example.org,https://meet.example.org/a\n"
    "Ohne Themen,,de,,,,\n"
    "Jonas Weber,law,de,,Mars/Olympus,,\n"
)


async def live_links(runtime: Runtime) -> int:
    async with runtime.reading() as tx:
        return len(list(await tx.session.scalars(select(Link).where(Link.revoked_at.is_(None)))))


async def test_without_the_cookie_or_from_another_site_nothing_is_shown_or_changed(
    runtime: Runtime, organiser: httpx.AsyncClient, stranger: httpx.AsyncClient, upload: Callable[..., Any],
    stored: Callable[..., Any], audit_actions: Callable[..., Any],
) -> None:  # fmt: skip
    anna = await expert(runtime)
    page = await stranger.get("/dashboard/experts")
    assert page.status_code == 401 and 'name="token"' in page.text and "Anna" not in page.text
    assert (await upload("experts", GOOD, client=stranger)).status_code == 401
    shown = await stranger.post(f"/dashboard/experts/{anna.id}/link", data={})
    assert shown.status_code == 401 and "/expert/" not in shown.text
    evil = {"Origin": "https://evil.example"}
    assert (await upload("experts", GOOD, headers=evil)).status_code == 403
    shown = await organiser.post(f"/dashboard/experts/{anna.id}/link", data={}, headers=evil)
    assert shown.status_code == 403 and "/expert/" not in shown.text
    revoked = await organiser.post(
        "/dashboard/experts/revoke", data={"expert": str(anna.id), "confirm": "on"}, headers=evil
    )
    assert revoked.status_code == 403
    assert await stored(Expert.name) == ["Anna Schäfer"] and await live_links(runtime) == 0
    assert await audit_actions() == []


async def test_an_expert_file_with_bad_rows_names_each_and_imports_nothing(
    organiser: httpx.AsyncClient, upload: Callable[..., Any], stored: Callable[..., Any],
    audit_actions: Callable[..., Any],
) -> None:  # fmt: skip
    response = await upload("experts", BAD + f"{EVIL},x,de,,,,\n")
    assert response.status_code == 422 and 'role="alert"' in response.text
    assert "<li>Zeile 3: topics: fehlt: wozu Teams fragen können" in response.text  # the page's language
    assert "<li>Zeile 4: timezone: &#39;Mars/Olympus&#39; ist keine IANA-Zeitzone" in response.text
    assert "Zeile 2" not in response.text and "Zeile 5" not in response.text  # the markup name is fine
    for name, data in (("experts.csv", ""), ("experts.csv", HEADER)):
        refused = await upload("experts", data, name)
        assert refused.status_code == 422 and f"<li>{name}: die Datei " in refused.text, data
    assert (await organiser.post("/dashboard/experts/import", data={"x": "y"})).status_code == 400
    assert await stored(Expert.name) == []
    assert await audit_actions() == []


async def test_a_good_file_is_imported_and_the_pool_shows_slots_bookings_no_shows_and_the_queue(
    runtime: Runtime, organiser: httpx.AsyncClient, upload: Callable[..., Any], stored: Callable[..., Any],
    audit_actions: Callable[..., Any],
) -> None:  # fmt: skip
    response = await upload("experts", GOOD)
    assert response.status_code == 200
    assert "Expert:innen importiert: 2 neu, 0 geändert, 0 unverändert." in response.text
    assert await stored(Expert.name) == [EVIL, "Anna Schäfer"]
    luftretter = await team(runtime, "Luftretter")
    async with runtime.transaction() as tx:
        anna = await tx.session.scalar(select(Expert).where(Expert.name == "Anna Schäfer"))
        assert anna is not None
        for n in range(3):
            start = tx.now + timedelta(hours=n + 1)
            slot = Slot(expert_id=anna.id, starts_at=start, ends_at=start + timedelta(minutes=20))
            tx.session.add(slot)
            await tx.session.flush()
            if n < 2:  # two booked, one of which nobody came to
                tx.session.add(Booking(slot_id=slot.id, team_id=luftretter.id, question="?", no_show=n == 0))
        await help_queue.ask(tx, luftretter, "data", f"Dürfen wir {EVIL} zeigen?")
    runtime.clock.advance(timedelta(minutes=7))  # type: ignore[attr-defined]  # a FakeClock
    page = (await organiser.get("/dashboard/experts?lang=en")).text
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<td>Anna Schäfer</td><td>data, law</td><td>DE, EN</td><td>3</td><td>2</td><td>1</td>" in page
    assert (
        "<td>Luftretter</td><td>data</td>" in page
        and "<td>7 min</td><td>the topic&#39;s experts</td>" in page
    )
    assert "/expert/" not in page  # no link until asked for
    assert await audit_actions() == [("organiser:console", "experts.imported")]


async def test_an_experts_link_is_shown_on_demand_and_revoked(
    runtime: Runtime, organiser: httpx.AsyncClient
) -> None:
    anna = await expert(runtime)
    shown = await organiser.post(f"/dashboard/experts/{anna.id}/link?lang=en", data={})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    link = shown.text.split('id="link" value="')[1].split('"')[0]
    assert "/expert/" in link and (await httpx.AsyncClient().get(link)).status_code == 200
    unconfirmed = await organiser.post("/dashboard/experts/revoke", data={"expert": str(anna.id)})
    assert unconfirmed.status_code == 422 and 'role="alert"' in unconfirmed.text
    unknown = await organiser.post("/dashboard/experts/revoke", data={"expert": "99999", "confirm": "on"})
    assert unknown.status_code == 404 and 'role="alert"' in unknown.text
    gone = await organiser.post("/dashboard/experts/99999/link", data={})
    assert gone.status_code == 404 and "/expert/" not in gone.text
    revoked = await organiser.post(
        "/dashboard/experts/revoke", data={"expert": str(anna.id), "confirm": "on"}
    )
    assert revoked.status_code == 303 and revoked.headers["location"] == "/dashboard/experts?done=revoked"
    assert (await httpx.AsyncClient().get(link)).status_code != 200
    assert await live_links(runtime) == 0
    async with runtime.reading() as tx:
        entries = list(await tx.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.actor, e.action) for e in entries] == [
        ("organiser:console", "link.shown"),
        ("organiser:console", "link.revoked"),
    ]
    assert all(link.rsplit("/", 1)[1] not in str(e.details) for e in entries)  # the token is never logged


async def test_the_api_imports_an_expert_file_with_the_same_checks(
    organiser_api: httpx.AsyncClient, stored: Callable[..., Any], audit_actions: Callable[..., Any]
) -> None:
    bad = await organiser_api.post("/api/v1/experts/import", content=BAD.encode())
    assert bad.status_code == 422
    assert {p["row"] for p in bad.json()["problems"]} == {3, 4}
    assert await stored(Expert.name) == []
    empty = await organiser_api.post("/api/v1/experts/import", content=b"")
    assert empty.status_code == 422 and "error" in empty.json()
    good = await organiser_api.post("/api/v1/experts/import", content=GOOD.encode())
    assert good.status_code == 200 and good.json() == {"added": 2, "updated": 0, "unchanged": 0}
    anna = next(e for e in (await organiser_api.get("/api/v1/experts")).json()["experts"] if e["slots"] == 0)
    await organiser_api.post(f"/api/v1/experts/{anna['id']}/link", json={})
    assert await audit_actions() == [
        ("organiser:api", "experts.imported"),
        ("organiser:api", "link.shown"),
    ]
