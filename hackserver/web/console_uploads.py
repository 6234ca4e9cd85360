"""A file uploaded on a console page (a challenge catalogue, an expert or a juror CSV) and imported
with the command line's checks: the page again with what was imported, or with every bad row in the
page's language and nothing imported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from hackserver.foundation.errors import CatalogueError
from hackserver.foundation.import_problems import Problem
from hackserver.runtime import Runtime
from hackserver.web.console import Page, Said, refused, words
from hackserver.web.dashboard import refusal
from hackserver.web.visitors import same_origin

# Imports a file (its name and bytes): the counts of what it imported, or the bad rows.
Importer = Callable[[Runtime, str, bytes], Awaitable[dict[str, int] | Sequence[Problem]]]


@dataclass(frozen=True)
class Upload:
    page: Page
    field: str  # the form's file field
    importer: Importer
    said: str  # the page's word for what was imported, filled in with the importer's counts

    async def receive(self, request: Request) -> Response:
        if isinstance(file := await uploaded(request, self.field), Response):
            return file
        name, data = file
        lang, t = words(request)
        try:
            imported = await self.importer(request.state.runtime, name, data)
        except CatalogueError as whole:
            problems = [f"{name}: {whole.say(lang)}"]
        else:
            if isinstance(imported, dict):
                return await self.page(request, Said(done=t[self.said].format(**imported)))
            problems = [problem.say(lang) for problem in imported]
        return await self.page(request, Said(problems, rejected=True), status=422)

    def route(self, page_path: str) -> Route:
        return Route(f"{page_path}/import", self.receive, methods=["POST"])


async def uploaded(request: Request, field: str) -> tuple[str, bytes] | Response:
    """The name and bytes of the one file a console form uploads, or the refusal: not signed in,
    from another site, not a form with that file (a body past a megabyte never reaches here)."""
    if (sign_in := await refused(request)) is not None:
        return sign_in
    lang, t = words(request)
    if not same_origin(request):
        return refusal(lang, 403)
    try:
        async with request.form(max_files=1, max_fields=4) as form:
            file = form.get(field)
            if isinstance(file, UploadFile):
                return file.filename or "", await file.read()
    except (MultiPartException, HTTPException):
        pass
    return PlainTextResponse(t["no_file"], status_code=400)
