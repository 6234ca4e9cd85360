"""`/dashboard/challenges`: the catalogue with each challenge's teams and free places, its upload
(the checks of `hackserver challenges import`: every bad row named, nothing imported while one is bad),
the assignment run, and one team's challenge set by hand, through the same use cases as the API."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hackserver.challenges import assignment, catalogue, preferences
from hackserver.foundation.errors import CatalogueError, DomainError
from hackserver.foundation.models import Challenge
from hackserver.foundation.numbers import whole
from hackserver.runtime import Runtime
from hackserver.web.api import MAX_ID, STATUS
from hackserver.web.console import ACTOR, posted, refused, render, uploaded, words


async def page(
    request: Request,
    *,
    problems: list[str] | None = None,
    rejected: bool = False,  # the problems are an upload's: nothing was imported
    done: str = "",
    status: int = 200,
) -> Response:
    if (refusal := await refused(request)) is not None:
        return refusal
    runtime: Runtime = request.state.runtime
    async with runtime.reading() as tx:
        standings = await preferences.standings(tx.session, runtime.event_id)
        challenges = list(
            await tx.session.scalars(
                select(Challenge)
                .where(Challenge.event_id == runtime.event_id)
                .order_by(Challenge.external_id)
            )
        )
    rows = [(c, standings.get(c.id, preferences.Standing(0, 0))) for c in challenges]
    t = words(request)[1]
    return render(
        request,
        "challenges",
        "console_challenges.html",
        {
            "rows": rows,
            "problems": problems or [],
            "rejected": rejected,
            "done": done or t.get("done_" + request.query_params.get("done", "x"), ""),
        },
        status=status,
    )


async def upload(request: Request) -> Response:
    if isinstance(file := await uploaded(request, "catalogue"), Response):
        return file
    name, data = file
    lang, t = words(request)
    try:
        imported = await catalogue.import_catalogue(request.state.runtime, data, name, actor=ACTOR)
    except CatalogueError as problem:
        return await page(request, problems=[f"{name}: {problem.say(lang)}"], rejected=True, status=422)
    if (result := imported.result) is None:
        problems = [p.say(lang) for p in imported.problems]
        return await page(request, problems=problems, rejected=True, status=422)
    done = t["imported"].format(added=result.added, updated=result.updated, unchanged=result.unchanged)
    return await page(request, done=done)


async def assign(request: Request) -> Response:
    if isinstance(form := await posted(request), Response):
        return form
    lang, t = words(request)
    if form.get("confirm") != "on":
        return await page(request, problems=[t["confirm_assign"]], status=422)
    try:
        async with request.state.runtime.transaction() as tx:
            run = await assignment.run(tx, actor=ACTOR)
    except DomainError as refusal:
        return await page(request, problems=[refusal.say(lang)], status=STATUS.get(type(refusal), 409))
    done = t["assigned"].format(teams=run.teams, changed=run.changed, unplaced=len(run.unplaced))
    return await page(request, done=done)


async def set_challenge(request: Request) -> Response:
    if isinstance(form := await posted(request), Response):
        return form
    lang, t = words(request)
    team = whole(form.get("team", "").strip().lstrip("#"))
    wanted = form.get("challenge", "").strip()[:40]
    if team is None or team > MAX_ID or not wanted:
        return await page(request, problems=[t["bad_team_challenge"]], status=422)
    try:
        async with request.state.runtime.transaction() as tx:
            await assignment.override(tx, team, wanted, actor=ACTOR)
    except DomainError as refusal:
        return await page(request, problems=[refusal.say(lang)], status=STATUS.get(type(refusal), 409))
    return RedirectResponse("/dashboard/challenges?done=set", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard/challenges", page),
        Route("/dashboard/challenges/import", upload, methods=["POST"]),
        Route("/dashboard/challenges/assign", assign, methods=["POST"]),
        Route("/dashboard/challenges/set", set_challenge, methods=["POST"]),
    ]
