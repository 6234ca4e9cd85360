"""What needs a human, as the dashboard says it: a sentence with the count, then the first names."""

from __future__ import annotations

from typing import Any

from hackserver.foundation.i18n import say
from hackserver.web.dashboard_feed import LANGUAGE


def worded(alert: dict[str, Any]) -> dict[str, Any]:
    names, count = alert["names"], alert["count"]
    more = say(LANGUAGE, "dashboard.alert.more", n=count - len(names)) if names and count > len(names) else ""
    text = say(LANGUAGE, f"dashboard.alert.{alert['kind']}", n=count, of=alert["of"])
    return alert | {"text": text, "more": more}
