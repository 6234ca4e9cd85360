"""The submission page over real HTTP: a team's link opens its own form only; saves make versions;
bad input comes back beside its field with nothing saved; after the deadline the form is closed.
And the organisers' extension through the API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from hackserver.app import create_app
from hackserver.foundation import links
from hackserver.foundation.models import Participant, Submission, SubmissionVersion
from hackserver.foundation.settings import Settings
from hackserver.foundation.signing import Scope
from hackserver.runtime import Runtime
from hackserver.teams import teams
from tests.dbstate import migrate
from tests.fakes import FakeClock
from tests.servers import runtime_of, serving
from tests.submissions.test_submissions import COMPLETE, deadline, new_team, status_of, versions

TOKEN = "organiser-token-for-tests-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def clock(kickoff: datetime) -> FakeClock:
    return FakeClock(kickoff - timedelta(hours=1))


@pytest.fixture
async def server(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, free_port: int, clock: FakeClock
) -> AsyncIterator[uvicorn.Server]:
    settings = Settings(
        database_url=database_url, event_path=event_file(kickoff=kickoff), organiser_token=TOKEN
    )
    if not settings.is_sqlite:
        await migrate(database_url)
    async with serving(create_app(settings, clock=clock, run_clock=False), free_port) as server:
        yield server


@pytest.fixture
async def client(server: uvicorn.Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10) as client:
        yield client


async def link_of(runtime: Runtime, scope: Scope, subject: int, member: int | None = None) -> str:
    async with runtime.transaction() as tx:
        return tx.links.address(scope, await links.grant(tx, scope, subject, member))


def form(
    members: list[int], action: str = "submit", *, based_on: int = 0, **values: str
) -> dict[str, object]:
    """A browser's form post: repeated `credits` for the checked members."""
    pairs = [*({**COMPLETE, **values}).items(), ("action", action)]
    pairs += [("credits", str(m)) for m in members] + [("based_on", str(based_on))]
    return {"content": urlencode(pairs), "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


async def test_a_team_saves_a_draft_then_submits_through_its_link(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    runtime = runtime_of(server)
    team_id, members = await new_team(runtime, "Luftretter")
    path = await link_of(runtime, "submit", team_id, members[0]) + "?lang=en"
    page = await client.get(path)
    assert page.status_code == 200
    assert 'data-status="draft"' in page.text and 'id="left"' in page.text and "Luftretter-1" in page.text
    saved = await client.post(path, **form(members, "draft", problem=""))
    assert saved.status_code == 303, saved.text
    shown = await client.get(saved.headers["location"])
    assert "Saved: version 1." in shown.text and 'data-status="draft"' in shown.text
    saved = await client.post(path, **form(members, based_on=1))
    assert saved.status_code == 303
    shown = await client.get(saved.headers["location"])
    assert 'data-status="submitted"' in shown.text and "Version 2" in shown.text
    assert [n for n, _ in await versions(runtime, team_id)] == [1, 2]


def based_on(page: httpx.Response) -> int:
    found = re.search(r'name="based_on" value="(\d+)"', page.text)
    assert found is not None, page.text
    return int(found[1])


async def test_a_save_over_another_members_newer_version_is_refused_keeping_what_was_typed(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    runtime = runtime_of(server)
    team_id, members = await new_team(runtime, "Luftretter")
    path = await link_of(runtime, "submit", team_id, members[0]) + "?lang=en"
    their_path = await link_of(runtime, "submit", team_id, members[1]) + "?lang=en"
    assert (await client.post(path, **form(members, "draft"))).status_code == 303
    first, second = await client.get(their_path), await client.get(path)  # two members open version 1
    assert based_on(first) == based_on(second) == 1
    theirs = form(members, based_on=based_on(first), title="Their title")
    assert (await client.post(their_path, **theirs)).status_code == 303
    mine = form(members, based_on=based_on(second), title="My <own> title", summary="Typed by me")
    refused = await client.post(path, **mine)
    assert refused.status_code == 409
    assert re.search(
        r'id="notice">Luftretter-1 saved version 2 at [^<]+; nothing of yours was saved', refused.text
    )
    assert 'id="theirs-heading">Version 2, saved by Luftretter-1' in refused.text
    assert 'id="theirs-title">Their title</dd>' in refused.text
    assert 'value="My &lt;own&gt; title"' in refused.text and "Typed by me</textarea>" in refused.text
    assert [f["title"] for _, f in await versions(runtime, team_id)] == ["Luftretter", "Their title"]
    assert based_on(refused) == 2  # having seen theirs, saving again is a choice
    again = form(members, based_on=based_on(refused), title="My <own> title")
    assert (await client.post(path, **again)).status_code == 303
    assert [n for n, _ in await versions(runtime, team_id)] == [1, 2, 3]
    unknown = form(members, title="From a page without a version")  # based on nothing: not applied
    unknown["content"] = str(unknown["content"]).replace("&based_on=0", "")
    assert (await client.post(path, **unknown)).status_code == 409
    assert [n for n, _ in await versions(runtime, team_id)] == [1, 2, 3]


async def saver_of(runtime: Runtime, team_id: int) -> list[int | None]:
    async with runtime.reading() as tx:
        return list(
            await tx.session.scalars(
                select(SubmissionVersion.saved_by)
                .join(Submission)
                .where(Submission.team_id == team_id)
                .order_by(SubmissionVersion.number)
            )
        )


async def test_a_save_names_the_member_whose_link_it_is_without_asking(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    runtime = runtime_of(server)
    team_id, members = await new_team(runtime, "Luftretter")
    mine, theirs = [await link_of(runtime, "submit", team_id, m) for m in members]
    assert mine != theirs
    page = await client.get(mine, params={"lang": "en"})
    assert 'id="saver">You save as Luftretter-0' in page.text and 'name="saved_by"' not in page.text
    claimed = form(members, "draft")  # a name sent along is not asked for, and not heeded
    claimed["content"] = f"{claimed['content']}&saved_by={members[1]}"
    assert (await client.post(mine, **claimed)).status_code == 303
    assert (await client.post(theirs, **form(members, based_on=1))).status_code == 303
    assert await saver_of(runtime, team_id) == members


async def test_a_member_who_left_the_team_can_no_longer_save_through_their_link(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    runtime = runtime_of(server)
    team_id, members = await new_team(runtime, "Luftretter")
    gone = await link_of(runtime, "submit", team_id, members[1])
    async with runtime.transaction() as tx:
        await teams.leave(tx, await tx.session.get_one(Participant, members[1]))
    page = await client.get(gone, params={"lang": "en"})
    assert page.status_code == 403 and "no longer a member of team Luftretter" in page.text
    refused = await client.post(gone + "?lang=de", **form(members[:1]))
    assert refused.status_code == 403 and "nicht mehr Mitglied von Team Luftretter" in refused.text
    assert await versions(runtime, team_id) == []


async def test_bad_input_is_shown_beside_its_field_and_saves_nothing(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    runtime = runtime_of(server)
    team_id, members = await new_team(runtime, "Luftretter")
    path = await link_of(runtime, "submit", team_id, members[0]) + "?lang=en"
    reply = await client.post(path, **form(members, repository="github.com/x", title="<b>x</b>"))
    assert reply.status_code == 422
    assert 'aria-describedby="problem-repository"' in reply.text
    assert re.search(r'id="problem-repository">Repository URL must be an address', reply.text)
    assert "&lt;b&gt;x&lt;/b&gt;" in reply.text and "<b>x</b>" not in reply.text  # kept, escaped
    assert await versions(runtime, team_id) == []


async def test_numbers_that_only_look_like_digits_are_not_a_server_error(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    # "²".isdigit() is True, int("²") raises; 99999999999 is digits but no database integer.
    runtime = runtime_of(server)
    team_id, members = await new_team(runtime, "Luftretter")
    path = await link_of(runtime, "submit", team_id, members[0]) + "?lang=en"
    page = await client.get(path + "&saved=²")
    assert page.status_code == 200 and "Saved: version" not in page.text
    for odd in ("²", "99999999999", "-1", "①"):
        pairs = [
            *COMPLETE.items(),
            ("saved_by", odd),
            ("credits", odd),
            ("based_on", odd),
            ("action", "draft"),
        ]
        body = {"content": urlencode(pairs), "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
        reply = await client.post(path, **body)  # type: ignore[arg-type]
        assert reply.status_code in (303, 409, 422), (odd, reply.status_code)
    assert [v for v, _ in await versions(runtime, team_id)] in ([], [1])


async def test_a_link_opens_only_its_own_teams_submission(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    runtime = runtime_of(server)
    ours, members = await new_team(runtime, "Luftretter")
    theirs, _ = await new_team(runtime, "Andere")
    own = await link_of(runtime, "submit", ours, members[0])
    assert "Andere" not in (await client.get(own)).text
    jury_token = (await link_of(runtime, "jury", theirs)).rsplit("/", 1)[1]
    head, signature = own.rsplit(".", 1)  # the first character of the signature carries six bits
    forged = f"{head}.{'B' if signature[0] != 'B' else 'C'}{signature[1:]}"
    for path in (f"/submit/{jury_token}", forged, "/submit/nonsense"):
        assert (await client.get(path)).status_code == 404  # not a link of this page: the dead-link page
        assert (await client.post(path, **form(members))).status_code == 404
    assert await versions(runtime, theirs) == []
    other = await link_of(runtime, "submit", ours, members[1])
    async with runtime.transaction() as tx:  # the team's link: every member's
        assert await links.revoke(tx, "submit", ours, actor="organiser:test") == 2
    for path in (own, other):
        revoked = await client.get(path, params={"lang": "en"})
        assert revoked.status_code == 403 and "revoked" in revoked.text


async def test_after_the_deadline_the_page_is_closed_and_a_save_is_refused(
    server: uvicorn.Server, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    runtime = runtime_of(server)
    team_id, members = await new_team(runtime, "Luftretter")
    path = await link_of(runtime, "submit", team_id, members[0]) + "?lang=en"
    clock.set(await deadline(runtime))
    page = await client.get(path)
    assert 'id="closed"' in page.text and "<fieldset disabled>" in page.text
    reply = await client.post(path, **form(members))
    assert reply.status_code == 409 and "nothing was changed" in reply.text
    assert await versions(runtime, team_id) == []
    evil = form(members)
    evil["headers"] = {**evil["headers"], "Origin": "https://evil.example"}  # type: ignore[dict-item]
    cross_site = await client.post(path, **evil)
    assert cross_site.status_code == 403


async def test_organisers_extend_one_team_through_the_api(
    server: uvicorn.Server, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    runtime = runtime_of(server)
    team_id, members = await new_team(runtime, "Luftretter")
    url = f"/api/v1/teams/{team_id}/extension"
    assert (await client.post(url, json={"by": "+15m"})).status_code == 401
    for body, field in (
        ({}, "either"),
        ({"by": "soon"}, "'by'"),
        ({"until": "2027-03-21T18:15:00"}, "offset"),
        ({"by": "3000000d"}, "longer than 3650 days"),
        ({"until": "0001-01-01T00:00:00+01:00"}, "outside the calendar"),
    ):
        refused = await client.post(url, json=body, headers=AUTH)
        assert refused.status_code == 422 and field in refused.json()["error"], refused.text
    early = await client.post(url, json={"by": "0s"}, headers=AUTH)
    assert early.status_code == 409 and "after the deadline" in early.json()["error"]
    granted = await client.post(url, json={"by": "+15m"}, headers=AUTH)
    assert granted.status_code == 200, granted.text
    end = await deadline(runtime)
    assert datetime.fromisoformat(granted.json()["until"]) == end + timedelta(minutes=15)
    clock.set(end + timedelta(minutes=5))
    path = await link_of(runtime, "submit", team_id, members[0]) + "?lang=en"
    assert (await client.post(path, **form(members))).status_code == 303
    assert await status_of(runtime, team_id) == "submitted"
    listed = await client.get("/api/v1/submissions", headers=AUTH)
    assert [s["team"]["id"] for s in listed.json()["submissions"]] == [team_id]
    assert (
        await client.post("/api/v1/teams/999999/extension", json={"by": "+5m"}, headers=AUTH)
    ).status_code == 404
