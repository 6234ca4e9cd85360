"""platform identities: a Discord or webhook (Mattermost, Rocket.Chat) user id is one person in every
guild, team and direct message, keyed with the workspace "" (it was the guild id or "dm", the team id)

A person seen in several places of one event had a participant for each: they are merged into one.
The participant kept is the one in a team; if both or neither are, the oldest. What referred to the
other moves to it: chat accounts, their solo challenge interests (unless it has its own), saved
submission versions, member links and its bot channel's messages; its empty profile fields are
filled from the other's. When both are in teams, the kept one's team stays theirs and the other's
membership is dropped (that team's member count with it; an emptied team is kept, with its
submission and bookings, for the organisers to dissolve). Every merge writes a `participant.merged`
audit row naming both participants and a dropped team. Audit rows of before stay as written.

Participants belong to an event, so the same person in different events stays several participants;
the key, unique across events, goes to the event of the account already keyed so (a webhook account
without a team), else to the newest event. The accounts of the other events keep their old key.

Slack is not rewritten: the Enterprise Grid org of a workspace was never stored. Slack accounts are
now keyed by the org when Slack names one, and an account under the old team id is re-keyed on its
person's first command from that org (hackserver.teams.participants.register).

Downgrade: a Discord account goes back to "dm" (unless an older event's account holds it), as if
it had only written from direct messages: its person is asked for again in a guild. Merged
participants cannot be split again, and Slack accounts keyed by an org id stay so (the old code
makes a new participant for them).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GLOBAL = ("discord", "webhook")  # platforms whose user ids are one person everywhere
ACTOR = "migration 0016"

identities = sa.table(
    "platform_identities",
    sa.column("id", sa.Integer),
    sa.column("participant_id", sa.Integer),
    sa.column("platform", sa.String),
    sa.column("workspace", sa.String),
    sa.column("user_id", sa.String),
)
participants = sa.table(
    "participants",
    sa.column("id", sa.Integer),
    sa.column("event_id", sa.Integer),
    sa.column("created_at", sa.DateTime),
    sa.column("language", sa.String),
    sa.column("timezone", sa.String),
    sa.column("languages", sa.JSON),
    sa.column("skills", sa.JSON),
    sa.column("interests", sa.JSON),
    sa.column("in_match_pool", sa.Boolean),
)
memberships = sa.table(
    "memberships", sa.column("participant_id", sa.Integer), sa.column("team_id", sa.Integer)
)
teams = sa.table("teams", sa.column("id", sa.Integer), sa.column("member_count", sa.Integer))
preferences = sa.table("challenge_preferences", sa.column("participant_id", sa.Integer))
versions = sa.table("submission_versions", sa.column("saved_by", sa.Integer))
links = sa.table("links", sa.column("member_id", sa.Integer))
channels = sa.table(
    "channels", sa.column("id", sa.Integer), sa.column("event_id", sa.Integer), sa.column("name", sa.String)
)
messages = sa.table("channel_messages", sa.column("channel_id", sa.Integer))
audit = sa.table(
    "audit_log",
    sa.column("event_id", sa.Integer),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("details", sa.JSON),
    sa.column("at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    bind = op.get_bind()
    found = bind.execute(
        sa.select(
            identities.c.id,
            identities.c.platform,
            identities.c.workspace,
            identities.c.user_id,
            identities.c.participant_id,
            participants.c.event_id,
            participants.c.created_at,
            memberships.c.team_id,
        )
        .join(participants, participants.c.id == identities.c.participant_id)
        .outerjoin(memberships, memberships.c.participant_id == participants.c.id)
        .where(identities.c.platform.in_(GLOBAL))
        .order_by(identities.c.id)
    ).all()
    people: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in found:
        people[row.platform, row.user_id].append(row)
    for accounts in people.values():
        by_event: dict[int, list[Any]] = defaultdict(list)
        for row in accounts:
            by_event[row.event_id].append(row)
        keyed = next((row.event_id for row in accounts if row.workspace == ""), max(by_event))
        for event_id, rows in by_event.items():
            kept = _merge(bind, event_id, rows)
            if event_id != keyed:
                continue
            # The account already keyed so, else one of the participant kept.
            keeping = min(rows, key=lambda r: (r.workspace != "", r.participant_id != kept, r.id))
            others = [r.id for r in rows if r.id != keeping.id]
            if others:
                bind.execute(identities.delete().where(identities.c.id.in_(others)))
            bind.execute(identities.update().where(identities.c.id == keeping.id).values(workspace=""))


def _merge(bind: sa.Connection, event_id: int, rows: list[Any]) -> int:
    """One participant for these accounts of one person in one event; returns the one kept."""
    seen: dict[int, Any] = {}
    for row in rows:
        seen.setdefault(row.participant_id, row)
    # In a team first, then the oldest.
    order = sorted(seen.values(), key=lambda r: (r.team_id is None, r.created_at, r.participant_id))
    kept, in_team = order[0].participant_id, order[0].team_id is not None
    for gone in order[1:]:
        dropped = None
        if gone.team_id is not None:  # so is the one kept: its own team stays
            bind.execute(memberships.delete().where(memberships.c.participant_id == gone.participant_id))
            bind.execute(
                teams.update().where(teams.c.id == gone.team_id).values(member_count=teams.c.member_count - 1)
            )
            dropped = gone.team_id
        _move(bind, event_id, gone.participant_id, kept, in_team=in_team)
        at = datetime.now(UTC)
        bind.execute(
            audit.insert().values(
                event_id=event_id,
                actor=ACTOR,
                action="participant.merged",
                details={"participant": gone.participant_id, "into": kept, "dropped_team": dropped},
                at=at.replace(tzinfo=None) if bind.dialect.name == "sqlite" else at,
            )
        )
    return kept


def _move(bind: sa.Connection, event_id: int, gone: int, kept: int, *, in_team: bool) -> None:
    bind.execute(identities.update().where(identities.c.participant_id == gone).values(participant_id=kept))
    bind.execute(versions.update().where(versions.c.saved_by == gone).values(saved_by=kept))
    bind.execute(links.update().where(links.c.member_id == gone).values(member_id=kept))
    if bind.scalar(
        sa.select(sa.func.count()).select_from(preferences).where(preferences.c.participant_id == kept)
    ):
        bind.execute(preferences.delete().where(preferences.c.participant_id == gone))
    else:
        bind.execute(
            preferences.update().where(preferences.c.participant_id == gone).values(participant_id=kept)
        )
    theirs = bind.scalar(
        sa.select(channels.c.id).where(channels.c.event_id == event_id, channels.c.name == f"bot-{gone}")
    )
    ours = bind.scalar(
        sa.select(channels.c.id).where(channels.c.event_id == event_id, channels.c.name == f"bot-{kept}")
    )
    if theirs is not None and ours is None:
        bind.execute(channels.update().where(channels.c.id == theirs).values(name=f"bot-{kept}"))
    elif theirs is not None:
        bind.execute(messages.update().where(messages.c.channel_id == theirs).values(channel_id=ours))
        bind.execute(channels.delete().where(channels.c.id == theirs))
    profile = [
        participants.c[name]
        for name in ("language", "timezone", "languages", "skills", "interests", "in_match_pool")
    ]
    mine, other = (
        bind.execute(sa.select(*profile).where(participants.c.id == who)).one() for who in (kept, gone)
    )
    filled = {column.name: mine[i] or other[i] for i, column in enumerate(profile)}
    filled["in_match_pool"] = bool(filled["in_match_pool"]) and not in_team
    bind.execute(participants.update().where(participants.c.id == kept).values(**filled))
    bind.execute(participants.delete().where(participants.c.id == gone))


def downgrade() -> None:
    other = identities.alias("other")
    taken = sa.exists().where(
        other.c.platform == "discord", other.c.workspace == "dm", other.c.user_id == identities.c.user_id
    )
    op.execute(
        identities.update()
        .where(identities.c.platform == "discord", identities.c.workspace == "", ~taken)
        .values(workspace="dm")
    )
