"""`/dashboard/teams`: participants and teams, searched, filtered and paged by the database (an event
has 30,000 people), a team's detail, and the organisers' moves (move a person, merge, dissolve)
through the same use cases as the API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, cast, exists, func, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hackserver.foundation.errors import DomainError
from hackserver.foundation.models import (
    Booking,
    Challenge,
    Expert,
    Membership,
    Participant,
    PlatformIdentity,
    Slot,
    Submission,
    Team,
)
from hackserver.foundation.numbers import whole
from hackserver.runtime import Runtime
from hackserver.teams import skills, teams
from hackserver.teams.participants import only_organising
from hackserver.web.api import MAX_ID
from hackserver.web.console import (
    ACTOR,
    NOTHING_SAID,
    PAGE_SIZE,
    Said,
    posted,
    refusal_shown,
    refused,
    render,
    typed_id,
    words,
)

MAX_SEARCH = 120


@dataclass(frozen=True)
class Filters:
    view: str  # people | teams
    q: str
    solo: bool
    pool: bool
    small: bool
    platform: str
    language: str
    skill: str

    @classmethod
    def of(cls, request: Request) -> Filters:
        given = request.query_params
        return cls(
            view="teams" if given.get("view") == "teams" else "people",
            q=given.get("q", "").strip()[:MAX_SEARCH],
            solo=given.get("solo") == "on",
            pool=given.get("pool") == "on",
            small=given.get("small") == "on",
            platform=given.get("platform", "").strip()[:16],
            language=given.get("language", "").strip().lower()[:8],
            skill=given.get("skill", "").strip()[:MAX_SEARCH],
        )

    def query(self) -> dict[str, str]:
        """The filters as the address carries them, for the paging links."""
        flags = {"solo": self.solo, "pool": self.pool, "small": self.small}
        texts = {"view": self.view, "q": self.q, "platform": self.platform}
        texts |= {"language": self.language, "skill": self.skill}
        return {k: v for k, v in texts.items() if v} | {k: "on" for k, on in flags.items() if on}


def listed(column: Any, value: str) -> ColumnElement[bool]:
    """A JSON list column holds this text: its JSON spelling, quotes included, in the stored text."""
    return cast(column, String).contains(json.dumps(value), autoescape=True)


def people_query(runtime: Runtime, f: Filters) -> tuple[Select[Participant, int, str], Select[int]]:
    """The page's rows (each person with their team) and the count of all that match. The filters
    read participants alone, so the count joins nothing: a person is in one team at most."""
    joined = aliased(Membership)
    matching: list[ColumnElement[bool]] = [
        Participant.event_id == runtime.event_id,
        ~only_organising(runtime.event.organisers),
    ]
    if f.q:
        matching.append(func.lower(Participant.display_name).contains(f.q.lower(), autoescape=True))
    if f.solo:
        matching.append(~exists().where(joined.participant_id == Participant.id))
    if f.pool:
        matching.append(Participant.in_match_pool.is_(True))
    if f.platform:
        on = (PlatformIdentity.participant_id == Participant.id) & (PlatformIdentity.platform == f.platform)
        matching.append(exists().where(on))
    if f.language:
        matching.append(listed(Participant.languages, f.language))
    if f.skill:
        matching.append(listed(Participant.skills, skills.normalise(f.skill)))
    rows = (
        select(Participant, Team.id, Team.name)
        .outerjoin(Membership, Membership.participant_id == Participant.id)
        .outerjoin(Team, Team.id == Membership.team_id)
        .where(*matching)
    )
    return rows, select(func.count()).select_from(Participant).where(*matching)


def teams_query(runtime: Runtime, f: Filters) -> tuple[Select[Team, str, str], Select[int]]:
    """The page's rows (each team with its challenge) and the count of all that match."""
    matching: list[ColumnElement[bool]] = [Team.event_id == runtime.event_id]
    if f.q:
        matching.append(Team.name_key.contains(teams.name_key(f.q), autoescape=True))
    if f.small:
        matching.append(Team.member_count < runtime.event.team_min_size)
    rows = (
        select(Team, Challenge.external_id, Challenge.title)
        .outerjoin(Challenge, Challenge.id == Team.challenge_id)
        .where(*matching)
    )
    return rows, select(func.count()).select_from(Team).where(*matching)


