"""Built-in channels: #announcements, a channel per team, the bot. Always on, whatever else fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hackserver.foundation import db
from hackserver.foundation.models import Channel, ChannelMessage, Membership, OutboxMessage, Team

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction

HISTORY = 100
ANNOUNCEMENTS = "announcements"


@dataclass(frozen=True)
class Readable:
    """A channel someone may read: its name, kind (announcements | team | bot) and, for a team, its title."""

    name: str
    kind: str
    title: str = ""


def bot_channel(participant_id: int) -> str:
    """The channel of one participant's conversation with the bot: nobody else reads it."""
    return f"bot-{participant_id}"


async def readable(session: AsyncSession, event_id: int, participant_id: int | None) -> list[Readable]:
    """#announcements for everybody; a participant's team channel, if it exists, and their bot channel."""
    found = [Readable(ANNOUNCEMENTS, "announcements")]
    if participant_id is None:
        return found
    team = (
        await session.execute(
            select(Channel.name, Team.name)
            .join(Team, Team.id == Channel.team_id)
            .join(Membership, Membership.team_id == Team.id)
            .where(
                Channel.event_id == event_id,
                Channel.kind == "team",
                Membership.participant_id == participant_id,
            )
        )
    ).first()
    if team is not None:
        found.append(Readable(team[0], "team", team[1]))
    found.append(Readable(bot_channel(participant_id), "bot"))
    return found


async def ensure_channel(
    session: AsyncSession,
    event_id: int,
    name: str,
    kind: str = "announcements",
    team_id: int | None = None,
    *,
    new: bool = False,
) -> Channel:
    """The channel of this name, made if need be. `new`: what it is for was just made, so it is most
    likely not there yet, and is made first (one statement instead of two)."""
    query = select(Channel).where(Channel.event_id == event_id, Channel.name == name)
    channel = None if new else await session.scalar(query)
    if channel is None:
        created = db.insert_unless_there(session, Channel).values(
            event_id=event_id, name=name, kind=kind, team_id=team_id
        )
        channel = await session.scalar(created.returning(Channel))
        if channel is None:  # there already, or created meanwhile by another process
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
    kind: str = "announcements",
    reply: dict[str, Any] | None = None,
) -> ChannelMessage | None:
    """Posts a message; with a key, posting the same key again does nothing and returns None."""
    if key is not None and await tx.session.scalar(
        select(ChannelMessage.id).where(ChannelMessage.outbox_key == key)
    ):
        return None
    channel = await ensure_channel(tx.session, event_id, channel_name, kind)
    message: ChannelMessage | None = await tx.session.scalar(  # INSERT … RETURNING the row: no flush
        insert(ChannelMessage)
        .values(
            channel_id=channel.id,
            outbox_key=key,
            author=author,
            text=text,
            translations=translations or {},
            reply=reply,
            posted_at=tx.now,
        )
        .returning(ChannelMessage)
    )
    assert message is not None
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
        "reply": message.reply,
        "posted_at": message.posted_at.isoformat(),
    }


class BuiltinChannels:
    """Delivers to the built-in channels, inside the same database: exactly once by the row's key."""

    def __init__(self, event_id: int, default_language: str) -> None:
        self.event_id, self.default_language = event_id, default_language

    async def deliver(self, tx: Transaction, message: OutboxMessage) -> None:
        texts: dict[str, str] = message.payload["texts"]
        await post(
            tx,
            self.event_id,
            message.channel,
            author=message.payload.get("author", "hackserver"),
            text=texts.get(self.default_language) or next(iter(texts.values())),
            translations=texts,
            key=message.key,
        )
