"""The JSON API for submissions: reading them, and an organiser's extension for one team."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hackserver.foundation.event import parse_duration, to_utc
from hackserver.foundation.models import Submission, SubmissionVersion, Team
from hackserver.foundation.transaction import Transaction
from hackserver.runtime import Runtime
from hackserver.submissions import entries
from hackserver.web.api import organiser
from hackserver.web.api_teams import BadField, organiser_change


def _instant(text: Any) -> datetime:
    if not isinstance(text, str):
        raise BadField("field 'until' must be an ISO 8601 instant like 2027-03-21T18:15:00+01:00")
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadField(
            f"field 'until': {text[:40]!r} is not an instant like 2027-03-21T18:15:00+01:00"
        ) from None
    if value.tzinfo is None:
        raise BadField("field 'until' needs its UTC offset, like 2027-03-21T18:15:00+01:00 or ...Z")
    try:
        return to_utc(value, ZoneInfo("UTC"))
    except ValueError as problem:
        raise BadField(f"field 'until': {problem}") from None


async def extension(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """POST /api/v1/teams/{id}/extension {"until": "2027-03-21T18:15:00+01:00"} or {"by": "+15m"}
    (after the event's deadline with its grace)."""
    if ("until" in body) == ("by" in body):
        raise BadField('send either {"until": "<ISO instant>"} or {"by": "+15m"}')
    if "until" in body:
        until = _instant(body["until"])
    else:
        by = str(body["by"]).strip()
        try:
            delta = parse_duration(by.removeprefix("+"))
        except ValueError as problem:
            raise BadField(f"field 'by': {problem}") from None
        until = entries.regular_deadline(tx.event, await tx.phases()) + delta
    submission = await entries.extend(tx, body["team_id"], until, actor=actor)
    return {"team": body["team_id"], "until": until.isoformat(), "status": submission.status}


async def list_submissions(request: Request) -> JSONResponse:
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    async with runtime.reading() as tx:
        phases = await tx.phases()
        rows = (
            await tx.session.execute(
                select(Submission, Team, SubmissionVersion.fields)
                .join(Team, Team.id == Submission.team_id)
                .outerjoin(
                    SubmissionVersion,
                    (SubmissionVersion.submission_id == Submission.id)
                    & (SubmissionVersion.number == Submission.version),
                )
                .where(Team.event_id == runtime.event_id)
                .order_by(Submission.id)
            )
        ).all()
        found = [
            {
                "id": s.id,
                "team": {"id": t.id, "name": t.name},
                "status": s.status,
                "version": s.version,
                "deadline": entries.deadline_of(runtime.event, phases, s).isoformat(),
                "extended_until": s.extended_until.isoformat() if s.extended_until else None,
                "submitted_at": s.submitted_at.isoformat() if s.submitted_at else None,
                "frozen_at": s.frozen_at.isoformat() if s.frozen_at else None,
                "selection": s.selection,
                "fields": fields or {},
            }
            for s, t, fields in rows
        ]
    return JSONResponse({"submissions": found})


def routes() -> list[Route]:
    return [
        Route("/api/v1/submissions", list_submissions),
        Route("/api/v1/teams/{team_id:id}/extension", organiser_change(extension), methods=["POST"]),
    ]
