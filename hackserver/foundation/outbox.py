"""The transactional outbox.

A change writes its outbound messages as rows in its own transaction (`add`); after commit the job
runner delivers them (`deliver`): in-process tasks without Redis, RQ jobs with it. Delivery is
at-least-once per row and idempotent per key: a delivered or dead row is never sent again, failed
attempts back off and end as dead letters the dashboard shows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import ColumnElement, Table, and_, func, insert, literal, or_, select, update

from hackserver.foundation import metrics
from hackserver.foundation.errors import Conflict, NotFound
from hackserver.foundation.models import AuditEntry, OutboxMessage

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from hackserver.foundation.transaction import Transaction

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
MAX_BACKOFF = 300.0
LEASE = timedelta(minutes=2)  # a send not marked by then is presumed lost with its process


class DeliveryFailed(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent  # trying again cannot help (e.g. the channel is gone): dead at once


class Deliverer(Protocol):
    """Delivers a row inside its own transaction (the built-in channels); raises DeliveryFailed."""

    async def deliver(self, tx: Transaction, message: OutboxMessage) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    id: int
    key: str  # stable across retries: the platform's idempotency key where it has one
    platform: str
    channel: str
    payload: dict[str, Any]  # {"author", "texts": {language: text}} or {"reply": Reply.to_json()}
    # When an earlier attempt began that died with its process: it may have reached the platform.
    in_doubt_since: datetime | None = None


class Sender(Protocol):
    """Sends to an external platform, outside any transaction, within the platform's rate limits;
    raises DeliveryFailed (with retry_after when the platform said when) to be retried later. A
    message `in_doubt_since` is looked for first where the platform can tell, and not sent again."""

    async def send(self, message: Outgoing) -> None: ...

    async def aclose(self) -> None:
        """Releases what the sender holds open (HTTP sessions) when the process stops."""
        ...


class Jobs(Protocol):
    async def start(self, delivery: Delivery) -> None: ...

    async def stop(self) -> None: ...

    async def deliver(self, message_ids: list[int], delay: float = 0, attempt: int = 0) -> None:
        """Delivers the rows after `delay` seconds; `attempt` (the rows' attempts so far) tells a
        retry or a recovery apart from a delivery that is already queued."""
        ...


class Delivery(Protocol):
    """What delivering needs of a process: its transactions, where each platform's rows go, and
    the jobs that run deliveries (the runtime is one)."""

    @property
    def deliverers(self) -> dict[str, Deliverer]: ...

    @property
    def senders(self) -> dict[str, Sender]: ...

    @property
    def jobs(self) -> Jobs: ...

    @property
    def write_lock(self) -> asyncio.Lock | None: ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    def reading(self) -> AbstractAsyncContextManager[Transaction]: ...


async def add(tx: Transaction, key: str, platform: str, channel: str, payload: dict[str, Any]) -> None:
    """A message to deliver once the transaction commits: written with the transaction's others in one
    INSERT at its end (Runtime.transaction), not through the unit of work."""
    tx.outbox.append(OutboxMessage(key=key, platform=platform, channel=channel, payload=payload))


async def write(tx: Transaction) -> list[int]:
    """Writes the transaction's messages in one INSERT (a plain one: the rows are not loaded back as
    objects); their ids."""
    table = cast(Table, OutboxMessage.__table__)
    rows = [
        {"key": m.key, "platform": m.platform, "channel": m.channel, "payload": m.payload} for m in tx.outbox
    ]
    return list(await tx.session.scalars(insert(table).returning(table.c.id), rows))


async def announce(tx: Transaction, key: str, logical_channel: str, texts: dict[str, str]) -> None:
    """Posts to a logical channel (e.g. announcements) on every platform the event delivers to."""
    payload = {"author": tx.event.name, "texts": texts}
    for platform, channel in tx.platform_channels(logical_channel):
        await add(tx, f"{key}:{platform}:{channel}", platform, channel, payload)


async def requeue_dead(tx: Transaction, message_id: int, *, actor: str) -> OutboxMessage:
    """Gives a dead letter one more attempt (an organiser fixed its cause); audit-logged. Only dead
    rows qualify: a delivered one is never sent again."""
    message = await tx.session.scalar(
        select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
    )
    if message is None:
        raise NotFound("outbox.unknown", id=message_id)
    if message.status != "dead":
        raise Conflict("outbox.not_dead", id=message_id, status=message.status)
    message.status, message.next_attempt_at = "pending", tx.now
    # Its attempts so far name the job: a queue that remembers the last job does not skip this one.
    tx.redeliveries.append((message.id, message.attempts))
    tx.session.add(
        AuditEntry(
            event_id=tx.event_id,
            actor=actor,
            action="outbox.retry",
            details={"message": message.id, "platform": message.platform, "error": message.last_error},
            at=tx.now,
        )
    )
    tx.record("outbox.requeued", id=message.id, platform=message.platform, by=actor)
    return message


async def deliver(delivery: Delivery, message_id: int) -> None:
    """Delivers one row once; a failure schedules its own retry."""
    await deliver_many(delivery, [message_id])


async def deliver_many(delivery: Delivery, message_ids: list[int]) -> None:
    """Delivers rows once each, in two transactions for the lot rather than two a row.

    Built-in channels are written in the claiming transaction (a savepoint each). External platforms
    are called outside any transaction: the rows are claimed ("sending", with a lease), sent, then
    marked, so a process that dies mid-way leaves rows that are sent again when their lease runs out
    (or sooner: a worker starting on the same host reclaims what a dead one was sending).
    """
    retries: list[tuple[int, tuple[float, int]]] = []
    async with delivery.transaction() as tx:
        now = datetime.now(UTC)
        outgoing = await _claim(tx, message_ids, list(delivery.senders), now) if delivery.senders else []
        if len(outgoing) < len(message_ids):
            claimed = {sent.id for sent in outgoing}
            rest = [message_id for message_id in message_ids if message_id not in claimed]
            retries += await _deliver_inside(delivery, tx, rest, now)
    if outgoing:
        outcomes = await asyncio.gather(*(_send(delivery, message) for message in outgoing))
        failed = {sent.id: failure for sent, failure in zip(outgoing, outcomes, strict=True) if failure}
        async with delivery.transaction() as tx:
            await _mark_delivered(tx, [sent.id for sent in outgoing if sent.id not in failed])
            for row in await _locked(tx, list(failed)) if failed else []:
                if row.status in ("delivered", "dead"):
                    continue
                failure = failed[row.id]
                if (retry := _fail(tx, row, failure, final=failure.permanent)) is not None:
                    retries.append((row.id, retry))
    for message_id, (delay, attempt) in retries:
        await delivery.jobs.deliver([message_id], delay=delay, attempt=attempt)


async def _claim(
    tx: Transaction, message_ids: list[int], platforms: list[str], now: datetime
) -> list[Outgoing]:
    """Claims the claimable rows of external platforms in one statement, without loading them. On
    PostgreSQL an UPDATE that waited for a row another worker holds checks its WHERE again on the row
    as that worker left it, so a row claimed meanwhile is left to it; the rows are taken through the
    primary key in id order, as every claim takes them, so two claims do not deadlock. A row whose
    earlier attempt was never marked keeps that attempt's start, and goes out in doubt."""
    began = func.coalesce(OutboxMessage.attempted_at, literal(now, OutboxMessage.attempted_at.type))
    claimed = await tx.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.platform.in_(platforms), _claimable(now))
        .values(status="sending", next_attempt_at=now + LEASE, attempted_at=began)
        .returning(
            OutboxMessage.id,
            OutboxMessage.key,
            OutboxMessage.platform,
            OutboxMessage.channel,
            OutboxMessage.payload,
            OutboxMessage.attempted_at,
        ),
        execution_options={"synchronize_session": False},
    )
    outgoing = [
        Outgoing(message_id, key, platform, channel, payload, attempted if attempted < now else None)
        for message_id, key, platform, channel, payload, attempted in claimed
    ]
    return sorted(outgoing, key=lambda message: message.id)


