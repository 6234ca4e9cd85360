"""What needs a human, as the dashboard says it: a sentence with the count, then the first names;
each sentence in every language of the event, for every page's own."""

from __future__ import annotations

from typing import Any

from hackserver.foundation.i18n import say


def worded(alert: dict[str, Any], languages: tuple[str, ...]) -> dict[str, Any]:
    names, count = alert["names"], alert["count"]
    more = count - len(names) if names else 0  # named: the first few, and how many besides
    return alert | {
        "text": {
            lang: say(lang, f"dashboard.alert.{alert['kind']}", n=count, of=alert["of"]) for lang in languages
        },
        "more": {lang: say(lang, "dashboard.alert.more", n=more) for lang in languages} if more > 0 else None,
    }
