"""`GET /api/v1/exports/{table}?format=csv|json`: one table of `hackserver export` (submissions,
scores, ranking), streamed; the console's download links answer the same way."""

from __future__ import annotations

from typing import NamedTuple

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from hackserver.judging import export
from hackserver.runtime import Runtime
from hackserver.web.api import error, organiser

MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


class Unknown(NamedTuple):
    problem: str
    status: int


def asked(request: Request) -> tuple[str, str] | Unknown:
    """The table and format a download asks for, or what is wrong with them."""
    table, form = request.path_params["table"], request.query_params.get("format", "csv")
    if table not in export.TABLES:
        return Unknown(f"no table {table[:40]!r}: one of {', '.join(export.TABLES)}", 404)
    if form not in export.FORMATS:
        return Unknown(f"format {form[:20]!r}: csv or json", 422)
    return table, form


async def streamed(runtime: Runtime, table: str, form: str, actor: str) -> Response:
    rows = await export.download(runtime, table, form, actor)
    return StreamingResponse(
        export.chunks(rows, form),
        media_type=MEDIA[form],
        headers={
            "content-disposition": f'attachment; filename="{table}.{form}"',
            "cache-control": "no-store",
        },
    )


async def download(request: Request) -> Response:
    if isinstance(actor := await organiser(request), JSONResponse):
        return actor
    if isinstance(wanted := asked(request), Unknown):
        return error(*wanted)
    return await streamed(request.state.runtime, *wanted, actor)


def routes() -> list[Route]:
    return [Route("/api/v1/exports/{table}", download)]