async def _deliver_inside(
    delivery: Delivery, tx: Transaction, message_ids: list[int], now: datetime
) -> list[tuple[int, tuple[float, int]]]:
    """Delivers the rows of platforms written inside the database (the built-in channels), each in a
    savepoint of the claiming transaction; returns the retries to schedule."""
    retries: list[tuple[int, tuple[float, int]]] = []
    delivered: list[tuple[int, str, datetime]] = []
    rows = await _locked(
        tx, message_ids, OutboxMessage.platform.not_in(list(delivery.senders)), _claimable(now)
    )
    for message in rows:
        deliverer = delivery.deliverers.get(message.platform)
        try:
            if deliverer is None:
                raise DeliveryFailed(f"no deliverer for platform {message.platform!r} is configured")
            async with tx.session.begin_nested():
                await _guarded(deliverer.deliver(tx, message), message.id, message.platform)
        except DeliveryFailed as failure:
            if (retry := _fail(tx, message, failure, final=deliverer is None)) is not None:
                retries.append((message.id, retry))
            continue
        message.status, message.delivered_at = "delivered", datetime.now(UTC)
        message.attempts += 1
        delivered.append((message.id, message.platform, message.created_at))
    _record_delivered(tx, delivered)
    return retries


async def _mark_delivered(tx: Transaction, message_ids: list[int]) -> None:
    """Marks sent rows delivered in one statement, without loading them (most sends succeed)."""
    if not message_ids:
        return
    marked = await tx.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status.not_in(("delivered", "dead")))
        .values(status="delivered", delivered_at=datetime.now(UTC), attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id, OutboxMessage.platform, OutboxMessage.created_at),
        execution_options={"synchronize_session": False},
    )
    _record_delivered(tx, marked.all())


