"""Every console page's routes, in one place."""

from __future__ import annotations

from starlette.routing import BaseRoute

from hackserver.web import (
    console_audit,
    console_challenges,
    console_experts,
    console_exports,
    console_judging,
    console_jurors,
    console_teams,
)


def routes() -> list[BaseRoute]:
    return [
        *console_teams.routes(),
        *console_challenges.routes(),
        *console_experts.routes(),
        *console_jurors.routes(),
        *console_judging.routes(),
        *console_exports.routes(),
        *console_audit.routes(),
    ]
