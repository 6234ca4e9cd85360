"""Built-in channels: #announcements, a channel per team, the bot. Always on, whatever else fails."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hackserver.models import Channel, ChannelMessage

if TYPE_CHECKING:
    from hackserver.runtime import Transaction

HISTORY = 100


async def ensure_channel(
    session: AsyncSession, event_id: int, name: str, kind: str = "announcements", team_id: int | None = None
) -> Channel:
    query = select(Channel).where(Channel.event_id == event_id, Channel.name == name)
    channel = await session.scalar(query)
    if channel is None:
        channel = Channel(event_id=event_id, name=name, kind=kind, team_id=team_id)
        try:
            async with session.begin_nested():
                session.add(channel)
        except IntegrityError:  # created meanwhile by another process
            channel = (await session.scalars(query)).one()
    return channel


async def post(
    tx: Transaction,
    event_id: int,
    channel_name: str,
    *,
    author: str,
    text: str,
    translations: dict[str, str] | None = None,
    key: str | None = None,
) -> ChannelMessage | None:
    """Posts a message; with a key, posting the same key again does nothing and returns None."""
    if key is not None and await tx.session.scalar(
        select(ChannelMessage.id).where(ChannelMessage.outbox_key == key)
    ):
        return None
    channel = await ensure_channel(tx.session, event_id, channel_name)
    message = ChannelMessage(
        channel_id=channel.id,
        outbox_key=key,
        author=author,
        text=text,
        translations=translations or {},
        posted_at=tx.now,
    )
    tx.session.add(message)
    await tx.session.flush()
    tx.record("channel.message", channel=channel.name, message=as_json(message))
    return message


async def history(
    session: AsyncSession, event_id: int, channel_name: str, after_id: int = 0, limit: int = HISTORY
) -> list[ChannelMessage]:
    rows = await session.scalars(
        select(ChannelMessage)
        .join(Channel)
        .where(Channel.event_id == event_id, Channel.name == channel_name, ChannelMessage.id > after_id)
        .order_by(ChannelMessage.id.desc())
        .limit(limit)
    )
    return list(reversed(rows.all()))


def as_json(message: ChannelMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "author": message.author,
        "text": message.text,
        "translations": message.translations,
        "posted_at": message.posted_at.isoformat(),
    }
