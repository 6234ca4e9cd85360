"""`/dashboard/jurors`: the jurors with their progress (assigned, scored, flagged), one added by hand or
many from a CSV upload (the checks of `hackserver jurors import`: every bad row named, nothing imported
while one is bad), each juror's private link shown on demand (never logged, only that it was shown) or
revoked, through the API's use cases."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hackserver.foundation.import_problems import Problem
from hackserver.foundation.models import Juror, JuryAssignment
from hackserver.judging import jurors, scoring
from hackserver.runtime import Runtime
from hackserver.web.api_jury import juror_link
from hackserver.web.console import ACTOR, NOTHING_SAID, Said, posted, refused, render, words
from hackserver.web.console_links import LinkHolders
from hackserver.web.console_uploads import Upload


async def page(
    request: Request,
    said: Said = NOTHING_SAID,
    status: int = 200,
    shown: tuple[int, str] | None = None,  # a juror's id and private link, asked for just now
) -> Response:
    if (refusal := await refused(request)) is not None:
        return refusal
    runtime: Runtime = request.state.runtime
    async with runtime.reading() as tx:
        people = await scoring.jurors_of(tx)
        progress = await scoring.progress(tx, JuryAssignment.juror_id)
    rows = [(j, *progress.get(j.id, (0, 0, 0))) for j in people]
    return render(
        request,
        "jurors",
        "console_jurors.html",
        {
            "rows": rows,
            "shown": shown,
        },
        said,
        status,
    )


async def add(request: Request) -> Response:
    if isinstance(form := await posted(request), Response):
        return form
    row, problems = jurors.parse_one({k: form.get(k, "") for k in jurors.COLUMNS})
    if row is None:
        lang = words(request)[0]
        return await page(request, Said([p.say(lang) for p in problems]), status=422)
    async with request.state.runtime.transaction() as tx:
        await jurors.upsert(tx, [row], actor=ACTOR)
    return RedirectResponse("/dashboard/jurors?done=juror_added", status_code=303)


async def import_file(runtime: Runtime, name: str, data: bytes) -> dict[str, int] | list[Problem]:
    rows, problems = jurors.parse_csv(data)
    if problems:
        return problems
    async with runtime.transaction() as tx:
        return {"n": len(await jurors.upsert(tx, rows, actor=ACTOR))}


UPLOAD = Upload(page, "jurors", import_file, "jurors_imported")
LINKS = LinkHolders(page, Juror, "jury", "juror", juror_link, "confirm_revoke_juror", "juror.gone")


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard/jurors", page),
        Route("/dashboard/jurors/add", add, methods=["POST"]),
        UPLOAD.route("/dashboard/jurors"),
        *LINKS.routes("/dashboard/jurors"),
    ]
