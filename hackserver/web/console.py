"""The organisers' console: pages behind the dashboard's sign-in (the same cookie, the same Origin
check on every form), each in a module of its own (their routes are listed in console_routes.py);
this module holds what they share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.templating import Jinja2Templates

from hackserver.foundation import i18n
from hackserver.foundation.errors import DomainError
from hackserver.foundation.transaction import Transaction
from hackserver.runtime import Runtime
from hackserver.web.api import STATUS
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


async def show_link(
    request: Request,
    page: Callable[..., Awaitable[Response]],
    make_link: Callable[[Transaction, dict[str, Any], str], Awaitable[dict[str, Any]]],
    key: str,
) -> Response:
    """The page again with one person's private link in it (the API's use case makes and audits it)."""
    if isinstance(form := await posted(request), Response):
        return form
    lang = words(request)[0]
    ident = request.path_params[key]
    try:
        async with request.state.runtime.transaction() as tx:
            found = await make_link(tx, {key: ident}, ACTOR)
    except DomainError as refusal:
        return await page(request, problems=[refusal.say(lang)], status=STATUS.get(type(refusal), 409))
    # Absolute, to paste into a message: without HACKSERVER_PUBLIC_URL, at the address the organiser uses.
    return await page(request, shown=(ident, urljoin(str(request.base_url), found["link"])))
