"""The database: engine, sessions and migrations, the same code on SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import BigInteger, Boolean, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

import migrations
from hackserver.foundation import metrics

MIGRATIONS_DIR = Path(migrations.__file__).parent
WRITER = "hackserver_writer"  # execution option: this transaction will write


CONNECT_TIMEOUT = 5.0  # seconds
SQLITE_BUSY_TIMEOUT = 30.0  # seconds a writer waits for another writer's lock
BEGIN_WRITE = "BEGIN IMMEDIATE"


class LoopConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs its statements on the event loop's own thread.

    aiosqlite hands every call to a thread of the connection's own and waits for it to hand the
    answer back: a few hundred microseconds a call, and four calls a statement, where SQLite answers
    most of ours in microseconds; under load every hand-back also waits its turn on the loop, while a
    writer holds the write lock. Here a statement costs what SQLite takes; the thread only opens the
    connection.

    Nothing may wait inside SQLite on the loop's thread, or a writer here would wait for one that
    cannot go on: SQLite's busy timeout is 0, WAL readers never wait, and BEGIN IMMEDIATE, the one
    statement that waits for another writer, is retried on the loop until the lock is free."""

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        if args[:1] == (BEGIN_WRITE,):
            return await self._begin_write(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    @staticmethod
    async def _begin_write(fn: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        give_up, pause = loop.time() + SQLITE_BUSY_TIMEOUT, 0.001
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or loop.time() > give_up:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    def stop(self) -> Any:
        # Closed here, not in the thread: the thread must never touch it while this one might.
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        return super().stop()


def _sqlite_connector(url: str) -> Callable[[], Awaitable[LoopConnection]]:
    path = make_url(url).database or ""

    async def connect() -> LoopConnection:
        # Made in the connection's thread, used on the loop's: sqlite3 allows it once told so. The
        # timeout is for the pragmas run as it opens (WAL needs a moment alone with a new file).
        connection = LoopConnection(
            lambda: sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT, check_same_thread=False), 64
        )
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own: never holds up exit
        await connection  # opens it in its thread
        return connection

    return connect


def unreachable(error: BaseException) -> bool:
    """Whether an error means the database could not be reached, rather than that it refused a
    statement (a missing table is a bug, not an outage)."""
    if isinstance(error, OSError):
        return True
    return isinstance(error, DBAPIError) and (error.connection_invalidated or isinstance(error.orig, OSError))


def create_engine(url: str, **options: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, async_creator=_sqlite_connector(url), **options)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=0")  # see LoopConnection: its writers wait on the loop
            cursor.close()

        # Writers take the write lock at BEGIN, so two of them queue for it rather than failing to
        # upgrade a read lock; readers never wait for it (WAL lets them run alongside).
        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            writer = connection.get_execution_options().get(WRITER, False)
            connection.exec_driver_sql(BEGIN_WRITE if writer else "BEGIN")

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_no_autobegin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    # A fixed pool, opened as needed, with no overflow: an overflow connection is closed again when
    # it is returned, so in a burst every request past the pool paid for a new connection (and for
    # preparing its statements anew) just when the server was busiest. Requests past the pool wait
    # for a connection instead. 20 a process keeps several web processes, a worker and the clock
    # under PostgreSQL's default of 100 connections.
    options.setdefault("pool_size", 20)
    options.setdefault("max_overflow", 0)
    options.setdefault("pool_pre_ping", True)
    options.setdefault("poolclass", metrics.WatchedPool)  # counts the requests waiting for a connection
    # A database that does not answer is refused after seconds, not after asyncpg's minute. No JIT:
    # our statements are short, and compiling one that the planner overestimates took a third of a
    # second (the console's page of 30,000 people) where running it takes milliseconds.
    options.setdefault("connect_args", {"timeout": CONNECT_TIMEOUT, "server_settings": {"jit": "off"}})
    return create_async_engine(url, **options)


def insert_unless_there(session: AsyncSession, model: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING on the session's database: a row whose unique key is taken is
    left as it is, in one statement, where catching the IntegrityError would need a savepoint."""
    return insert_of(session, model).on_conflict_do_nothing()


def insert_of(session: AsyncSession, model: Any) -> Any:
    """The INSERT of the session's database, which knows ON CONFLICT (both dialects spell it alike)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def session_factory(engine: AsyncEngine, *, writer: bool = False) -> async_sessionmaker[AsyncSession]:
    """Sessions for reading, or (writer=True) for transactions that will write."""
    bind = engine.execution_options(**{WRITER: True}) if writer else engine
    return async_sessionmaker(bind, expire_on_commit=False)


class microseconds_between(FunctionElement[int]):  # lower case, as SQL functions are
    """The whole microseconds from one stored instant to another, exact on both databases (as a
    timedelta's are), so that sorting and rounding in SQL agree with Python's."""

    type = BigInteger()
    inherit_cache = True


@compiles(microseconds_between, "sqlite")
def _microseconds_between_sqlite(element: microseconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff'. SQLite's date functions keep milliseconds only (and
    # round to them), so: the whole seconds before the point, plus the six digits after it.
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return (
        f"((strftime('%s', substr({end}, 1, 19)) - strftime('%s', substr({start}, 1, 19))) * 1000000"
        f" + (substr({end}, 21) - substr({start}, 21)))"
    )


@compiles(microseconds_between, "postgresql")
def _microseconds_between_postgresql(element: microseconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM {end} - {start}) * 1000000 AS BIGINT)"


class inside(FunctionElement[bool]):  # lower case, as SQL functions are
    """inside(part, text): whether part occurs in text, exactly (case and all), as Python's `in`
    does; LIKE would read % and _ in a stored text as wildcards."""

    type = Boolean()
    inherit_cache = True


@compiles(inside, "sqlite")
def _inside_sqlite(element: inside, compiler: SQLCompiler, **kw: Any) -> str:
    part, text = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(instr({text}, {part}) > 0)"


@compiles(inside, "postgresql")
def _inside_postgresql(element: inside, compiler: SQLCompiler, **kw: Any) -> str:
    part, text = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(strpos({text}, {part}) > 0)"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def missing_schema(engine: AsyncEngine) -> str | None:
    """What to run when the database is behind the code's migrations (or has none), as one line;
    None when it is at the newest schema (or past it: a newer version's, not this one's to judge)."""

    def compare(connection: Connection) -> str | None:
        script = ScriptDirectory.from_config(alembic_config())
        head = script.get_current_head()
        current = MigrationContext.configure(connection).get_current_heads()
        if current == (head,) or not set(current) <= {r.revision for r in script.walk_revisions()}:
            return None
        where = f"is at revision {', '.join(current)}" if current else "has no schema"
        return f'the database {where}, this version needs {head}: run "hackserver db upgrade"'

    async with engine.connect() as connection:
        return await connection.run_sync(compare)
