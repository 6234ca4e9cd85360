"""The organisers' dashboard over real HTTP and websockets: signing in, refusals, the live snapshot,
escaping, the actions and their audit log, one snapshot a tick for many viewers, and an action (or a
phase shift) in one web process showing on a dashboard connected to another through Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from hackserver.app import create_app
from hackserver.foundation.models import (
    AuditEntry,
    ChannelMessage,
    Expert,
    HelpTicket,
    Membership,
    OutboxMessage,
    Participant,
    Submission,
    Team,
)
from hackserver.foundation.settings import Settings
from hackserver.foundation.timekeeping import EventClock
from hackserver.runtime import Runtime
from hackserver.sprint.phases import shift_phase
from hackserver.teams import teams
from hackserver.teams.participants import Identity, identify
from hackserver.web.dashboard import COOKIE
from hackserver.web.dashboard_hub import INTERVAL, Hub
from tests.dbstate import migrate, settled_outbox
from tests.fakes import FakeClock
from tests.servers import runtime_of, serving

TOKEN = "organiser-token-for-tests-0123"
RECEIVE_TIMEOUT = 5.0
EVIL = "<script>alert(1)</script>"


@pytest.fixture
async def settings(database_url: str, event_file: Callable[..., Path], kickoff: datetime) -> Settings:
    settings = Settings(
        database_url=database_url, event_path=event_file(kickoff=kickoff), organiser_token=TOKEN
    )
    if not settings.is_sqlite:
        await migrate(database_url)
    return settings


@pytest.fixture
async def server(settings: Settings, kickoff: datetime, free_port: int) -> AsyncIterator[uvicorn.Server]:
    app = create_app(settings, clock=FakeClock(kickoff + timedelta(minutes=20)), run_clock=False)
    async with serving(app, free_port) as server:
        yield server


def base(server: uvicorn.Server) -> str:
    return f"http://127.0.0.1:{server.config.port}"


ENGLISH = {"Accept-Language": "en"}  # the test event's default language is German


@pytest.fixture
async def organiser(server: uvicorn.Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base(server), timeout=10) as client:
        response = await client.post("/dashboard/login", data={"token": TOKEN})
        assert response.status_code == 303, response.text
        yield client


def cookie_of(client: httpx.AsyncClient) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={client.cookies[COOKIE]}"}


def ws_url(server: uvicorn.Server) -> str:
    return f"ws://127.0.0.1:{server.config.port}/ws/dashboard"


class Screen:
    """What one dashboard shows, built from its frames as the page's script builds it: a "snapshot"
    is the whole state, a "change" replaces the parts it holds (of the counts, those it holds); the
    feed is every entry received since connecting."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.shown: dict[str, Any] = {}
        self.feed: dict[int, dict[str, Any]] = {}
        self.frames: list[dict[str, Any]] = []  # the snapshots and changes, as they came

    async def receive(self) -> dict[str, Any]:
        frame = json.loads(await self.ws.recv())
        if frame["type"] == "snapshot":
            self.shown = dict(frame)
        elif frame["type"] == "change":
            assert self.shown, "a change came before the whole state"
            self.shown |= {k: v for k, v in frame.items() if k != "counts"}
            self.shown["counts"] = self.shown["counts"] | frame.get("counts", {})
        else:
            return frame
        self.frames.append(frame)
        self.feed |= {entry["n"]: entry for entry in frame["feed"]}
        self.shown["feed"] = [self.feed[n] for n in sorted(self.feed)]
        return frame

    async def until(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async with asyncio.timeout(RECEIVE_TIMEOUT):
            while (await self.receive())["type"] == "history" or not wanted(self.shown):
                pass
        return self.shown


def showing(**counts: int) -> Callable[[dict[str, Any]], bool]:
    def wanted(shown: dict[str, Any]) -> bool:
        return all(shown["counts"][k] == v for k, v in counts.items())

    return wanted


async def create_team(runtime: Runtime, user: str, name: str) -> None:
    async with runtime.transaction() as tx:
        person = await identify(tx, Identity("slack", "T1", user, user))
        await teams.create(tx, person, name)


# -- signing in ---------------------------------------------------------------------------------


async def test_without_the_cookie_the_dashboard_answers_401_with_the_sign_in_form(
    server: uvicorn.Server,
) -> None:
    async with httpx.AsyncClient(base_url=base(server)) as client:
        response = await client.get("/dashboard")
    assert response.status_code == 401
    assert 'name="token"' in response.text and 'id="count-teams"' not in response.text


async def test_without_the_cookie_the_websocket_is_refused(server: uvicorn.Server) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url(server)):
            pass
    assert refused.value.response.status_code == 403


