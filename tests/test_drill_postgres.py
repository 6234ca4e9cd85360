"""Drill: PostgreSQL goes away and comes back. Meanwhile requests fail cleanly, saying so and
changing nothing (503 with a reason on the API, a plain answer in chat); afterwards the same
requests work again without a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from hackserver.app import create_app
from hackserver.foundation.settings import Settings
from tests.bots.test_slack import SECRET, command_body, post_command
from tests.dbstate import migrate
from tests.fakes import ORGANISER, ORGANISER_TOKEN, FakeClock
from tests.servers import TcpProxy, serving

pytestmark = pytest.mark.postgres


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    target = make_url(database_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.cut()


@pytest.fixture
async def client(
    database_url: str, proxy: TcpProxy, event_file: Callable[..., Path], kickoff: datetime, free_port: int
) -> AsyncIterator[httpx.AsyncClient]:
    await migrate(database_url)
    through_proxy = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    settings = Settings(
        database_url=through_proxy.render_as_string(hide_password=False),
        event_path=event_file(kickoff=kickoff),
        organiser_token=ORGANISER_TOKEN,
        slack_signing_secret=SECRET,
    )
    app = create_app(settings, clock=FakeClock(kickoff + timedelta(minutes=20)), run_clock=False)
    async with serving(app, free_port) as server:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}", timeout=20) as http:
            yield http


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_requests_fail_cleanly_while_postgres_is_away_and_work_once_it_is_back(
    client: httpx.AsyncClient, proxy: TcpProxy
) -> None:
    created = await post_command(client, command_body("team create Before", user="U1", trigger="t1"))
    assert "Before" in created.json()["text"]

    await proxy.cut()
    api = await client.get("/api/v1/teams", headers=ORGANISER)
    assert api.status_code == 503 and "database is not reachable" in api.json()["error"]
    chat = await post_command(client, command_body("team create During", user="U2", trigger="t2"))
    assert chat.status_code == 200 and "erreicht gerade seine Datenbank nicht" in chat.text
    assert "Traceback" not in api.text + chat.text

    await proxy.start()
    names = [t["name"] for t in (await client.get("/api/v1/teams", headers=ORGANISER)).json()["teams"]]
    assert names == ["Before"]  # nothing from the outage half-happened
    after = await post_command(client, command_body("team create After", user="U2", trigger="t3"))
    assert "After" in after.json()["text"]
