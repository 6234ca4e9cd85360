"""The migrations build exactly the schema the models describe, with the constraints it promises,
on SQLite and PostgreSQL alike."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import column, select, table, text, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hackserver.foundation import db
from hackserver.foundation.models import (
    Base,
    Booking,
    EventRow,
    Expert,
    HelpTicket,
    Link,
    Phase,
    Slot,
    Team,
    UTCDateTime,
)

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2027, 3, 20, 10, 0, tzinfo=BERLIN)


@pytest.fixture
async def engine(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database migrated from empty to the newest revision."""
    engine = db.create_engine(empty_database_url)
    await db.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return db.session_factory(engine)


@pytest.fixture
async def slot_and_team(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        event = EventRow(slug="schema-test", name="Schema Test", timezone="Europe/Berlin")
        session.add(event)
        await session.flush()
        expert = Expert(event_id=event.id, name="Ada")
        team = Team(event_id=event.id, name="Team A", name_key="team a", join_code="ABCD1234")
        session.add_all([expert, team])
        await session.flush()
        slot = Slot(expert_id=expert.id, starts_at=START, ends_at=START + timedelta(minutes=20))
        session.add(slot)
        await session.flush()
        return slot.id, team.id


async def book(sessions: async_sessionmaker[AsyncSession], slot_id: int, team_id: int) -> int:
    async with sessions() as session, session.begin():
        booking = Booking(slot_id=slot_id, team_id=team_id, question="How do we scale this?")
        session.add(booking)
        await session.flush()
        return booking.id


def schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_from_empty_builds_exactly_the_models_schema(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        diff = await connection.run_sync(schema_diff)
    assert diff == []


async def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    engine = db.create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            mode = await connection.scalar(text("PRAGMA journal_mode"))
    finally:
        await engine.dispose()
    assert mode == "wal"


async def test_sqlite_enforces_foreign_keys(sqlite_url: str) -> None:
    engine = db.create_engine(sqlite_url)
    try:
        await db.upgrade(engine)
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
        with pytest.raises(IntegrityError):
            async with db.session_factory(engine)() as session, session.begin():
                session.add(Slot(expert_id=999, starts_at=START, ends_at=START + timedelta(minutes=20)))
    finally:
        await engine.dispose()


async def test_an_sqlite_writer_waits_for_another_process_write_and_then_writes(sqlite_url: str) -> None:
    """Statements run on the loop's thread; one that meets another writer's lock still waits for it
    (SQLite's busy timeout) rather than failing with "database is locked"."""
    engine = db.create_engine(sqlite_url)
    try:
        await db.upgrade(engine)
        other = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        other.execute(
            "INSERT INTO events (slug, name, timezone, created_at)"
            " VALUES ('other', 'Other', 'UTC', '2027-01-01 00:00:00')"
        )
        releasing = threading.Timer(0.5, other.execute, ("COMMIT",))
        releasing.start()
        async with db.session_factory(engine, writer=True)() as session, session.begin():
            session.add(EventRow(slug="ours", name="Ours", timezone="UTC"))
        releasing.join()
        other.close()
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT slug FROM events ORDER BY id"))).scalars().all()
        assert rows == ["other", "ours"]  # ours went in after the other writer committed
    finally:
        await engine.dispose()


async def test_a_slot_cannot_have_two_live_bookings(
    sessions: async_sessionmaker[AsyncSession], slot_and_team: tuple[int, int]
) -> None:
    slot_id, team_id = slot_and_team
    await book(sessions, slot_id, team_id)
    with pytest.raises(IntegrityError):
        await book(sessions, slot_id, team_id)


async def test_a_cancelled_booking_does_not_block_a_new_one(
    sessions: async_sessionmaker[AsyncSession], slot_and_team: tuple[int, int]
) -> None:
    slot_id, team_id = slot_and_team
    first = await book(sessions, slot_id, team_id)
    async with sessions() as session, session.begin():
        await session.execute(
            update(Booking).where(Booking.id == first).values(cancelled_at=datetime.now(UTC))
        )
    second = await book(sessions, slot_id, team_id)
    async with sessions() as session:
        live = await session.scalars(
            select(Booking.id).where(Booking.slot_id == slot_id, Booking.cancelled_at.is_(None))
        )
        assert live.all() == [second]


async def test_datetimes_come_back_aware_in_utc(
    sessions: async_sessionmaker[AsyncSession], slot_and_team: tuple[int, int]
) -> None:
    slot_id, _ = slot_and_team
    async with sessions() as session:  # a new session: the values are read from the database
        slot = await session.get_one(Slot, slot_id)
    assert slot.starts_at.tzinfo is UTC
    assert slot.starts_at == START
    assert slot.starts_at.hour == 9  # 10:00 in Berlin (CET) is 09:00 UTC


def downgrade(connection: Connection, revision: str) -> None:
    config = db.alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_the_new_migrations_downgrade_and_upgrade_again_to_the_models_schema(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], slot_and_team: tuple[int, int]
) -> None:
    _, team_id = slot_and_team
    end = START + timedelta(days=3)
    async with sessions() as session, session.begin():
        event_id = (await session.get_one(Team, team_id)).event_id
        session.add(Phase(event_id=event_id, name="end", planned_at=end, shift_seconds=-3600))
        session.add(Link(event_id=event_id, scope="submit", subject_id=team_id))
    async with engine.begin() as connection:
        await connection.run_sync(downgrade, "0008")
        expiry = column("expires_at", UTCDateTime())
        # before 0010, a link's expiry was the event's end as it stood
        assert (await connection.scalar(select(expiry).select_from(table("links")))) == end - timedelta(
            hours=1
        )
    await db.upgrade(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(schema_diff) == []
    async with sessions() as session:  # a team's link naming no member: its holders ask the bot again
        assert (await session.scalars(select(Link.revoked_at))).one() is not None
    async with sessions() as session, session.begin():  # a team's closed tickets stay beside its open one
        for closed in (START, START, None):
            session.add(
                HelpTicket(event_id=event_id, team_id=team_id, topic="law", question="?", cancelled_at=closed)
            )
        await session.flush()
        session.add(HelpTicket(event_id=event_id, team_id=team_id, topic="law", question="?"))
        with pytest.raises(IntegrityError):
            await session.flush()
