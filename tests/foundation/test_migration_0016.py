"""Migration 0016: a Discord or webhook account is keyed by its user id alone, and one person's
participants of one event, made in several guilds and direct messages, become one, on SQLite and
PostgreSQL alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hackserver.foundation import db
from hackserver.foundation.models import (
    AuditEntry,
    Booking,
    Channel,
    ChannelMessage,
    EventRow,
    Expert,
    Link,
    Membership,
    Participant,
    PlatformIdentity,
    Slot,
    Submission,
    SubmissionVersion,
    Team,
)
from tests.foundation.test_migrations import downgrade, schema_diff

T0 = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
NELLY, OTTO = "80351110224678912", "80351110224678913"


@pytest.fixture
async def engine(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database at 0015, the revision before."""
    engine = db.create_engine(empty_database_url)
    await db.upgrade(engine, "0015")
    yield engine
    await engine.dispose()


async def add(connection: AsyncConnection, model: type[Any], **values: Any) -> int:
    return int(await connection.scalar(insert(model).values(**values).returning(model.id)))


async def person(
    connection: AsyncConnection,
    event: int,
    account: tuple[str, str, str],
    hours: int,
    team: int | None = None,
    **profile: Any,
) -> int:
    """A participant made `hours` after T0 with one chat account, in `team` if given."""
    participant = await add(
        connection, Participant, event_id=event, display_name=account[2], created_at=T0 + timedelta(hours=hours),
        **{"languages": [], "skills": [], "interests": [], "in_match_pool": False} | profile,
    )  # fmt: skip
    platform, workspace, user_id = account
    await add(
        connection, PlatformIdentity, participant_id=participant, platform=platform, workspace=workspace,
        user_id=user_id,
    )  # fmt: skip
    if team is not None:
        await add(connection, Membership, team_id=team, participant_id=participant, joined_at=T0)
    return participant


async def team(connection: AsyncConnection, event: int, name: str, members: int) -> int:
    return await add(
        connection, Team, event_id=event, name=name, name_key=name.lower(), join_code=f"CODE{name}",
        member_count=members, created_at=T0,
    )  # fmt: skip


async def seed(connection: AsyncConnection) -> dict[str, int]:
    last_year = await add(
        connection, EventRow, slug="last-year", name="Last year", timezone="UTC", created_at=T0
    )
    event = await add(connection, EventRow, slug="sprint", name="Sprint", timezone="UTC", created_at=T0)
    ids = {"event": event}
    ids["last_year"] = await person(connection, last_year, ("discord", "111", NELLY), 0)
    # Nelly: first in the guild (older, in the pool, with skills), then by DM, where she made a team.
    ids["team_a"] = await team(connection, event, "A", 1)
    ids["nelly_guild"] = await person(
        connection, event, ("discord", "290926798626357999", NELLY), 1, skills=["go"], language="de",
        in_match_pool=True,
    )  # fmt: skip
    ids["nelly_dm"] = await person(connection, event, ("discord", "dm", NELLY), 2, ids["team_a"])
    expert = await add(connection, Expert, event_id=event, name="Ada", topics=[], languages=[], bio="")
    slot = await add(connection, Slot, expert_id=expert, starts_at=T0, ends_at=T0 + timedelta(minutes=20))
    ids["booking"] = await add(
        connection, Booking, slot_id=slot, team_id=ids["team_a"], question="?", created_at=T0, no_show=False
    )
    submission = await add(
        connection, Submission, team_id=ids["team_a"], status="draft", version=1, updated_at=T0
    )
    await add(
        connection, SubmissionVersion, submission_id=submission, number=1, fields={}, saved_by=ids["nelly_guild"],
        saved_at=T0,
    )  # fmt: skip
    await add(
        connection,
        Link,
        event_id=event,
        scope="submit",
        subject_id=ids["team_a"],
        member_id=ids["nelly_guild"],
    )
    bot = await add(connection, Channel, event_id=event, name=f"bot-{ids['nelly_guild']}", kind="bot")
    await add(
        connection, ChannelMessage, channel_id=bot, author="Nelly", text="hi", translations={}, posted_at=T0
    )
    # Otto: in a team of two from the guild, and alone in another team from a DM.
    ids["team_b"], ids["team_c"] = (
        await team(connection, event, "B", 2),
        await team(connection, event, "C", 1),
    )
    ids["otto_guild"] = await person(
        connection, event, ("discord", "290926798626357999", OTTO), 0, ids["team_b"]
    )
    ids["someone"] = await person(connection, event, ("discord", "dm", "someone-else"), 0, ids["team_b"])
    ids["otto_dm"] = await person(connection, event, ("discord", "dm", OTTO), 3, ids["team_c"])
    # Slack outside a grid and a webhook account: not merged, the webhook's keyed by its user id.
    for workspace in ("T01", "T02"):
        ids[workspace] = await person(connection, event, ("slack", workspace, "U01"), 0)
    ids["webhook"] = await person(connection, event, ("webhook", "t7y", "u1abc"), 0)
    return ids


