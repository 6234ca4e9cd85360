"""The organisers' console: pages behind the dashboard's sign-in (the same cookie, the same Origin
check on every form), each in a module of its own (their routes are listed in console_routes.py);
this module holds what they share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.templating import Jinja2Templates

from hackserver.foundation import i18n
from hackserver.runtime import Runtime
from hackserver.web.console_nav import navigation
from hackserver.web.dashboard import Dashboard, signed_in
from hackserver.web.languages import language
from hackserver.web.visitors import read_form, same_origin

ACTOR = "organiser:console"  # the audit log's actor for what an organiser does on a console page
PAGE_SIZE = 50
templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


async def refused(request: Request) -> Response | None:
    """The sign-in form (401) for a visitor without the organiser's cookie, else None."""
    runtime: Runtime = request.state.runtime
    if not runtime.settings.organiser_token:
        return PlainTextResponse("The dashboard is off: set HACKSERVER_ORGANISER_TOKEN.", status_code=404)
    if not await signed_in(request, runtime):
        return Dashboard.secured(
            templates.TemplateResponse(
                request, "dashboard_login.html", {"event": runtime.event, "problem": ""}, status_code=401
            )
        )
    return None


async def posted(request: Request) -> dict[str, str] | Response:
    """A console form's fields, or the refusal: not signed in, too large, or from another site."""
    if (refusal := await refused(request)) is not None:
        return refusal
    form = await read_form(request)
    if form is None or not same_origin(request):
        return PlainTextResponse("Refused.", status_code=403 if form is not None else 413)
    return form


async def uploaded(request: Request, field: str) -> tuple[str, bytes] | Response:
    """The name and bytes of the one file a console form uploads, or the refusal: not signed in,
    from another site, not a form with that file (a body past a megabyte never reaches here)."""
    if (refusal := await refused(request)) is not None:
        return refusal
    if not same_origin(request):
        return PlainTextResponse("Refused.", status_code=403)
    try:
        async with request.form(max_files=1, max_fields=4) as form:
            file = form.get(field)
            if not isinstance(file, UploadFile):
                return PlainTextResponse("Expected a file.", status_code=400)
            return file.filename or "", await file.read()
    except (MultiPartException, HTTPException):
        return PlainTextResponse("Expected a file.", status_code=400)


def words(request: Request) -> tuple[str, dict[str, str]]:
    lang = language(request, request.state.runtime)
    return lang, i18n.words(lang, "console")


def render(
    request: Request, page: str, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    lang, t = words(request)
    shown = {
        "event": request.state.runtime.event,
        "lang": lang,
        "t": t,
        "here": request.url.path,
    }
    return Dashboard.secured(
        templates.TemplateResponse(
            request, template, shown | navigation(lang, page) | context, status_code=status
        )
    )
