"""The dashboard's snapshot against a real database: the counts, the coming announcements after a
shift, and the alerts that need a human."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event

from hackserver.dashboard.numbers import snapshot
from hackserver.foundation import db
from hackserver.foundation.models import (
    Booking,
    Challenge,
    Expert,
    FiredItem,
    HelpTicket,
    OutboxMessage,
    Slot,
    Submission,
    Team,
)
from hackserver.runtime import Runtime
from hackserver.sprint.phases import PhaseCache, shift_phase
from hackserver.teams import teams
from hackserver.teams.participants import Identity, identify
from tests.fakes import FakeClock


async def numbers(runtime: Runtime) -> dict[str, Any]:
    async with runtime.reading() as tx:
        return await snapshot(tx, await runtime.cached_phases(), runtime.clock.speed)


async def person(runtime: Runtime, user: str, *, pool: bool = False) -> None:
    async with runtime.transaction() as tx:
        found = await identify(tx, Identity("slack", "T1", user, user))
        found.in_match_pool = pool


async def team_of(runtime: Runtime, name: str, *users: str) -> int:
    async with runtime.transaction() as tx:
        first = await identify(tx, Identity("slack", "T1", users[0], users[0]))
        team = await teams.create(tx, first, name)
        for user in users[1:]:
            other = await identify(tx, Identity("slack", "T1", user, user))
            await teams.join(tx, other, team.join_code)
        return team.id


async def test_an_empty_event_has_zero_everywhere_and_no_alerts(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    state = await numbers(runtime)
    assert set(state["counts"].values()) == {0}
    assert state["alerts"] == [] and state["phase"] == "registration"
    assert state["next"]["phase"] == "kickoff"


async def test_counts_of_people_teams_challenges_bookings_and_submissions(
    runtime_at: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, clock = runtime_at
    await person(runtime, "solo-1", pool=True)
    await person(runtime, "lurker")
    first = await team_of(runtime, "Luftretter", "a", "b", "c")
    second = await team_of(runtime, "Wasserwerk", "d")
    async with runtime.transaction() as tx:
        taken = Challenge(event_id=runtime.event_id, external_id="C1", title="Clean air")
        tx.session.add_all([taken, Challenge(event_id=runtime.event_id, external_id="C2", title="Water")])
        expert = Expert(event_id=runtime.event_id, name="Dr. Busy")
        tx.session.add_all([expert, Expert(event_id=runtime.event_id, name="Dr. Idle")])
        await tx.session.flush()
        (await tx.session.get_one(Team, first)).challenge_id = taken.id
        later = kickoff + timedelta(hours=3)
        slots = [
            Slot(expert_id=expert.id, starts_at=later + timedelta(minutes=20 * n), ends_at=later)
            for n in range(3)
        ]
        tx.session.add_all(slots)
        await tx.session.flush()
        tx.session.add_all(
            [
                Booking(slot_id=slots[0].id, team_id=first, question="Sensors?"),
                Booking(slot_id=slots[1].id, team_id=second, question="Pipes?", no_show=True),
                Submission(team_id=first, status="final"),
                Submission(team_id=second, status="draft"),
            ]
        )
    clock.set(kickoff + timedelta(minutes=30))
    counts = (await numbers(runtime))["counts"]
    assert counts == {
        "registrations": 6,
        "in_teams": 4,
        "pool": 1,
        "teams": 2,
        "challenges_covered": 1,
        "challenges_uncovered": 1,
        "bookings": 2,
        "no_shows": 1,
        "free_slots": 1,
        "help_waiting": 0,
        "help_wait_p50_s": 0,
        "help_wait_p90_s": 0,
        "submissions_draft": 1,
        "submissions_final": 1,
    }
    state = await numbers(runtime)
    assert state["team_sizes"] == [[1, 1], [3, 1]]
    assert state["alerts"] == [
        {"kind": "experts_without_slots", "count": 1, "names": ["Dr. Idle"], "level": "note", "of": None},
        {"kind": "experts_unbooked", "count": 1, "names": [], "level": "note", "of": 2},
    ]


async def test_a_hundred_idle_experts_are_one_quiet_count_and_only_those_without_slots_are_named(
    runtime_at: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, clock = runtime_at
    async with runtime.transaction() as tx:
        experts = [Expert(event_id=runtime.event_id, name=f"Dr. {n:03}") for n in range(100)]
        tx.session.add_all(experts)
        await tx.session.flush()
        later = kickoff + timedelta(hours=5)
        tx.session.add_all(Slot(expert_id=e.id, starts_at=later, ends_at=later) for e in experts[12:])
    clock.set(kickoff + timedelta(hours=3))
    alerts = (await numbers(runtime))["alerts"]
    assert [(a["kind"], a["count"], a["level"], a["of"]) for a in alerts] == [
        ("experts_without_slots", 12, "note", None),
        ("experts_unbooked", 100, "note", 100),
    ]
    assert alerts[0]["names"] == [f"Dr. {n:03}" for n in range(10)] and alerts[1]["names"] == []


async def test_after_team_formation_small_teams_and_untaken_challenges_need_a_human(
    runtime_at: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, clock = runtime_at
    await team_of(runtime, "Alone", "a")
    await team_of(runtime, "Pair", "b", "c")
    async with runtime.transaction() as tx:
        tx.session.add(Challenge(event_id=runtime.event_id, external_id="C7", title="Nobody's"))
    clock.set(kickoff + timedelta(hours=15))
    assert (await numbers(runtime))["alerts"] == []  # teams may still grow
    clock.set(kickoff + timedelta(hours=17))
    alerts = {a["kind"]: a for a in (await numbers(runtime))["alerts"]}
    assert alerts["small_team"] == {
        "kind": "small_team",
        "count": 1,
        "names": ["Alone"],
        "level": "act",
        "of": None,
    }
    assert alerts["uncovered_challenge"]["names"] == ["C7: Nobody's"]


async def test_dead_letters_are_listed_and_raise_an_alert(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    async with runtime.transaction() as tx:
        for n, status in enumerate(["dead", "pending", "delivered", "dead"]):
            tx.session.add(
                OutboxMessage(
                    key=f"k{n}", platform="slack", channel="C1", payload={}, status=status, last_error="boom"
                )
            )
    state = await numbers(runtime)
    delivery = state["delivery"]
    assert delivery["queued"] == 1 and delivery["dead_count"] == 2
    assert delivery["platforms"] == [
        {"platform": "slack", "pending": 1, "sending": 0, "delivered": 1, "dead": 2}
    ]
    assert [d["error"] for d in delivery["dead"]] == ["boom", "boom"]
    assert state["alerts"][0] == {
        "kind": "dead_letters", "count": 2, "names": ["#4 slack", "#1 slack"], "level": "act", "of": None
    }  # fmt: skip


async def test_the_schedule_lists_what_has_not_fired_at_its_shifted_instant(
    runtime_at: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, clock = runtime_at
    runtime.phase_cache.max_age = 3600.0  # only the shift may refresh the phases the dashboard shows
    clock.set(kickoff + timedelta(hours=2))
    before = {a["id"]: a["at"] for a in (await numbers(runtime))["schedule"]}
    assert "kickoff" not in before and "deadline-1h" in before
    async with runtime.transaction() as tx:
        await shift_phase(tx, "submission_deadline", timedelta(minutes=30), actor="test")
        instant = datetime.fromisoformat(before["team-formation-1h"])
        tx.session.add(
            FiredItem(
                event_id=runtime.event_id,
                key="announcement:team-formation-1h",
                instant=instant,
                status="fired",
            )
        )
    after = {a["id"]: a["at"] for a in (await numbers(runtime))["schedule"]}
    assert "team-formation-1h" not in after
    moved = datetime.fromisoformat(after["deadline-1h"]) - datetime.fromisoformat(before["deadline-1h"])
    assert moved == timedelta(minutes=30)


async def test_help_requests_waiting_and_how_long_the_taken_ones_waited(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, clock = runtime_at
    start = clock.now()
    ids = [await team_of(runtime, f"Help {n}", f"UH{n}") for n in range(4)]
    async with runtime.transaction() as tx:
        for team_id, waited in zip(ids, (60, 120, 600, None), strict=True):
            claimed = None if waited is None else start + timedelta(seconds=waited)
            tx.session.add(
                HelpTicket(
                    event_id=runtime.event_id, team_id=team_id, topic="data", question="?",
                    created_at=start, claimed_at=claimed,
                )
            )  # fmt: skip
    counts = (await numbers(runtime))["counts"]
    assert (counts["help_waiting"], counts["help_wait_p50_s"], counts["help_wait_p90_s"]) == (1, 120, 600)


# The counts, the two group-bys, the dead letters, the fired announcements, and the names of the three
# other alerts. Under load every statement waits for the busy event loop: raise this only knowingly.
SNAPSHOT_STATEMENTS = 7


async def test_a_snapshot_of_a_busy_event_takes_a_handful_of_statements(
    runtime_at: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, clock = runtime_at
    start = clock.now()
    ids = [await team_of(runtime, f"Team {n}", *(f"U{n}-{k}" for k in range(n % 3 + 1))) for n in range(6)]
    async with runtime.transaction() as tx:
        tx.session.add(Challenge(event_id=runtime.event_id, external_id="C1", title="Untaken"))
        expert = Expert(event_id=runtime.event_id, name="Dr. Idle")
        tx.session.add_all([expert, Expert(event_id=runtime.event_id, name="Dr. Busy")])
        await tx.session.flush()
        slot = Slot(expert_id=expert.id, starts_at=kickoff + timedelta(hours=20), ends_at=kickoff)
        tx.session.add(slot)
        await tx.session.flush()
        tx.session.add(Booking(slot_id=slot.id, team_id=ids[0], question="?"))
        for n, team_id in enumerate(ids):
            tx.session.add(Submission(team_id=team_id, status="final" if n % 2 else "draft"))
            tx.session.add(
                HelpTicket(
                    event_id=runtime.event_id, team_id=team_id, topic="data", question="?",
                    created_at=start, claimed_at=start + timedelta(seconds=30 * n) if n else None,
                )
            )  # fmt: skip
            tx.session.add(
                OutboxMessage(key=f"k{n}", platform="slack", channel="C1", payload={}, status="dead")
            )
    clock.set(kickoff + timedelta(hours=17))  # after team formation: every alert is raised
    runtime.phase_cache = PhaseCache(max_age=float("inf"))  # read once here, as between shifts
    phases = await runtime.cached_phases()
    statements: list[str] = []

    def count(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if conn is own:  # not the deliveries' that may run alongside
            statements.append(statement)

    async with runtime.reading() as tx:
        own = (await tx.session.connection()).sync_connection  # begun: SQLite's BEGIN is not counted
        event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
        try:
            state = await snapshot(tx, phases, runtime.clock.speed)
        finally:
            event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
    alerts = {alert["kind"] for alert in state["alerts"]}
    assert alerts == {
        "small_team",
        "uncovered_challenge",
        "experts_without_slots",
        "experts_unbooked",
        "dead_letters",
    }
    assert state["counts"]["help_wait_p90_s"] == 150 and state["counts"]["bookings"] == 1
    assert 0 < len(statements) <= SNAPSHOT_STATEMENTS, "\n\n".join(statements)


async def test_a_snapshot_holds_no_connection_while_the_phases_are_read_again(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    # One connection: were the snapshot's transaction holding it, the phases' reload would wait for
    # a second one until the pool gave up.
    engine = db.create_engine(runtime.settings.database_url, pool_size=1, max_overflow=0, pool_timeout=5)
    runtime.sessions = db.session_factory(engine)
    runtime.phase_cache.invalidate()
    try:
        state = await numbers(runtime)
    finally:
        await engine.dispose()
    assert state["phase"] == "registration"
