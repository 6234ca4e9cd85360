"""Names and free text as they enter, from whatever platform or form: without control or format
characters (NUL, bidi overrides such as U+202E, zero-width marks, lone surrogates), which would
reorder or hide what the next reader sees, or break the database."""

from __future__ import annotations

import unicodedata


def _shown(c: str) -> bool:
    return unicodedata.category(c)[0] != "C"


def one_line(raw: str) -> str:
    """A name: one line, runs of white space as one space; empty when nothing is left."""
    kept = "".join(c for c in unicodedata.normalize("NFC", raw) if _shown(c) or c.isspace())
    return " ".join(kept.split())


def free_text(raw: str) -> str:
    """A text that keeps its lines and tabs, with Unix line ends."""
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\n\t" or _shown(c)).strip()
