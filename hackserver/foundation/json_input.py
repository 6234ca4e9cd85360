"""JSON from outside (request bodies, websocket frames, platform payloads), read with a bound on
its nesting: `json.loads` recurses once per level, and a body of a few thousand `[` raises a
RecursionError that no handler expects. Too deep is a `json.JSONDecodeError`, like any bad JSON,
so each reader's answer to bad JSON covers it."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # far more than any platform's payload or our API's bodies use
_NESTING = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[{]|[\]}]')  # strings are skipped whole


def loads(data: str | bytes) -> Any:
    text = data if isinstance(data, str) else data.decode(json.detect_encoding(data), "surrogatepass")
    depth = 0
    for token in _NESTING.finditer(text):
        opened = token.group()
        if opened in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise json.JSONDecodeError(f"nested deeper than {MAX_DEPTH} levels", text, token.start())
        elif opened in ("]", "}"):
            depth -= 1
    return json.loads(text)
