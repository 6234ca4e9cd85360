"""The private links of the people on a console page (experts, jurors): one person's link shown on
demand through the API's use case, which makes it and audit-logs that it was shown (never the link),
and revoked after a ticked box."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hackserver.foundation import links
from hackserver.foundation.errors import DomainError, NotFound
from hackserver.foundation.models import Expert, Juror
from hackserver.foundation.signing import Scope
from hackserver.foundation.transaction import Transaction
from hackserver.web.console import ACTOR, Page, Said, posted, refusal_shown, typed_id, words

MakeLink = Callable[[Transaction, dict[str, Any], str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class LinkHolders:
    page: Page
    model: type[Expert | Juror]
    scope: Scope  # of their links
    field: str  # the form field naming one of them; "<field>_id" in a path
    make_link: MakeLink
    unconfirmed: str  # the page's word when nobody is chosen or the box is not ticked
    gone: str  # the catalogue's key when they are not there

    async def show(self, request: Request) -> Response:
        """The page again with one person's private link in it."""
        if isinstance(form := await posted(request), Response):
            return form
        ident = request.path_params[f"{self.field}_id"]
        try:
            async with request.state.runtime.transaction() as tx:
                found = await self.make_link(tx, {f"{self.field}_id": ident}, ACTOR)
        except DomainError as refusal:
            return await refusal_shown(request, self.page, refusal)
        # Absolute, to paste into a message: without HACKSERVER_PUBLIC_URL, at the address the organiser uses.
        return await self.page(request, shown=(ident, urljoin(str(request.base_url), found["link"])))

    async def revoke(self, request: Request) -> Response:
        if isinstance(form := await posted(request), Response):
            return form
        subject = typed_id(form, self.field)
        if subject is None or form.get("confirm") != "on":
            return await self.page(request, Said([words(request)[1][self.unconfirmed]]), status=422)
        try:
            async with request.state.runtime.transaction() as tx:
                person = await tx.session.get(self.model, subject)
                if person is None or person.event_id != tx.event_id:
                    raise NotFound(self.gone)
                await links.revoke(tx, self.scope, subject, actor=ACTOR)
        except DomainError as refusal:
            return await refusal_shown(request, self.page, refusal)
        return RedirectResponse(request.url.path.removesuffix("/revoke") + "?done=revoked", status_code=303)

    def routes(self, page_path: str) -> list[BaseRoute]:
        return [
            Route(f"{page_path}/{{{self.field}_id:id}}/link", self.show, methods=["POST"]),
            Route(f"{page_path}/revoke", self.revoke, methods=["POST"]),
        ]
