"""The message catalogue: complete in every shipped language, a new language is one file, the bot
speaks each person's language, pages the browser's or the switcher's, dates as each language writes
them in the reader's time zone."""

from __future__ import annotations

import ast
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.testclient import TestClient

from bots.commands import Bot, Invocation
from hackserver.app import create_app
from hackserver.foundation import i18n
from hackserver.foundation.errors import EventFileError
from hackserver.foundation.event import load_event
from hackserver.foundation.settings import Settings
from hackserver.teams.participants import Identity
from tests.dbstate import migrate
from tests.fakes import FakeClock
from tests.servers import serving

WEBHOOK_TOKEN = "webhook-token-for-the-i18n-tests"
BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


def test_every_shipped_language_has_every_key_with_the_same_placeholders() -> None:
    catalogue = i18n.catalogue()
    assert set(catalogue.languages) >= {"de", "en"}
    assert catalogue.problems() == []


def literal_keys() -> Iterator[tuple[str, str]]:
    """(where, key) for every key the code names as a literal: say(…, "key"), Count("key", …), a
    refusal's key."""
    refusals = {"DomainError": 0, "NotFound": 0, "Conflict": 0, "TooLate": 0, "FieldError": 1}
    root = Path(__file__).resolve().parents[2]
    for path in [*(root / "hackserver").rglob("*.py"), *(root / "bots").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("say", "Count"):
                given = node.args[:2]
            elif name in refusals:
                given = node.args[refusals[name] : refusals[name] + 1]
            elif name == "ProfileError":
                given = [
                    ast.Constant(f"profile.{a.value}") for a in node.args[:1] if isinstance(a, ast.Constant)
                ]
            else:
                continue
            for arg in given:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield f"{path.relative_to(root)}:{node.lineno}", arg.value


def test_every_key_the_code_names_is_in_the_catalogue() -> None:
    catalogue = i18n.catalogue()
    known = set(catalogue.texts[i18n.FALLBACK]) | set(catalogue.plurals[i18n.FALLBACK])
    languages = set(i18n.languages())
    found = list(literal_keys())
    assert len(found) > 100  # the scan sees the code's texts
    assert [f"{where}: {key}" for where, key in found if key not in known | languages] == []


def write_po(path: Path, entries: dict[str, str] | list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pairs = entries.items() if isinstance(entries, dict) else entries
    body = "".join(f'\nmsgid "{key}"\nmsgstr "{text}"\n' for key, text in pairs)
    path.write_text(
        f'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n{body}', encoding="utf-8"
    )


def test_the_check_names_a_missing_key_an_empty_text_and_a_changed_placeholder(tmp_path: Path) -> None:
    write_po(tmp_path / "en/LC_MESSAGES/hackserver.po", {"a": "Team {name}", "b": "Hello", "c": "Bye"})
    write_po(tmp_path / "de/LC_MESSAGES/hackserver.po", {"a": "Team {team}", "b": ""})
    assert i18n.Catalogue(tmp_path).problems() == [
        "de: a has ['team'], en has ['name']",
        "de: b is empty",
        "de: c is missing",
    ]


def test_a_count_takes_the_plural_form_of_its_language() -> None:
    assert i18n.say("en", "challenge.wanted", n=1) == "first choice of 1 team"
    assert i18n.say("en", "challenge.wanted", n=2) == "first choice of 2 teams"
    assert i18n.say("de", "challenge.wanted", n=1) == "1 Team will sie zuerst"
    assert i18n.say("de", "challenge.wanted", n=0) == "0 Teams wollen sie zuerst"
    matched = {"teams": i18n.Count("match.done.teams", 1), "placed": i18n.Count("match.done.placed", 3)}
    assert i18n.say("en", "match.done", **matched, alone=0) == (
        "Matching done: 1 new team, 3 people placed in open teams, 0 left without a team."
    )


def test_the_plural_forms_are_read_as_the_file_says_and_checked_like_the_rest(tmp_path: Path) -> None:
    write_po(tmp_path / "en/LC_MESSAGES/hackserver.po", {})
    with (tmp_path / "en/LC_MESSAGES/hackserver.po").open("a", encoding="utf-8") as po:
        po.write('\nmsgid "n"\nmsgid_plural "n"\nmsgstr[0] "{n} file"\nmsgstr[1] "{n} files"\n')
    (tmp_path / "pl/LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "pl/LC_MESSAGES/hackserver.po").write_text(
        'msgid ""\nmsgstr ""\n"Plural-Forms: nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && '
        '(n%100<10 || n%100>=20) ? 1 : 2);\n"\n\n'
        'msgid "n"\nmsgid_plural "n"\nmsgstr[0] "{n} plik"\nmsgstr[1] "{n} pliki"\nmsgstr[2] "{count} plików"\n',
        encoding="utf-8",
    )
    catalogue = i18n.Catalogue(tmp_path)
    assert [catalogue.plural("pl", "n", n) for n in (1, 3, 5, 22)] == [
        "{n} plik", "{n} pliki", "{count} plików", "{n} pliki"
    ]  # fmt: skip
    assert catalogue.plural("en", "n", 1) == "{n} file"
    assert catalogue.problems() == ["pl: n has ['count'], en has ['n']"]


def test_the_check_names_a_key_given_twice(tmp_path: Path) -> None:
    write_po(tmp_path / "en/LC_MESSAGES/hackserver.po", [("a", "One {name}"), ("a", "Other {phase}")])
    assert i18n.Catalogue(tmp_path).problems() == ["en: a is given twice"]


@pytest.fixture
def with_french(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shipped catalogues plus a French one: copied English texts, the help title translated."""
    locale = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, locale)
    english = (locale / "en/LC_MESSAGES/hackserver.po").read_text(encoding="utf-8")
    french = english.replace('msgstr "How to use /hack"', 'msgstr "Comment utiliser /hack"')
    (locale / "fr/LC_MESSAGES").mkdir(parents=True)
    (locale / "fr/LC_MESSAGES/hackserver.po").write_text(french, encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)
    i18n.catalogue.cache_clear()
    yield locale
    i18n.catalogue.cache_clear()


def french_event(event_file: Callable[..., Path], kickoff: datetime) -> Path:
    path = event_file(kickoff=kickoff)
    text = path.read_text(encoding="utf-8").replace(
        'languages = ["de", "en"]', 'languages = ["fr", "de", "en"]'
    )
    text = text.replace('en = "EN ', 'fr = "Texte en français"\nen = "EN ')  # every announcement
    path.write_text(text, encoding="utf-8")
    return path


def test_an_event_may_use_only_languages_with_a_catalogue(
    event_file: Callable[..., Path], kickoff: datetime
) -> None:
    with pytest.raises(EventFileError) as refused:
        load_event(french_event(event_file, kickoff))
    assert any("'fr' has no message catalogue" in p for p in refused.value.problems)


async def test_adding_a_language_is_adding_its_catalogue_file(
    with_french: Path,
    database_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
) -> None:
    assert i18n.languages() == ("de", "en", "fr")
    assert i18n.catalogue().problems() == []
    path = french_event(event_file, kickoff)
    async with make_runtime(database_url, path, FakeClock(kickoff)) as runtime:
        reply = await Bot(runtime).handle(
            Invocation(Identity("slack", "T1", "U1", "Amélie"), "help", locale="fr-FR")
        )
    assert reply is not None and reply.title == "Comment utiliser /hack"


# -- the same command, in each person's language, through the webhook endpoint -------------------


@pytest.fixture
async def webhook(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, free_port: int
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=database_url, event_path=event_file(kickoff=kickoff), webhook_token=WEBHOOK_TOKEN
    )
    if not settings.is_sqlite:
        await migrate(database_url)
    app = create_app(settings, clock=FakeClock(kickoff + timedelta(minutes=20)), run_clock=False)
    async with (
        serving(app, free_port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port}", timeout=10) as client,
    ):
        yield client


async def hack(client: httpx.AsyncClient, user: str, text: str) -> str:
    form = {"token": WEBHOOK_TOKEN, "team_id": "t1", "user_id": user, "user_name": user, "text": text}
    response = await client.post("/webhook/commands", data=form)
    assert response.status_code == 200
    return str(response.json()["text"])


async def test_status_is_answered_in_each_persons_language_and_time_zone(webhook: httpx.AsyncClient) -> None:
    await hack(webhook, "greta", "profile skills python langs de tz America/New_York")
    await hack(webhook, "grace", "profile skills python langs en")
    # Hacking begins at 19:00 in Berlin, 14:00 in New York (the United States are on summer time).
    assert await hack(webhook, "greta", "status") == (
        "**Test Sprint: Kickoff**\n\n"
        "Hacking in 40 min · Fr., 19. März, 14:00 (America/New_York)\n\n"
        "**Team:** noch keins (`/hack team create <Name>` oder `/hack match me`)"
    )
    assert await hack(webhook, "grace", "status") == (
        "**Test Sprint: Kickoff**\n\n"
        "Hacking in 40 min · Fri, Mar 19, 7:00\u202fPM (Europe/Berlin)\n\n"
        "**Team:** none yet (`/hack team create <name>` or `/hack match me`)"
    )


# -- pages --------------------------------------------------------------------------------------


@pytest.fixture
def site(database_url: str, event_file: Callable[..., Path], kickoff: datetime) -> Iterator[TestClient]:
    """The app for an event whose default language is English."""
    path = event_file(kickoff=kickoff)
    path.write_text(
        path.read_text(encoding="utf-8").replace('["de", "en"]', '["en", "de"]'), encoding="utf-8"
    )
    settings = Settings(database_url=database_url, event_path=path)
    if not settings.is_sqlite:
        import asyncio

        asyncio.run(migrate(database_url))
    with TestClient(create_app(settings, clock=FakeClock(kickoff))) as client:
        yield client


def test_a_page_speaks_the_language_the_browser_prefers(site: TestClient) -> None:
    assert '<html lang="en">' in site.get("/channels").text  # the event's default
    german = site.get("/channels", headers={"Accept-Language": "fr-CH, fr;q=0.9, de;q=0.8, en;q=0.5"})
    assert '<html lang="de">' in german.text and "Kanäle" in german.text
    weighted = site.get("/channels", headers={"Accept-Language": "en;q=0.4, de-AT"})
    assert '<html lang="de">' in weighted.text
    assert "set-cookie" not in german.headers  # a browser's preference is not remembered as a choice


def test_the_language_switcher_sticks_on_every_page(site: TestClient) -> None:
    german_browser = {"Accept-Language": "de-DE,de;q=0.9"}
    picked = site.get("/channels?lang=en", headers=german_browser)
    assert '<html lang="en">' in picked.text and "lang=en" in picked.headers["set-cookie"]
    later = site.get("/channels", headers=german_browser)
    assert '<html lang="en">' in later.text and "Channels" in later.text
    elsewhere = site.get("/expert/not-a-token", headers=german_browser)
    assert elsewhere.status_code == 404
    assert '<html lang="en">' in elsewhere.text and "This link does not work" in elsewhere.text
    site.get("/channels?lang=xx", headers=german_browser)  # not one of the event's: changes nothing
    assert '<html lang="en">' in site.get("/channels", headers=german_browser).text
    site.get("/channels?lang=de")
    assert "Dieser Link geht nicht" in site.get("/expert/not-a-token").text


# -- dates and numbers --------------------------------------------------------------------------


def test_an_instant_is_written_in_the_readers_language_and_zone() -> None:
    instant = datetime(2027, 3, 20, 13, 0, tzinfo=UTC)
    assert i18n.when(instant, "de", BERLIN) == "Sa., 20. März, 14:00"
    assert i18n.when(instant, "en", BERLIN) == "Sat, Mar 20, 2:00\u202fPM"
    assert i18n.when(instant, "de", NEW_YORK) == "Sa., 20. März, 09:00"
    assert i18n.Moment(instant, NEW_YORK).written("en") == "Sat, Mar 20, 9:00\u202fAM (America/New_York)"
    assert i18n.say("de", "submission.closed", deadline=i18n.Moment(instant, BERLIN, seconds=True)) == (
        "Die Abgabe ist seit Sa., 20. März, 14:00:00 (Europe/Berlin) geschlossen; nichts wurde geändert."
    )
    assert (i18n.number(1234.5, "de"), i18n.number(1234.5, "en")) == ("1.234,5", "1,234.5")