async def page(request: Request) -> Response:
    if (refusal := await refused(request)) is not None:
        return refusal
    runtime: Runtime = request.state.runtime
    f = Filters.of(request)
    after = min(whole(request.query_params.get("after", "")) or 0, MAX_ID)
    before = whole(request.query_params.get("before", ""))
    query: Select[*tuple[Any, ...]]
    query, counted = people_query(runtime, f) if f.view == "people" else teams_query(runtime, f)
    key = Participant.id if f.view == "people" else Team.id
    # Keyset paging on the primary key: a page deep in 30,000 rows costs what the first does.
    if before is not None:
        paged = query.where(key < min(before, MAX_ID)).order_by(key.desc())
    else:
        paged = query.where(key > after).order_by(key)
    async with runtime.reading() as tx:
        rows = list((await tx.session.execute(paged.limit(PAGE_SIZE + 1))).all())
        total = await tx.session.scalar(counted)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if before is not None:
        rows.reverse()
    ids = [row[0].id for row in rows]
    return render(
        request,
        "teams",
        "console_teams.html",
        {
            "f": f,
            "rows": rows,
            "total": total,
            "platforms": sorted(runtime.platforms),
            "languages": runtime.event.languages,
            "min_size": runtime.event.team_min_size,
            "next": ids[-1] if ids and (more or before is not None) else None,
            "previous": ids[0] if ids and (after or (before is not None and more)) else None,
            "filters": f.query(),
        },
    )


async def detail(request: Request, said: Said = NOTHING_SAID, status: int = 200) -> Response:
    if (refusal := await refused(request)) is not None:
        return refusal
    runtime: Runtime = request.state.runtime
    async with runtime.reading() as tx:
        team = await tx.session.get(Team, request.path_params["team_id"])
        if team is None or team.event_id != runtime.event_id:
            return render(request, "teams", "console_missing.html", {}, status=404)
        members = await teams.members(tx.session, team.id)
        challenge = await tx.session.get(Challenge, team.challenge_id) if team.challenge_id else None
        bookings = (
            await tx.session.execute(
                select(Booking, Slot, Expert.name)
                .join(Slot, Slot.id == Booking.slot_id)
                .join(Expert, Expert.id == Slot.expert_id)
                .where(Booking.team_id == team.id, Booking.cancelled_at.is_(None))
                .order_by(Slot.starts_at)
            )
        ).all()
        submission = await tx.session.scalar(select(Submission).where(Submission.team_id == team.id))
    return render(
        request,
        "teams",
        "console_team.html",
        {
            "team": team,
            "members": members,
            "challenge": challenge,
            "bookings": bookings,
            "submission": submission,
            "channel": teams.channel_name(team),
            "zone": runtime.event.timezone,
        },
        said,
        status,
        own=f"/dashboard/teams/{team.id}",
    )


async def act(request: Request) -> Response:
    if isinstance(form := await posted(request), Response):
        return form
    runtime: Runtime = request.state.runtime
    t = words(request)[1]
    team_id: int = request.path_params["team_id"]
    action = request.path_params["action"]
    if action not in ("move", "merge", "dissolve"):
        return render(request, "teams", "console_missing.html", {}, status=404)
    field = {"move": "participant", "merge": "into"}.get(action)
    other = typed_id(form, field) if field else None
    if field and other is None:
        return await detail(request, Said([t["bad_" + field]]), status=422)
    if action == "dissolve" and form.get("confirm") != "on":
        return await detail(request, Said([t["confirm_dissolve"]]), status=422)
    try:
        async with runtime.transaction() as tx:
            if action == "move" and other is not None:
                await teams.move(tx, other, team_id, actor=ACTOR)
                where = f"/dashboard/teams/{team_id}?done=moved"
            elif action == "merge" and other is not None:
                await teams.merge(tx, team_id, other, actor=ACTOR)
                where = f"/dashboard/teams/{other}?done=merged"
            else:
                await teams.dissolve(tx, team_id, actor=ACTOR)
                where = "/dashboard/teams?view=teams&done=dissolved"
    except DomainError as refusal:
        return await refusal_shown(request, detail, refusal)
    return RedirectResponse(where, status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard/teams", page),
        Route("/dashboard/teams/{team_id:id}", detail),
        Route("/dashboard/teams/{team_id:id}/{action:str}", act, methods=["POST"]),
    ]
