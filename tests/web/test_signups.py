"""Joining the built-in channels: one client address makes at most `limits.signups` new accounts in
10 minutes (20 unless set; here 5); past that the page says so with 429 and
Retry-After and no account is made, while other addresses join and existing accounts sign in as
before. Over real HTTP on loopback, the address forwarded by a proxy on 127.0.0.1 as in
tests/web/test_attempts.py."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from hackserver.app import create_app
from hackserver.foundation.models import Participant
from hackserver.foundation.ratelimit import SIGNUPS_WINDOW
from hackserver.foundation.settings import Settings
from tests.dbstate import migrate
from tests.fakes import FakeClock
from tests.servers import runtime_of, serving
from tests.web.test_attempts import GUESSER, SOMEONE_ELSE, client

SIGNUPS = 5


@pytest.fixture
async def server(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, free_port: int
) -> AsyncIterator[uvicorn.Server]:
    if not database_url.startswith("sqlite"):
        await migrate(database_url)
    path = event_file(kickoff=kickoff)
    path.write_text(path.read_text().replace("commands = 10000", f"commands = 10000\nsignups = {SIGNUPS}"))
    settings = Settings(database_url=database_url, event_path=path)
    async with serving(create_app(settings, clock=FakeClock(kickoff), run_clock=False), free_port) as server:
        yield server


async def participants(server: uvicorn.Server) -> int:
    async with runtime_of(server).reading() as tx:
        return int(await tx.session.scalar(select(func.count()).select_from(Participant)) or 0)


async def join(base: str, address: str, name: str) -> httpx.Response:
    async with client(base, address) as browser:  # a browser of its own: no session cookie yet
        return await browser.post("/channels/join?lang=en", data={"name": name})


async def test_a_flood_of_sign_ups_from_one_address_stops_at_the_limit(server: uvicorn.Server) -> None:
    base = f"http://127.0.0.1:{server.config.port}"
    for n in range(SIGNUPS):
        assert (await join(base, GUESSER, f"Person {n}")).status_code == 303
    async with client(base, GUESSER) as browser:
        joined = await browser.post("/channels/join?lang=en", data={"name": "One more"})
        assert joined.status_code == 429
        assert 0 < int(joined.headers["retry-after"]) <= SIGNUPS_WINDOW
        assert "Many people have joined from this network" in joined.text
        assert "Try again in 10 minutes." in joined.text
    assert await participants(server) == SIGNUPS  # the refused one made nothing
    assert (await join(base, SOMEONE_ELSE, "Elsewhere")).status_code == 303
    assert await participants(server) == SIGNUPS + 1


async def test_accounts_of_a_limited_address_still_sign_in(server: uvicorn.Server) -> None:
    base = f"http://127.0.0.1:{server.config.port}"
    async with client(base, GUESSER) as alice:
        await alice.post("/channels/join?lang=en", data={"name": "Alice"})
        page = await alice.get("/channels?lang=en")
        link = re.search(r'id="personal-link" readonly value="([^"]+)"', page.text)
        assert link is not None
    for n in range(SIGNUPS):
        await join(base, GUESSER, f"Person {n}")
    assert (await join(base, GUESSER, "Refused")).status_code == 429
    async with client(base, GUESSER) as again:  # another browser, the same address
        signed_in = await again.get(link.group(1).replace("&amp;", "&"))
        assert signed_in.status_code == 303
        assert "Alice" in (await again.get(signed_in.headers["location"])).text
