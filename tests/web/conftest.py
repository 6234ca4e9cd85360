"""Fixtures of the page tests: where their screenshots go, and the console tests' server with its
runtime, the organiser signed in (and a visitor who is not), the API with the organiser's token,
uploads (over HTTP, or in the browser), and what the database holds afterwards."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Page
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute

from hackserver.foundation.models import AuditEntry
from hackserver.runtime import Runtime
from tests.conftest import PROJECT
from tests.servers import runtime_of
from tests.submissions.test_submissions import entry, new_team, save
from tests.web.test_dashboard import TOKEN, base, organiser, server, settings

__all__ = [
    "organiser",
    "server",
    "settings",
]  # the signed-in organiser on a fresh server, for every test here
SCREENSHOTS = "HACKSERVER_SCREENSHOTS"
FIELDS = {"challenges": "catalogue", "experts": "experts", "jurors": "jurors"}  # each upload's form field


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """The folder a browser test writes its screenshots into: its own tmp_path, so that a test run
    leaves the tracked files alone, or docs/ when HACKSERVER_SCREENSHOTS=docs asks for new ones."""
    wanted = os.environ.get(SCREENSHOTS, "")
    if wanted == "docs":
        return PROJECT / "docs"
    if wanted:
        pytest.fail(f"{SCREENSHOTS}={wanted!r}: set it to docs, or leave it unset")
    return tmp_path


@pytest.fixture
def runtime(server: uvicorn.Server) -> Runtime:
    return runtime_of(server)


@pytest.fixture
async def stranger(server: uvicorn.Server) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without the organiser's cookie."""
    async with httpx.AsyncClient(base_url=base(server)) as client:
        yield client


@pytest.fixture
async def organiser_api(server: uvicorn.Server) -> AsyncIterator[httpx.AsyncClient]:
    """The JSON API with the organiser's token."""
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base(server), headers=bearer) as client:
        yield client


Upload = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def upload(organiser: httpx.AsyncClient) -> Upload:
    """Uploads a file on a console page, `await upload("experts", text)`: as the signed-in organiser
    unless another client is given, named <field>.csv unless another name is."""

    def send(page: str, text: str, name: str = "", client: httpx.AsyncClient = organiser, **kw: Any) -> Any:
        field = FIELDS[page]
        files = {field: (name or f"{field}.csv", text.encode())}
        return client.post(f"/dashboard/{page}/import", files=files, **kw)

    return send


@pytest.fixture
def stored(runtime: Runtime) -> Callable[[InstrumentedAttribute[Any]], Awaitable[list[Any]]]:
    """A column's values in the database, in its order: `await stored(Expert.name)`."""

    async def values(column: InstrumentedAttribute[Any]) -> list[Any]:
        async with runtime.reading() as tx:
            return list(await tx.session.scalars(select(column).order_by(column)))

    return values


@pytest.fixture
def audit_actions(runtime: Runtime) -> Callable[[], Awaitable[list[tuple[str, str]]]]:
    """Who did what, by the audit log, oldest first: `await audit_actions()`."""

    async def actions() -> list[tuple[str, str]]:
        async with runtime.reading() as tx:
            entries = await tx.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
            return [(e.actor, e.action) for e in entries]

    return actions


@pytest.fixture
def submitted(runtime: Runtime) -> Callable[..., Awaitable[int]]:
    """A team of two with its entry submitted, `await submitted("Luftretter", title="Betten frei")`;
    its id."""

    async def make(name: str, **values: str) -> int:
        team, members = await new_team(runtime, name)
        await save(runtime, team, entry(members, **values))
        return team

    return make


@pytest.fixture
def import_file() -> Callable[..., Awaitable[None]]:
    """Sends a CSV file on a console page in the browser: `await import_file(page, label, text)`
    chooses it in the file field of that label and presses the button (Import, unless named)."""

    async def send(page: Page, label: str, text: str, button: str = "Import") -> None:
        await page.get_by_label(label).set_input_files(
            files=[{"name": "upload.csv", "mimeType": "text/csv", "buffer": text.encode()}]
        )
        await page.get_by_role("button", name=button).click()

    return send
