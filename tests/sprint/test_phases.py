"""The phases as one transaction reads them: read once, and read again after that transaction shifts
one, or after a shift it undid."""

from __future__ import annotations

from datetime import timedelta

from hackserver.runtime import Runtime
from hackserver.sprint.phases import shift_phase
from tests.fakes import FakeClock

HOUR = timedelta(hours=1)


async def test_a_transaction_that_shifts_a_phase_reads_the_shifted_instants(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    planned = runtime.event.phases
    async with runtime.transaction() as tx:
        assert (await tx.phases())["submission_deadline"] == planned["submission_deadline"]
        await shift_phase(tx, "submission_deadline", HOUR, actor="test")
        assert (await tx.phases())["submission_deadline"] == planned["submission_deadline"] + HOUR


async def test_a_shift_undone_with_its_savepoint_is_undone_in_what_the_transaction_reads(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    planned = runtime.event.phases
    async with runtime.transaction() as tx:
        savepoint = await tx.session.begin_nested()
        await shift_phase(tx, "submission_deadline", HOUR, actor="test")
        assert (await tx.phases())["submission_deadline"] == planned["submission_deadline"] + HOUR
        await savepoint.rollback()
        tx.events.clear()  # the shift's event went with it
        assert (await tx.phases())["submission_deadline"] == planned["submission_deadline"]
