"""The page a dead private link answers, whatever its kind: why it does not work, and what the holder
of that kind of link can do about it (teams ask the bot; experts and jurors, who never use it, the
organisers)."""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from hackserver.foundation import i18n
from hackserver.foundation.signing import Scope
from hackserver.runtime import Runtime
from hackserver.web.languages import language

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
STATUS = {"link.bad": 404, "link.expired": 410, "link.revoked": 403, "submission.left_team": 403}
COMMANDS: dict[Scope, str] = {"book": "/hack experts", "submit": "/hack submit"}


def refused_page(request: Request, scope: Scope, key: str, **params: object) -> Response:
    """`key` says why: a refused link (`link.*`), the link's expert, team or juror being gone, or its
    member having left the team."""
    runtime: Runtime = request.state.runtime
    lang = language(request, runtime)
    t = i18n.words(lang, "link")
    hint = escape(t["over" if key == "link.expired" else scope])
    context = {
        "lang": lang,
        "t": t,
        "event": runtime.event,
        "reason": i18n.say(lang, key, **params),
        "hint": hint.format(command=Markup("<code>{}</code>").format(COMMANDS.get(scope, ""))),
        "base": f"/{scope}/{request.path_params['token']}",
    }
    return templates.TemplateResponse(request, "link_refused.html", context, status_code=STATUS.get(key, 404))
