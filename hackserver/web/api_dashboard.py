"""The JSON API behind the dashboard's numbers and actions that the other API modules lack: the
snapshot itself, sending an announcement, and sending a dead letter again."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hackserver.foundation import json_input, outbox
from hackserver.foundation.errors import DomainError
from hackserver.runtime import Runtime
from hackserver.sprint import announcements
from hackserver.web.api import STATUS, error, organiser
from hackserver.web.dashboard_hub import snapshot
from hackserver.web.languages import language


async def numbers(request: Request) -> JSONResponse:
    """The dashboard's snapshot, its texts in one language (`?lang=`, else Accept-Language, else the
    event's first): the page's frames carry every language, the API's answer keeps its shape."""
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    state, lang = await snapshot(runtime), language(request, runtime)
    worded = {"alerts": ("text", "more"), "schedule": ("local", "when", "text")}
    for part, fields in worded.items():
        state[part] = [item | {f: (item[f] or {}).get(lang, "") for f in fields} for item in state[part]]
    return JSONResponse(state)


async def announce(request: Request) -> JSONResponse:
    """POST {"text": "…", "target": "all" | "slack:C123" | …, "language": "en"}."""
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    try:
        body: Any = json_input.loads(await request.body() or b"{}")
        text = str(body["text"]).strip()
        target = str(body.get("target", announcements.EVERYWHERE))
        language = str(body.get("language", runtime.event.default_language))
        if not text or language not in runtime.event.languages:
            raise ValueError(f"text must not be empty; language one of {', '.join(runtime.event.languages)}")
    except (ValueError, KeyError, TypeError) as problem:
        detail = "missing field 'text'" if isinstance(problem, KeyError) else str(problem)
        return error(f'expected a JSON body like {{"text": "…", "target": "all"}}: {detail}', 422)
    try:
        async with runtime.transaction() as tx:
            sent = await announcements.send(tx, text, language=language, actor=actor, target=target)
    except DomainError as refused:
        return error(str(refused), STATUS.get(type(refused), 409))
    return JSONResponse({"sent_to": [{"platform": p, "channel": c} for p, c in sent]}, status_code=201)


async def retry(request: Request) -> JSONResponse:
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    try:
        async with runtime.transaction() as tx:
            message = await outbox.requeue_dead(tx, request.path_params["message_id"], actor=actor)
            answer = {"id": message.id, "status": message.status}
    except DomainError as refused:
        return error(str(refused), STATUS.get(type(refused), 409))
    return JSONResponse(answer)


def routes() -> list[Route]:
    return [
        Route("/api/v1/dashboard", numbers),
        Route("/api/v1/announcements", announce, methods=["POST"]),
        Route("/api/v1/outbox/{message_id:id}/retry", retry, methods=["POST"]),
    ]
