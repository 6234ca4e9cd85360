"""The organisers' console: pages behind the dashboard's sign-in (the same cookie, the same Origin
check on every form), each in a module of its own (their routes are listed in console_routes.py);
this module holds what they share, console_uploads their file uploads and console_links the private
links of experts and jurors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from hackserver.foundation import i18n
from hackserver.foundation.errors import DomainError
from hackserver.foundation.numbers import whole
from hackserver.runtime import Runtime
from hackserver.web.api import MAX_ID, STATUS
from hackserver.web.console_nav import address, navigation
from hackserver.web.dashboard import Dashboard, login_page, off, refusal, signed_in
from hackserver.web.languages import language
from hackserver.web.visitors import read_form, same_origin

ACTOR = "organiser:console"  # the audit log's actor for what an organiser does on a console page
PAGE_SIZE = 50
templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
Page = Callable[..., Awaitable[Response]]  # a console page, shown again with what a form did


@dataclass(frozen=True)
class Said:
    """What a console page says above its content after a form: what was done, or what was wrong."""

    problems: Sequence[str] = ()
    done: str = ""
    rejected: bool = False  # the problems are an upload's: nothing was imported


NOTHING_SAID = Said()


async def refused(request: Request) -> Response | None:
    """The sign-in form (401) for a visitor without the organiser's cookie, else None."""
    runtime: Runtime = request.state.runtime
    if not runtime.settings.organiser_token:
        return off(request)
    if not await signed_in(request, runtime):
        return login_page(request, status=401)
    return None


async def posted(request: Request) -> dict[str, str] | Response:
    """A console form's fields, or the refusal: not signed in, too large, or from another site."""
    if (sign_in := await refused(request)) is not None:
        return sign_in
    form = await read_form(request)
    if form is None or not same_origin(request):
        return refusal(words(request)[0], 403 if form is not None else 413)
    return form


def typed_id(form: dict[str, str], field: str) -> int | None:
    """The number of a team, person or juror typed into a form ("12" or "#12"); None when it is not
    one that could exist."""
    number = whole(form.get(field, "").strip().lstrip("#"))
    return number if number is not None and number <= MAX_ID else None


async def refusal_shown(request: Request, page: Page, refusal: DomainError) -> Response:
    """The page again, saying why the rules refused (with the API's status for it)."""
    lang = words(request)[0]
    return await page(request, Said([refusal.say(lang)]), status=STATUS.get(type(refusal), 409))


def language_links(request: Request, own: str) -> dict[str, str]:
    """The page in each language: this address with its filters, or after a form (whose address
    answers only a POST) the page the form is on."""
    event = request.state.runtime.event
    if request.method != "GET":
        return {code: f"{own}?lang={code}" for code in event.languages}
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "done")]
    return {code: f"{request.url.path}?{urlencode([*kept, ('lang', code)])}" for code in event.languages}


def words(request: Request) -> tuple[str, dict[str, str]]:
    lang = language(request, request.state.runtime)
    return lang, i18n.words(lang, "console")


def render(
    request: Request,
    page: str,
    template: str,
    context: dict[str, Any],
    said: Said = NOTHING_SAID,
    status: int = 200,
    own: str = "",  # the page's address, when it is not the navigation's (a team's page)
) -> Response:
    lang, t = words(request)
    shown = {
        "event": request.state.runtime.event,
        "lang": lang,
        "t": t,
        "switch": language_links(request, own or address(page)),
        "problems": said.problems,
        "rejected": said.rejected,
        # After a redirect, ?done=… names what was done.
        "done": said.done or t.get("done_" + request.query_params.get("done", "x"), ""),
    }
    return Dashboard.secured(
        templates.TemplateResponse(
            request, template, shown | navigation(lang, page) | context, status_code=status
        )
    )
