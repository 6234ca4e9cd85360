"""The message catalogue: every text a participant, expert or juror reads, in every shipped language.

One gettext PO file per language, `locale/<lang>/LC_MESSAGES/hackserver.po`, read with Babel when
first needed; adding a language is adding one such file. The msgids are symbolic keys ("status.team",
"page.jury.save"), so a missing translation is a missing key, found by the tests, never English
passed off as German. Texts are `str.format` templates: `say("de", "team.created", name=…)`.
Dates and numbers are formatted for the language by Babel, in the reader's time zone.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton, format_time
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALE_DIR = Path(__file__).parent.parent / "locale"
DOMAIN = "hackserver"
FALLBACK = "en"  # the language a text is taken from when the asked one has no catalogue


class Catalogue:
    def __init__(self, directory: Path) -> None:
        self.texts: dict[str, dict[str, str]] = {}
        self.pages: dict[tuple[str, str], dict[str, str]] = {}
        for path in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            with path.open("rb") as po:
                catalog = read_po(po, domain=DOMAIN)
            self.texts[path.parent.parent.name] = {  # a fuzzy text is a guess, not a translation
                m.id: str(m.string) for m in catalog if m.id and isinstance(m.id, str) and not m.fuzzy
            }

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.texts)

    def problems(self) -> list[str]:
        """What keeps the catalogue from being complete: a key one language lacks, an empty text, a
        text whose placeholders differ from the English one's."""
        found: list[str] = []
        keys = sorted(set().union(*self.texts.values()))
        english = self.texts.get(FALLBACK, {})
        for language, texts in self.texts.items():
            for key in keys:
                text = texts.get(key, "")
                if not text.strip():
                    found.append(f"{language}: {key} is {'empty' if key in texts else 'missing'}")
                elif key in english and placeholders(text) != placeholders(english[key]):
                    found.append(
                        f"{language}: {key} has {sorted(placeholders(text))}, "
                        f"{FALLBACK} has {sorted(placeholders(english[key]))}"
                    )
        return found

    def text(self, language: str, key: str) -> str:
        texts = self.texts.get(language) or self.texts[FALLBACK]
        return texts.get(key) or self.texts[FALLBACK][key]

    def say(self, language: str, key: str, /, **params: object) -> str:
        template = self.text(language, key)
        if not params:
            return template
        return template.format(
            **{k: v.written(language) if isinstance(v, Moment | Term) else v for k, v in params.items()}
        )

    def words(self, language: str, page: str) -> dict[str, str]:
        """The texts of one page ("page.<page>.<word>"), by word, for its template."""
        if (language, page) not in self.pages:
            prefix = f"page.{page}."
            english = self.texts[FALLBACK]
            self.pages[language, page] = {
                k[len(prefix) :]: self.text(language, k) for k in english if k.startswith(prefix)
            }
        return self.pages[language, page]


@functools.cache
def catalogue() -> Catalogue:
    return Catalogue(LOCALE_DIR)


def say(language: str, key: str, /, **params: object) -> str:
    return catalogue().say(language, key, **params)


def words(language: str, page: str) -> dict[str, str]:
    return catalogue().words(language, page)


def languages() -> tuple[str, ...]:
    return catalogue().languages


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def negotiate(accept_language: str, offered: tuple[str, ...]) -> str | None:
    """The first of the offered languages that an Accept-Language header asks for, by its weights."""
    asked: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        tag, _, weight = part.strip().partition(";q=")
        try:
            quality = float(weight) if weight else 1.0
        except ValueError:
            continue
        if quality > 0:
            asked.append((quality, tag.split("-")[0].strip().lower()))
    asked.sort(key=lambda pair: -pair[0])  # stable: equal weights keep the header's order
    return next((code for _, code in asked if code in offered), None)


@functools.lru_cache(maxsize=4096)  # every `status` writes the same few deadlines: babel takes ~0.1 ms each
def when(instant: datetime, language: str, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """An instant as a reader of that language writes it, in their zone, with the weekday:
    "Sa., 20. März, 14:00" in German, "Sat, Mar 20, 2:00 PM" in English."""
    locale = Locale.parse(language)
    day = format_skeleton("MMMEd", instant, tzinfo=zone, locale=locale)
    hour = format_time(instant, "medium" if seconds else "short", tzinfo=zone, locale=locale)
    return str(locale.datetime_formats["medium"]).format(hour, day)


def weekday_time(instant: datetime, language: str, zone: ZoneInfo) -> str:
    """ "Sa. 14:00", "Sat 2:00 PM": an instant whose date is written beside it already."""
    day = format_skeleton("E", instant, tzinfo=zone, locale=language)
    return f"{day} {time_of_day(instant, language, zone)}"


def time_of_day(instant: datetime, language: str, zone: ZoneInfo) -> str:
    return format_time(instant, "short", tzinfo=zone, locale=language)


@dataclass(frozen=True)
class Moment:
    """A parameter of a text: an instant written in each reader's language, in the zone named."""

    instant: datetime
    zone: ZoneInfo
    seconds: bool = False  # for deadlines, decided to the second
    named: bool = True  # the zone's name beside it

    def written(self, language: str) -> str:
        text = when(self.instant, language, self.zone, seconds=self.seconds)
        return f"{text} ({self.zone.key})" if self.named else text


@dataclass(frozen=True)
class Term:
    """A parameter of a text that is a text of the catalogue itself, in each reader's language."""

    key: str

    def written(self, language: str) -> str:
        return catalogue().text(language, self.key)


def number(value: float, language: str) -> str:
    return format_decimal(value, locale=language)
