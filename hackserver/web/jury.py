"""`/jury/{token}`: a juror's assigned submissions, each with a scoring form per criterion and a way to
flag it as unreachable or empty (it then goes to another juror; it is never scored zero)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import and_, select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from hackserver.foundation import i18n, links
from hackserver.foundation.errors import DomainError
from hackserver.foundation.i18n import say
from hackserver.foundation.models import (
    Challenge,
    Juror,
    JuryAssignment,
    Score,
    Submission,
    SubmissionVersion,
    Team,
)
from hackserver.judging import scoring
from hackserver.runtime import Runtime
from hackserver.submissions import entries
from hackserver.web.dead_links import refused_page
from hackserver.web.languages import language
from hackserver.web.visitors import read_pairs, same_origin

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
MAX_FORM = 16 * 1024


def words(lang: str) -> dict[str, str]:
    return i18n.words(lang, "jury")


async def _juror_of_link(runtime: Runtime, token: str) -> int | str:
    async with runtime.reading() as tx:
        try:
            return (await links.open_link(tx, "jury", token)).subject_id
        except links.LinkRefused as refused:
            return refused.key


async def render(
    request: Request,
    juror_id: int,
    *,
    notice: str = "",
    problems: dict[int, dict[str, str]] | None = None,
    typed: dict[int, dict[str, str]] | None = None,
    status: int = 200,
) -> Response:
    """The page; `typed` is what the juror posted for a submission, shown in place of what is saved."""
    runtime: Runtime = request.state.runtime
    lang = language(request, runtime)
    async with runtime.reading() as tx:
        juror = await tx.session.get(Juror, juror_id)
        if juror is None:
            return refused_page(request, "jury", "link.bad")
        rows = (
            await tx.session.execute(
                select(JuryAssignment, Submission, Team, Challenge, SubmissionVersion.fields)
                .join(Submission, Submission.id == JuryAssignment.submission_id)
                .join(Team, Team.id == Submission.team_id)
                .outerjoin(Challenge, Challenge.id == Team.challenge_id)
                .join(
                    SubmissionVersion,
                    and_(
                        SubmissionVersion.submission_id == Submission.id,
                        SubmissionVersion.number == Submission.version,
                    ),
                )
                .where(JuryAssignment.juror_id == juror_id)
                .order_by(JuryAssignment.id)
            )
        ).all()
        flagged = [row for row in rows if row[0].flagged is not None]  # shown apart, not to be scored
        rows = [row for row in rows if row[0].flagged is None]
        given: dict[int, dict[str, Any]] = {}
        for score in await tx.session.scalars(
            select(Score).where(Score.assignment_id.in_([a.id for a, *_ in rows]))
        ):
            given.setdefault(score.assignment_id, {})[score.criterion] = int(score.value)
            given[score.assignment_id]["_comment"] = score.comment or ""
    rubric = runtime.event.jury
    items = [
        {
            "id": submission.id,
            "team": team.name,
            "challenge": challenge.title if challenge else None,
            "fields": [
                (f.label(lang), fields.get(f.id, ""), f.kind) for f in runtime.event.submission.fields
            ],
            "credits": ", ".join(c["name"] for c in fields.get(entries.CREDITS, [])),
            "scores": {**given.get(assignment.id, {}), **(typed or {}).get(submission.id, {})},
            "scored": assignment.scored_at is not None,
        }
        for assignment, submission, team, challenge, fields in rows
    ]
    title = runtime.event.submission.fields[0].id
    context = {
        "event": runtime.event,
        "lang": lang,
        "t": words(lang),
        "juror": juror,
        "items": items,
        "flagged": [
            {"title": fields.get(title) or team.name, "team": team.name, "reason": assignment.flagged}
            for assignment, _, team, _, fields in flagged
        ],
        "rubric": rubric,
        "low": rubric.scale[0],
        "high": rubric.scale[1],
        "notice": notice,
        "problems": problems or {},
        # The page's own address, also when it answers a form posted to one submission's address.
        "base": f"/jury/{request.path_params['token']}",
        "flags": scoring.FLAGS,
    }
    return templates.TemplateResponse(request, "jury.html", context, status_code=status)


async def page(request: Request) -> Response:
    runtime: Runtime = request.state.runtime
    found = await _juror_of_link(runtime, request.path_params["token"])
    if isinstance(found, str):
        return refused_page(request, "jury", found)
    done = request.query_params.get("done", "")
    notice = words(language(request, runtime)).get(done, "") if done in ("saved", "flagged") else ""
    return await render(request, found, notice=notice)


async def act(request: Request) -> Response:
    runtime: Runtime = request.state.runtime
    lang = language(request, runtime)
    if not same_origin(request):
        return PlainTextResponse(say(lang, "page.form.cross_site"), status_code=403)
    raw = await read_pairs(request, MAX_FORM)
    if raw is None:
        return PlainTextResponse(say(lang, "page.form.too_large"), status_code=413)
    token = request.path_params["token"]
    found = await _juror_of_link(runtime, token)
    if isinstance(found, str):
        return refused_page(request, "jury", found)
    form = dict(raw)
    submission_id = request.path_params["submission"]
    flagging = form.get("action") == "flag"
    posted = {"reason": form.get("reason", "")} if flagging else {**form, "_comment": form.get("comment", "")}
    typed = {submission_id: posted}
    try:
        async with runtime.transaction() as tx:
            if flagging:
                await scoring.flag(tx, found, submission_id, form.get("reason", ""))
                done = "flagged"
            else:
                comment = form.pop("comment", "")
                await scoring.score(tx, found, submission_id, form, comment, lang)
                done = "saved"
    except scoring.InvalidScores as invalid:
        problems = {submission_id: {k: say(lang, p.key, **p.params) for k, p in invalid.problems.items()}}
        return await render(
            request, found, notice=invalid.say(lang), problems=problems, typed=typed, status=422
        )
    except DomainError as refused:
        return await render(request, found, notice=refused.say(lang), typed=typed, status=409)
    return RedirectResponse(f"/jury/{token}?lang={lang}&done={done}#s{submission_id}", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/jury/{token}", page),
        Route("/jury/{token}/{submission:id}", act, methods=["POST"]),
    ]
