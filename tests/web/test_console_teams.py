"""The console's teams page over real HTTP on SQLite and PostgreSQL: refused without the cookie and
from another site, names shown as text, the filters and the paging returning the right rows, and the
moves (move, merge, dissolve) changing the database and writing the audit log."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, insert, select

from hackserver.foundation.models import AuditEntry, Membership, Participant, PlatformIdentity, Team
from hackserver.runtime import Runtime
from hackserver.teams import teams
from hackserver.teams.participants import Identity, identify
from tests.web.test_dashboard import EVIL


async def person(
    runtime: Runtime, user: str, *, platform: str = "slack", skills: list[str] | None = None,
    languages: list[str] | None = None, pool: bool = False, team: str | None = None,
) -> int:  # fmt: skip
    """A participant, with a new team of that name if one is given; their id."""
    async with runtime.transaction() as tx:
        found = await identify(tx, Identity(platform, "W1", user, user))
        found.skills, found.languages, found.in_match_pool = skills or [], languages or [], pool
        if team is not None:
            await teams.create(tx, found, team)
        await tx.session.flush()
        return found.id


def ids_in(page: str) -> list[int]:
    """The numbers in the first column of the page's table."""
    return [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", page)]


def link(page: str, rel: str) -> str:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else ""


async def team_id(runtime: Runtime, name: str) -> int:
    async with runtime.reading() as tx:
        found = await tx.session.scalar(select(Team.id).where(Team.name == name))
    assert found is not None
    return found


async def test_without_the_cookie_the_pages_answer_401_and_an_action_changes_nothing(
    runtime: Runtime, stranger: httpx.AsyncClient
) -> None:
    await person(runtime, "U1", team="Luftretter")
    team = await team_id(runtime, "Luftretter")
    for path in ("/dashboard/teams", f"/dashboard/teams/{team}", "/dashboard/audit"):
        response = await stranger.get(path)
        assert response.status_code == 401 and 'name="token"' in response.text, path
        assert "Luftretter" not in response.text
    refused = await stranger.post(f"/dashboard/teams/{team}/dissolve", data={"confirm": "on"})
    assert refused.status_code == 401
    assert await team_id(runtime, "Luftretter") == team


async def test_a_cross_site_post_is_refused_and_changes_nothing(
    runtime: Runtime, organiser: httpx.AsyncClient, audit_actions: Callable[..., Any]
) -> None:
    await person(runtime, "U1", team="Luftretter")
    team = await team_id(runtime, "Luftretter")
    response = await organiser.post(
        f"/dashboard/teams/{team}/dissolve",
        data={"confirm": "on"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert await team_id(runtime, "Luftretter") == team
    assert ("organiser:console", "team.dissolve") not in await audit_actions()


async def test_names_with_markup_are_shown_as_text_in_every_list(
    runtime: Runtime, organiser: httpx.AsyncClient
) -> None:
    evil = await person(runtime, EVIL, skills=[EVIL])
    async with runtime.transaction() as tx:  # a name the bot refuses, as if it came another way
        made = Team(event_id=tx.event_id, name=EVIL, name_key=EVIL, join_code="EVIL01", member_count=1)
        tx.session.add(made)
        await tx.session.flush()
        tx.session.add(Membership(team_id=made.id, participant_id=evil))
        team = made.id
        tx.session.add(
            AuditEntry(event_id=tx.event_id, actor=EVIL, action="x", details={"n": EVIL}, at=tx.now)
        )
    for path in (
        "/dashboard/teams",
        "/dashboard/teams?view=teams",
        f"/dashboard/teams/{team}",
        "/dashboard/audit",
    ):
        page = (await organiser.get(path)).text
        assert EVIL not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path


async def test_the_filters_return_the_right_people_and_teams(
    runtime: Runtime, organiser: httpx.AsyncClient
) -> None:
    ada = await person(runtime, "Ada Lovelace", skills=["python"], languages=["en"], team="Solo")
    bob = await person(runtime, "Bob", platform="discord", skills=["design"], languages=["de"], pool=True)
    cem = await person(runtime, "Cem", skills=["python", "ux"], languages=["de", "en"])
    async with runtime.transaction() as tx:  # a team at the minimum size of two
        both = await teams.create(tx, await tx.session.get(Participant, cem), "Paar")
    dan = await person(runtime, "Dan")
    await organiser.post(f"/dashboard/teams/{both.id}/move", data={"participant": str(dan)})

    async def shown(query: str) -> list[int]:
        response = await organiser.get("/dashboard/teams?" + query)
        assert response.status_code == 200
        return ids_in(response.text)

    assert await shown("") == [ada, bob, cem, dan]
    assert await shown("q=LOVE") == [ada]
    assert await shown("solo=on") == [bob]
    assert await shown("pool=on") == [bob]
    assert await shown("platform=discord") == [bob]
    assert await shown("language=en") == [ada, cem]
    assert await shown("skill=Python") == [ada, cem]
    assert await shown("skill=pyth") == []  # a whole skill, not a part of one
    assert await shown("skill=python&language=de") == [cem]
    assert await shown("q=%25") == []  # a wildcard is a character like any other
    solo, pair = await team_id(runtime, "Solo"), await team_id(runtime, "Paar")
    assert await shown("view=teams") == [solo, pair]
    assert await shown("view=teams&small=on") == [solo]
    assert await shown("view=teams&q=PA") == [pair]


async def test_the_pages_show_everyone_once_forwards_and_back(
    runtime: Runtime, organiser: httpx.AsyncClient
) -> None:
    async with runtime.transaction() as tx:
        await tx.session.execute(
            insert(Participant), [{"event_id": tx.event_id, "display_name": f"P{n}"} for n in range(120)]
        )
        everyone = list(await tx.session.scalars(select(Participant.id).order_by(Participant.id)))
    pages, address = [], "/dashboard/teams"
    while address:
        page = (await organiser.get(address)).text
        pages.append(ids_in(page))
        address = link(page, "next")
    assert [len(p) for p in pages] == [50, 50, 20]
    assert [n for p in pages for n in p] == everyone
    assert ids_in((await organiser.get(link(page, "prev"))).text) == pages[1]
    assert "Gefunden: 120" in page


async def test_a_move_a_merge_and_a_dissolve_change_the_teams_and_are_audit_logged(
    runtime: Runtime, organiser: httpx.AsyncClient, audit_actions: Callable[..., Any]
) -> None:
    await person(runtime, "U1", team="Eins")
    await person(runtime, "U2", team="Zwei")
    drei = await person(runtime, "U3")
    eins, zwei = await team_id(runtime, "Eins"), await team_id(runtime, "Zwei")

    moved = await organiser.post(f"/dashboard/teams/{eins}/move", data={"participant": str(drei)})
    assert moved.status_code == 303 and moved.headers["location"] == f"/dashboard/teams/{eins}?done=moved"
    merged = await organiser.post(f"/dashboard/teams/{zwei}/merge", data={"into": str(eins)})
    assert merged.status_code == 303
    async with runtime.reading() as tx:
        assert (await tx.session.get(Team, eins)).member_count == 3  # type: ignore[union-attr]
        assert await tx.session.get(Team, zwei) is None
    page = (await organiser.get(f"/dashboard/teams/{eins}?done=merged")).text
    assert all(name in page for name in ("U1", "U2", "U3")) and "team-eins" in page.lower()

    dissolved = await organiser.post(f"/dashboard/teams/{eins}/dissolve", data={"confirm": "on"})
    assert dissolved.status_code == 303
    async with runtime.reading() as tx:
        assert await tx.session.scalar(select(func.count()).select_from(Membership)) == 0
        assert await tx.session.scalar(select(func.count()).where(Participant.in_match_pool)) == 3
    console = [a for actor, a in await audit_actions() if actor == "organiser:console"]
    assert console == ["team.move", "team.merge", "team.dissolve"]


async def test_a_bad_or_refused_action_says_why_and_changes_nothing(
    runtime: Runtime, organiser: httpx.AsyncClient, audit_actions: Callable[..., Any]
) -> None:
    one = await person(runtime, "U1", team="Eins")
    eins = await team_id(runtime, "Eins")
    for action, form, status in [
        ("move", {"participant": "abc"}, 422),
        ("move", {"participant": str(one)}, 409),  # already a member
        ("move", {"participant": "99999"}, 404),
        ("merge", {"into": str(eins)}, 409),  # itself
        ("dissolve", {}, 422),  # not confirmed
    ]:
        response = await organiser.post(f"/dashboard/teams/{eins}/{action}", data=form)
        assert response.status_code == status, (action, form)
        assert 'role="alert"' in response.text and "Traceback" not in response.text
    assert (await organiser.post(f"/dashboard/teams/{eins}/explode", data={})).status_code == 404
    assert await team_id(runtime, "Eins") == eins
    assert [a for actor, a in await audit_actions() if actor == "organiser:console"] == []
    async with runtime.reading() as tx:
        assert await tx.session.scalar(select(func.count()).select_from(PlatformIdentity)) == 1


async def test_the_language_links_keep_the_filters(organiser: httpx.AsyncClient) -> None:
    page = (await organiser.get("/dashboard/teams?skill=Python&pool=on&lang=de&done=moved")).text
    assert 'href="/dashboard/teams?skill=Python&amp;pool=on&amp;lang=en"' in page
