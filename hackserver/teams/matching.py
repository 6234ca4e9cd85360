"""The matching use case: the pool and the open teams are read, matched (hackserver.teams.matcher, in a
thread: it is CPU work) and written back as teams, all in the caller's transaction. The clock runs it
when team formation closes; organisers run it by bot or API."""

from __future__ import annotations

import zlib
from collections import defaultdict
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from starlette.concurrency import run_in_threadpool

from hackserver.foundation.errors import Conflict
from hackserver.foundation.i18n import Count, say
from hackserver.foundation.models import AuditEntry, Channel, MatchRun, Membership, Participant, Team
from hackserver.teams import matcher, picks, team_fit, teams

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction

ADJECTIVES = (
    "Amber", "Brave", "Bright", "Calm", "Clever", "Bold", "Golden", "Green", "Swift", "Keen", "Lucky",
    "Mighty", "Nimble", "Quiet", "Rapid", "Silver", "Steady", "Sunny", "Vivid", "Wise", "Young", "Blue",
)  # fmt: skip
ANIMALS = (
    "Badger", "Beaver", "Crane", "Dolphin", "Falcon", "Fox", "Hedgehog", "Heron", "Lynx", "Otter", "Owl",
    "Panda", "Puffin", "Raven", "Robin", "Salmon", "Seal", "Sparrow", "Squirrel", "Stork", "Wolf", "Yak",
)  # fmt: skip


MAX_SEED = 2**31 - 1  # a database integer


def default_seed(slug: str) -> int:
    """The same event matches the same way unless an organiser asks for another seed."""
    return zlib.crc32(slug.encode()) % MAX_SEED


@lru_cache(maxsize=512)
def utc_offset(zone: str, at: datetime) -> float:
    offset = at.astimezone(ZoneInfo(zone)).utcoffset()
    return offset.total_seconds() / 3600 if offset is not None else 0.0


# What matching needs of a person: read as plain rows, not as 20,000 tracked objects.
PERSON = (
    Participant.id,
    Participant.display_name,
    Participant.languages,
    Participant.language,
    Participant.skills,
    Participant.interests,
    Participant.timezone,
)
CHUNK = 5000  # ids per IN (...): PostgreSQL's drivers take at most 32,767 parameters


def person(row: Any, default_language: str, default_zone: str, at: datetime) -> team_fit.Person:
    return team_fit.Person(
        id=row.id,
        languages=tuple(row.languages) or (row.language or default_language,),
        skills=frozenset(row.skills),
        interests=tuple(row.interests),
        utc_offset=utc_offset(row.timezone or default_zone, at),
    )


def summary(run: MatchRun, language: str) -> str:
    """What a run did, in one line for the organisers."""
    return say(
        language, "match.done", teams=Count("match.done.teams", run.teams_formed),
        placed=Count("match.done.placed", run.placed_in_open_teams), alone=len(run.alone),
    )  # fmt: skip


async def run(tx: Transaction, *, actor: str, seed: int | None = None) -> MatchRun:
    event, session = tx.event, tx.session
    seed = default_seed(event.slug) if seed is None else seed
    if not 0 <= seed <= MAX_SEED:
        raise Conflict("match.bad_seed", max=MAX_SEED)
    at = (await tx.phases())["hacking"]  # time zones as they are during the sprint
    names_of: dict[int, str] = {}

    def to_person(row: Any) -> team_fit.Person:  # a row of PERSON
        names_of[row.id] = row.display_name
        return person(row, event.default_language, event.timezone.key, at)

    pool = [
        to_person(row)
        for row in await session.execute(
            select(*PERSON)
            .outerjoin(Membership)
            .where(Participant.event_id == tx.event_id, Participant.in_match_pool, Membership.id.is_(None))
            .order_by(Participant.id)
        )
    ]
    by_team: dict[int, list[team_fit.Person]] = defaultdict(list)
    for row in await session.execute(
        select(Team.id.label("team_id"), *PERSON)
        .join(Membership, Membership.team_id == Team.id)
        .join(Participant, Participant.id == Membership.participant_id)
        .where(Team.event_id == tx.event_id, Team.member_count < event.team_max_size)
        .order_by(Team.id, Membership.id)
    ):
        by_team[row.team_id].append(to_person(row))
    open_teams = [
        matcher.OpenTeam(team_id, tuple(people), event.team_max_size - len(people))
        for team_id, people in by_team.items()
    ]
    rules = matcher.Rules(event.team_min_size, event.team_max_size, event.team_match_size)
    result = await run_in_threadpool(matcher.match, pool, open_teams, rules, seed)

    match_run = MatchRun(
        event_id=tx.event_id, actor=actor, seed=seed, pool=len(pool), teams_formed=0,
        placed_in_open_teams=0, at=tx.now,
    )  # fmt: skip
    session.add(match_run)
    await session.flush()
    alone = [(a.person.id, a.reason, a.params) for a in result.alone]
    formed = await new_teams(tx, match_run, [g for g in result.groups if g.team_id is None])
    match_run.teams_formed = len(formed)
    for group in result.groups:
        if group.team_id is None:
            continue
        grown = await session.scalar(
            update(Team)
            .where(Team.id == group.team_id, Team.member_count + len(group.joiners) <= event.team_max_size)
            .values(member_count=Team.member_count + len(group.joiners))
            .returning(Team.member_count)
            .execution_options(synchronize_session=False)
        )
        if grown is None:  # people joined it by hand meanwhile: these stay in the pool
            alone += [(p.id, "no_room", {"languages": [group.language]}) for p in group.joiners]
            continue
        formed.append((await session.get_one(Team, group.team_id), group))
        match_run.placed_in_open_teams += len(group.joiners)
    memberships = [
        {"team_id": team.id, "participant_id": p.id, "joined_at": tx.now}
        for team, g in formed
        for p in g.joiners
    ]
    if memberships:
        await session.execute(insert(Membership), memberships)
    placed = [m["participant_id"] for m in memberships]
    for start in range(0, len(placed), CHUNK):
        await session.execute(
            update(Participant)
            .where(Participant.id.in_(placed[start : start + CHUNK]))
            .values(in_match_pool=False)
            .execution_options(synchronize_session=False)
        )
    await picks.inherit(tx, [team.id for team, _ in formed])  # before the assignment that follows
    for team, group in formed:
        await welcome(tx, team, group, names_of, new=team.matched_by == match_run.id)

    match_run.alone = [
        {"participant": pid, "name": names_of[pid], "reason": reason, "params": params}
        for pid, reason, params in alone
    ]
    quality = team_fit.quality([g.members for _, g in formed], alone=len(alone))
    match_run.quality = {k: round(v, 3) if isinstance(v, float) else v for k, v in vars(quality).items()}
    session.add(
        AuditEntry(
            event_id=tx.event_id, actor=actor, action="matching.run", at=tx.now,
            details={"run": match_run.id, "seed": seed, "pool": len(pool), "teams": match_run.teams_formed},
        )
    )  # fmt: skip
    tx.record(
        "matching.done", run=match_run.id, teams=match_run.teams_formed,
        placed=match_run.placed_in_open_teams, alone=len(alone), members=placed,
    )  # fmt: skip
    return match_run


