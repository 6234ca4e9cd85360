"""`/dashboard/challenges`: the catalogue with each challenge's teams and free places, its upload
(the checks of `hackserver challenges import`: every bad row named, nothing imported while one is bad),
the assignment run, and one team's challenge set by hand, through the same use cases as the API."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hackserver.challenges import assignment, catalogue, preferences
from hackserver.foundation.errors import DomainError
from hackserver.foundation.import_problems import Problem
from hackserver.foundation.models import Challenge
from hackserver.runtime import Runtime
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
from hackserver.web.console_uploads import Upload


async def page(request: Request, said: Said = NOTHING_SAID, status: int = 200) -> Response:
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
    return render(
        request,
        "challenges",
        "console_challenges.html",
        {"rows": rows},
        said,
        status,
    )


async def import_file(runtime: Runtime, name: str, data: bytes) -> dict[str, int] | list[Problem]:
    imported = await catalogue.import_catalogue(runtime, data, name, actor=ACTOR)
    if (result := imported.result) is None:
        return imported.problems
    return {"added": result.added, "updated": result.updated, "unchanged": result.unchanged}


UPLOAD = Upload(page, "catalogue", import_file, "imported")


async def assign(request: Request) -> Response:
    if isinstance(form := await posted(request), Response):
        return form
    t = words(request)[1]
    if form.get("confirm") != "on":
        return await page(request, Said([t["confirm_assign"]]), status=422)
    try:
        async with request.state.runtime.transaction() as tx:
            run = await assignment.run(tx, actor=ACTOR)
    except DomainError as refusal:
        return await refusal_shown(request, page, refusal)
    done = t["assigned"].format(teams=run.teams, changed=run.changed, unplaced=len(run.unplaced))
    return await page(request, Said(done=done))


async def set_challenge(request: Request) -> Response:
    if isinstance(form := await posted(request), Response):
        return form
    t = words(request)[1]
    team = typed_id(form, "team")
    wanted = form.get("challenge", "").strip()[:40]
    if team is None or not wanted:
        return await page(request, Said([t["bad_team_challenge"]]), status=422)
    try:
        async with request.state.runtime.transaction() as tx:
            await assignment.override(tx, team, wanted, actor=ACTOR)
    except DomainError as refusal:
        return await refusal_shown(request, page, refusal)
    return RedirectResponse("/dashboard/challenges?done=set", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard/challenges", page),
        UPLOAD.route("/dashboard/challenges"),
        Route("/dashboard/challenges/assign", assign, methods=["POST"]),
        Route("/dashboard/challenges/set", set_challenge, methods=["POST"]),
    ]
