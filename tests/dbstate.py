"""Reads a database from the outside, the way an operator would, with an engine of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Executable, select

from hackserver.foundation import db, outbox
from hackserver.foundation.models import OutboxMessage
from hackserver.runtime import Runtime


async def rows(database_url: str, statement: Executable) -> list[Any]:
    engine = db.create_engine(database_url)
    try:
        async with db.session_factory(engine)() as session:
            return list((await session.execute(statement)).all())
    finally:
        await engine.dispose()


async def migrate(database_url: str, revision: str = "head") -> None:
    engine = db.create_engine(database_url)
    try:
        await db.upgrade(engine, revision)
    finally:
        await engine.dispose()


async def eventually(check: Callable[[], Awaitable[bool]], within: float, interval: float = 0.05) -> None:
    """Waits until `check` holds; another process (or a timer) changes the database meanwhile."""
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(interval)


async def settled_outbox(runtime: Runtime, within: float = 15.0, *, but: str = "") -> list[OutboxMessage]:
    """Waits until no outbox row is waiting for delivery (but those of the platform named, which
    nothing delivers); returns the rows."""
    async with asyncio.timeout(within):
        while True:
            async with runtime.sessions() as session:
                found = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
            if all(row.status in ("delivered", "dead") or row.platform == but for row in found):
                return found
            await asyncio.sleep(0.05)


async def queue_messages(
    runtime: Runtime, platform: str, channels: list[str], texts: dict[str, str] | None = None
) -> None:
    """One outbox message for each channel of `platform`, written in one transaction."""
    async with runtime.transaction() as tx:
        for n, channel in enumerate(channels):
            payload = {"author": "Orga", "texts": texts or {"en": f"Message {n}"}}
            await outbox.add(tx, f"test:{n}:{channel}", platform, channel, payload)
