"""Challenge picks and the assignment use case against a real database: teams rank challenges, the
clock gives every team one when team formation closes, organisers run it and override one team."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bots.commands import Bot, Invocation, Reply
from hackserver.challenges.assignment import AssignmentRun
from hackserver.clock import SprintClock
from hackserver.foundation.models import (
    AuditEntry,
    Challenge,
    ChallengePreference,
    ChannelMessage,
    Participant,
    Team,
)
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity
from tests.dbstate import settled_outbox
from tests.fakes import ORGANISER, FakeClock

CATALOGUE = [  # id, title, max teams, languages
    ("C1", "Luftqualität messen", 1, ["de"]),
    ("C2", "Open data for cities", 2, ["en"]),
    ("C3", "Nachbarschaftshilfe", None, []),
    ("C4", "Verwaltung digital", 3, ["de"]),
]


def who(name: str) -> Identity:
    return Identity("slack", "T1", f"U{name.upper()}", name)


async def ask(runtime: Runtime, name: str, text: str, *, organiser: bool = False) -> Reply:
    reply = await Bot(runtime).handle(Invocation(who(name), text, locale="en", organiser=organiser))
    assert reply is not None
    return reply


async def add_catalogue(runtime: Runtime) -> None:
    async with runtime.transaction() as tx:
        tx.session.add_all(
            Challenge(event_id=runtime.event_id, external_id=i, title=t, max_teams=m, languages=lang)
            for i, t, m, lang in CATALOGUE
        )


async def team_with_picks(runtime: Runtime, name: str, picks: str, langs: str = "en,de") -> None:
    await ask(runtime, name, f"profile skills python langs {langs}")
    assert (await ask(runtime, name, f"team create Team {name}")).ok
    if picks:
        assert (await ask(runtime, name, f"challenge pick {picks}")).ok


async def challenge_of(runtime: Runtime, team_name: str) -> tuple[str | None, str | None, int | None]:
    async with runtime.sessions() as session:
        row = (
            await session.execute(
                select(Challenge.external_id, Team.challenge_how, Team.challenge_rank)
                .select_from(Team)
                .outerjoin(Challenge, Challenge.id == Team.challenge_id)
                .where(Team.name == team_name)
            )
        ).one()
    return row[0], row[1], row[2]


@pytest.fixture
async def runtime(runtime_at: tuple[Runtime, FakeClock]) -> Runtime:
    await add_catalogue(runtime_at[0])
    return runtime_at[0]


async def test_a_team_ranks_challenges_and_picking_again_replaces_them(runtime: Runtime) -> None:
    await team_with_picks(runtime, "anna", "c1 C3")
    reply = await ask(runtime, "anna", "challenge pick C4, C2 C99")
    assert reply.ok and "`C4` Verwaltung digital" in reply.text and "C99" in reply.text
    async with runtime.sessions() as session:
        ranked = (
            await session.execute(
                select(Challenge.external_id, ChallengePreference.rank)
                .join(ChallengePreference)
                .order_by(ChallengePreference.rank)
            )
        ).all()
    assert [tuple(r) for r in ranked] == [("C4", 0), ("C2", 1)]


@pytest.mark.parametrize(
    ("picks", "says"),
    [
        ("C98 C99", "No such challenge: C98, C99"),
        ("C1 C2 C3 C4", "At most 3 challenges"),
        ("", "challenge pick"),
    ],
)
async def test_bad_picks_are_refused_and_change_nothing(runtime: Runtime, picks: str, says: str) -> None:
    await team_with_picks(runtime, "anna", "C1")
    reply = await ask(runtime, "anna", f"challenge pick {picks}")
    assert not reply.ok and says in reply.text
    async with runtime.sessions() as session:
        assert len((await session.scalars(select(ChallengePreference))).all()) == 1


async def test_a_solo_participants_picks_become_their_interests_for_matching(runtime: Runtime) -> None:
    reply = await ask(runtime, "solo", "challenge pick C3 C1")
    assert reply.ok and "Matching puts you with people" in reply.text
    async with runtime.sessions() as session:
        person = await session.scalar(select(Participant).where(Participant.display_name == "solo"))
    assert person is not None and person.interests == ["c3", "c1"]


async def test_a_solo_participants_picks_replace_their_earlier_picks_and_keep_their_topics(
    runtime: Runtime,
) -> None:
    assert (await ask(runtime, "solo", "profile wants mobility")).ok
    assert (await ask(runtime, "solo", "challenge pick C3 C1")).ok
    assert (await ask(runtime, "solo", "challenge pick C4")).ok
    async with runtime.sessions() as session:
        person = await session.scalar(select(Participant).where(Participant.display_name == "solo"))
    assert person is not None and person.interests == ["c4", "mobility"]


async def test_a_matched_team_inherits_its_members_picks_merged_by_rank_before_the_assignment(
    runtime_at: tuple[Runtime, FakeClock], runtime: Runtime
) -> None:
    _, clock = runtime_at
    for name, picked in (("anna", "C4 C3"), ("ben", "C3")):
        assert (await ask(runtime, name, "profile skills python langs de")).ok
        assert (await ask(runtime, name, f"challenge pick {picked}")).ok
        assert (await ask(runtime, name, "match me")).ok
    clock.set(runtime.event.phases["team_formation_close"])
    await SprintClock(runtime).fire_due()
    await settled_outbox(runtime)
    async with runtime.sessions() as session:
        team = await session.scalar(select(Team))
        assert team is not None and team.matched_by is not None
        ranked = (
            await session.scalars(
                select(Challenge.external_id)
                .join(ChallengePreference)
                .where(ChallengePreference.team_id == team.id)
                .order_by(ChallengePreference.rank)
            )
        ).all()
        told = (await session.scalars(select(ChannelMessage.translations))).all()
    assert ranked == ["C3", "C4"]  # C3: a first and a second choice; C4: one first choice
    assert await challenge_of(runtime, team.name) == ("C3", "choice", 0)
    assert any("Your first choice!" in t["en"] for t in told)
    assert not any("You picked none" in t["en"] for t in told)


async def test_a_team_made_by_hand_inherits_its_founders_picks(runtime: Runtime) -> None:
    assert (await ask(runtime, "anna", "challenge pick C2 C1")).ok
    assert (await ask(runtime, "anna", "team create Mappers")).ok
    assert (await ask(runtime, "ben", "challenge pick C4")).ok
    code = (await ask(runtime, "anna", "team info")).fields[1][1]
    assert (await ask(runtime, "ben", f"team join {code}")).ok  # the team's own choices stay
    async with runtime.sessions() as session:
        ranked = (
            await session.scalars(
                select(Challenge.external_id).join(ChallengePreference).order_by(ChallengePreference.rank)
            )
        ).all()
    assert ranked == ["C2", "C1"]


async def test_picks_close_with_team_formation(
    runtime_at: tuple[Runtime, FakeClock], runtime: Runtime
) -> None:
    _, clock = runtime_at
    await team_with_picks(runtime, "anna", "C1")
    clock.set(runtime.event.phases["team_formation_close"] + timedelta(minutes=1))
    reply = await ask(runtime, "anna", "challenge pick C2")
    assert not reply.ok and "Picking challenges ended" in reply.text


async def test_the_clock_gives_every_team_a_challenge_within_capacity_and_says_why(
    runtime_at: tuple[Runtime, FakeClock], runtime: Runtime
) -> None:
    _, clock = runtime_at
    await team_with_picks(runtime, "anna", "C1 C4")
    await team_with_picks(runtime, "ben", "C1 C4")
    await team_with_picks(runtime, "cem", "", langs="en")
    clock.set(runtime.event.phases["team_formation_close"])
    await SprintClock(runtime).fire_due()
    await settled_outbox(runtime)
    got = {name: await challenge_of(runtime, f"Team {name}") for name in ("anna", "ben", "cem")}
    # C1 takes one team: one of anna and ben gets it, the other its second choice.
    assert sorted(got[n][:3] for n in ("anna", "ben")) == [("C1", "choice", 0), ("C4", "choice", 1)]
    # cem picked nothing and speaks English: a challenge open to English, C2 or C3.
    assert got["cem"][0] in ("C2", "C3") and got["cem"][1] == "no_choices"
    async with runtime.sessions() as session:
        texts = (await session.scalars(select(ChannelMessage.translations))).all()
    assert any("Your challenge: `C4`" in t.get("en", "") and "second choice" in t["en"] for t in texts)
    assert any("You picked none" in t.get("en", "") for t in texts)


@pytest.fixture
def api(api: TestClient) -> TestClient:
    """The organiser API with three teams that picked challenges from the catalogue."""
    runtime: Runtime = api.app_state["runtime"]

    async def setup() -> None:
        await add_catalogue(runtime)
        await team_with_picks(runtime, "anna", "C1 C4")
        await team_with_picks(runtime, "ben", "C1 C4")
        await team_with_picks(runtime, "dana", "C4")

    api.portal.call(setup)  # type: ignore[union-attr]
    return api


def team_ids(client: TestClient) -> dict[str, int]:
    return {t["name"]: t["id"] for t in client.get("/api/v1/teams", headers=ORGANISER).json()["teams"]}


def test_the_challenge_api_needs_the_organiser_token(api: TestClient) -> None:
    for method, path in (("GET", "/api/v1/challenges"), ("POST", "/api/v1/assignment")):
        assert api.request(method, path).status_code == 401


def test_an_override_is_kept_and_a_rerun_moves_nobody_else(api: TestClient) -> None:
    first = api.post("/api/v1/assignment", json={"seed": 1}, headers=ORGANISER)
    assert first.status_code == 200 and first.json()["teams"] == 3, first.text
    before = {
        t["name"]: t["challenge"]["id"] for t in api.get("/api/v1/teams", headers=ORGANISER).json()["teams"]
    }
    ids = team_ids(api)
    moved = api.put(
        f"/api/v1/teams/{ids['Team dana']}/challenge", json={"challenge": "C3"}, headers=ORGANISER
    )
    assert moved.status_code == 200 and moved.json()["challenge"]["how"] == "override", moved.text
    rerun = api.post("/api/v1/assignment", json={"seed": 2}, headers=ORGANISER)
    assert rerun.status_code == 200 and rerun.json()["changed"] == 0, rerun.text
    after = {
        t["name"]: t["challenge"]["id"] for t in api.get("/api/v1/teams", headers=ORGANISER).json()["teams"]
    }
    assert after == before | {"Team dana": "C3"}

    async def actions() -> list[str]:
        async with api.app_state["runtime"].sessions() as session:
            return list((await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all())

    assert api.portal.call(actions) == ["assignment.run", "challenge.override", "assignment.run"]  # type: ignore[union-attr]


def test_a_challenge_shows_its_teams_and_free_places(api: TestClient) -> None:
    api.post("/api/v1/assignment", json={}, headers=ORGANISER)
    listing = {c["id"]: c for c in api.get("/api/v1/challenges", headers=ORGANISER).json()["challenges"]}
    assert (
        listing["C1"]["teams"] == 1 and listing["C1"]["free"] == 0 and listing["C1"]["first_choice_of"] == 2
    )
    assert listing["C3"]["free"] is None  # no limit
    detail = api.get("/api/v1/challenges/C4", headers=ORGANISER).json()
    assert sorted(t["name"] for t in detail["assigned_teams"]) == sorted(
        name for name in ("Team anna", "Team ben", "Team dana") if name != listing_owner_of_c1(api)
    )
    assert api.get("/api/v1/challenges/NOPE", headers=ORGANISER).status_code == 404


def listing_owner_of_c1(api: TestClient) -> str:
    [team] = api.get("/api/v1/challenges/C1", headers=ORGANISER).json()["assigned_teams"]
    return str(team["name"])


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [({"challenge": "NOPE"}, 404, "No such challenge: NOPE"), ({"challenge": 3}, 422, "field 'challenge'")],
)
def test_a_bad_override_is_refused_clearly(
    api: TestClient, body: dict[str, object], status: int, says: str
) -> None:
    ids = team_ids(api)
    reply = api.put(f"/api/v1/teams/{ids['Team anna']}/challenge", json=body, headers=ORGANISER)
    assert reply.status_code == status and says in reply.json()["error"], reply.text


async def test_challenges_are_found_by_words_in_any_case_and_spelling_with_free_places(
    runtime: Runtime,
) -> None:
    await team_with_picks(runtime, "anna", "C1")
    found = await ask(runtime, "anna", "challenges LUFTQUALITAET")
    assert found.ok and found.text.startswith(
        "1. `C1` Luftqualität messen (1 of 1 place free · first choice of 1 team)"
    )
    everything = await ask(runtime, "anna", "challenges")
    assert [line.split("`")[1] for line in everything.text.splitlines()[:4]] == ["C1", "C2", "C3", "C4"]
    assert "no limit" in everything.text.splitlines()[2]
    nothing = await ask(runtime, "anna", "challenges zeppelin")
    assert not nothing.ok and "Nothing found for “zeppelin”" in nothing.text


async def test_a_new_import_is_searched_at_once(runtime: Runtime) -> None:
    assert "C5" not in (await ask(runtime, "anna", "challenges")).text
    async with runtime.transaction() as tx:
        tx.session.add(Challenge(event_id=runtime.event_id, external_id="C5", title="Radwege kartieren"))
    assert "`C5` Radwege kartieren" in (await ask(runtime, "anna", "challenges radweg")).text


def test_an_assignment_says_in_words_how_the_teams_got_their_challenges() -> None:
    run = AssignmentRun(7, 3, 1, {"1st": 1, "2nd": 1, "no_choices": 1}, ["Night Owls"])
    assert run.summary("en") == (
        "Assignment done: 3 teams, 1 changed. first choice: 1, second choice: 1, picked none: 1\n"
        "Without a challenge (no room left): Night Owls"
    )
    assert run.summary("de").startswith(
        "Zuteilung fertig: 3 Teams, 1 geändert. erste Wahl: 1, zweite Wahl: 1"
    )