async def test_a_forged_cookie_is_refused(server: uvicorn.Server) -> None:
    async with httpx.AsyncClient(base_url=base(server), cookies={COOKIE: "forged.value.here"}) as client:
        assert (await client.get("/dashboard")).status_code == 401
    with pytest.raises(InvalidStatus):
        async with connect(ws_url(server), additional_headers={"Cookie": f"{COOKIE}=forged.value"}):
            pass


async def test_the_websocket_is_refused_from_another_origin_even_with_the_cookie(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            ws_url(server), additional_headers=cookie_of(organiser), origin="https://evil.example"
        ):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403


async def test_a_wrong_token_is_refused_and_sets_no_cookie(server: uvicorn.Server) -> None:
    async with httpx.AsyncClient(base_url=base(server), headers=ENGLISH) as client:
        response = await client.post("/dashboard/login", data={"token": TOKEN + "x"})
        assert response.status_code == 401
        assert 'aria-invalid="true"' in response.text and "not right" in response.text
        assert COOKIE not in client.cookies
        assert TOKEN not in response.text


async def test_signing_in_sets_a_strict_httponly_cookie_and_keeps_the_token_out_of_addresses(
    server: uvicorn.Server,
) -> None:
    async with httpx.AsyncClient(base_url=base(server)) as client:
        response = await client.post("/dashboard/login", data={"token": TOKEN})
        assert response.status_code == 303 and response.headers["location"] == "/dashboard"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert TOKEN not in response.headers["set-cookie"]
        page = await client.get("/dashboard")
        assert page.status_code == 200 and 'id="count-teams"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_signing_in_on_a_console_page_leads_back_to_it_and_nowhere_else(server: uvicorn.Server) -> None:
    async with httpx.AsyncClient(base_url=base(server)) as client:
        form = await client.get("/dashboard/audit")
        assert form.status_code == 401 and 'name="back" value="/dashboard/audit"' in form.text
        back = await client.post("/dashboard/login", data={"token": TOKEN, "back": "/dashboard/audit"})
        assert back.headers["location"] == "/dashboard/audit"
        for elsewhere in ("//evil.example/dashboard", "https://evil.example", "/dashboard/../api/v1/teams"):
            away = await client.post("/dashboard/login", data={"token": TOKEN, "back": elsewhere})
            assert away.status_code == 303 and away.headers["location"] == "/dashboard"


async def test_signing_in_from_another_origin_is_refused(server: uvicorn.Server) -> None:
    async with httpx.AsyncClient(base_url=base(server)) as client:
        response = await client.post(
            "/dashboard/login", data={"token": TOKEN}, headers={"Origin": "https://evil.example"}
        )
        assert response.status_code == 403 and COOKIE not in client.cookies


async def test_signing_out_ends_the_session(server: uvicorn.Server, organiser: httpx.AsyncClient) -> None:
    assert (await organiser.get("/dashboard")).status_code == 200
    copied = organiser.cookies[COOKIE]
    async with httpx.AsyncClient(base_url=base(server)) as colleague:  # another organiser's session
        await colleague.post("/dashboard/login", data={"token": TOKEN})
        await organiser.post("/dashboard/logout")
        assert (await organiser.get("/dashboard")).status_code == 401
        assert (await colleague.get("/dashboard")).status_code == 200  # theirs goes on
    async with httpx.AsyncClient(base_url=base(server), cookies={COOKIE: copied}) as thief:
        assert (await thief.get("/dashboard")).status_code == 401  # the old cookie, ended on the server


