"""Whole numbers as people and platforms write them: ASCII digits only.

`str.isdigit()` also accepts ², ① and the like, which `int()` then refuses with a ValueError; every
number that comes in from outside (ids, seeds, scores, counts) goes through `whole`.
"""

from __future__ import annotations

import re

INT_MAX = 2**31 - 1  # what a database integer column holds: a larger id fails the query on PostgreSQL
_WHOLE = re.compile(r"-?[0-9]{1,10}")


def whole(text: str, *, signed: bool = False) -> int | None:
    """The number `text` writes, or None when it is not one (a minus only when `signed`)."""
    if _WHOLE.fullmatch(text) is None or (not signed and text.startswith("-")):
        return None
    value = int(text)
    return value if abs(value) <= INT_MAX else None
