"""The console's navigation, shared by the dashboard and every console page."""

from __future__ import annotations

from hackserver.foundation import i18n

PAGES = ("dashboard", "teams", "challenges", "experts", "jurors", "judging", "exports", "audit")


def address(page: str) -> str:
    return "/dashboard" if page == "dashboard" else f"/dashboard/{page}"


def navigation(lang: str, current: str) -> dict[str, object]:
    """What console_nav.html shows: a link to each page, the current one marked."""
    t = i18n.words(lang, "console")
    links = [
        {
            "href": address(page),
            "label": t["nav_" + page],
            "current": page == current,
        }
        for page in PAGES
    ]
    return {"nav": links, "nav_label": t["nav"]}
