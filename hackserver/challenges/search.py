"""Searching the challenge catalogue: `Catalogue` is a folded index that finds "Müllvermeidung" for
Müll, MÜLL, muell or mull, ranking title over tags and category over description."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar


def id_key(external_id: str) -> str:
    """Ids are one challenge whatever their case: `pick c-7` finds C-7, and C-7 then c-7 is a duplicate."""
    return external_id.upper()


class Searchable(Protocol):
    @property
    def external_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def tags(self) -> Sequence[str]: ...


C = TypeVar("C", bound=Searchable)
# Field weights far enough apart that a weak match in a better field still beats a strong one below it.
TITLE, TAGS, DESCRIPTION = 9.0, 3.0, 1.0
EXACT, PREFIX, INFIX = 1.0, 0.75, 0.4
PREFIX_FROM, INFIX_FROM = 3, 5  # letters a word needs to match the start of a word, or inside one
MAX_WORDS = 12
_UMLAUT_SPELLED = re.compile(r"([aou])e")
_COMBINING = re.compile(r"[\u0300-\u036f]")


def fold(text: str) -> str:
    """Case, accents and German spelling folded alike: Müll, MÜLL, muell, mull → mull; Straße → strasse."""
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold()))
    return _UMLAUT_SPELLED.sub(r"\1", text)


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", fold(text))


STOPWORDS = frozenset(
    words_of(
        "der die das den dem des ein eine einen einer und oder für fuer mit von zu zum zur im in am an auf bei aus "
        "the a an and or for with of to in on at by from is are"
    )
)


@dataclass(frozen=True)
class _Field:
    words: frozenset[str]
    spaced: str  # " word word ": a prefix is " " + w in it, an infix w in it

    @classmethod
    def of(cls, *texts: str) -> _Field:
        found = [w for text in texts for w in words_of(text)]
        return cls(frozenset(found), " " + " ".join(found) + " ")

    def match(self, word: str) -> float:
        if word in self.words:
            return EXACT
        if len(word) >= PREFIX_FROM and " " + word in self.spaced:
            return PREFIX
        if len(word) >= INFIX_FROM and word in self.spaced:
            return INFIX
        return 0.0


@dataclass(frozen=True)
class Hit(Generic[C]):
    challenge: C
    matched: int  # how many of the search words it matched
    score: float


@dataclass(frozen=True)
class _Entry(Generic[C]):
    challenge: C
    order: tuple[Any, ...]
    key: str
    fields: tuple[tuple[_Field, float], ...]


class Catalogue(Generic[C]):
    """A folded index of challenges; build it once (per import) and search it often."""

    def __init__(self, entries: Sequence[_Entry[C]]) -> None:
        self.entries = sorted(entries, key=lambda e: e.order)

    @classmethod
    def build(cls, challenges: Iterable[C]) -> Catalogue[C]:
        return cls(
            [
                _Entry(
                    c,
                    _natural(c.external_id),
                    id_key(c.external_id),
                    (
                        (_Field.of(c.title), TITLE),
                        (_Field.of(c.category or "", *(c.tags or ())), TAGS),
                        (_Field.of(c.description or ""), DESCRIPTION),
                    ),
                )
                for c in challenges
            ]
        )

    def __len__(self) -> int:
        return len(self.entries)

    def hits(self, words: str) -> list[Hit[C]]:
        """Every challenge that matches, best first: more of the words, then better fields."""
        query = list(dict.fromkeys(words_of(words)))[:MAX_WORDS]
        query = [w for w in query if w not in STOPWORDS] or query
        if not query:
            return [Hit(e.challenge, 0, 0.0) for e in self.entries]
        whole = id_key(words.strip())  # an id typed whole comes first
        found: list[tuple[bool, int, float, int, Hit[C]]] = []
        for position, entry in enumerate(self.entries):
            matched, score = 0, 0.0
            for word in query:
                scores = [field.match(word) * weight for field, weight in entry.fields]
                best = max(scores)
                if best:
                    matched += 1
                    score += best + 0.1 * (sum(scores) - best)  # also elsewhere: a little better
            if matched or entry.key == whole:
                found.append(
                    (entry.key != whole, -matched, -score, position, Hit(entry.challenge, matched, score))
                )
        found.sort(key=lambda f: f[:4])
        return [f[-1] for f in found]

    def search(self, words: str, limit: int | None = 10) -> list[C]:
        return [hit.challenge for hit in self.hits(words)[:limit]]


def search(challenges: Sequence[C], words: str, limit: int | None = 10) -> list[C]:
    """One-off search; keep a Catalogue.build(...) instead when searching the same challenges often."""
    return Catalogue.build(challenges).search(words, limit)


def _natural(external_id: str) -> tuple[Any, ...]:
    parts = re.split(r"(\d+)", external_id.casefold())
    return (tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), external_id)
