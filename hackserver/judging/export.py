"""`hackserver export`: every submission, every score and the ranking, as CSV or JSON files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select

from hackserver.foundation.models import Juror, JuryAssignment, Score, Submission, SubmissionVersion, Team
from hackserver.judging import scoring
from hackserver.submissions import entries

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transactions

FORMATS = ("csv", "json")
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


async def tables(transactions: Transactions) -> dict[str, list[dict[str, Any]]]:
    async with transactions.reading() as tx:
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
        score_rows = await tx.session.execute(
            select(JuryAssignment, Juror, Score, Submission.team_id)
            .join(Juror, Juror.id == JuryAssignment.juror_id)
            .join(Submission, Submission.id == JuryAssignment.submission_id)
            .outerjoin(Score, Score.assignment_id == JuryAssignment.id)
            .where(Juror.event_id == tx.event_id)
            .order_by(JuryAssignment.submission_id, Juror.id, Score.criterion)
        )
        scores = [
            {
                "submission": a.submission_id, "team_id": team_id, "juror_id": j.id, "juror": j.name,
                "criterion": sc.criterion if sc else None, "value": sc.value if sc else None,
                "comment": sc.comment if sc else None, "flagged": a.flagged,
            }
            for a, j, sc, team_id in score_rows.all()
        ]  # fmt: skip
        ranking = [
            {
                "rank": st.ranked.rank, "submission": st.submission.id, "team_id": st.team.id,
                "team": st.team.name, "category": st.category, "score": st.ranked.score,
                "scores": st.ranked.count, "spread": st.ranked.spread, "standard_error": st.ranked.error,
                "raw_mean": st.ranked.raw, "flags": st.flags, "selection": st.submission.selection,
            }
            for st in await scoring.standings(tx)
        ]  # fmt: skip
    return {"submissions": submission_rows, "scores": scores, "ranking": ranking}


def inert(value: Any) -> Any:
    """A text cell as a spreadsheet shows it but never runs it: a leading quote keeps it text."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def as_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: inert(value) for key, value in row.items()} for row in rows)
    return out.getvalue()


def write(found: dict[str, list[dict[str, Any]]], directory: Path, form: str) -> list[tuple[Path, int]]:
    """Writes submissions, scores and ranking files into `directory`; returns (path, rows) each."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in found.items():
        path = directory / f"{name}.{form}"
        text = as_csv(rows) if form == "csv" else json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
        path.write_text(text, encoding="utf-8")
        written.append((path, len(rows)))
    return written
