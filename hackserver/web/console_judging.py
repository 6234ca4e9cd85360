"""`/dashboard/judging`: every submission with its status (draft, submitted, final, frozen), jury
progress and flags; an extension for one team; the jury assignment run; the ranking with its
uncertainty; and the selection, previewed before it is confirmed and the teams are told, through the
API's use cases."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hackserver.foundation.errors import DomainError
from hackserver.foundation.models import JuryAssignment, Submission, Team
from hackserver.foundation.numbers import whole
from hackserver.judging import scoring
from hackserver.runtime import Runtime
from hackserver.submissions import entries
from hackserver.web.api_jury import run_assignment, select_top
from hackserver.web.api_submissions import extension
from hackserver.web.api_teams import BadField
from hackserver.web.console import (
    ACTOR,
    NOTHING_SAID,
    Said,
    posted,
    refusal_shown,
    refused,
    render,
    typed_id,
    words,
)

MAX_TOP = 10_000


async def page(request: Request, said: Said = NOTHING_SAID, status: int = 200) -> Response:
    if (refusal := await refused(request)) is not None:
        return refusal
    runtime: Runtime = request.state.runtime
    t = words(request)[1]
    given = request.query_params
    top = whole(given.get("top", ""))
    per_category = given.get("per_category") == "on"
    async with runtime.reading() as tx:
        phases = await tx.phases()
        submissions = (
            await tx.session.execute(
                select(Submission, Team).join(Team, Team.id == Submission.team_id)
                .where(Team.event_id == runtime.event_id).order_by(Submission.id)
            )
        ).all()  # fmt: skip
        progress = await scoring.progress(tx, JuryAssignment.submission_id)
        table = await scoring.standings(tx)
    rows = [
        (s, team, entries.deadline_of(runtime.event, phases, s), *progress.get(s.id, (0, 0, 0)))
        for s, team in submissions
    ]
    preview = None
    if "top" in given:
        if top is None or not 1 <= top <= MAX_TOP:
            said = replace(said, problems=[*said.problems, t["bad_top"]])
            status = 422
        else:
            preview = scoring.pick(table, top, per_category=per_category)[0]
    return render(
        request,
        "judging",
        "console_judging.html",
        {
            "rows": rows,
            "ranking": table,
            "preview": preview,
            "top": top,
            "per_category": per_category,
            "zone": runtime.event.timezone,
        },
        said,
        status,
    )


async def refusing(request: Request, refusal: DomainError | BadField) -> Response:
    if isinstance(refusal, BadField):
        return await page(request, Said([str(refusal)]), status=422)
    return await refusal_shown(request, page, refusal)


async def extend(request: Request) -> Response:
    if isinstance(form := await posted(request), Response):
        return form
    t = words(request)[1]
    team = typed_id(form, "team")
    by = form.get("by", "").strip()[:16]
    if team is None or not by:
        return await page(request, Said([t["bad_extension"]]), status=422)
    try:
        async with request.state.runtime.transaction() as tx:
            await extension(tx, {"team_id": team, "by": by}, ACTOR)
    except (DomainError, BadField) as refusal:
        return await refusing(request, refusal)
    return RedirectResponse("/dashboard/judging?done=extended", status_code=303)


async def assign(request: Request) -> Response:
    if isinstance(form := await posted(request), Response):
        return form
    t = words(request)[1]
    if form.get("confirm") != "on":
        return await page(request, Said([t["confirm_jury"]]), status=422)
    try:
        async with request.state.runtime.transaction() as tx:
            run = await run_assignment(tx, {}, ACTOR)
    except (DomainError, BadField) as refusal:
        return await refusing(request, refusal)
    done = t["jury_assigned"].format(submissions=run["submissions"], assignments=run["assignments"])
    return await page(request, Said(done=done))


async def choose(request: Request) -> Response:
    if isinstance(form := await posted(request), Response):
        return form
    t = words(request)[1]
    top = whole(form.get("top", ""))
    if top is None or not 1 <= top <= MAX_TOP or form.get("confirm") != "on":
        return await page(request, Said([t["confirm_selection"]]), status=422)
    try:
        async with request.state.runtime.transaction() as tx:
            chosen = await select_top(
                tx, {"top": top, "per_category": form.get("per_category") == "on"}, ACTOR
            )
    except (DomainError, BadField) as refusal:
        return await refusing(request, refusal)
    return await page(request, Said(done=t["selected"].format(n=len(chosen["selected"]))))


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard/judging", page),
        Route("/dashboard/judging/extension", extend, methods=["POST"]),
        Route("/dashboard/judging/assign", assign, methods=["POST"]),
        Route("/dashboard/judging/select", choose, methods=["POST"]),
    ]
