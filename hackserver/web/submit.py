"""`/submit/{token}`: the team's submission form, through a member's own link (the bot hands each
member theirs), so every save names the member who saved it.

The page always shows the state (draft, submitted, final) and the time left; a save is decided by
the server's clock inside its transaction, so the page's countdown is a courtesy, never the rule.
Bad input is shown beside its field and changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from hackserver.foundation import i18n, links
from hackserver.foundation.errors import DomainError
from hackserver.foundation.i18n import say
from hackserver.foundation.numbers import whole
from hackserver.foundation.transaction import Transaction
from hackserver.runtime import Runtime
from hackserver.submissions import entries
from hackserver.web.dead_links import refused_page
from hackserver.web.languages import language
from hackserver.web.visitors import read_pairs, same_origin

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
MAX_FORM = 64 * 1024


def words(lang: str) -> dict[str, str]:
    return i18n.words(lang, "submit")


async def opened(tx: Transaction, token: str) -> tuple[int, int]:
    """The team and the member a submission link belongs to."""
    link = await links.open_link(tx, "submit", token)
    if link.member_id is None:
        raise links.LinkRefused("link.bad")
    return link.subject_id, link.member_id


def left_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{days} d " if days else "") + f"{hours:02d}:{minutes:02d}:{secs:02d}"


async def render(
    request: Request,
    token: str,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    notice: str = "",
    entry: entries.Entry | None = None,
    stale: bool = False,
    status: int = 200,
) -> Response:
    runtime: Runtime = request.state.runtime
    lang = language(request, runtime)
    async with runtime.reading() as tx:  # one snapshot for the link and the page
        try:
            team_id, member_id = await opened(tx, token)
        except links.LinkRefused as refused:
            return refused_page(request, "submit", refused.key)
        item = await entries.view(tx, team_id, tx.now)
        names = {m.participant_id: m.name for m in item.members}
        if member_id not in names:
            return refused_page(request, "submit", "submission.left_team", team=item.team.name)
        history = [
            {
                "number": v.number,
                "at": entries.local(runtime.event, v.saved_at).written(lang),
                "who": names.get(v.saved_by or -1),  # None: they left the team since
            }
            for v in item.versions
        ]
    form = runtime.event.submission
    shown = values if values is not None else {f.id: item.value(f) for f in form.fields}
    context: dict[str, Any] = {
        "event": runtime.event,
        "lang": lang,
        "t": words(lang),
        "item": item,
        "status_label": say(lang, f"submission.{item.status}"),
        "fields": form.fields,
        "values": shown,
        "problems": problems or {},
        "notice": notice,
        "credited": set(entry.credits) if entry else item.credited(),
        "saver": names[member_id],
        "deadline": entries.local(runtime.event, item.deadline).written(lang),
        "deadline_iso": item.deadline.isoformat(),
        "now_iso": item.now.isoformat(),
        "speed": runtime.clock.speed,
        "left": left_text(item.left.total_seconds()),
        "history": history,
        # What another member saved meanwhile, beside the text this member typed (kept in the form);
        # the form is now based on it, so saving again is a choice made having seen it.
        "theirs": {f.id: item.value(f) for f in form.fields} if stale else None,
        "based_on": entry.based_on
        if entry and not stale
        else item.submission.version
        if item.submission
        else 0,
        "path": request.url.path,
    }
    return templates.TemplateResponse(request, "submit.html", context, status_code=status)


async def page(request: Request) -> Response:
    notice = ""
    if (saved := whole(request.query_params.get("saved", ""))) is not None:
        notice = words(language(request, request.state.runtime))["saved"].format(n=saved)
    return await render(request, request.path_params["token"], notice=notice)


def _entry(form: dict[str, str], raw: list[tuple[str, str]], saved_by: int) -> entries.Entry:
    credits = [n for k, v in raw if k == "credits" and (n := whole(v)) is not None]
    return entries.Entry(
        values={k: v for k, v in form.items() if not k.startswith("_")},
        credits=credits,
        saved_by=saved_by,
        submit=form.get("action") == "submit",
        based_on=whole(form.get("based_on", "")) or 0,  # unknown: refused if anything was saved
    )


async def save(request: Request) -> Response:
    runtime: Runtime = request.state.runtime
    received_at = runtime.clock.now()  # before the body and the database queue: the save's arrival
    lang = language(request, runtime)
    if not same_origin(request):
        return PlainTextResponse(say(lang, "page.form.cross_site"), status_code=403)
    raw = await read_pairs(request, MAX_FORM)
    if raw is None:
        return PlainTextResponse(say(lang, "page.form.too_large"), status_code=413)
    token = request.path_params["token"]
    form = dict(raw)
    try:
        async with runtime.transaction() as tx:  # the link is checked in the save's own transaction
            team_id, member_id = await opened(tx, token)
            entry = _entry(form, raw, member_id)
            saved = await entries.save(tx, team_id, entry, lang, received_at=received_at)
    except (links.LinkRefused, entries.NotMember) as refused:
        return refused_page(request, "submit", refused.key, **refused.params)
    except entries.InvalidSubmission as invalid:
        problems = {name: say(lang, p.key, **p.params) for name, p in invalid.problems.items()}
        return await render(
            request, token, values=entry.values, problems=problems, entry=entry, status=422
        )  # the list of problems says nothing was saved
    except entries.Stale as stale:
        return await render(
            request, token, values=entry.values, entry=entry, notice=stale.say(lang), stale=True, status=409
        )
    except DomainError as refused:  # too late, or final: nothing changed
        return await render(
            request, token, values=entry.values, entry=entry, notice=refused.say(lang), status=409
        )
    return RedirectResponse(f"/submit/{token}?lang={lang}&saved={saved.version}", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/submit/{token}", page),
        Route("/submit/{token}", save, methods=["POST"]),
    ]
