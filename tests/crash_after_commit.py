"""`python -m tests.crash_after_commit DATABASE_URL EVENT_PATH KEY`: commits one announcement to
the outbox and dies by SIGKILL before the process's own delivery tasks get a turn."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from hackserver.bootstrap import bootstrap
from hackserver.foundation import outbox
from hackserver.foundation.settings import Settings

TEXTS = {"de": "Hallo nach dem Absturz", "en": "Hello after the crash"}


async def main(database_url: str, event_path: str, key: str) -> None:
    settings = Settings(database_url=database_url, event_path=Path(event_path))
    async with bootstrap(settings) as runtime:
        async with runtime.transaction() as tx:
            await outbox.announce(tx, key, "announcements", TEXTS)
        # Committed and handed to the delivery tasks, which have not run yet: no await since.
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
