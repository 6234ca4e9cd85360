"""Commands per minute, for the dashboard's chart, without a database write per command.

Each web process counts the commands its bot answers (every platform, the built-in channels and a
demo's crowd go through bots.core.Bot.handle) in memory, by the minute of the event's clock they
were answered in. Every FLUSH_EVERY seconds, and once more when the process stops, it adds what it
counted to the `command_counts` table in one statement (an upsert that adds: several web processes
on one database sum up), then starts counting afresh. A flush that fails keeps its counts for the
next one.

What can be lost: a process killed without its shutdown (SIGKILL, a crash, the machine gone) loses
what it counted since its last flush, at most the last FLUSH_EVERY seconds of its commands. A flush
that committed but whose answer was lost with the connection would be counted again by the next.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

from hackserver.foundation.db import insert_of
from hackserver.foundation.models import CommandMinute

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transactions

log = logging.getLogger(__name__)
FLUSH_EVERY = 5.0  # seconds


class CommandTally:
    def __init__(self) -> None:
        self.counts: Counter[datetime] = Counter()  # commands by the minute of the event's clock

    def count(self, at: datetime) -> None:
        self.counts[at.replace(second=0, microsecond=0)] += 1

    async def flush(self, transactions: Transactions) -> None:
        counts, self.counts = self.counts, Counter()
        if not counts:
            return
        try:
            async with transactions.transaction() as tx:
                insert = insert_of(tx.session, CommandMinute).values(
                    [
                        {"event_id": tx.event_id, "minute": minute, "commands": n}
                        for minute, n in counts.items()
                    ]
                )
                added = {"commands": CommandMinute.commands + insert.excluded.commands}
                await tx.session.execute(
                    insert.on_conflict_do_update(index_elements=["event_id", "minute"], set_=added)
                )
        except BaseException:
            self.counts.update(counts)  # for the next flush
            raise

    async def keep_flushing(self, transactions: Transactions) -> None:
        """Flushes every FLUSH_EVERY seconds until cancelled (the lifespan flushes once more after)."""
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            try:
                await self.flush(transactions)
            except Exception as error:  # the database may be away for a moment: the counts wait
                log.warning("commands per minute not written yet: %s", error)
