"""The matching use case against a real database: the clock matches the pool when team formation
closes, organisers run it and move people by API, and every move is audit-logged."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, func, select, update
from starlette.testclient import TestClient

from bots.commands import Bot, Invocation, Reply
from hackserver.clock import SprintClock
from hackserver.foundation.bus import DomainEvent
from hackserver.foundation.models import (
    AuditEntry,
    Channel,
    ChannelMessage,
    MatchRun,
    Membership,
    Participant,
    Team,
)
from hackserver.runtime import Runtime
from hackserver.teams import matching
from hackserver.teams import teams as team_ops
from hackserver.teams.participants import Identity
from tests.dbstate import settled_outbox
from tests.fakes import ORGANISER, FakeClock

PROFILES = {
    "anna": "skills python,ux langs de tz Europe/Berlin wants c1",
    "ben": "skills law langs de tz Europe/Berlin wants c1",
    "cem": "skills data langs de tz Europe/Istanbul wants c2",
    "dana": "skills design langs en tz Europe/London wants c2",
    "eli": "skills python langs en tz Europe/Dublin wants c2",
    "fay": "skills video langs en tz America/New_York",
    "gio": "skills python langs en tz Europe/Rome",
}


def who(name: str) -> Identity:
    return Identity("slack", "T1", f"U{name.upper()}", name)


async def ask(runtime: Runtime, name: str, text: str) -> Reply:
    reply = await Bot(runtime).handle(Invocation(who(name), text, locale="en"))
    assert reply is not None
    return reply


async def pool_everyone(runtime: Runtime) -> None:
    for name, profile in PROFILES.items():
        assert (await ask(runtime, name, f"profile {profile}")).ok
        assert (await ask(runtime, name, "match me")).ok
    # Italian, which the bot refuses (not a language of the event), as stored before it refused it:
    # gio, who speaks nothing else, cannot be matched.
    async with runtime.transaction() as tx:
        await tx.session.execute(
            update(Participant).where(Participant.display_name == "gio").values(languages=["it"])
        )


async def test_the_clock_matches_the_pool_when_team_formation_closes(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, clock = runtime_at
    await pool_everyone(runtime)
    clock.set(runtime.event.phases["team_formation_close"])
    await SprintClock(runtime).fire_due()
    await settled_outbox(runtime)
    async with runtime.sessions() as session:
        run = await session.scalar(select(MatchRun))
        teams = (await session.scalars(select(Team).order_by(Team.id))).all()
        pooled = await session.scalar(
            select(func.count()).select_from(Participant).where(Participant.in_match_pool)
        )
        languages = {
            team.id: [
                set(p.languages)
                for p in await session.scalars(
                    select(Participant).join(Membership).where(Membership.team_id == team.id)
                )
            ]
            for team in teams
        }
    assert run is not None and run.actor == "clock" and run.pool == 7
    # gio alone speaks Italian: left alone, with the reason for the organisers.
    assert [(a["name"], a["reason"], a["params"]["languages"]) for a in run.alone] == [
        ("gio", "only_speaker", ["it"])
    ]
    assert run.teams_formed == len(teams) >= 2 and pooled == 1
    for team_id, spoken in languages.items():
        assert len(spoken) >= 2 and set.intersection(*spoken), f"team {team_id} shares no language"


async def test_a_matched_team_gets_a_channel_and_a_welcome_naming_members_and_skills(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, clock = runtime_at
    await pool_everyone(runtime)
    clock.set(runtime.event.phases["team_formation_close"])
    await SprintClock(runtime).fire_due()
    await settled_outbox(runtime)
    info = await ask(runtime, "anna", "team info")
    assert info.ok and "anna (python, design)" in info.text
    why = dict(info.fields)["Warum zusammen"]  # anna speaks German only: the bot does too
    assert "ihr sprecht de" in why and "verschiedene Fähigkeiten" in why
    async with runtime.sessions() as session:
        team = await session.scalar(
            select(Team).join(Membership).join(Participant).where(Participant.display_name == "anna")
        )
        assert team is not None
        channel = await session.scalar(select(Channel).where(Channel.team_id == team.id))
        assert channel is not None
        welcome = await session.scalar(select(ChannelMessage).where(ChannelMessage.channel_id == channel.id))
    assert welcome is not None
    german, english = welcome.translations["de"], welcome.translations["en"]
    assert "anna (design, python)" in english and "ben (law)" in english and "Why:" in english
    assert "Matching hat euch zusammengebracht" in german


async def test_the_same_pool_and_seed_give_the_same_teams(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    await pool_everyone(runtime)
    first = await groups_after(runtime, "match run 7")
    async with runtime.transaction() as tx:  # everyone back into the pool
        for team_id in (await tx.session.scalars(select(Team.id))).all():
            await team_ops.dissolve(tx, team_id, actor="test")
    assert await groups_after(runtime, "match run 7") == first


async def groups_after(runtime: Runtime, command: str) -> list[list[str]]:
    assert "Matching done" in (await ask_as_organiser(runtime, command)).text
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(Membership.team_id, Participant.display_name)
            .join(Participant)
            .order_by(Participant.display_name)
        )
        teams: dict[int, list[str]] = {}
        for team_id, name in rows:
            teams.setdefault(team_id, []).append(name)
    return sorted(teams.values())


async def ask_as_organiser(runtime: Runtime, text: str) -> Reply:
    reply = await Bot(runtime).handle(Invocation(who("orga"), text, locale="en", organiser=True))
    assert reply is not None
    return reply


async def test_matching_fills_a_team_below_its_minimum_before_forming_new_ones(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    await ask(runtime, "solo", "profile skills python langs en")
    await ask(runtime, "solo", "team create Lonely Owls")
    await ask(runtime, "dana", f"profile {PROFILES['dana']}")
    await ask(runtime, "dana", "match me")
    reply = await ask_as_organiser(runtime, "match run")
    assert "0 new teams, 1 person placed in an open team" in reply.text
    info = await ask(runtime, "dana", "team info")
    assert info.title == "Team “Lonely Owls”" and "solo" in info.text


async def test_a_seed_that_only_looks_like_digits_gets_the_usage(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    for text in ("match run ²", "assignment run ²", "match run 99999999999"):
        reply = await ask_as_organiser(runtime, text)
        assert not reply.ok and text.rsplit(" ", 1)[0] + " [seed]" in reply.text, reply.text


def runtime_of(client: TestClient) -> Runtime:
    runtime: Runtime = client.app_state["runtime"]
    return runtime


def make_teams(client: TestClient) -> dict[str, int]:
    """Two teams made through the bot: Alpha (anna, ben) and Beta (dana)."""
    runtime = runtime_of(client)

    async def build() -> None:
        for name in ("anna", "ben", "dana"):
            await ask(runtime, name, f"profile {PROFILES[name]}")
        code = (await ask(runtime, "anna", "team create Alpha")).fields[0][1]
        await ask(runtime, "ben", f"team join {code}")
        await ask(runtime, "dana", "team create Beta")

    client.portal.call(build)  # type: ignore[union-attr]
    found = client.get("/api/v1/teams", headers=ORGANISER).json()["teams"]
    return {team["name"]: team["id"] for team in found}


def audit(client: TestClient) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        async with runtime_of(client).sessions() as session:
            return [
                (e.action, e.actor) for e in await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
            ]

    return client.portal.call(read)  # type: ignore[union-attr]


def test_the_team_api_needs_the_organiser_token(api: TestClient) -> None:
    for method, path in (
        ("GET", "/api/v1/teams"),
        ("POST", "/api/v1/matching"),
        ("DELETE", "/api/v1/teams/1"),
    ):
        reply = api.request(method, path)
        assert reply.status_code == 401 and "organiser token" in reply.json()["error"]


def test_the_team_list_reads_all_teams_in_a_fixed_number_of_queries(api: TestClient) -> None:
    runtime = runtime_of(api)
    ids = make_teams(api)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if any(table in statement for table in ("FROM teams", "memberships", "FROM challenges")):
            statements.append(statement)  # the listing's; the clock and the deliveries read other tables

    def listed() -> tuple[int, list[dict[str, object]]]:
        statements.clear()
        event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
        try:
            found = api.get("/api/v1/teams", headers=ORGANISER).json()["teams"]
        finally:
            event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
        return len(statements), found

    two, found = listed()
    assert {t["name"]: [m["name"] for m in t["members"]] for t in found} == {
        "Alpha": ["anna", "ben"],
        "Beta": ["dana"],
    }

    async def more() -> None:
        for n in range(8):
            await ask(runtime, f"extra{n}", f"team create Extra {n}")

    api.portal.call(more)  # type: ignore[union-attr]
    ten, found = listed()
    assert len(found) == 10 and ten == two
    assert [t["id"] for t in found][:2] == [ids["Alpha"], ids["Beta"]]


def test_an_organiser_moves_a_person_and_it_is_audit_logged(api: TestClient) -> None:
    ids = make_teams(api)
    people = {
        p["name"]: p["id"] for p in api.get("/api/v1/participants", headers=ORGANISER).json()["participants"]
    }
    reply = api.post(
        f"/api/v1/teams/{ids['Beta']}/members", json={"participant": people["ben"]}, headers=ORGANISER
    )
    assert reply.status_code == 200, reply.text
    assert sorted(m["name"] for m in reply.json()["members"]) == ["ben", "dana"]
    alpha = api.get(f"/api/v1/teams/{ids['Alpha']}", headers=ORGANISER).json()
    assert alpha["size"] == 1
    assert ("team.move", "organiser:api") in audit(api)


def test_an_organiser_merges_and_dissolves_teams(api: TestClient) -> None:
    ids = make_teams(api)
    merged = api.post(f"/api/v1/teams/{ids['Beta']}/merge", json={"into": ids["Alpha"]}, headers=ORGANISER)
    assert merged.status_code == 200, merged.text
    assert merged.json()["size"] == 3
    assert api.get(f"/api/v1/teams/{ids['Beta']}", headers=ORGANISER).status_code == 404
    dissolved = api.delete(f"/api/v1/teams/{ids['Alpha']}", headers=ORGANISER)
    assert dissolved.status_code == 200 and len(dissolved.json()["back_in_pool"]) == 3
    pool = api.get("/api/v1/participants?pool=true", headers=ORGANISER).json()["participants"]
    assert sorted(p["name"] for p in pool) == ["anna", "ben", "dana"]
    assert [a for a, _ in audit(api)] == ["team.merge", "team.dissolve"]


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/api/v1/teams/999/members", {"participant": 1}, 404, "No team with id 999"),
        ("/api/v1/teams/{Alpha}/members", {"participant": "x"}, 422, "'participant' must be a whole number"),
        ("/api/v1/teams/{Alpha}/merge", {"into": "{Alpha}"}, 409, "cannot be merged into itself"),
        ("/api/v1/teams/{Alpha}/merge", [1], 422, "not a JSON object"),
        ("/api/v1/matching", {"seed": 2**40}, 422, "a whole number from 0 to 2147483647"),
    ],
)
def test_bad_organiser_moves_are_refused_clearly_and_change_nothing(
    api: TestClient, path: str, body: object, status: int, says: str
) -> None:
    ids = make_teams(api)
    if isinstance(body, dict):
        body = {k: ids["Alpha"] if v == "{Alpha}" else v for k, v in body.items()}
    reply = api.post(path.format(**ids), json=body, headers=ORGANISER)
    assert reply.status_code == status and says in reply.json()["error"], reply.text
    assert audit(api) == []


def test_matching_runs_by_api_and_reports_who_is_left_alone(api: TestClient) -> None:
    runtime = runtime_of(api)
    api.portal.call(pool_everyone, runtime)  # type: ignore[union-attr]
    run = api.post("/api/v1/matching", json={"seed": 3}, headers=ORGANISER)
    assert run.status_code == 200, run.text
    body = run.json()
    assert body["seed"] == 3 and body["pool"] == 7 and body["quality"]["shared_language_share"] == 1.0
    assert [a["name"] for a in body["alone"]] == ["gio"]
    assert api.get("/api/v1/matching", headers=ORGANISER).json()["id"] == body["id"]
    assert ("matching.run", "organiser:api") in audit(api)


def whose_team_changed(events: asyncio.Queue[DomainEvent]) -> set[int]:
    """The participants the events published so far name as having another team now."""
    found: set[int] = set()
    while not events.empty():
        found.update(team_ops.members_changed(events.get_nowait()))
    return found


async def teams_now(runtime: Runtime) -> dict[int, int]:
    """Each member's team."""
    async with runtime.sessions() as session:
        rows = await session.execute(select(Membership.participant_id, Membership.team_id))
        return {participant: team for participant, team in rows}


async def test_matching_and_each_organiser_move_name_everyone_whose_team_changed(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    await pool_everyone(runtime)
    async with runtime.bus.subscribe() as events:
        async with runtime.transaction() as tx:
            await matching.run(tx, actor="organiser:test")
        matched = await teams_now(runtime)
        assert whose_team_changed(events) == set(matched)
        first, second = sorted(set(matched.values()))[:2]
        mover = min(p for p, team in matched.items() if team == first)
        async with runtime.transaction() as tx:
            await team_ops.move(tx, mover, second, actor="organiser:test")
        assert whose_team_changed(events) == {mover}
        members_of_second = {p for p, team in (await teams_now(runtime)).items() if team == second}
        async with runtime.transaction() as tx:
            await team_ops.dissolve(tx, second, actor="organiser:test")
        assert whose_team_changed(events) == members_of_second
        async with runtime.transaction() as tx:
            person = await tx.session.get_one(Participant, mover)
            founded = await team_ops.create(tx, person, "Spätzünder")
        assert whose_team_changed(events) == {mover}
        async with runtime.transaction() as tx:
            await team_ops.merge(tx, founded.id, first, actor="organiser:test")
        assert whose_team_changed(events) == {mover}