def _record_delivered(tx: Transaction, delivered: Sequence[tuple[int, str, datetime]]) -> None:
    """One event per platform for a batch, not one a row: nothing listens for each delivery."""
    by_platform: dict[str, list[int]] = {}
    now = datetime.now(UTC)
    for message_id, platform, created_at in delivered:
        by_platform.setdefault(platform, []).append(message_id)
        metrics.delivered(platform, (now - created_at).total_seconds())
    for platform, ids in by_platform.items():
        tx.record("outbox.delivered", platform=platform, ids=sorted(ids))


async def _locked(
    tx: Transaction, message_ids: list[int], *criteria: ColumnElement[bool]
) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage).where(OutboxMessage.id.in_(message_ids), *criteria).order_by(OutboxMessage.id)
    )
    return list(await tx.session.scalars(query.with_for_update()))


async def _send(delivery: Delivery, message: Outgoing) -> DeliveryFailed | None:
    try:
        await _guarded(delivery.senders[message.platform].send(message), message.id, message.platform)
    except DeliveryFailed as refused:
        return refused
    return None


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Pending, or claimed by a process whose lease ran out."""
    return or_(
        OutboxMessage.status == "pending",
        and_(OutboxMessage.status == "sending", OutboxMessage.next_attempt_at <= now),
    )


async def _guarded(attempt: Awaitable[None], message_id: int, platform: str) -> None:
    try:
        await attempt
    except DeliveryFailed:
        raise
    except Exception as error:  # a platform's surprise is a failed attempt, not a lost row
        log.exception("delivering outbox message %s to %s failed", message_id, platform)
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from error


def _fail(
    tx: Transaction, message: OutboxMessage, failure: DeliveryFailed, *, final: bool
) -> tuple[float, int] | None:
    """Records a failed attempt; returns (delay, attempt) when it is to be tried again."""
    message.attempts += 1
    message.last_error = str(failure)[:500]
    message.attempted_at = None  # this attempt's outcome is known: nothing was delivered
    if final or message.attempts >= MAX_ATTEMPTS:
        message.status = "dead"
        metrics.DELIVERIES.labels(message.platform, "dead").inc()
        tx.record("outbox.dead", id=message.id, platform=message.platform, error=message.last_error)
        return None
    backoff = min(2.0**message.attempts, MAX_BACKOFF)
    delay = backoff if failure.retry_after is None else failure.retry_after
    message.status, message.next_attempt_at = "pending", datetime.now(UTC) + timedelta(seconds=delay)
    metrics.DELIVERIES.labels(message.platform, "retry").inc()
    tx.record("outbox.retry", id=message.id, platform=message.platform, error=message.last_error)
    return delay, message.attempts


async def recover(delivery: Delivery, older_than: timedelta = timedelta(0)) -> int:
    """Hands over again the pending rows whose delivery may have been lost with a process, and the
    claimed ones whose lease ran out."""
    now = datetime.now(UTC)
    async with delivery.reading() as tx:
        rows = (
            await tx.session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.status,
                    OutboxMessage.next_attempt_at,
                    OutboxMessage.attempts,
                )
                .where(
                    or_(
                        and_(
                            OutboxMessage.status == "pending",
                            OutboxMessage.next_attempt_at <= now - older_than,
                        ),
                        and_(OutboxMessage.status == "sending", OutboxMessage.next_attempt_at <= now),
                    )
                )
                .order_by(OutboxMessage.id)
            )
        ).all()
    lapsed = [(message_id, attempts) for message_id, status, _, attempts in rows if status == "sending"]
    for message_id, status, at, attempts in rows:
        if status == "pending":
            await delivery.jobs.deliver([message_id], max(0.0, (at - now).total_seconds()), attempts)
    return len(rows) - len(lapsed) + await reclaim(delivery, lapsed)


async def reclaim(delivery: Delivery, lost: list[tuple[int, int]]) -> int:
    """Hands over again rows whose attempt died with its process: (row, attempt) pairs. The lost
    attempt counts, so the new delivery has a job of its own rather than the dead one's; a row that
    moved on meanwhile (delivered, or reclaimed by another process) is left alone."""
    handed: list[tuple[int, int]] = []
    async with delivery.transaction() as tx:
        for message_id, attempt in lost:
            found = await tx.session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.attempts == attempt,
                    OutboxMessage.status.in_(("pending", "sending")),
                )
                .values(status="pending", attempts=attempt + 1, next_attempt_at=datetime.now(UTC))
                .returning(OutboxMessage.id),
                execution_options={"synchronize_session": False},
            )
            if found.scalar() is not None:
                handed.append((message_id, attempt + 1))
    for message_id, attempt in handed:
        await delivery.jobs.deliver([message_id], attempt=attempt)
    return len(handed)
