"""The sprint clock fires phase changes and announcements at their instants, exactly once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from hackserver.clock import SprintClock
from hackserver.foundation import channels
from hackserver.foundation.errors import Conflict, TooLate
from hackserver.foundation.models import AuditEntry, ChannelMessage, FiredItem
from hackserver.runtime import Runtime
from hackserver.sprint.phases import shift_phase
from hackserver.sprint.schedule import schedule
from tests.dbstate import settled_outbox
from tests.fakes import FakeClock


async def shift(runtime: Runtime, name: str, delta: timedelta, **options: Any) -> dict[str, datetime]:
    async with runtime.transaction() as tx:
        return await shift_phase(tx, name, delta, **options)


async def fired(runtime: Runtime) -> list[tuple[str, datetime, str]]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(FiredItem.key, FiredItem.instant, FiredItem.status).order_by(FiredItem.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def announcement_texts(runtime: Runtime) -> list[str]:
    await runtime.jobs.idle()  # type: ignore[attr-defined]
    async with runtime.sessions() as session:
        return [m.text for m in await channels.history(session, runtime.event_id, "announcements")]


async def test_items_fire_at_their_instant_and_only_once(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, clock = runtime_at
    kickoff = runtime.event.phases["kickoff"]
    sprint = SprintClock(runtime)
    clock.set(kickoff - timedelta(seconds=1))
    await sprint.fire_due()
    assert [key for key, _, _ in await fired(runtime)] == ["phase:registration"]
    clock.set(kickoff)
    next_instant = await sprint.fire_due()
    await sprint.fire_due()
    assert [key for key, _, _ in await fired(runtime)] == [
        "phase:registration",
        "phase:kickoff",
        "announcement:kickoff",
    ]
    assert next_instant == runtime.event.phases["hacking"]
    assert await announcement_texts(runtime) == ["DE kickoff"]


async def test_a_restarted_clock_fires_nothing_twice(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, make_runtime: Callable[..., Any]
) -> None:
    path = event_file(kickoff=kickoff)
    clock = FakeClock(kickoff + timedelta(minutes=5))
    async with make_runtime(database_url, path, clock) as runtime:
        await SprintClock(runtime).fire_due()
        first = await fired(runtime)
    async with make_runtime(database_url, path, clock) as runtime:
        again = SprintClock(runtime)
        await again.fire_due()
        assert again.fired == []
        assert await fired(runtime) == first
        assert await announcement_texts(runtime) == ["DE kickoff"]


async def test_missed_items_catch_up_unless_too_late(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, clock = runtime_at
    deadline = runtime.event.phases["submission_deadline"]
    # Down from before "24h left" until 7 minutes before the deadline: "24h left" (bound 1h) and
    # "1h left" (bound 15m) are too late, "10 minutes left" (bound 5m) is 3 minutes late: sent.
    clock.set(deadline - timedelta(minutes=7))
    await SprintClock(runtime).fire_due()
    outcome = {key: status for key, _, status in await fired(runtime)}
    assert outcome["announcement:deadline-24h"] == "skipped"
    assert outcome["announcement:deadline-1h"] == "skipped"
    assert outcome["announcement:deadline-10m"] == "fired"
    assert outcome["phase:team_formation_close"] == "fired"  # phase changes are never skipped
    assert "announcement:deadline" not in outcome
    assert await announcement_texts(runtime) == ["DE deadline-10m"]


async def test_a_sprint_across_the_daylight_saving_switch_fires_at_the_right_utc_instants(
    database_url: str, event_file: Callable[..., Path], make_runtime: Callable[..., Any]
) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # Friday 18:00 CET (UTC+1) to Sunday 18:00 CEST (UTC+2): 47 real hours, clocks jump at 02:00 Sunday.
    kickoff = datetime(2027, 3, 26, 18, 0, tzinfo=berlin)
    path = event_file(kickoff=kickoff, hours=47)
    clock = FakeClock(kickoff - timedelta(days=8))
    async with make_runtime(database_url, path, clock) as runtime:
        phases = runtime.event.phases
        assert phases["kickoff"] == datetime(2027, 3, 26, 17, 0, tzinfo=UTC)
        assert phases["submission_deadline"] == datetime(2027, 3, 28, 16, 0, tzinfo=UTC)
        assert phases["submission_deadline"].astimezone(berlin).hour == 18
        expected = {
            "announcement:kickoff": datetime(2027, 3, 26, 17, 0, tzinfo=UTC),
            "announcement:team-formation-1h": datetime(2027, 3, 27, 8, 0, tzinfo=UTC),
            "announcement:deadline-24h": datetime(2027, 3, 27, 16, 0, tzinfo=UTC),  # Saturday 17:00 CET
            "announcement:deadline-1h": datetime(2027, 3, 28, 15, 0, tzinfo=UTC),
            "announcement:deadline-10m": datetime(2027, 3, 28, 15, 50, tzinfo=UTC),
            "announcement:deadline": datetime(2027, 3, 28, 16, 0, tzinfo=UTC),
        }
        sprint = SprintClock(runtime)
        for key, instant in expected.items():
            clock.set(instant - timedelta(seconds=1))
            await sprint.fire_due()
            assert key not in {k for k, _, _ in sprint.fired}, f"{key} fired early"
            clock.set(instant)
            await sprint.fire_due()
            assert (key, instant, "fired") in sprint.fired, f"{key} did not fire at {instant}"


async def test_shifting_the_deadline_moves_its_announcements(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, clock = runtime_at
    deadline = runtime.event.phases["submission_deadline"]
    sprint = SprintClock(runtime)
    clock.set(deadline - timedelta(minutes=20))
    await sprint.fire_due()
    await shift(runtime, "submission_deadline", timedelta(minutes=30), actor="organiser:test")
    await sprint.fire_due()  # nothing new is due at the moment of the shift
    clock.set(deadline - timedelta(minutes=10))  # the old "10 minutes left" instant: nothing due now
    await sprint.fire_due()
    assert "announcement:deadline-10m" not in {k for k, _, _ in sprint.fired}
    clock.set(deadline + timedelta(minutes=20))
    await sprint.fire_due()
    assert ("announcement:deadline-10m", deadline + timedelta(minutes=20), "fired") in sprint.fired
    assert "phase:submission_deadline" not in {k for k, _, _ in sprint.fired}
    async with runtime.sessions() as session:
        entry = (await session.scalars(select(AuditEntry).where(AuditEntry.actor != "clock"))).one()
    assert (entry.action, entry.actor, entry.details["by_seconds"]) == ("phase.shift", "organiser:test", 1800)


async def test_a_phase_shift_that_breaks_the_order_or_the_past_is_refused(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _clock = runtime_at
    with pytest.raises(Conflict, match="before the phase it follows"):
        await shift(runtime, "hacking", -timedelta(minutes=90), actor="o")
    with pytest.raises(TooLate, match="already begun"):
        await shift(runtime, "registration", timedelta(hours=1), actor="o")
    with pytest.raises(TooLate, match="in the past"):
        await shift(runtime, "kickoff", -timedelta(hours=2), actor="o")
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 0
    async with runtime.reading() as tx:
        assert await tx.phases() == runtime.event.phases


async def test_a_shift_pushes_along_the_later_phases_it_would_run_into(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    planned = runtime.event.phases
    moved = await shift(runtime, "submission_deadline", timedelta(hours=1), actor="o")
    assert moved["submission_deadline"] - planned["submission_deadline"] == timedelta(hours=1)
    assert moved["judging"] - planned["judging"] == timedelta(hours=1)  # was 30 minutes after
    assert moved["awards"] == planned["awards"]
    everything = await shift(runtime, "awards", timedelta(hours=1), actor="o", later_too=True)
    assert everything["end"] - planned["end"] == timedelta(hours=1)


async def test_two_clocks_on_one_database_fire_each_item_once(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, make_runtime: Callable[..., Any]
) -> None:
    import asyncio

    path = event_file(kickoff=kickoff)
    clock = FakeClock(kickoff + timedelta(hours=47, minutes=55))
    async with (
        make_runtime(database_url, path, clock) as first,
        make_runtime(database_url, path, clock) as second,
    ):
        a, b = SprintClock(first), SprintClock(second)
        await asyncio.gather(a.fire_due(), b.fire_due())
        keys = [key for key, _, _ in await fired(first)]
        assert len(keys) == len(set(keys))
        assert sorted(keys) == sorted(k for k, _, _ in a.fired + b.fired)
        async with first.sessions() as session:
            await first.jobs.idle()  # type: ignore[attr-defined]
            await second.jobs.idle()  # type: ignore[attr-defined]
            texts = (await session.scalars(select(ChannelMessage.text))).all()
        assert len(texts) == len(set(texts))


def test_schedule_orders_phase_changes_before_announcements_at_one_instant(
    event_file: Callable[..., Path], kickoff: datetime
) -> None:
    from hackserver.foundation.event import load_event

    event = load_event(event_file(kickoff=kickoff))
    items = schedule(event, event.phases)
    at_kickoff = [i.key for i in items if i.instant == event.phases["kickoff"]]
    assert at_kickoff == ["phase:kickoff", "announcement:kickoff"]
    assert [i.instant for i in items] == sorted(i.instant for i in items)


async def test_a_demo_starts_at_kickoff_even_when_the_event_is_in_the_future(
    sqlite_url: str, event_file: Callable[..., Path], kickoff: datetime
) -> None:
    from hackserver.bootstrap import bootstrap
    from hackserver.foundation.settings import Settings
    from hackserver.sprint.phases import current_phase

    clock = FakeClock(kickoff - timedelta(days=100, microseconds=300_000))  # kickoff is months ahead
    settings = Settings(database_url=sqlite_url, event_path=event_file(kickoff=kickoff))
    async with bootstrap(settings, demo=True, clock=clock) as runtime:
        async with runtime.reading() as tx:
            phases = await tx.phases()
    assert current_phase(phases, clock.now()) == "kickoff"
    assert timedelta(0) <= clock.now() - phases["kickoff"] < timedelta(seconds=1)


async def test_restarting_the_demo_on_the_same_database_fires_nothing_again(
    sqlite_url: str, event_file: Callable[..., Path], kickoff: datetime
) -> None:
    from hackserver.bootstrap import bootstrap
    from hackserver.foundation.settings import Settings

    settings = Settings(database_url=sqlite_url, event_path=event_file(kickoff=kickoff))
    clock = FakeClock(kickoff - timedelta(days=30))
    async with bootstrap(settings, demo=True, clock=clock) as runtime:
        await SprintClock(runtime).fire_due()
        await settled_outbox(runtime)
        first = await fired(runtime)
        assert await announcement_texts(runtime) == ["DE kickoff"]
    clock.set(clock.now() + timedelta(hours=1))  # restarted an hour later: kickoff is "now" again
    async with bootstrap(settings, demo=True, clock=clock) as runtime:
        again = SprintClock(runtime)
        await again.fire_due()
        await settled_outbox(runtime)
        assert again.fired == []
        assert await fired(runtime) == first
        assert await announcement_texts(runtime) == ["DE kickoff"]
