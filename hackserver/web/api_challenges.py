"""The JSON API for challenges: the catalogue with how each challenge stands, which teams took one
(what its owner wants to see), running the assignment, and an organiser setting one team's challenge."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hackserver.challenges import assignment, catalogue, preferences
from hackserver.foundation.errors import CatalogueError
from hackserver.foundation.models import Challenge, Team
from hackserver.foundation.transaction import Transaction
from hackserver.runtime import Runtime
from hackserver.web.api import error, organiser
from hackserver.web.api_teams import BadField, organiser_change, team_json, teams_json, whole_number


def challenge_json(challenge: Challenge, standing: preferences.Standing) -> dict[str, Any]:
    return {
        "id": challenge.external_id,
        "title": challenge.title,
        "category": challenge.category,
        "tags": challenge.tags,
        "owner": challenge.owner_organisation,
        "languages": challenge.languages,
        "max_teams": challenge.max_teams,
        "teams": standing.assigned,
        "free": standing.free(challenge),
        "first_choice_of": standing.first_choice,
    }


async def list_challenges(request: Request) -> JSONResponse:
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    async with runtime.reading() as tx:
        standings = await preferences.standings(tx.session, runtime.event_id)
        rows = await tx.session.scalars(
            select(Challenge).where(Challenge.event_id == runtime.event_id).order_by(Challenge.external_id)
        )
        found = [challenge_json(c, standings.get(c.id, preferences.Standing(0, 0))) for c in rows]
    return JSONResponse({"challenges": found})


async def one_challenge(request: Request) -> JSONResponse:
    """A challenge with the teams working on it."""
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    external_id = request.path_params["challenge_id"]
    async with runtime.reading() as tx:
        challenge = await tx.session.scalar(
            select(Challenge).where(
                Challenge.event_id == runtime.event_id, Challenge.external_id == external_id
            )
        )
        if challenge is None:
            return error(f"no challenge with id {external_id[:40]!r}", 404)
        standing = (await preferences.standings(tx.session, runtime.event_id)).get(
            challenge.id, preferences.Standing(0, 0)
        )
        taken = list(
            await tx.session.scalars(select(Team).where(Team.challenge_id == challenge.id).order_by(Team.id))
        )
        return JSONResponse(
            challenge_json(challenge, standing)
            | {"description": challenge.description, "contact": challenge.contact}
            | {"assigned_teams": await teams_json(tx, taken)}
        )


async def import_challenges(request: Request) -> JSONResponse:
    """POST /api/v1/challenges/import?format=csv|json with the file as the body: the same checks as
    `hackserver challenges import`; every bad row is named and nothing is imported while one is bad."""
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    form = request.query_params.get("format", "csv")
    try:
        imported = await catalogue.import_catalogue(
            request.state.runtime, await request.body(), f"catalogue.{form[:8]}", actor=actor
        )
    except CatalogueError as problem:
        return error(str(problem), 422)
    if imported.result is None:
        bad = [
            {"row": p.row, "field": p.field, "reason": p.reason, "text": str(p)} for p in imported.problems
        ]
        return JSONResponse({"error": "bad rows, nothing imported", "problems": bad}, status_code=422)
    return JSONResponse(asdict(imported.result))


async def run_assignment(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """POST /api/v1/assignment {"seed": 7}: gives every team a challenge now (the seed is optional)."""
    seed = whole_number(body, "seed") if "seed" in body else None
    run = await assignment.run(tx, actor=actor, seed=seed)
    return {
        "seed": run.seed,
        "teams": run.teams,
        "changed": run.changed,
        "by_rank": run.by_rank,
        "unplaced": run.unplaced,
    }


async def set_challenge(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """PUT /api/v1/teams/{team_id}/challenge {"challenge": "C12"}: later assignment runs keep it."""
    wanted = body.get("challenge")
    if not isinstance(wanted, str) or not wanted.strip():
        raise BadField("field 'challenge' must be a challenge id like \"C12\"")
    team = await assignment.override(tx, body["team_id"], wanted.strip(), actor=actor)
    return await team_json(tx, team)


def routes() -> list[Route]:
    return [
        Route("/api/v1/challenges", list_challenges),
        Route("/api/v1/challenges/import", import_challenges, methods=["POST"]),
        Route("/api/v1/challenges/{challenge_id}", one_challenge),
        Route("/api/v1/assignment", organiser_change(run_assignment), methods=["POST"]),
        Route("/api/v1/teams/{team_id:id}/challenge", organiser_change(set_challenge), methods=["PUT"]),
    ]
