"""The chat platforms this process talks to: their HTTP routes, and their outbound senders."""

from __future__ import annotations

from starlette.routing import BaseRoute

from bots import builtin, discord, slack, webhook
from hackserver.foundation.outbox import Sender
from hackserver.runtime import Runtime

ADAPTERS = {"slack": slack, "discord": discord, "webhook": webhook, "builtin": builtin}


def routes() -> list[BaseRoute]:
    return [route for adapter in ADAPTERS.values() for route in adapter.routes()]


def senders(runtime: Runtime) -> dict[str, Sender]:
    """A sender for each external platform whose settings are given."""
    found = {name: adapter.sender(runtime) for name, adapter in ADAPTERS.items()}
    return {name: sender for name, sender in found.items() if sender is not None}
