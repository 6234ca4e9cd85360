"""The JSON API for private links: an organiser revokes an expert's, team's or juror's link."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from hackserver.foundation import links
from hackserver.foundation.transaction import Transaction
from hackserver.web.api_teams import BadField, organiser_change


async def revoke(tx: Transaction, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """DELETE /api/v1/links/{scope}/{subject}: the link stops working at once; granting it again
    (the bot does, when asked) makes a new one."""
    scope = body["scope"]
    if scope not in links.SCOPES:
        raise BadField(f"scope must be one of {', '.join(links.SCOPES)}")
    revoked = await links.revoke(tx, scope, body["subject"], actor=actor)
    return {"scope": scope, "subject": body["subject"], "revoked": revoked}


def routes() -> list[Route]:
    return [Route("/api/v1/links/{scope}/{subject:id}", organiser_change(revoke), methods=["DELETE"])]
