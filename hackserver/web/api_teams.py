"""The JSON API for teams, participants and matching: reading for tools and dashboards, and the
organisers' moves (move a person, merge, dissolve, run the matching), each audit-logged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hackserver.foundation import json_input
from hackserver.foundation.errors import DomainError
from hackserver.foundation.models import Challenge, MatchRun, Membership, Participant, Team
from hackserver.foundation.numbers import whole
from hackserver.foundation.transaction import Transaction
from hackserver.runtime import Runtime
from hackserver.teams import matching, teams
from hackserver.teams.participants import only_organising
from hackserver.web.api import MAX_ID, STATUS, error, organiser

MAX_PAGE = 500


async def list_teams(request: Request) -> JSONResponse:
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    async with runtime.reading() as tx:
        rows = list(
            await tx.session.scalars(select(Team).where(Team.event_id == runtime.event_id).order_by(Team.id))
        )
        found = await teams_json(tx, rows)
    return JSONResponse({"teams": found})


async def one_team(request: Request) -> JSONResponse:
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    async with runtime.reading() as tx:
        team = await tx.session.get(Team, request.path_params["team_id"])
        if team is None or team.event_id != runtime.event_id:
            return error(f"no team with id {request.path_params['team_id']}", 404)
        return JSONResponse(await team_json(tx, team))


async def team_json(tx: Transaction, team: Team) -> dict[str, Any]:
    return (await teams_json(tx, [team]))[0]


async def teams_json(tx: Transaction, rows: list[Team]) -> list[dict[str, Any]]:
    """Teams as the API shows them: three queries for all of them, not two a team (an event has
    1,500)."""
    people = await teams.members_of(tx.session, [team.id for team in rows])
    chosen = {team.challenge_id for team in rows if team.challenge_id is not None}
    found: Iterable[Challenge] = (
        await tx.session.scalars(select(Challenge).where(Challenge.id.in_(chosen))) if chosen else []
    )
    challenges = {challenge.id: challenge for challenge in found}
    return [
        _team_json(team, people.get(team.id, []), challenges.get(team.challenge_id or 0)) for team in rows
    ]


def _team_json(team: Team, people: list[teams.Member], challenge: Challenge | None) -> dict[str, Any]:
    return {
        "id": team.id,
        "name": team.name,
        "join_code": team.join_code,
        "size": team.member_count,
        "channel": teams.channel_name(team),
        "matched_by_run": team.matched_by,
        "explanation": team.explanation,
        "challenge": challenge
        and {
            "id": challenge.external_id,
            "title": challenge.title,
            "how": team.challenge_how,
            "choice": None if team.challenge_rank is None else team.challenge_rank + 1,
        },
        "members": [
            {"id": p.participant_id, "name": p.name, "skills": p.skills, "languages": p.languages}
            for p in people
        ],
    }


async def list_participants(request: Request) -> JSONResponse:
    """?pool=true for the matching pool only; ?offset=&limit= (at most 500) to page."""
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    offset = whole(request.query_params.get("offset", "0"))
    limit = whole(request.query_params.get("limit", "100"))
    if offset is None or limit is None or not 0 <= offset <= MAX_ID or not 1 <= limit <= MAX_PAGE:
        return error(
            f"offset must be a whole number from 0 to {MAX_ID} and limit one from 1 to {MAX_PAGE}", 422
        )
    query = (
        select(Participant, Membership.team_id)
        .outerjoin(Membership)
        .where(Participant.event_id == runtime.event_id, ~only_organising(runtime.event.organisers))
        .order_by(Participant.id)
        .offset(offset)
        .limit(limit)
    )
    if request.query_params.get("pool") == "true":
        query = query.where(Participant.in_match_pool)
    async with runtime.reading() as tx:
        rows = (await tx.session.execute(query)).all()
    return JSONResponse(
        {
            "participants": [
                {
                    "id": p.id,
                    "name": p.display_name,
                    "skills": p.skills,
                    "languages": p.languages,
                    "timezone": p.timezone,
                    "interests": p.interests,
                    "in_pool": p.in_match_pool,
                    "team": team_id,
                }
                for p, team_id in rows
            ]
        }
    )


Change = Callable[[Transaction, dict[str, Any], str], Awaitable[dict[str, Any]]]


def organiser_change(change: Change) -> Callable[[Request], Awaitable[JSONResponse]]:
    """An endpoint that reads a JSON object, runs one change in a transaction, and answers its result
    or the refusal, with its status."""

    async def endpoint(request: Request) -> JSONResponse:
        runtime: Runtime = request.state.runtime
        if isinstance(actor := await organiser(request), JSONResponse):
            return actor
        try:
            body = json_input.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
        except ValueError as problem:
            return error(f"the body is not a JSON object: {problem}", 422)
        body |= request.path_params
        try:
            async with runtime.transaction() as tx:
                return JSONResponse(await change(tx, body, actor))
        except DomainError as refused:
            return error(str(refused), STATUS.get(type(refused), 409))
        except BadField as problem:
            return error(str(problem), 422)

    return endpoint


class BadField(Exception):
    pass


def whole_number(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise BadField(f"field {key!r} must be a whole number from 0 to {MAX_ID} (an id)")
    return value


async def move(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """POST /api/v1/teams/{team_id}/members {"participant": id}: into this team, from wherever."""
    team = await teams.move(tx, whole_number(body, "participant"), body["team_id"], actor=actor)
    return await team_json(tx, team)


async def merge(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """POST /api/v1/teams/{team_id}/merge {"into": id}: this team's members join the other."""
    team = await teams.merge(tx, body["team_id"], whole_number(body, "into"), actor=actor)
    return await team_json(tx, team)


async def dissolve(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    former = await teams.dissolve(tx, body["team_id"], actor=actor)
    return {"dissolved": body["team_id"], "back_in_pool": former}


async def run_matching(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """POST /api/v1/matching {"seed": 7}: matches the pool now (the seed is optional)."""
    seed = whole_number(body, "seed") if "seed" in body else None
    return run_json(await matching.run(tx, actor=actor, seed=seed))


async def last_matching(request: Request) -> JSONResponse:
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    async with runtime.reading() as tx:
        run = await tx.session.scalar(
            select(MatchRun)
            .where(MatchRun.event_id == runtime.event_id)
            .order_by(MatchRun.id.desc())
            .limit(1)
        )
    if run is None:
        return error("the matching has not run yet", 404)
    return JSONResponse(run_json(run))


def run_json(run: MatchRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "at": run.at.isoformat(),
        "by": run.actor,
        "seed": run.seed,
        "pool": run.pool,
        "teams_formed": run.teams_formed,
        "placed_in_open_teams": run.placed_in_open_teams,
        "alone": run.alone,
        "quality": run.quality,
    }


def routes() -> list[Route]:
    return [
        Route("/api/v1/teams", list_teams),
        Route("/api/v1/teams/{team_id:id}", one_team),
        Route("/api/v1/teams/{team_id:id}", organiser_change(dissolve), methods=["DELETE"]),
        Route("/api/v1/teams/{team_id:id}/members", organiser_change(move), methods=["POST"]),
        Route("/api/v1/teams/{team_id:id}/merge", organiser_change(merge), methods=["POST"]),
        Route("/api/v1/participants", list_participants),
        Route("/api/v1/matching", last_matching),
        Route("/api/v1/matching", organiser_change(run_matching), methods=["POST"]),
    ]
