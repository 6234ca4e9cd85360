"""The expert pool: reading a CSV of experts (every bad row reported at once, with the catalogue
import's rules and helpers), writing it by name, adding one expert by API, and an expert's private
link. An expert needs no account: the link `/expert/{token}` is all they have.

Importing again updates experts by name (case aside) and keeps their slots and bookings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from hackserver.challenges.catalogue import (
    _EMAIL,
    _csv_records,
    _decode,
    _is_url,
    _languages,
    _list,
    _text,
    _unique,
    _within,
)
from hackserver.foundation import links
from hackserver.foundation.channels import ensure_channel
from hackserver.foundation.errors import CatalogueError
from hackserver.foundation.import_problems import Problem, Report
from hackserver.foundation.models import AuditEntry, Expert
from hackserver.foundation.text_limits import CATALOGUES

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction, Transactions

COLUMNS = ("name", "topics", "languages", "bio", "timezone", "contact", "join_url")
REQUIRED = ("name", "topics")
LIMITS = CATALOGUES["expert"]
MAX_TOPICS = 12


@dataclass(frozen=True)
class ExpertRow:
    name: str
    topics: tuple[str, ...]
    languages: tuple[str, ...]
    bio: str
    timezone: str | None
    contact: str | None
    join_url: str | None
    row: int


def expert_channel(expert_id: int) -> str:
    """The built-in channel where an expert's notices land: shown on their page, read by nobody else."""
    return f"expert-{expert_id}"


def name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def parse_experts(data: bytes, languages: Sequence[str]) -> tuple[list[ExpertRow], list[Problem]]:
    text = _decode(data)
    if not text.strip():
        raise CatalogueError("import.empty")
    records = _csv_records(text, COLUMNS, REQUIRED)
    if not records:
        raise CatalogueError("import.no_experts")
    rows: list[ExpertRow] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for number, unit, values, early in records:
        row_problems = list(early)
        row = validate(values, number, set(languages), Report(row_problems, number, unit))
        if row.name and (first := seen.setdefault(name_key(row.name), number)) != number:
            row_problems.append(
                Problem(number, "name", "import.name_again", {"name": repr(row.name), "row": first})
            )
        problems += sorted(row_problems, key=lambda p: COLUMNS.index(p.field) if p.field else -1)
        if not row_problems:
            rows.append(row)
    return rows, problems


def validate(values: dict[str, Any], number: int, languages: set[str], fail: Report) -> ExpertRow:
    """One expert's fields, from a CSV row or an API body; problems go to `fail`."""

    def text(name: str, *, required: bool = False, multiline: bool = False) -> str:
        return _text(values, name, fail, required=required, limit=LIMITS[name], multiline=multiline)

    name = text("name", required=True)
    topics = _unique([topic.lower() for topic in _list(values, "topics", fail)])
    if not topics and "topics" not in {p.field for p in fail.problems}:
        fail("topics", "import.topics_required")
    _within(topics, "topics", fail, MAX_TOPICS, LIMITS["topics"])
    spoken = _languages(values, fail, languages)
    zone = text("timezone")
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            fail("timezone", "import.timezone", zone=repr(zone))
    contact = text("contact")
    if contact and not _EMAIL.fullmatch(contact) and not _is_url(contact):
        fail("contact", "import.contact", value=repr(contact))
    join_url = text("join_url")
    if join_url and not _is_url(join_url):
        fail("join_url", "import.join_url", value=repr(join_url))
    return ExpertRow(
        name, tuple(topics), tuple(spoken), text("bio", multiline=True), zone or None, contact or None,
        join_url or None, number,
    )  # fmt: skip


@dataclass(frozen=True)
class Imported:
    problems: list[Problem]
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    done: bool = False  # False: nothing imported, because of the problems

    def summary(self) -> str:
        return f"experts: {self.added} added, {self.updated} updated, {self.unchanged} unchanged"


async def import_experts(transactions: Transactions, data: bytes, *, actor: str = "command line") -> Imported:
    rows, problems = parse_experts(data, transactions.event.languages)
    if problems:
        return Imported(problems)
    async with transactions.transaction() as tx:
        existing = {
            name_key(e.name): e
            for e in await tx.session.scalars(select(Expert).where(Expert.event_id == tx.event_id))
        }
        added = updated = 0
        for row in rows:
            values = columns(row)
            expert = existing.get(name_key(row.name))
            if expert is None:
                await add(tx, values)
                added += 1
            elif any(getattr(expert, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(expert, name, value)
                updated += 1
        counts = {"added": added, "updated": updated, "unchanged": len(rows) - added - updated}
        tx.session.add(
            AuditEntry(event_id=tx.event_id, actor=actor, action="experts.imported", details=counts, at=tx.now)
        )  # fmt: skip
        tx.record("experts.imported", **counts)
    return Imported([], added, updated, len(rows) - added - updated, True)


async def add(tx: Transaction, values: dict[str, Any]) -> Expert:
    expert = Expert(event_id=tx.event_id, **values)
    tx.session.add(expert)
    await tx.session.flush()
    await ensure_channel(tx.session, tx.event_id, expert_channel(expert.id), kind="expert")
    return expert


def columns(row: ExpertRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "topics": list(row.topics),
        "languages": list(row.languages),
        "bio": row.bio,
        "timezone": row.timezone,
        "contact": row.contact,
        "join_url": row.join_url,
    }


async def link_of(tx: Transaction, expert: Expert) -> str:
    """The address of the expert's private page (the same each time until revoked)."""
    return tx.links.address("expert", await links.grant(tx, "expert", expert.id))
