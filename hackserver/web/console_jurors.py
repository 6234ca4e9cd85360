"""`/dashboard/jurors`: the jurors with their progress (assigned, scored, flagged), one added by hand or
many from a CSV upload (the checks of `hackserver jurors import`: every bad row named, nothing imported
while one is bad), each juror's private link shown on demand (never logged, only that it was shown) or
revoked, through the API's use cases."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hackserver.foundation import links
from hackserver.foundation.errors import CatalogueError, DomainError, NotFound
from hackserver.foundation.models import JuryAssignment
from hackserver.foundation.numbers import whole
from hackserver.judging import jurors, scoring
from hackserver.runtime import Runtime
from hackserver.web import console
from hackserver.web.api import MAX_ID, STATUS
from hackserver.web.api_jury import juror_link
from hackserver.web.console import ACTOR, posted, refused, render, uploaded, words


async def page(
    request: Request,
    *,
    problems: list[str] | None = None,
    rejected: bool = False,  # the problems are an upload's: nothing was imported
    done: str = "",
    shown: tuple[int, str] | None = None,  # a juror's id and private link, asked for just now
    status: int = 200,
) -> Response:
    if (refusal := await refused(request)) is not None:
        return refusal
    runtime: Runtime = request.state.runtime
    async with runtime.reading() as tx:
        people = await scoring.jurors_of(tx)
        counts = await tx.session.execute(
            select(
                JuryAssignment.juror_id,
                func.count().filter(JuryAssignment.flagged.is_(None)),
                func.count().filter(JuryAssignment.flagged.is_(None), JuryAssignment.scored_at.is_not(None)),
                func.count().filter(JuryAssignment.flagged.is_not(None)),
            ).group_by(JuryAssignment.juror_id)
        )
    progress = {juror: (assigned, scored, flagged) for juror, assigned, scored, flagged in counts}
    rows = [(j, *progress.get(j.id, (0, 0, 0))) for j in people]
    t = words(request)[1]
    return render(
        request,
        "jurors",
        "console_jurors.html",
        {
            "rows": rows,
            "shown": shown,
            "problems": problems or [],
            "rejected": rejected,
            "done": done or t.get("done_" + request.query_params.get("done", "x"), ""),
        },
        status=status,
    )


async def add(request: Request) -> Response:
    if isinstance(form := await posted(request), Response):
        return form
    row, problems = jurors.parse_one({k: form.get(k, "") for k in jurors.COLUMNS})
    if row is None:
        lang = words(request)[0]
        return await page(request, problems=[p.say(lang) for p in problems], status=422)
    async with request.state.runtime.transaction() as tx:
        await jurors.upsert(tx, [row], actor=ACTOR)
    return RedirectResponse("/dashboard/jurors?done=juror_added", status_code=303)


async def upload(request: Request) -> Response:
    if isinstance(file := await uploaded(request, "jurors"), Response):
        return file
    name, data = file
    lang, t = words(request)
    try:
        rows, problems = jurors.parse_csv(data)
    except CatalogueError as problem:
        return await page(request, problems=[f"{name}: {problem.say(lang)}"], rejected=True, status=422)
    if problems:
        return await page(request, problems=[p.say(lang) for p in problems], rejected=True, status=422)
    async with request.state.runtime.transaction() as tx:
        made = await jurors.upsert(tx, rows, actor=ACTOR)
    return await page(request, done=t["jurors_imported"].format(n=len(made)))


async def show_link(request: Request) -> Response:
    return await console.show_link(request, page, juror_link, "juror_id")


async def revoke(request: Request) -> Response:
    if isinstance(form := await posted(request), Response):
        return form
    lang, t = words(request)
    juror_id = whole(form.get("juror", ""))
    if juror_id is None or juror_id > MAX_ID or form.get("confirm") != "on":
        return await page(request, problems=[t["confirm_revoke_juror"]], status=422)
    try:
        async with request.state.runtime.transaction() as tx:
            if juror_id not in {j.id for j in await scoring.jurors_of(tx)}:
                raise NotFound("juror.gone")
            await links.revoke(tx, "jury", juror_id, actor=ACTOR)
    except DomainError as refusal:
        return await page(request, problems=[refusal.say(lang)], status=STATUS.get(type(refusal), 409))
    return RedirectResponse("/dashboard/jurors?done=revoked", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard/jurors", page),
        Route("/dashboard/jurors/add", add, methods=["POST"]),
        Route("/dashboard/jurors/import", upload, methods=["POST"]),
        Route("/dashboard/jurors/{juror_id:id}/link", show_link, methods=["POST"]),
        Route("/dashboard/jurors/revoke", revoke, methods=["POST"]),
    ]
