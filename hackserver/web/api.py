"""The JSON API (`/api/v1/…`): organiser endpoints behind the organiser token."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bots.http import client_address, too_many_attempts
from hackserver.foundation import json_input
from hackserver.foundation.errors import Conflict, DomainError, NotFound, TooLate
from hackserver.foundation.event import parse_duration
from hackserver.foundation.text_limits import TooLong, Unstorable
from hackserver.runtime import Runtime
from hackserver.sprint.phases import current_phase, next_phase, shift_phase

STATUS = {NotFound: 404, Conflict: 409, TooLate: 409, TooLong: 422, Unstorable: 422}
MAX_ID = 2**31 - 1  # ids are database integers; a larger one names nothing


class IdConvertor(Convertor[int]):
    """`{team_id:id}` in a path: an id of at most nine digits, so that a larger number is answered
    "not found" instead of overflowing the database's integer."""

    regex = "[0-9]{1,9}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())  # before any route of the API is built


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def organiser(request: Request) -> str | JSONResponse:
    """The acting organiser's name for the audit log, or the response refusing the request."""
    runtime: Runtime = request.state.runtime
    expected = runtime.settings.organiser_token
    if expected is None:
        return error("the organiser API is off: set HACKSERVER_ORGANISER_TOKEN", 403)
    if wait := await runtime.attempts.wait(address := client_address(request)):
        return too_many_attempts(wait)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.encode(), expected.encode()):
        if given:  # a token that was sent and is wrong; none at all guesses nothing
            await runtime.attempts.failed(address, "organiser API")
        return error("organiser token missing or wrong: send Authorization: Bearer <token>", 401)
    return "organiser:api"


async def phases(request: Request) -> JSONResponse:
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    async with runtime.reading() as tx:
        instants = await tx.phases()
    now = runtime.clock.now()
    coming = next_phase(instants, now)
    return JSONResponse(
        {
            "now": now.isoformat(),
            "current": current_phase(instants, now),
            "next": coming[0] if coming else None,
            "phases": {name: at.isoformat() for name, at in instants.items()},
        }
    )


async def shift(request: Request) -> JSONResponse:
    """POST {"by": "+30m", "later_too": false}: moves a phase that has not begun."""
    runtime: Runtime = request.state.runtime
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    try:
        body: Any = json_input.loads(await request.body() or b"{}")
        by = str(body["by"]).strip()
        delta = parse_duration(by.lstrip("+-")) * (-1 if by.startswith("-") else 1)
        later_too = body.get("later_too", False)
        if not isinstance(later_too, bool):
            raise ValueError("later_too must be true or false")
    except (ValueError, KeyError, TypeError, AttributeError) as problem:
        detail = "missing field 'by'" if isinstance(problem, KeyError) else str(problem)
        return error(f'expected a JSON body like {{"by": "+30m", "later_too": false}}: {detail}', 422)
    try:
        async with runtime.transaction() as tx:
            moved = await shift_phase(
                tx, request.path_params["name"], delta, actor=actor, later_too=later_too
            )
    except DomainError as refused:
        return error(str(refused), STATUS.get(type(refused), 409))
    return JSONResponse({"phases": {name: at.isoformat() for name, at in moved.items()}})


def routes() -> list[Route]:
    return [
        Route("/api/v1/phases", phases),
        Route("/api/v1/phases/{name}/shift", shift, methods=["POST"]),
    ]
