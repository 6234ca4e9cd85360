"""Alembic environment: `hackserver db upgrade` passes a connection; plain `alembic` reads the settings."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from hackserver.foundation.models import Base

target_metadata = Base.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    from hackserver.foundation.db import create_engine
    from hackserver.foundation.settings import Settings

    engine = create_engine(Settings.from_env().database_url)
    async with engine.begin() as connection:
        await connection.run_sync(run_with)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `hackserver db upgrade`")
elif (connection := context.config.attributes.get("connection")) is not None:
    run_with(connection)
else:
    asyncio.run(run_from_settings())