async def new_teams(
    tx: Transaction, match_run: MatchRun, groups: list[matcher.Group]
) -> list[tuple[Team, matcher.Group]]:
    """The new teams, named and with their built-in channels, written in a few statements."""
    if not groups:
        return []
    taken = await tx.session.scalars(select(Team.name_key).where(Team.event_id == tx.event_id))
    names = Names(set(taken))
    made = [
        Team(
            event_id=tx.event_id, name=(name := names.next()), name_key=teams.name_key(name),
            join_code=teams.new_code(), member_count=len(group.joiners), matched_by=match_run.id,
            explanation=group.explanation, created_at=tx.now,
        )
        for group in groups
    ]  # fmt: skip
    columns = (
        "event_id", "name", "name_key", "join_code", "member_count", "matched_by", "explanation", "created_at"
    )  # fmt: skip
    ids = await tx.session.scalars(
        insert(Team).returning(Team.id, sort_by_parameter_order=True),
        [{column: getattr(team, column) for column in columns} for team in made],
    )
    for team, team_id in zip(made, ids.all(), strict=True):
        team.id = team_id  # a plain record of the row: the session does not track it
    await tx.session.execute(
        insert(Channel),
        [
            {"event_id": tx.event_id, "name": teams.channel_name(t), "kind": "team", "team_id": t.id}
            for t in made
        ],
    )
    return list(zip(made, groups, strict=True))


async def welcome(
    tx: Transaction,
    team: Team,
    group: matcher.Group,
    names_of: dict[int, str],
    *,
    new: bool,
) -> None:
    """Names each member with their skills, and why they are together, in every event language."""
    people = group.members if new else group.joiners
    texts: dict[str, dict[str, Any]] = {}
    for language in tx.event.languages:
        lines = "\n".join(
            say(language, "match.member_line", name=names_of[p.id], skills=", ".join(sorted(p.skills)) or "–")
            for p in people
        )
        texts[language] = {"members": lines, "why": explain(language, group.explanation)}
    key = teams.message_key(team, f"matched:{tx.now.timestamp()}")
    await teams.post_texts(tx, team, key,
        {lang: say(lang, "match.welcome" if new else "match.joined_open", name=team.name, code=team.join_code,
                   **params) for lang, params in texts.items()},
        invite=[p.id for p in people],
    )  # fmt: skip


def explain(language: str, explanation: dict[str, Any]) -> str:
    return "; ".join(
        say(language, f"match.why.{why['code']}", **{k: v for k, v in why.items() if k != "code"})
        for why in explanation.get("why", [])
    )


class Names:
    """Names for matched teams, "Swift Otter", then "Swift Otter 2", never one already taken."""

    def __init__(self, taken: set[str]) -> None:
        self.taken, self.index = taken, 0

    def next(self) -> str:
        while True:
            n = self.index
            self.index += 1
            base = f"{ADJECTIVES[n % len(ADJECTIVES)]} {ANIMALS[(n // len(ADJECTIVES)) % len(ANIMALS)]}"
            lap = n // (len(ADJECTIVES) * len(ANIMALS))
            name = f"{base} {lap + 1}" if lap else base
            if teams.name_key(name) not in self.taken:
                self.taken.add(teams.name_key(name))
                return name
