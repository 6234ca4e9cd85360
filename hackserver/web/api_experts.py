"""The JSON API for the expert pool: list and add experts, and an expert's private link, which the
organisers send them (an expert has no account, the link is all they need)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hackserver.foundation.errors import CatalogueError, NotFound
from hackserver.foundation.import_problems import Problem, Report
from hackserver.foundation.models import AuditEntry, Booking, Expert, Slot
from hackserver.foundation.transaction import Transaction
from hackserver.officehours import experts
from hackserver.runtime import Runtime
from hackserver.web.api import error, organiser
from hackserver.web.api_teams import BadField, organiser_change


def expert_json(expert: Expert, slots: int, booked: int) -> dict[str, Any]:
    return {
        "id": expert.id, "name": expert.name, "topics": expert.topics, "languages": expert.languages,
        "bio": expert.bio, "timezone": expert.timezone, "contact": expert.contact,
        "join_url": expert.join_url, "slots": slots, "booked": booked,
    }  # fmt: skip


async def list_experts(request: Request) -> JSONResponse:
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    async with runtime.reading() as tx:
        found = await with_counts(tx, Expert.event_id == tx.event_id)
    return JSONResponse({"experts": found})


async def with_counts(tx: Transaction, *where: ColumnElement[bool]) -> list[dict[str, Any]]:
    """Experts as the API shows them, each with their published slots and live bookings."""
    rows = await tx.session.execute(
        select(Expert, func.count(Slot.id.distinct()), func.count(Booking.id.distinct()))
        .outerjoin(Slot, and_(Slot.expert_id == Expert.id, Slot.withdrawn_at.is_(None)))
        .outerjoin(Booking, and_(Booking.slot_id == Slot.id, Booking.cancelled_at.is_(None)))
        .where(*where)
        .group_by(Expert.id)
        .order_by(Expert.name)
    )
    return [expert_json(expert, slots, booked) for expert, slots, booked in rows]


async def add_expert(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """POST /api/v1/experts {"name": …, "topics": ["data"], …}: the same rules as the CSV import."""
    problems: list[Problem] = []
    values = {key: body[key] for key in experts.COLUMNS if key in body}
    if unknown := sorted(set(body) - set(experts.COLUMNS)):
        raise BadField(f"unknown fields: {', '.join(unknown)} (the fields are {', '.join(experts.COLUMNS)})")
    row = experts.validate(values, 1, set(tx.event.languages), Report(problems, 1, "body"))
    if problems:
        raise BadField("; ".join(map(str, problems)))
    taken = await tx.session.scalars(select(Expert.name).where(Expert.event_id == tx.event_id))
    if any(experts.name_key(name) == experts.name_key(row.name) for name in taken):
        raise BadField(f"name: {row.name!r} is already an expert")
    expert = await experts.add(tx, experts.columns(row))
    tx.record("expert.added", expert=expert.id, by=actor)
    return expert_json(expert, slots=0, booked=0) | {"link": await experts.link_of(tx, expert)}


async def expert_link(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """POST /api/v1/experts/{id}/link: the expert's private link, to send them (made on first ask);
    the audit log says who asked for it, never the link."""
    expert = await tx.session.get(Expert, body["expert_id"])
    if expert is None or expert.event_id != tx.event_id:
        raise NotFound("expert.gone")
    tx.session.add(
        AuditEntry(
            event_id=tx.event_id, actor=actor, action="link.shown", at=tx.now,
            details={"scope": "expert", "subject": expert.id},
        )
    )  # fmt: skip
    return {"expert": expert.id, "link": await experts.link_of(tx, expert)}


async def import_experts(request: Request) -> JSONResponse:
    """POST /api/v1/experts/import with the CSV as the body: the same checks as `hackserver experts
    import`; every bad row is named and nothing is imported while one is bad."""
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    try:
        imported = await experts.import_experts(request.state.runtime, await request.body(), actor=actor)
    except CatalogueError as problem:
        return error(str(problem), 422)
    if not imported.done:
        bad = [
            {"row": p.row, "field": p.field, "reason": p.reason, "text": str(p)} for p in imported.problems
        ]
        return JSONResponse({"error": "bad rows, nothing imported", "problems": bad}, status_code=422)
    return JSONResponse(
        {"added": imported.added, "updated": imported.updated, "unchanged": imported.unchanged}
    )


async def one_expert(request: Request) -> JSONResponse:
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    expert_id = request.path_params["expert_id"]
    async with runtime.reading() as tx:
        found = await with_counts(tx, Expert.event_id == tx.event_id, Expert.id == expert_id)
    if not found:
        return error(f"no expert with id {expert_id}", 404)
    return JSONResponse(found[0])


def routes() -> list[Route]:
    return [
        Route("/api/v1/experts", list_experts),
        Route("/api/v1/experts", organiser_change(add_expert), methods=["POST"]),
        Route("/api/v1/experts/import", import_experts, methods=["POST"]),
        Route("/api/v1/experts/{expert_id:id}", one_expert),
        Route("/api/v1/experts/{expert_id:id}/link", organiser_change(expert_link), methods=["POST"]),
    ]
