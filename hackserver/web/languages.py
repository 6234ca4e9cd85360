"""The language of a page: the one picked with a page's switcher (`?lang=de`, then remembered in a
cookie), else the best of the browser's Accept-Language, else the event's default."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hackserver.foundation.i18n import negotiate
from hackserver.runtime import Runtime

COOKIE = "lang"
YEAR = 365 * 24 * 3600


def language(connection: HTTPConnection, runtime: Runtime) -> str:
    offered = runtime.event.languages
    for picked in (connection.query_params.get("lang", ""), connection.cookies.get(COOKIE, "")):
        if picked in offered:
            return picked
    asked = negotiate(connection.headers.get("accept-language", ""), offered)
    return asked or runtime.event.default_language


class RememberLanguage:
    """A page opened with `?lang=xx` (one of the event's languages: the switcher's links) sets the
    cookie that makes the choice stick on every later page, whatever the browser's Accept-Language
    says. Forms carry `?lang` to keep the page's language: posting one sets nothing, nor does a
    refused request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        picked = _picked(scope)
        if picked is None:
            await self.app(scope, receive, send)
            return

        async def remember(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                cookie: SimpleCookie = SimpleCookie()
                cookie[COOKIE] = picked
                cookie[COOKIE].update({"path": "/", "max-age": str(YEAR), "samesite": "Lax"})
                cookie[COOKIE]["httponly"] = True
                MutableHeaders(scope=message).append("set-cookie", cookie.output(header="").strip())
            await send(message)

        await self.app(scope, receive, remember)


def _picked(scope: Scope) -> str | None:
    if scope["type"] != "http" or scope["method"] != "GET" or b"lang=" not in scope.get("query_string", b""):
        return None
    runtime: Runtime | None = scope.get("state", {}).get("runtime")
    if runtime is None:
        return None
    picked = parse_qs(scope["query_string"].decode("latin-1")).get("lang", [""])[-1]
    return picked if picked in runtime.event.languages else None
