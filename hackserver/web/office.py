"""What the expert and booking pages share: opening a private link (or the page saying why not),
the page language and words, reading a form, and showing an instant in two time zones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from hackserver.foundation import i18n, links
from hackserver.foundation.i18n import say
from hackserver.foundation.models import Expert, Link
from hackserver.foundation.signing import Scope
from hackserver.runtime import Runtime
from hackserver.web.dead_links import refused_page
from hackserver.web.languages import language
from hackserver.web.visitors import read_form, same_origin

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


@dataclass(frozen=True)
class Page:
    runtime: Runtime
    lang: str
    link: Link

    @property
    def t(self) -> dict[str, str]:
        return i18n.words(self.lang, "office")

    def say(self, key: str, **params: object) -> str:
        return say(self.lang, key, **params)


async def open_page(request: Request, scope: Scope) -> Page | Response:
    runtime: Runtime = request.state.runtime
    lang = language(request, runtime)
    async with runtime.reading() as tx:
        try:
            link = await links.open_link(tx, scope, request.path_params["token"])
        except links.LinkRefused as refused:
            return refused_page(request, scope, refused.key)
    return Page(runtime, lang, link)


async def form_of(request: Request) -> dict[str, str] | Response:
    """The posted form, or the refusal of a cross-site or oversized one."""
    lang = language(request, request.state.runtime)
    if not same_origin(request):
        return Response(say(lang, "page.form.cross_site"), status_code=403, media_type="text/plain")
    form = await read_form(request)
    if form is None:
        return Response(say(lang, "page.form.too_large"), status_code=413, media_type="text/plain")
    return form


def zone_or_none(name: str) -> ZoneInfo | None:
    from zoneinfo import ZoneInfoNotFoundError

    if not name or "/" not in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def two_zones(instant: datetime, viewer: ZoneInfo, event: ZoneInfo, lang: str) -> dict[str, Any]:
    """An instant in the viewer's zone and language and, when the zones differ, the event's beside it."""
    return {
        "iso": instant.isoformat(),
        "local": i18n.when(instant, lang, viewer),
        "zone": viewer.key,
        "event": None
        if viewer.key == event.key
        else f"{i18n.weekday_time(instant, lang, event)} {event.key}",
    }


def organizer(runtime: Runtime, expert: Expert) -> tuple[str, str]:
    """A calendar entry's ORGANIZER: the expert leads the meeting; experts give no address, so the
    event's stands for theirs."""
    return expert.name, runtime.settings.public_url or f"urn:hackserver:{runtime.event.slug}"