async def test_without_an_organiser_token_configured_there_is_no_dashboard(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, free_port: int
) -> None:
    settings = Settings(database_url=database_url, event_path=event_file(kickoff=kickoff))
    if not settings.is_sqlite:
        await migrate(database_url)
    async with serving(create_app(settings, clock=FakeClock(kickoff), run_clock=False), free_port) as server:
        async with httpx.AsyncClient(base_url=base(server)) as client:
            assert (await client.get("/dashboard")).status_code == 404
            assert (
                await client.post("/dashboard/login", data={"token": "anything-long-enough"})
            ).status_code == 404


# -- live ---------------------------------------------------------------------------------------


async def test_a_team_created_changes_the_numbers_and_the_feed_live(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    async with connect(ws_url(server), additional_headers=cookie_of(organiser)) as ws:
        screen = Screen(ws)
        assert (await screen.receive())["type"] == "history"
        await screen.until(showing(teams=0))
        await create_team(runtime_of(server), "U1", "Luftretter")
        frame = await screen.until(showing(teams=1, in_teams=1, registrations=1))
    assert frame["team_sizes"] == [[1, 1]]
    assert any(entry["text"]["en"] == "Team “Luftretter” was created" for entry in frame["feed"])


async def test_times_are_the_events_own_and_the_page_names_its_zone(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    async with connect(ws_url(server), additional_headers=cookie_of(organiser)) as ws:
        screen = Screen(ws)
        await screen.until(showing(teams=0))
        await create_team(runtime_of(server), "U1", "Luftretter")
        shown = await screen.until(showing(teams=1))
    page = (await organiser.get("/dashboard?lang=en")).text
    # The clock stands at Friday 18:20 in Berlin (17:20 UTC); the next announcement is Saturday at 9:00.
    assert shown["feed"][-1]["local"] == {"de": "Fr., 18:20:00", "en": "Fri 18:20:00"}
    assert shown["schedule"][0]["local"] == {"de": "Sa., 20. März, 09:00", "en": "Sat 20 Mar, 09:00"}
    assert '<time datetime="2027-03-19T17:20:00+00:00">Fri 18:20:00</time>' in page
    assert page.count("times in Europe/Berlin") == 2


async def test_what_needs_a_human_is_said_in_a_sentence_and_only_what_must_be_acted_on_is_red(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    runtime = runtime_of(server)
    async with runtime.transaction() as tx:
        tx.session.add_all(Expert(event_id=runtime.event_id, name=f"Dr. {n:02}") for n in range(12))
        tx.session.add(OutboxMessage(key="k", platform="slack", channel="C1", payload={}, status="dead"))
    page = (await organiser.get("/dashboard?lang=en")).text
    names = ", ".join(f"Dr. {n:02}" for n in range(10))
    assert '<li class="alert act"><strong>1 message could not be delivered</strong>: #' in page
    assert (
        f'<li class="alert note"><strong>12 experts offer no slot</strong>: {names} and 2 more</li>' in page
    )
    assert '<li class="alert note"><strong>12 of 12 experts have no booking yet</strong></li>' in page


async def markup_team(runtime: Runtime) -> None:
    """A team whose name is markup. The bot refuses such names; a row written past it (an import, an
    older version, a hand-edited database) must still show as text."""
    async with runtime.transaction() as tx:
        team = Team(event_id=runtime.event_id, name=EVIL, name_key=EVIL, join_code="EVIL01")
        tx.session.add(team)
        await tx.session.flush()
        tx.record("team.created", team=team.id, name=team.name, by=0)


async def test_a_team_name_with_markup_is_shown_as_text(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    await markup_team(runtime_of(server))
    async with connect(ws_url(server), additional_headers=cookie_of(organiser)) as ws:
        await Screen(ws).until(showing(teams=1))  # the feed now holds the name
    page = (await organiser.get("/dashboard?lang=en")).text
    assert "Team “&lt;script&gt;alert(1)&lt;/script&gt;” was created" in page
    assert EVIL not in page


async def test_the_charts_history_comes_from_the_database_per_minute(
    server: uvicorn.Server, organiser: httpx.AsyncClient, kickoff: datetime
) -> None:
    """Rows written at known times before anyone watched: the history counts them per minute, the
    same on every load, though this process heard of none of them at those times."""
    runtime = runtime_of(server)  # its clock stands at kickoff + 20 min
    for n in range(3):
        await create_team(runtime, f"U{n}", f"Team {n}")
    async with runtime.transaction() as tx:
        await identify(tx, Identity("slack", "T1", "U9", "Solo"))
    minute = timedelta(minutes=1)

    def at(minutes: float) -> datetime:
        return kickoff + minutes * minute

    def real(minutes: float) -> datetime:  # the outbox keeps real time: as long ago as at() is before now
        return datetime.now(UTC) - (runtime.clock.now() - at(minutes))

    async with runtime.transaction() as tx:
        people = list(await tx.session.scalars(select(Participant).order_by(Participant.id)))
        for person, minutes in zip(people, (0, 1.5, 5, 10), strict=True):
            person.created_at = at(minutes)
        for membership, minutes in zip(
            await tx.session.scalars(select(Membership).order_by(Membership.id)), (2, 3, 6), strict=True
        ):
            membership.joined_at = at(minutes)
        for team, minutes in zip(
            await tx.session.scalars(select(Team).order_by(Team.id)), (2, 3, 6), strict=True
        ):
            team.created_at = at(minutes)
        for message in await tx.session.scalars(select(OutboxMessage)):
            message.created_at, message.status, message.delivered_at = real(4.5), "delivered", real(7.5)
        queued = len(list(await tx.session.scalars(select(OutboxMessage))))
        tx.session.add_all(
            [
                HelpTicket(
                    event_id=tx.event_id,
                    team_id=1,
                    topic="t",
                    question="q",
                    created_at=at(8),
                    claimed_at=at(8.5),
                ),
                HelpTicket(
                    event_id=tx.event_id,
                    team_id=2,
                    topic="t",
                    question="q",
                    created_at=at(7.5),
                    claimed_at=at(8.5),
                ),
            ]
        )
        tx.session.add(Submission(team_id=1, status="submitted", submitted_at=at(12)))
    first = (await organiser.get("/dashboard/history")).json()
    assert (await organiser.get("/dashboard/history")).json() == first
    assert first["step"] == 60 and first["start"] == kickoff.astimezone(UTC).isoformat()
    # A point per minute from the first registration to now, each the value at its minute's end.
    assert first["times"][0] == at(1).timestamp() and first["times"][-1] == at(21).timestamp()
    assert first["registrations"][:11] == [1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4]
    assert first["in_teams"][:7] == [0, 0, 1, 2, 2, 2, 3]
    assert first["without_team"][:7] == [1, 2, 1, 0, 0, 1, 0]
    assert first["teams"][:7] == [0, 0, 1, 2, 2, 2, 3]
    assert first["queued"][3:8] == [0, queued, queued, queued, 0] and queued > 0
    assert first["help_wait_s"][7:10] == [None, 45, None]  # 30 s and 60 s, taken in minute 8
    assert first["submissions"][11:13] == [0, 1]


async def test_the_charts_history_is_on_the_event_clock_when_it_runs_faster_than_real_time(
    settings: Settings, kickoff: datetime, free_port: int
) -> None:
    """At 60 times real speed, a team made 2.5 real seconds after the first is 2.5 minutes later on
    the axis, and so is a message queued with it (the outbox keeps real time)."""
    clock = EventClock(60.0, origin=kickoff + timedelta(minutes=20))
    async with (
        serving(create_app(settings, clock=clock, run_clock=False), free_port) as server,
        httpx.AsyncClient(base_url=base(server), timeout=10) as organiser,
    ):
        await organiser.post("/dashboard/login", data={"token": TOKEN})
        runtime = runtime_of(server)
        for n in range(2):
            if n:
                await asyncio.sleep(2.5)
            await create_team(runtime, f"U{n}", f"Team {n}")
            await settled_outbox(runtime, but="slack")  # the team's welcome is delivered
            async with runtime.transaction() as tx:  # not handed to a deliverer: it stays queued
                tx.session.add(OutboxMessage(key=f"k{n}", platform="slack", channel="C1", payload={}))
        shown = (await organiser.get("/dashboard/history")).json()
    assert shown["step"] == 60
    for series in ("registrations", "in_teams", "teams", "queued"):
        assert shown[series][:2] == [1, 1] and set(shown[series][2:]) == {2}, (series, shown[series])


async def test_the_charts_history_needs_the_organisers_cookie(server: uvicorn.Server) -> None:
    async with httpx.AsyncClient(base_url=base(server), timeout=10) as visitor:
        response = await visitor.get("/dashboard/history")
    assert response.status_code == 401 and "registrations" not in response.text


async def test_many_viewers_share_one_snapshot_a_tick(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    hub: Hub = server.lifespan.state["dashboard"]
    viewers = [await connect(ws_url(server), additional_headers=cookie_of(organiser)) for _ in range(40)]
    try:
        screens = [Screen(ws) for ws in viewers]
        await asyncio.gather(*(screen.until(showing(teams=0)) for screen in screens))
        before = hub.snapshots
        runtime = runtime_of(server)
        for n in range(20):
            await create_team(runtime, f"U{n}", f"Team {n}")
        await asyncio.gather(*(screen.until(showing(teams=20)) for screen in screens))
        # Twenty changes to forty viewers: a handful of snapshots, not one a change or a viewer.
        assert hub.snapshots - before <= 12
    finally:
        for ws in viewers:
            await ws.close()


async def test_a_burst_of_changes_comes_as_a_few_small_frames_and_the_last_holds_the_final_numbers(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    async with connect(ws_url(server), additional_headers=cookie_of(organiser)) as ws:
        screen = Screen(ws)
        whole = await screen.until(showing(teams=0))
        runtime, received, started = runtime_of(server), len(screen.frames), time.monotonic()
        await asyncio.gather(*(create_team(runtime, f"U{n}", f"Team {n}") for n in range(30)))
        await screen.until(showing(teams=30, in_teams=30))
        elapsed, burst = time.monotonic() - started, screen.frames[received:]
        await asyncio.sleep(3 * INTERVAL)  # the deliveries of the team creations' messages follow
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0):
                while True:
                    await screen.receive()
    # At most one frame an interval, the first at once: not one a change.
    assert len(burst) <= elapsed / INTERVAL + 2
    for frame in burst:
        assert frame["type"] == "change"
        assert set(frame.get("counts", {})) <= {"registrations", "in_teams", "teams"}  # only what moved
        assert "schedule" not in frame and "phases" not in frame  # unchanged, so not sent again
    numbers = [frame["counts"]["teams"] for frame in screen.frames if "teams" in frame.get("counts", {})]
    assert numbers[-1] == 30 and screen.shown["counts"]["teams"] == 30  # the last ones are the final
    assert screen.shown["schedule"] == whole["schedule"]


async def test_a_viewer_still_sending_does_not_hold_up_the_others_and_catches_up_whole(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    """A viewer that takes no frame for a while, as one whose send waits on a slow link, while a
    websocket viewer sees each change as it comes. (On loopback the kernel here buffers tens of
    megabytes, so a socket that merely stops reading never makes the server wait.) The slow one
    then gets a single frame: the whole state with the final numbers, not the changes it missed."""
    hub: Hub = server.lifespan.state["dashboard"]
    runtime = runtime_of(server)
    slow = hub.join()
    try:
        async with connect(ws_url(server), additional_headers=cookie_of(organiser)) as ws:
            fast = Screen(ws)
            await fast.until(showing(teams=0))
            async with asyncio.timeout(RECEIVE_TIMEOUT):
                first = json.loads(await slow.next())
            for n in range(3):
                await create_team(runtime, f"U{n}", f"Team {n}")
                await fast.until(showing(teams=n + 1))
            async with asyncio.timeout(RECEIVE_TIMEOUT):
                caught_up = json.loads(await slow.next())
    finally:
        hub.leave(slow)
    assert first["type"] == "snapshot" and first["counts"]["teams"] == 0
    assert caught_up["type"] == "snapshot" and caught_up["counts"]["teams"] == 3
    assert [f["type"] for f in fast.frames[1:]] == ["change"] * (len(fast.frames) - 1)
    assert slow.frames is None  # nothing more queued for it: only the newest was kept


# -- actions ------------------------------------------------------------------------------------


async def act(client: httpx.AsyncClient, path: str, lang: str = "en", **form: str) -> httpx.Response:
    """An action as the page's script sends it, from a page in that language."""
    return await client.post(
        f"/dashboard/actions/{path}?lang={lang}", data=form, headers={"Accept": "application/json"}
    )


async def audit(runtime: Runtime, action: str) -> list[AuditEntry]:
    async with runtime.sessions() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_an_announcement_from_the_dashboard_reaches_the_channels_and_is_audit_logged(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    response = await act(organiser, "announce", text="Pizza is here", target="all")
    assert response.status_code == 200, response.text
    assert "builtin announcements" in response.json()["message"]
    runtime = runtime_of(server)
    await settled_outbox(runtime)
    async with runtime.sessions() as session:
        texts = list(await session.scalars(select(ChannelMessage.text)))
    assert "Pizza is here" in texts
    [entry] = await audit(runtime, "announce")
    assert entry.actor == "organiser:dashboard" and entry.details["text"] == "Pizza is here"


async def test_an_over_long_announcement_from_the_dashboard_is_refused_and_sends_nothing(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    response = await act(organiser, "announce", text="x" * 2001, target="all")
    assert response.status_code == 422
    assert response.json()["error"] == "The announcement has 2001 characters; at most 2000 are allowed."
    assert await audit(runtime_of(server), "announce") == []


async def test_an_announcement_to_an_unknown_channel_is_refused_and_sends_nothing(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    response = await act(organiser, "announce", text="Hello", target="slack:C999")
    assert response.status_code == 404 and "all, builtin:announcements" in response.json()["error"]
    assert await audit(runtime_of(server), "announce") == []


async def test_an_action_without_the_cookie_or_from_another_origin_is_refused(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=base(server)) as stranger:
        assert (await act(stranger, "announce", text="Hi")).status_code == 401
    response = await organiser.post(
        "/dashboard/actions/announce", data={"text": "Hi"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert await audit(runtime_of(server), "announce") == []


async def test_a_phase_shift_from_the_dashboard_moves_the_phase_and_is_audit_logged(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    response = await act(organiser, "shift", phase="submission_deadline", by="+30m")
    assert response.status_code == 200, response.text
    [entry] = await audit(runtime_of(server), "phase.shift")
    assert entry.details["by_seconds"] == 1800 and entry.actor == "organiser:dashboard"
    refused = await act(organiser, "shift", phase="kickoff", by="+30m")
    assert refused.status_code == 409 and "begun" in refused.json()["error"]


async def test_matching_and_assignment_run_from_the_dashboard(organiser: httpx.AsyncClient) -> None:
    matched = await act(organiser, "matching", seed="7")
    assert matched.status_code == 200 and matched.json()["message"].startswith(
        "Matching done: 0 new teams, 0 people"
    )
    assigned = await act(organiser, "assignment")
    assert assigned.status_code == 200, assigned.text
    assert (await act(organiser, "matching", seed="seven")).status_code == 422


async def test_a_dead_letter_is_sent_again_once_from_the_dashboard(
    server: uvicorn.Server, organiser: httpx.AsyncClient
) -> None:
    runtime = runtime_of(server)
    async with runtime.transaction() as tx:
        dead = OutboxMessage(
            key="test:dead",
            platform="builtin",
            channel="announcements",
            payload={"author": "Orga", "texts": {"en": "Back from the dead"}},
            status="dead",
            attempts=8,
            last_error="Slack unreachable",
        )
        tx.session.add(dead)
    page = (await organiser.get("/dashboard?lang=en")).text
    assert f"/dashboard/actions/retry/{dead.id}" in page
    response = await act(organiser, f"retry/{dead.id}")
    assert response.status_code == 200, response.text
    await settled_outbox(runtime)
    async with runtime.sessions() as session:
        assert (await session.get(OutboxMessage, dead.id)).status == "delivered"  # type: ignore[union-attr]
        texts = list(await session.scalars(select(ChannelMessage.text)))
    assert texts.count("Back from the dead") == 1
    [entry] = await audit(runtime, "outbox.retry")
    assert entry.details["message"] == dead.id
    again = await act(organiser, f"retry/{dead.id}")
    assert again.status_code == 409 and "not a dead letter" in again.json()["error"]


# -- the JSON API -------------------------------------------------------------------------------


async def test_the_api_sends_announcements_and_shows_the_numbers_with_the_bearer_token(
    server: uvicorn.Server,
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base(server)) as client:
        assert (await client.post("/api/v1/announcements", json={"text": "Hi"})).status_code == 401
        sent = await client.post("/api/v1/announcements", json={"text": "Hi"}, headers=auth)
        assert sent.status_code == 201 and sent.json()["sent_to"] == [
            {"platform": "builtin", "channel": "announcements"}
        ]
        numbers = await client.get("/api/v1/dashboard", headers=auth)
        assert numbers.status_code == 200 and numbers.json()["counts"]["teams"] == 0
        assert (await client.post("/api/v1/outbox/999/retry", headers=auth)).status_code == 404


async def test_the_api_gives_the_dashboards_texts_in_one_language(server: uvicorn.Server) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base(server), headers=auth) as client:
        english = (await client.get("/api/v1/dashboard?lang=en")).json()
        german = (await client.get("/api/v1/dashboard?lang=de")).json()
    worded = [item[field] for item in english["schedule"] for field in ("local", "when", "text")]
    assert worded and all(isinstance(text, str) and text for text in worded)
    assert [item["when"] for item in english["schedule"]] != [item["when"] for item in german["schedule"]]


# -- two web processes on one Redis -------------------------------------------------------------


@contextlib.asynccontextmanager
async def two_web_processes(
    settings: Settings, redis_url: str, kickoff: datetime
) -> AsyncIterator[tuple[uvicorn.Server, uvicorn.Server, httpx.AsyncClient]]:
    """Two web processes' apps on one Redis, and a client of the second one."""
    scaled = replace(settings, redis_url=redis_url)
    clock = FakeClock(kickoff + timedelta(minutes=20))
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(int(s.getsockname()[1]))
    async with (
        serving(create_app(scaled, clock=clock, run_clock=False), ports[0]) as a,
        serving(create_app(scaled, clock=clock, run_clock=False), ports[1]) as b,
        httpx.AsyncClient(base_url=base(b)) as viewer,
    ):
        yield a, b, viewer


async def test_an_action_through_one_web_process_shows_on_a_dashboard_of_another(
    settings: Settings, redis_url: str, kickoff: datetime
) -> None:
    async with two_web_processes(settings, redis_url, kickoff) as (a, b, viewer):
        await viewer.post("/dashboard/login", data={"token": TOKEN})
        async with connect(ws_url(b), additional_headers=cookie_of(viewer)) as ws:
            screen = Screen(ws)
            await screen.until(lambda shown: True)
            async with httpx.AsyncClient(base_url=base(a)) as api:
                sent = await api.post(
                    "/api/v1/announcements",
                    json={"text": "From process A"},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                assert sent.status_code == 201
            frame = await screen.until(
                lambda shown: any(
                    e["text"]["en"] == "Announcement sent: From process A" for e in shown["feed"]
                )
            )
    assert frame["counts"]["teams"] == 0


async def test_a_phase_shift_through_one_web_process_shows_at_once_on_a_dashboard_of_another(
    settings: Settings, redis_url: str, kickoff: datetime
) -> None:
    async with two_web_processes(settings, redis_url, kickoff) as (a, b, viewer):
        runtime_of(b).phase_cache.max_age = 3600.0  # only the shift's event may refresh the phases
        await viewer.post("/dashboard/login", data={"token": TOKEN})
        async with connect(ws_url(b), additional_headers=cookie_of(viewer)) as ws:
            screen = Screen(ws)
            before = {p["name"]: p["at"] for p in (await screen.until(lambda shown: True))["phases"]}
            async with runtime_of(a).transaction() as tx:
                await shift_phase(tx, "submission_deadline", timedelta(minutes=30), actor="test")
            # The frame that brings the shift to the feed shows it: no later event may be needed.
            shown = await screen.until(lambda shown: any(e["kind"] == "phase.shifted" for e in shown["feed"]))
    after = {p["name"]: p["at"] for p in shown["phases"]}
    moved = datetime.fromisoformat(after["submission_deadline"]) - datetime.fromisoformat(
        before["submission_deadline"]
    )
    assert moved == timedelta(minutes=30)
