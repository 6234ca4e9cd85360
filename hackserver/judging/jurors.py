"""Jurors: imported from a CSV file (name, organisation, categories, conflicts) or through the API.

A juror is known by name within the event: importing again updates them. Categories and conflicts
are lists separated by `;` (or `,`); conflicts name teams. Every bad row is reported at once, and
its callers write nothing while one is bad.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hackserver.foundation.errors import CatalogueError
from hackserver.foundation.import_problems import Problem, Report
from hackserver.foundation.models import AuditEntry, Juror
from hackserver.foundation.plain_text import one_line
from hackserver.foundation.text_limits import CATALOGUES

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction

COLUMNS = ("name", "organisation", "categories", "conflicts")
LIMITS = CATALOGUES["juror"]


@dataclass(frozen=True)
class JurorRow:
    name: str
    organisation: str | None
    categories: list[str]
    conflicts: list[str]


def _list(value: Any) -> list[str]:
    if isinstance(value, list):
        items = [str(v) for v in value]
    else:
        items = str(value or "").replace(",", ";").split(";")
    return [item for i in items if (item := one_line(i))]


def parse_one(
    raw: dict[str, Any], number: int = 1, unit: str = "body"
) -> tuple[JurorRow | None, list[Problem]]:
    """One juror from a CSV row or an API body, or the problems that keep it from being one."""
    problems: list[Problem] = []
    fail = Report(problems, number, unit)
    name = one_line(str(raw.get("name") or ""))
    if not name:
        fail("name", "import.missing")
    elif len(name) > LIMITS["name"]:
        fail("name", "import.longer_than", limit=LIMITS["name"])
    organisation = one_line(str(raw.get("organisation") or "")) or None
    if organisation and len(organisation) > LIMITS["organisation"]:
        fail("organisation", "import.longer_than", limit=LIMITS["organisation"])
    for key in ("categories", "conflicts"):
        if raw.get(key) is not None and not isinstance(raw.get(key), str | list):
            fail(key, "import.list_or_text")
    if unknown := sorted(set(raw) - set(COLUMNS)):
        fail(None, "import.juror_columns", names=", ".join(unknown), columns=", ".join(COLUMNS))
    if problems:
        return None, problems
    row = JurorRow(
        name, organisation, _list(raw.get("categories")), [c.casefold() for c in _list(raw.get("conflicts"))]
    )
    return row, []


def parse_csv(data: bytes) -> tuple[list[JurorRow], list[Problem]]:
    """The good rows and the problems of the bad ones; a bad file as a whole raises CatalogueError."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CatalogueError("import.jurors_not_utf8") from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "name" not in [f.strip() for f in reader.fieldnames]:
        raise CatalogueError("import.jurors_header", columns=", ".join(COLUMNS))
    rows: list[JurorRow] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    if unknown := sorted({f.strip() for f in reader.fieldnames} - set(COLUMNS) - {""}):
        Report(problems, 1, "header")(
            None, "import.juror_columns", names=", ".join(unknown), columns=", ".join(COLUMNS)
        )
    for number, raw in enumerate(reader, start=2):
        cleaned = {(k or "").strip(): v for k, v in raw.items() if k is not None and k.strip() in COLUMNS}
        row, found = parse_one(cleaned, number, "row")
        problems += found
        if row is not None:
            if row.name.casefold() in seen:
                problems.append(Problem(number, "name", "import.listed_twice", {"name": row.name}))
            seen.add(row.name.casefold())
            rows.append(row)
    return rows, problems


async def upsert(tx: Transaction, rows: list[JurorRow], *, actor: str) -> list[Juror]:
    existing = {
        j.name.casefold(): j
        for j in await tx.session.scalars(select(Juror).where(Juror.event_id == tx.event_id))
    }
    result = []
    for row in rows:
        juror = existing.get(row.name.casefold())
        if juror is None:
            juror = Juror(event_id=tx.event_id, name=row.name)
            tx.session.add(juror)
            existing[row.name.casefold()] = juror
        juror.organisation, juror.categories, juror.conflicts = (
            row.organisation,
            row.categories,
            row.conflicts,
        )
        result.append(juror)
    await tx.session.flush()
    tx.session.add(
        AuditEntry(event_id=tx.event_id, actor=actor, action="jurors.import", at=tx.now,
                   details={"jurors": [j.id for j in result]})
    )  # fmt: skip
    tx.record("jurors.imported", count=len(result))
    return result
