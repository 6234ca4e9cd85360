"""Builtin adapter (being built)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from hackserver.outbox import Sender
from hackserver.runtime import Runtime


def routes() -> list[BaseRoute]:
    return []


def sender(runtime: Runtime) -> Sender | None:
    return None