async def accounts(connection: AsyncConnection) -> set[tuple[str, str, str, int]]:
    rows = await connection.execute(
        select(
            PlatformIdentity.platform,
            PlatformIdentity.workspace,
            PlatformIdentity.user_id,
            PlatformIdentity.participant_id,
        )
    )
    return {tuple(row) for row in rows}  # type: ignore[misc]


async def test_a_persons_participants_of_one_event_become_one_and_downgrade_keeps_them_found(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as connection:
        ids = await seed(connection)
    await db.upgrade(engine)
    async with engine.connect() as connection:
        assert await accounts(connection) == {
            ("discord", "111", NELLY, ids["last_year"]),  # another event: still its own participant
            ("discord", "", NELLY, ids["nelly_dm"]),  # the one in a team is kept
            ("discord", "", OTTO, ids["otto_guild"]),  # both in teams: the oldest
            ("discord", "", "someone-else", ids["someone"]),
            ("slack", "T01", "U01", ids["T01"]),
            ("slack", "T02", "U01", ids["T02"]),
            ("webhook", "", "u1abc", ids["webhook"]),
        }
        assert await connection.scalar(select(func.count()).select_from(Participant)) == 7
        nelly = (await connection.execute(select(Participant).where(Participant.id == ids["nelly_dm"]))).one()
        assert (nelly.skills, nelly.language, nelly.in_match_pool) == (["go"], "de", False)
        members = dict(
            (await connection.execute(select(Membership.participant_id, Membership.team_id))).all()
        )
        assert members == {
            ids["nelly_dm"]: ids["team_a"],
            ids["otto_guild"]: ids["team_b"],
            ids["someone"]: ids["team_b"],
        }
        sizes = dict((await connection.execute(select(Team.id, Team.member_count))).all())
        assert sizes == {ids["team_a"]: 1, ids["team_b"]: 2, ids["team_c"]: 0}  # C kept, with its rows
        assert (await connection.scalars(select(Booking.team_id))).all() == [ids["team_a"]]
        assert (await connection.scalars(select(SubmissionVersion.saved_by))).all() == [ids["nelly_dm"]]
        assert (await connection.scalars(select(Link.member_id))).all() == [ids["nelly_dm"]]
        channel = (await connection.execute(select(Channel.id, Channel.name))).one()
        assert channel.name == f"bot-{ids['nelly_dm']}"
        assert (await connection.scalars(select(ChannelMessage.channel_id))).all() == [channel.id]
        merges = (await connection.scalars(select(AuditEntry.details).order_by(AuditEntry.id))).all()
        assert merges == [
            {"participant": ids["nelly_guild"], "into": ids["nelly_dm"], "dropped_team": None},
            {"participant": ids["otto_dm"], "into": ids["otto_guild"], "dropped_team": ids["team_c"]},
        ]

    async with engine.begin() as connection:
        await connection.run_sync(downgrade, "0015")
        assert {a for a in await accounts(connection) if a[0] == "discord"} == {
            ("discord", "111", NELLY, ids["last_year"]),
            ("discord", "dm", NELLY, ids["nelly_dm"]),
            ("discord", "dm", OTTO, ids["otto_guild"]),
            ("discord", "dm", "someone-else", ids["someone"]),
        }
    await db.upgrade(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(schema_diff) == []
        assert ("discord", "", OTTO, ids["otto_guild"]) in await accounts(connection)
        assert await connection.scalar(select(func.count()).select_from(Participant)) == 7
