"""Shared fixtures: a fresh database per test (SQLite file, or a new PostgreSQL database), Redis,
event files written for the test, and runtimes on a clock the test controls."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from hackserver.app import create_app
from hackserver.bootstrap import bootstrap
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from tests.dbstate import migrate
from tests.fakes import ORGANISER_TOKEN, FakeClock, event_toml
from tests.servers import RedisServer

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLE_EVENT = PROJECT / "config" / "event.example.toml"
POSTGRES_URL = os.environ.get("HACKSERVER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HACKSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Tests use database 15 so that a developer's own data in database 0 is never flushed; two suites
# running side by side on one Redis each take a database of their own, and so does each pytest-xdist
# worker (gw1 the one below gw0's).
REDIS_TEST_DB = int(os.environ.get("HACKSERVER_TEST_REDIS_DB", "15")) - int(
    os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
)
IN_CI = os.environ.get("CI") == "true"


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the service must be there)")
    pytest.skip(reason)


def _postgres_admin_url() -> str:
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_execute(sql: str) -> None:
    connection = await asyncpg.connect(_postgres_admin_url(), timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def schema_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A database of each kind at the newest schema, migrated once for this test process, to copy
    from: migrating a fresh database for every test cost about a third of a second each."""
    made: dict[str, str] = {}
    yield made
    if "postgresql" in made:
        asyncio.run(
            _pg_execute(f'DROP DATABASE IF EXISTS "{make_url(made["postgresql"]).database}" WITH (FORCE)')
        )


def _template(kind: str, templates: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    if kind not in templates:
        if kind == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('template') / 'hs.db'}"
        else:
            url = _new_postgres_database()
        asyncio.run(migrate(url))
        templates[kind] = url
    return templates[kind]


def _new_postgres_database(template: str | None = None) -> str:
    name = f"hs_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    try:
        asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"{copy}'))
    except (OSError, asyncpg.PostgresError) as error:
        unavailable(f"PostgreSQL at {POSTGRES_URL} is not reachable: {error}")
    return (
        make_url(POSTGRES_URL)
        .set(drivername="postgresql+asyncpg", database=name)
        .render_as_string(hide_password=False)
    )


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for this test, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hs.db'}"
        return
    url = _new_postgres_database()
    yield url
    asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))


@pytest.fixture(params=DATABASES)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    schema_templates: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """A fresh database of this test's own at the newest schema, on SQLite and on PostgreSQL."""
    template = _template(request.param, schema_templates, tmp_path_factory)
    if request.param == "sqlite":
        path = tmp_path / "hs.db"
        shutil.copyfile(make_url(template).database or "", path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = _new_postgres_database(make_url(template).database)
    yield url
    asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'hs.db'}"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database of its own for this test, flushed before and after."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable(f"Redis at {REDIS_URL} is not reachable: {error}")
    test_url = re.sub(r"(/\d+)?/?$", f"/{REDIS_TEST_DB}", REDIS_URL, count=1)
    test_client = redis.Redis.from_url(test_url)
    test_client.flushdb()
    yield test_url
    test_client.flushdb()
    test_client.close()
    client.close()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own on a free port, for a test that stops and starts it."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = RedisServer(port)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()


@pytest.fixture
def event_file(tmp_path: Path) -> Callable[..., Path]:
    """Writes an event file whose kickoff is at `kickoff` (see tests.fakes.event_toml)."""

    def write(**kwargs: Any) -> Path:
        path = tmp_path / f"event-{uuid.uuid4().hex[:6]}.toml"
        path.write_text(event_toml(**kwargs), encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_runtime() -> Callable[..., AbstractAsyncContextManager[Runtime]]:
    """bootstrap() for a test: the database, event file and clock the test chose."""

    def make(
        database_url: str, event_path: Path, clock: FakeClock, redis_url: str | None = None, **env: str
    ) -> AbstractAsyncContextManager[Runtime]:
        settings = Settings(database_url=database_url, event_path=event_path, redis_url=redis_url)
        return _migrated(settings, clock)

    return make


class _migrated:
    def __init__(self, settings: Settings, clock: FakeClock) -> None:
        self.settings, self.clock = settings, clock

    async def __aenter__(self) -> Runtime:
        if not self.settings.is_sqlite:
            await migrate(self.settings.database_url)
        self.context = bootstrap(self.settings, clock=self.clock)
        return await self.context.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        await self.context.__aexit__(*exc)


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def kickoff() -> datetime:
    """A kickoff instant for tests that drive a FakeClock: Friday 2027-03-19 18:00 in Berlin."""
    from zoneinfo import ZoneInfo

    return datetime(2027, 3, 19, 18, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture
async def runtime_at(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, make_runtime: Callable[..., Any]
) -> AsyncIterator[tuple[Runtime, FakeClock]]:
    """A runtime on the test's database with the standard test event, its clock at kickoff - 1h."""
    clock = FakeClock(kickoff - timedelta(hours=1))
    async with make_runtime(database_url, event_file(kickoff=kickoff), clock) as runtime:
        yield runtime, clock


@pytest.fixture
async def two_processes(
    database_url: str,
    redis_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """Two runtimes on the test's database and Redis, as two web processes have them, with the
    standard test event and their clocks at kickoff - 1h."""
    path, clock = event_file(kickoff=kickoff), FakeClock(kickoff - timedelta(hours=1))
    async with (
        make_runtime(database_url, path, clock, redis_url) as first,
        make_runtime(database_url, path, clock, redis_url) as second,
    ):
        yield first, second


@pytest.fixture
def api(database_url: str, event_file: Callable[..., Path], kickoff: datetime) -> Iterator[TestClient]:
    """The app on the test's database with the organiser token set, its clock in the hacking phase
    (kickoff + 2h); `api.app_state["runtime"]` is its runtime, `api.portal` runs coroutines in it."""
    settings = Settings(
        database_url=database_url, event_path=event_file(kickoff=kickoff), organiser_token=ORGANISER_TOKEN
    )
    if not settings.is_sqlite:
        asyncio.run(migrate(settings.database_url))
    with TestClient(create_app(settings, clock=FakeClock(kickoff + timedelta(hours=2)))) as client:
        yield client
