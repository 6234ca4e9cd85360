"""`hackserver export` and the console's downloads: every submission, every score and the ranking, as
CSV or JSON (the same bytes in a file and in a download)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select

from hackserver.foundation.models import (
    AuditEntry,
    Juror,
    JuryAssignment,
    Score,
    Submission,
    SubmissionVersion,
    Team,
)
from hackserver.judging import scoring
from hackserver.submissions import entries

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction, Transactions

FORMATS = ("csv", "json")
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


async def submissions(tx: Transaction) -> list[dict[str, Any]]:
    form = tx.event.submission.fields
    phases = await tx.phases()
    rows = await tx.session.execute(
        select(Submission, Team, SubmissionVersion)
        .join(Team, Team.id == Submission.team_id)
        .outerjoin(
            SubmissionVersion,
            and_(
                SubmissionVersion.submission_id == Submission.id,
                SubmissionVersion.number == Submission.version,
            ),
        )
        .where(Team.event_id == tx.event_id)
        .order_by(Submission.id)
    )
    submission_rows: list[dict[str, Any]] = []
    for s, t, v in rows.all():
        fields = v.fields if v else {}
        submission_rows.append(
            {
                "submission": s.id, "team_id": t.id, "team": t.name, "status": s.status,
                "version": s.version, "saved_at": v.saved_at.isoformat() if v else None,
                "deadline": entries.deadline_of(tx.event, phases, s).isoformat(),
                "selection": s.selection,
                **{f.id: fields.get(f.id, "") for f in form},
                "credits": "; ".join(c["name"] for c in fields.get(entries.CREDITS, [])),
            }
        )  # fmt: skip
    return submission_rows


async def scores(tx: Transaction) -> list[dict[str, Any]]:
    rows = await tx.session.execute(
        select(JuryAssignment, Juror, Score, Submission.team_id)
        .join(Juror, Juror.id == JuryAssignment.juror_id)
        .join(Submission, Submission.id == JuryAssignment.submission_id)
        .outerjoin(Score, Score.assignment_id == JuryAssignment.id)
        .where(Juror.event_id == tx.event_id)
        .order_by(JuryAssignment.submission_id, Juror.id, Score.criterion)
    )
    return [
        {
            "submission": a.submission_id, "team_id": team_id, "juror_id": j.id, "juror": j.name,
            "criterion": sc.criterion if sc else None, "value": sc.value if sc else None,
            "comment": sc.comment if sc else None, "flagged": a.flagged,
        }
        for a, j, sc, team_id in rows.all()
    ]  # fmt: skip


async def ranking(tx: Transaction) -> list[dict[str, Any]]:
    return [
        {
            "rank": st.ranked.rank, "submission": st.submission.id, "team_id": st.team.id,
            "team": st.team.name, "category": st.category, "score": st.ranked.score,
            "scores": st.ranked.count, "spread": st.ranked.spread, "standard_error": st.ranked.error,
            "raw_mean": st.ranked.raw, "flags": st.flags, "selection": st.submission.selection,
        }
        for st in await scoring.standings(tx)
    ]  # fmt: skip


TABLES: dict[str, Callable[[Transaction], Awaitable[list[dict[str, Any]]]]] = {
    "submissions": submissions,
    "scores": scores,
    "ranking": ranking,
}


async def tables(transactions: Transactions) -> dict[str, list[dict[str, Any]]]:
    async with transactions.reading() as tx:
        return {name: await read(tx) for name, read in TABLES.items()}


async def download(transactions: Transactions, name: str, form: str, actor: str) -> list[dict[str, Any]]:
    """One table, for a download from the console or the API; who took it is audit-logged."""
    async with transactions.transaction() as tx:
        rows = await TABLES[name](tx)
        details = {"table": name, "format": form, "rows": len(rows)}
        tx.session.add(
            AuditEntry(
                event_id=tx.event_id, actor=actor, action="export.download", details=details, at=tx.now
            )
        )
    return rows


def inert(value: Any) -> Any:
    """A text cell as a spreadsheet shows it but never runs it: a leading quote keeps it text."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def chunks(rows: list[dict[str, Any]], form: str, size: int = 500) -> Iterator[str]:
    """A table written as CSV or JSON a few hundred rows at a time, for a streamed download."""
    if form == "json":
        yield "[" if rows else "[]\n"
        for start in range(0, len(rows), size):
            lines = (json.dumps(row, ensure_ascii=False) for row in rows[start : start + size])
            yield ("," if start else "") + "\n" + ",\n".join(lines)
        if rows:
            yield "\n]\n"
        return
    if not rows:
        return
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for start in range(0, len(rows), size):
        writer.writerows(
            {key: inert(value) for key, value in row.items()} for row in rows[start : start + size]
        )
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def write(found: dict[str, list[dict[str, Any]]], directory: Path, form: str) -> list[tuple[Path, int]]:
    """Writes submissions, scores and ranking files into `directory`; returns (path, rows) each."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in found.items():
        path = directory / f"{name}.{form}"
        path.write_text("".join(chunks(rows, form)), encoding="utf-8")
        written.append((path, len(rows)))
    return written
