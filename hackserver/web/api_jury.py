"""The JSON API for judging: jurors (with their private links), the assignment, the ranking with its
uncertainty, and the selection of the best teams."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hackserver.foundation import links
from hackserver.foundation.errors import NotFound
from hackserver.foundation.models import AuditEntry, Juror, JuryAssignment
from hackserver.foundation.transaction import Transaction
from hackserver.judging import jurors, scoring
from hackserver.runtime import Runtime
from hackserver.web.api import organiser
from hackserver.web.api_teams import BadField, organiser_change, whole_number


async def juror_json(tx: Transaction, juror: Juror, load: int) -> dict[str, Any]:
    return {
        "id": juror.id,
        "name": juror.name,
        "organisation": juror.organisation,
        "categories": juror.categories,
        "conflicts": juror.conflicts,
        "assigned": load,
        "link": tx.links.address("jury", await links.grant(tx, "jury", juror.id)),
    }


async def loads(tx: Transaction) -> dict[int, int]:
    rows = await tx.session.execute(
        select(JuryAssignment.juror_id, func.count())
        .where(JuryAssignment.flagged.is_(None))
        .group_by(JuryAssignment.juror_id)
    )
    return {juror: int(n) for juror, n in rows.all()}


async def list_jurors(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """GET /api/v1/jurors: every juror with their private link (made on first listing)."""
    counted = await loads(tx)
    people = await scoring.jurors_of(tx)
    return {"jurors": [await juror_json(tx, j, counted.get(j.id, 0)) for j in people]}


async def add_jurors(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """POST /api/v1/jurors {"jurors": [{"name", "organisation", "categories": [...], "conflicts": [...]}]}"""
    items = body.get("jurors")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise BadField(
            'expected {"jurors": [{"name": "…", "organisation": "…", "categories": [], "conflicts": []}]}'
        )
    rows, problems = [], []
    for n, item in enumerate(items):
        row, found = jurors.parse_one(item)
        problems += [f"jurors[{n}]: {problem}" for problem in found]
        if row is not None:
            rows.append(row)
    if problems:
        raise BadField("; ".join(problems))
    made = await jurors.upsert(tx, rows, actor=actor)
    counted = await loads(tx)
    return {"jurors": [await juror_json(tx, j, counted.get(j.id, 0)) for j in made]}


async def juror_link(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """POST /api/v1/jurors/{id}/link: the juror's private link, to send them (made on first ask); the
    audit log says who asked for it, never the link."""
    juror = await tx.session.get(Juror, body["juror_id"])
    if juror is None or juror.event_id != tx.event_id:
        raise NotFound("juror.gone")
    tx.session.add(
        AuditEntry(
            event_id=tx.event_id, actor=actor, action="link.shown", at=tx.now,
            details={"scope": "jury", "subject": juror.id},
        )
    )  # fmt: skip
    return {"juror": juror.id, "link": tx.links.address("jury", await links.grant(tx, "jury", juror.id))}


async def run_assignment(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """POST /api/v1/jury/assignment {"seed": 7}: each final submission without jurors gets k of them."""
    seed = whole_number(body, "seed") if "seed" in body else 0
    run = await scoring.assign(tx, actor=actor, seed=seed)
    return {
        "submissions": run.submissions,
        "assignments": run.assignments,
        "outside_category": run.outside_category,
        "short_of_jurors": {str(k): v for k, v in run.short.items()},
    }


def standing_json(standing: scoring.Standing) -> dict[str, Any]:
    r = standing.ranked
    return {
        "rank": r.rank,
        "submission": standing.submission.id,
        "team": {"id": standing.team.id, "name": standing.team.name},
        "category": standing.category,
        "score": r.score,
        "scores": r.count,
        "spread": r.spread,
        "standard_error": r.error,
        "raw_mean": r.raw,
        "flags": standing.flags,
        "selection": standing.submission.selection,
    }


async def get_ranking(request: Request) -> JSONResponse:
    """GET /api/v1/ranking[?category=health]: best first, with how many scored each and their spread."""
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    category = request.query_params.get("category")
    async with runtime.reading() as tx:
        table = await scoring.standings(tx)
    rows = [standing_json(s) for s in table if category is None or s.category == category]
    return JSONResponse({"ranking": rows, "normalisation": "z-score per juror; score = mean z"})


async def select_top(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """POST /api/v1/selection {"top": 147, "per_category": false}: marks and tells the teams."""
    top = whole_number(body, "top")
    per_category = body.get("per_category", False)
    if not isinstance(per_category, bool):
        raise BadField("field 'per_category' must be true or false")
    chosen, others = await scoring.select_top(tx, top, per_category=per_category, actor=actor)
    return {"selected": chosen, "not_selected": others}


def routes() -> list[Route]:
    return [
        Route("/api/v1/jurors", organiser_change(list_jurors), methods=["GET"]),  # makes links on first use
        Route("/api/v1/jurors", organiser_change(add_jurors), methods=["POST"]),
        Route("/api/v1/jurors/{juror_id:id}/link", organiser_change(juror_link), methods=["POST"]),
        Route("/api/v1/jury/assignment", organiser_change(run_assignment), methods=["POST"]),
        Route("/api/v1/ranking", get_ranking),
        Route("/api/v1/selection", organiser_change(select_top), methods=["POST"]),
    ]
