"""`GET /openapi.json`: the JSON API described as an OpenAPI 3.1 document.

Each operation is one row of OPERATIONS; a test checks that every `/api/v1` route the app serves is
described here and that nothing described is missing from the app, so the two cannot drift apart.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hackserver.foundation.text_limits import CATALOGUES, LIMITS
from hackserver.judging.export import FORMATS, TABLES
from hackserver.web.api import MAX_ID

Schema = dict[str, Any]

ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
DURATION = {"type": "string", "pattern": r"^[+-]?\d+[smhd]", "examples": ["+30m", "-1h"]}
SEED = {"type": "integer", "minimum": 0, "maximum": MAX_ID}


def text(limit: int) -> Schema:
    """A string no longer than the limit the server enforces (hackserver/text_limits.py)."""
    return {"type": "string", "maxLength": limit}


def texts(limit: int) -> Schema:
    return {"type": "array", "items": text(limit)}


EXPERT_FIELDS, JUROR_FIELDS = CATALOGUES["expert"], CATALOGUES["juror"]


def body(properties: Schema, required: tuple[str, ...] = ()) -> Schema:
    return {"type": "object", "properties": properties, "required": list(required)}


PHASE = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
TEAM = {"name": "team_id", "in": "path", "required": True, "schema": ID}
EXPERT = {"name": "expert_id", "in": "path", "required": True, "schema": ID}
JUROR = {"name": "juror_id", "in": "path", "required": True, "schema": ID}
CHALLENGE = {"name": "challenge_id", "in": "path", "required": True, "schema": {"type": "string"}}
LINK = [
    {
        "name": "scope",
        "in": "path",
        "required": True,
        "schema": {"enum": ["expert", "book", "submit", "jury"]},
    },
    {"name": "subject", "in": "path", "required": True, "schema": ID},
]
PAGE = [
    {"name": "pool", "in": "query", "schema": {"enum": ["true", "false"]}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
]

# (method, path, summary, parameters, request body or None)
OPERATIONS: list[tuple[str, str, str, list[Schema], Schema | None]] = [
    ("get", "/api/v1/phases", "The phases' instants, the current phase and the next", [], None),
    (
        "post", "/api/v1/phases/{name}/shift", "Move a phase that has not begun (audit-logged)", [PHASE],
        body({"by": DURATION, "later_too": {"type": "boolean"}}, ("by",)),
    ),
    ("get", "/api/v1/teams", "Every team with its members and challenge", [], None),
    ("get", "/api/v1/teams/{team_id}", "One team", [TEAM], None),
    ("delete", "/api/v1/teams/{team_id}", "Dissolve a team; its members go back to the pool", [TEAM], body({})),
    (
        "post", "/api/v1/teams/{team_id}/members", "Move a participant into this team", [TEAM],
        body({"participant": ID}, ("participant",)),
    ),
    (
        "post", "/api/v1/teams/{team_id}/merge", "Merge this team into another", [TEAM],
        body({"into": ID}, ("into",)),
    ),
    (
        "put", "/api/v1/teams/{team_id}/challenge", "Set one team's challenge; later assignments keep it",
        [TEAM], body({"challenge": text(CATALOGUES["challenge"]["id"]) | {"examples": ["C12"]}}, ("challenge",)),
    ),
    ("get", "/api/v1/participants", "Participants, a page at a time", PAGE, None),
    ("get", "/api/v1/matching", "The last matching run and who was left alone", [], None),
    ("post", "/api/v1/matching", "Match the pool now", [], body({"seed": SEED})),
    ("get", "/api/v1/challenges", "The challenges with their free places", [], None),
    (
        "post", "/api/v1/challenges/import", "Add and update challenges from a CSV or JSON file (the body)",
        [{"name": "format", "in": "query", "schema": {"enum": ["csv", "json"], "default": "csv"}}],
        {"content": {"text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": {}}}},
    ),
    ("get", "/api/v1/challenges/{challenge_id}", "One challenge with the teams on it", [CHALLENGE], None),
    ("post", "/api/v1/assignment", "Give every team a challenge now", [], body({"seed": SEED})),
    ("delete", "/api/v1/links/{scope}/{subject}", "Revoke a private link", LINK, body({})),
    ("get", "/api/v1/experts", "The experts with their free and booked slots", [], None),
    (
        "post", "/api/v1/experts", "Add an expert (the same rules as the CSV import)", [],
        body(
            {
                "name": text(EXPERT_FIELDS["name"]), "topics": texts(EXPERT_FIELDS["topics"]),
                "languages": {"type": "array", "items": {"type": "string"}}, "bio": text(EXPERT_FIELDS["bio"]),
                "timezone": text(EXPERT_FIELDS["timezone"]), "contact": text(EXPERT_FIELDS["contact"]),
                "join_url": text(EXPERT_FIELDS["join_url"]),
            },
            ("name", "topics"),
        ),
    ),
    (
        "post", "/api/v1/experts/import", "Add and update experts from a CSV file (the body)", [],
        {"content": {"text/csv": {"schema": {"type": "string"}}}},
    ),
    ("get", "/api/v1/experts/{expert_id}", "One expert", [EXPERT], None),
    ("post", "/api/v1/experts/{expert_id}/link", "The expert's private link, to send them", [EXPERT], body({})),
    ("get", "/api/v1/submissions", "Every team's submission: state, version, extension", [], None),
    (
        "post", "/api/v1/teams/{team_id}/extension", "Give one team until a later instant to submit", [TEAM],
        body({"until": {"type": "string", "format": "date-time"}, "by": DURATION}),
    ),
    ("get", "/api/v1/jurors", "The jurors with their loads and private links", [], None),
    (
        "post", "/api/v1/jurors", "Add or update jurors, known by name", [],
        body(
            {
                "jurors": {
                    "type": "array",
                    "items": body(
                        {
                            "name": text(JUROR_FIELDS["name"]), "organisation": text(JUROR_FIELDS["organisation"]),
                            "categories": {"type": "array", "items": {"type": "string"}},
                            "conflicts": {"type": "array", "items": {"type": "string"}},
                        },
                        ("name",),
                    ),
                }
            },
            ("jurors",),
        ),
    ),
    ("post", "/api/v1/jurors/{juror_id}/link", "The juror's private link, to send them", [JUROR], body({})),
    ("post", "/api/v1/jury/assignment", "Give every final submission its jurors", [], body({"seed": SEED})),
    (
        "get", "/api/v1/ranking", "The normalised ranking with how sure it is",
        [{"name": "category", "in": "query", "schema": {"type": "string"}}], None,
    ),
    (
        "post", "/api/v1/selection", "Mark the top N selected and tell every team", [],
        body({"top": {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "per_category": {"type": "boolean"}}, ("top",)),
    ),
    (
        "get", "/api/v1/exports/{table}", "One table of `hackserver export` as a CSV or JSON file",
        [
            {"name": "table", "in": "path", "required": True, "schema": {"enum": list(TABLES)}},
            {"name": "format", "in": "query", "schema": {"enum": list(FORMATS), "default": "csv"}},
        ],
        None,
    ),
    ("get", "/api/v1/dashboard", "The dashboard's numbers, feed, schedule and alerts", [], None),
    (
        "post", "/api/v1/announcements", "Send an announcement everywhere or to one channel", [],
        body({"text": text(LIMITS["announcement"]), "target": {"type": "string"}, "language": {"type": "string"}}, ("text",)),
    ),
    (
        "post", "/api/v1/outbox/{message_id}/retry", "One more attempt for a dead letter",
        [{"name": "message_id", "in": "path", "required": True, "schema": ID}], None,
    ),
]  # fmt: skip

CREATED = {("post", "/api/v1/announcements")}  # answered 201, the others 200
FILES = {  # answered with a file, the others with a JSON object
    ("get", "/api/v1/exports/{table}"): {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    }
}

ERROR = {
    "description": "refused: the reason is in `error`",
    "content": {
        "application/json": {
            "schema": body({"error": {"type": "string"}}, ("error",)),
        }
    },
}


def document() -> Schema:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, parameters, request in OPERATIONS:
        operation: Schema = {
            "summary": summary,
            "operationId": f"{method}_{path.removeprefix('/api/v1/').replace('/', '_').replace('{', '').replace('}', '')}",
            "security": [{"organiser": []}],
            "responses": {
                "201" if (method, path) in CREATED else "200": {
                    "description": "done",
                    "content": FILES.get(
                        (method, path), {"application/json": {"schema": {"type": "object"}}}
                    ),
                },
                **{status: ERROR for status in ("401", "403", "404", "409", "422")},
            },
        }
        if parameters:
            operation["parameters"] = parameters
        if request is not None:  # a file's body names its media types; the others are JSON objects
            content = (
                request["content"] if "content" in request else {"application/json": {"schema": request}}
            )
            operation["requestBody"] = {"content": content}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hackserver organiser API",
            "version": version("hackserver"),
            "description": "Every endpoint needs the organiser token: `Authorization: Bearer <token>`.",
        },
        "components": {"securitySchemes": {"organiser": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(document())


def routes() -> list[Route]:
    return [Route("/openapi.json", openapi, include_in_schema=False)]
