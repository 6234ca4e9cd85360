"""The message catalogue: every text a participant, expert or juror reads, in every shipped language.

One gettext PO file per language, `locale/<lang>/LC_MESSAGES/hackserver.po`, read with Babel when
first needed; adding a language is adding one such file. The msgids are symbolic keys ("status.team",
"page.jury.save"), so a missing translation is a missing key, found by the tests, never English
passed off as German. Texts are `str.format` templates: `say("de", "team.created", name=…)`.
A text with a count has plural forms (msgid_plural, msgstr[0], msgstr[1], … as the file's Plural-Forms
header says); its count is the parameter `n`, and `Count(key, n)` puts one into another text, as
`Term(key, params)` puts any text and `Joined([...])` several.
Dates and numbers are formatted for the language by Babel, in the reader's time zone.
"""

from __future__ import annotations

import functools
import gettext
import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
        self.plurals: dict[str, dict[str, tuple[str, ...]]] = {}  # a text's forms, by the form's number
        self.plural_form: dict[str, Callable[[int], int]] = {}  # a count's form's number
        self.pages: dict[tuple[str, str], dict[str, str]] = {}
        self.twice: dict[str, list[str]] = {}  # keys given twice: the reader keeps only the last
        for path in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            language = path.parent.parent.name
            keys = Counter(re.findall(r'^msgid "(.+)"$', path.read_text(encoding="utf-8"), re.MULTILINE))
            self.twice[language] = sorted(key for key, n in keys.items() if n > 1)
            with path.open("rb") as po:
                catalog = read_po(po, locale=language, domain=DOMAIN)
            kept = [m for m in catalog if m.id and not m.fuzzy]  # a fuzzy text is a guess, not a translation
            self.texts[language] = {m.id: str(m.string) for m in kept if isinstance(m.id, str)}
            self.plurals[language] = {
                m.id[0]: tuple(map(str, m.string)) for m in kept if m.pluralizable and m.string
            }
            self.plural_form[language] = gettext.c2py(catalog.plural_expr)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.texts)

    def problems(self) -> list[str]:
        """What keeps the catalogue from being complete: a key given twice, a key one language lacks,
        an empty text, a text whose placeholders differ from the English one's."""
        found = [f"{language}: {key} is given twice" for language, keys in self.twice.items() for key in keys]
        keys = sorted(set().union(*self.texts.values(), *self.plurals.values()))
        counted = self.plurals.get(FALLBACK, {})
        english = self.texts.get(FALLBACK, {}) | {key: forms[-1] for key, forms in counted.items()}
        for language, texts in self.texts.items():
            plurals = self.plurals[language]
            for key in keys:
                forms = (texts[key],) if key in texts else plurals.get(key)
                if forms is None:
                    found.append(f"{language}: {key} is missing")
                    continue
                if (key in plurals) != (key in counted):
                    found.append(f"{language}: {key} has plural forms in one language, not in another")
                if not all(text.strip() for text in forms):
                    found.append(f"{language}: {key} is empty")
                for text in forms:
                    if key in english and placeholders(text) != placeholders(english[key]):
                        found.append(
                            f"{language}: {key} has {sorted(placeholders(text))}, "
                            f"{FALLBACK} has {sorted(placeholders(english[key]))}"
                        )
        return found

    def text(self, language: str, key: str) -> str:
        texts = self.texts.get(language) or self.texts[FALLBACK]
        return texts.get(key) or self.texts[FALLBACK][key]

    def plural(self, language: str, key: str, n: int) -> str:
        """The form of a text with a count that this count takes in this language."""
        if key not in self.plurals.get(language, {}):
            language = FALLBACK
        forms = self.plurals[language][key]
        return forms[min(self.plural_form[language](n), len(forms) - 1)]

    def say(self, language: str, key: str, /, **params: object) -> str:
        n = params.get("n")
        if key in self.plurals[FALLBACK] and isinstance(n, int):
            template = self.plural(language, key, n)
        else:
            template = self.text(language, key)
        if not params:
            return template
        return template.format(
            **{
                k: v.written(language) if isinstance(v, Moment | Term | Count | Joined) else v
                for k, v in params.items()
            }
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
class Count:
    """A parameter of a text that is a count with its noun ("1 new team", "3 new teams"), in the
    plural form each reader's language takes; `key` names a text with plural forms."""

    key: str
    n: int

    def written(self, language: str) -> str:
        return catalogue().say(language, self.key, n=self.n)


@dataclass(frozen=True)
class Term:
    """A parameter of a text that is a text of the catalogue itself (with parameters of its own), in
    each reader's language."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)

    def written(self, language: str) -> str:
        return catalogue().say(language, self.key, **self.params)


@dataclass(frozen=True)
class Joined:
    """A parameter of a text that is several, each a text of the catalogue or a name as it stands,
    joined ("missing column: title; unknown column: budget")."""

    parts: Sequence[Term | str]
    separator: str = "; "

    def written(self, language: str) -> str:
        return self.separator.join(p if isinstance(p, str) else p.written(language) for p in self.parts)


def number(value: float, language: str) -> str:
    return format_decimal(value, locale=language)
