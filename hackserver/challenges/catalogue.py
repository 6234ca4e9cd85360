"""The challenge catalogue: reading a CSV or JSON file of challenges (every bad row reported at once),
writing it into the database by external id, and searching it.

`parse_catalogue` is pure: bytes in, good rows and the bad rows' problems out; a problem of the whole
file raises CatalogueError. `import_catalogue` imports nothing while a row is bad, unless told to skip
the bad ones. `import_rows` writes in one transaction: it adds and updates, never deletes, so the
teams' choices of a challenge survive a re-import. Searching is in hackserver.challenges.search."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hackserver.challenges.search import id_key
from hackserver.foundation import json_input
from hackserver.foundation.errors import CatalogueError
from hackserver.foundation.i18n import Joined, Term
from hackserver.foundation.import_problems import Problem, Report
from hackserver.foundation.models import AuditEntry, Challenge
from hackserver.foundation.plain_text import free_text, one_line
from hackserver.foundation.text_limits import CATALOGUES

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transactions

COLUMNS = ("id", "title", "description", "category", "tags", "owner", "languages", "max_teams", "contact")
REQUIRED = ("id", "title")
MAX_LENGTH = CATALOGUES["challenge"]
MAX_TAGS = 20
MAX_TEAMS_LIMIT = 10_000
_ID = re.compile(r"[A-Za-z0-9_-]+")
_LIST_SEPARATORS = re.compile(r"[;,]")
_LANGUAGE_SEPARATORS = re.compile(r"[;,\s]+")
_EMAIL = re.compile(r"(mailto:)?[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]{2,}")
# Newlines and tabs are fine; NUL breaks PostgreSQL, a lone surrogate (JSON's "\ud800") has no UTF-8.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_JSON_ITEM = '{"id": "...", "title": "..."}'


@dataclass(frozen=True)
class ChallengeRow:
    external_id: str
    title: str
    description: str
    category: str | None
    tags: tuple[str, ...]
    owner_organisation: str | None
    languages: tuple[str, ...]  # empty: any language of the event
    max_teams: int | None  # None: unlimited
    contact: str | None
    row: int  # where it stood: spreadsheet row (header = 1) or JSON item (from 1)


def parse_catalogue(
    data: bytes, filename: str, languages: Sequence[str]
) -> tuple[list[ChallengeRow], list[Problem]]:
    """The good rows and the problems of the bad ones; a bad file as a whole raises CatalogueError."""
    kind = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if kind not in ("csv", "json"):
        raise CatalogueError("import.not_csv_or_json")
    text = _decode(data)
    if not text.strip():
        raise CatalogueError("import.empty")
    records = _csv_records(text) if kind == "csv" else _json_records(text)
    if not records:
        raise CatalogueError(f"import.no_challenges_{kind}")
    _refuse_duplicates(records, "row" if kind == "csv" else "item")
    rows: list[ChallengeRow] = []
    problems: list[Problem] = []
    for number, unit, values, early in records:
        row_problems = list(early)
        row = _validate(values, number, set(languages), Report(row_problems, number, unit))
        problems += sorted(row_problems, key=lambda p: COLUMNS.index(p.field) if p.field else -1)
        if not row_problems:
            rows.append(row)
    return rows, problems


_Record = tuple[int, str, dict[str, Any], list[Problem]]  # number, unit, values, problems found so far


def _decode(data: bytes) -> str:
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data[3 if bom else 0 :].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = error.start + (3 if bom else 0)
        line = data[:offset].count(b"\n") + 1
        raise CatalogueError(
            "import.not_utf8", byte=f"{data[offset]:02x}", offset=offset, line=line
        ) from None
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def _csv_records(
    text: str, columns: Sequence[str] = COLUMNS, required: Sequence[str] = REQUIRED
) -> list[_Record]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        table = list(reader)
    except csv.Error as error:
        raise CatalogueError("import.not_csv", line=reader.line_num, error=str(error)) from None
    header = [name.strip().lower() for name in table[0]]
    used = [i for i, name in enumerate(header) if name or any(i < len(r) and r[i].strip() for r in table)]
    names = [header[i] for i in used]
    missing = [name for name in required if name not in names]
    unknown = [
        name or Term("import.unnamed_column", {"column": i + 1})
        for i, name in zip(used, names, strict=True)
        if name not in columns
    ]
    twice = sorted({name for name in names if names.count(name) > 1 and name in columns})
    if missing or unknown or twice:
        if len(table[0]) == 1 and ";" in table[0][0]:
            raise CatalogueError("import.semicolons")
        wrong: dict[str, Sequence[Term | str]] = {
            "import.missing_columns": missing, "import.unknown_columns": unknown, "import.columns_twice": twice
        }  # fmt: skip
        parts = [
            Term(key, {"n": len(named), "names": Joined(named, ", ")})
            for key, named in wrong.items()
            if named
        ]
        raise CatalogueError("import.columns", problems=Joined(parts), columns=", ".join(columns))
    records: list[_Record] = []
    for number, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank rows, as spreadsheets leave them
        early = []
        if any(cell.strip() for cell in cells[len(header) :]):
            early.append(Problem(number, None, "import.cells", {"cells": len(cells), "columns": len(header)}))
        values = {header[i]: cells[i] for i in used if i < len(cells)}
        records.append((number, "row", values, early))
    return records


def _json_records(text: str) -> list[_Record]:
    try:
        items = json_input.loads(text)
    except json.JSONDecodeError as error:
        raise CatalogueError(
            "import.not_json", error=error.msg, line=error.lineno, column=error.colno
        ) from None
    if not isinstance(items, list):
        raise CatalogueError("import.not_json_list", example=f"[{_JSON_ITEM}, ...]")
    unknown: dict[str, int] = {}
    records: list[_Record] = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            wrong = Problem(number, None, "import.not_object", {"example": _JSON_ITEM}, "item")
            records.append((number, "item", {}, [wrong]))
            continue
        for key in item:
            if key not in COLUMNS:
                unknown.setdefault(str(key), number)
        records.append((number, "item", item, []))
    if unknown:
        named = [
            Term("import.field_in_item", {"field": key, "item": number}) for key, number in unknown.items()
        ]
        raise CatalogueError(
            "import.unknown_fields", n=len(unknown), names=Joined(named, ", "), fields=", ".join(COLUMNS)
        )
    return records


def _refuse_duplicates(records: list[_Record], unit: str) -> None:
    seen: dict[str, tuple[str, list[int]]] = {}
    for number, _, values, _ in records:
        raw = values.get("id")
        if isinstance(raw, str | int) and not isinstance(raw, bool) and str(raw).strip():
            written = str(raw).strip()
            seen.setdefault(id_key(written), (written, []))[1].append(number)
    twice = [(written, numbers) for written, numbers in seen.values() if len(numbers) > 1]
    if twice:
        said = [
            Term(f"import.id_in_{unit}s", {"id": written, "numbers": _and(numbers)})
            for written, numbers in twice
        ]
        raise CatalogueError("import.duplicate_ids", n=len(twice), ids=Joined(said))


def _and(numbers: list[int]) -> Term:
    return Term("import.and", {"most": ", ".join(map(str, numbers[:-1])), "last": numbers[-1]})


def _validate(values: dict[str, Any], number: int, languages: set[str], fail: Report) -> ChallengeRow:
    external_id = _text(values, "id", fail, required=True)
    if external_id and not _ID.fullmatch(external_id):
        fail("id", "import.id_characters", id=repr(external_id))
    contact = _text(values, "contact", fail)
    if contact and not _EMAIL.fullmatch(contact) and not _is_url(contact):
        fail("contact", "import.contact", value=repr(contact))
    tags = _unique(_list(values, "tags", fail))
    _within(tags, "tags", fail, MAX_TAGS, MAX_LENGTH["tags"])
    spoken = _languages(values, fail, languages)
    return ChallengeRow(
        external_id=external_id,
        title=_text(values, "title", fail, required=True),
        description=_text(values, "description", fail),
        category=_text(values, "category", fail) or None,
        tags=tuple(tags),
        owner_organisation=_text(values, "owner", fail) or None,
        languages=tuple(spoken),
        max_teams=_max_teams(values.get("max_teams"), fail),
        contact=contact or None,
        row=number,
    )


def _text(
    values: dict[str, Any],
    name: str,
    fail: Report,
    *,
    required: bool = False,
    limit: int | None = None,
    multiline: bool | None = None,
) -> str:
    raw = values.get(name)
    if isinstance(raw, int) and not isinstance(raw, bool) and name == "id":
        raw = str(raw)
    if raw is not None and not isinstance(raw, str):
        fail(name, "import.not_text")
        return ""
    # A description keeps its lines; other fields are one line, however the cell wrapped.
    if multiline is None:
        multiline = name == "description"
    value = (raw or "").strip() if multiline else " ".join((raw or "").split())
    if (bad := _CONTROL.search(value)) is not None:
        fail(name, "import.control_character", character=f"U+{ord(bad.group()):04X}")
    value = free_text(value) if multiline else one_line(value)  # bidi overrides and the like go
    if not value and required:
        fail(name, "import.required")
    limit = MAX_LENGTH[name] if limit is None else limit
    if len(value) > limit:
        fail(name, "import.too_long", limit=limit, length=len(value))
    return value


def _list(
    values: dict[str, Any], name: str, fail: Report, separators: re.Pattern[str] = _LIST_SEPARATORS
) -> list[str]:
    raw = values.get(name)
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = separators.split(raw)
    if isinstance(raw, list) and all(isinstance(part, str) for part in raw):
        return [item for part in raw if (item := one_line(part))]
    fail(name, "import.not_list")
    return []


def _within(items: list[str], field: str, fail: Report, most: int, longest: int) -> None:
    for item in items:
        if len(item) > longest:
            fail(field, "import.item_too_long", item=repr(item[:20]), limit=longest)
    if len(items) > most:
        fail(field, "import.too_many", count=len(items), field=field, most=most)


def _languages(values: dict[str, Any], fail: Report, languages: set[str]) -> list[str]:
    """The row's languages: two-letter codes of the event's languages."""
    spoken = _unique([code.lower() for code in _list(values, "languages", fail, _LANGUAGE_SEPARATORS)])
    for code in spoken:
        if not re.fullmatch(r"[a-z]{2}", code):
            fail("languages", "import.language_code", code=repr(code))
        elif code not in languages:
            fail("languages", "import.event_language", code=code, languages=", ".join(sorted(languages)))
    return spoken


def _unique(items: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.casefold(), item)
    return list(seen.values())


def _max_teams(raw: Any, fail: Report) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    number: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        number = raw
    elif isinstance(raw, float) and raw.is_integer():
        number = int(raw)
    elif isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        number = int(raw.strip())
    if number is None or not 0 < number <= MAX_TEAMS_LIMIT:
        fail("max_teams", "import.max_teams", most=MAX_TEAMS_LIMIT, value=repr(raw))
        return None
    return number


def _is_url(text: str) -> bool:
    parts = urlsplit(text)
    host = parts.hostname or ""
    return (
        parts.scheme in ("http", "https")
        and ("." in host or host == "localhost")
        and not re.search(r"\s", text)
    )


# ---------------------------------------------------------------------------------------------- import


ProgressCallback = Callable[[int, int], None]  # rows written so far, rows in all


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int
    skipped: int  # bad rows left out
    not_in_file: int  # challenges in the database the file does not name; kept

    def summary(self) -> str:
        kept = f"; {self.not_in_file} in the database but not in the file, kept" if self.not_in_file else ""
        return (
            f"challenges: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.skipped} skipped{kept}"
        )


@dataclass(frozen=True)
class Imported:
    problems: list[Problem]
    result: ImportResult | None  # None: nothing imported, because of the problems


async def import_catalogue(
    transactions: Transactions,
    data: bytes,
    filename: str,
    *,
    skip_bad: bool = False,
    actor: str = "command line",
    progress: ProgressCallback | None = None,
) -> Imported:
    rows, problems = parse_catalogue(data, filename, transactions.event.languages)
    if problems and not skip_bad:
        return Imported(problems, None)
    skipped = len({problem.row for problem in problems})
    return Imported(
        problems, await import_rows(transactions, rows, skipped=skipped, actor=actor, progress=progress)
    )


async def import_rows(
    transactions: Transactions,
    rows: Sequence[ChallengeRow],
    *,
    skipped: int = 0,
    actor: str = "command line",
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Adds and updates by external id, in place, in one transaction; deletes nothing."""
    if len({id_key(row.external_id) for row in rows}) != len(rows):
        raise ValueError("rows with the same id; parse_catalogue refuses those")
    try:
        async with transactions.transaction() as tx:
            session = tx.session
            existing = list(await session.scalars(select(Challenge).where(Challenge.event_id == tx.event_id)))
            exact = {c.external_id: c for c in existing}
            by_key = {id_key(c.external_id): c for c in reversed(existing)}
            added = updated = 0
            for done, row in enumerate(rows, start=1):
                values = _columns(row)
                challenge = exact.get(row.external_id) or by_key.get(id_key(row.external_id))
                if challenge is None:
                    session.add(Challenge(event_id=tx.event_id, **values))
                    added += 1
                elif any(getattr(challenge, name) != value for name, value in values.items()):
                    for name, value in values.items():
                        setattr(challenge, name, value)
                    updated += 1
                if progress is not None and (done % 100 == 0 or done == len(rows)):
                    await session.flush()
                    progress(done, len(rows))
            named = {id_key(row.external_id) for row in rows}
            not_in_file = sum(1 for c in existing if id_key(c.external_id) not in named)
            result = ImportResult(added, updated, len(rows) - added - updated, skipped, not_in_file)
            counts = {f.name: getattr(result, f.name) for f in fields(result)}
            session.add(
                AuditEntry(
                    event_id=tx.event_id,
                    actor=actor,
                    action="challenges.imported",
                    details=counts,
                    at=tx.now,
                )
            )
            tx.record("challenges.imported", **counts)
    except IntegrityError:
        raise CatalogueError("import.raced") from None
    return result


def _columns(row: ChallengeRow) -> dict[str, Any]:
    return {
        "external_id": row.external_id,
        "title": row.title,
        "description": row.description,
        "category": row.category,
        "tags": list(row.tags),
        "owner_organisation": row.owner_organisation,
        "languages": list(row.languages),
        "max_teams": row.max_teams,
        "contact": row.contact,
    }
