"""`/dashboard/exports`: the files of `hackserver export` (submissions, scores, ranking; CSV or JSON),
downloaded from the console as the API serves them, each download audit-logged."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hackserver.judging import export
from hackserver.web.api_exports import Unknown, asked, streamed
from hackserver.web.console import ACTOR, refused, render


async def page(request: Request) -> Response:
    if (refusal := await refused(request)) is not None:
        return refusal
    return render(
        request, "exports", "console_exports.html", {"tables": export.TABLES, "formats": export.FORMATS}
    )


async def download(request: Request) -> Response:
    if (refusal := await refused(request)) is not None:
        return refusal
    if isinstance(wanted := asked(request), Unknown):
        return render(request, "exports", "console_missing.html", {}, status=wanted.status)
    return await streamed(request.state.runtime, *wanted, ACTOR)


def routes() -> list[BaseRoute]:
    return [Route("/dashboard/exports", page), Route("/dashboard/exports/{table}", download)]
