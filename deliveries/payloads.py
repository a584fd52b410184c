"""What an event object may be: a JSON object nested at most MAX_DEPTH levels, of valid
Unicode text. Checked without recursion, before anything that recurses (the JSON Schema
check, rendering the envelope, the dashboard's pretty print) sees the object."""

import json
import re
from itertools import accumulate

MAX_DEPTH = 32

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def text_depth(text: str) -> int:
    """How deep the JSON text nests its arrays and objects (its strings skipped), in C
    speed: no parser runs, so nothing recurses however deep it goes."""
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    return max(accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


def problem(value) -> str | None:
    """Why value may not be an event object, or None: nesting deeper than MAX_DEPTH, or a
    lone surrogate (text that is not Unicode: it cannot be stored or sent)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if isinstance(key, str) and not _is_text(key):
                    return f"a key holds a lone surrogate ({key.encode('unicode_escape')[:40]!r})"
                pending.append((child, depth + 1))
        elif isinstance(item, str) and not _is_text(item):
            return "a string holds a lone surrogate (\\ud800-\\udfff alone is not Unicode text)"
    return None


def _is_text(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def pretty_json(text: str, *path: str) -> str:
    """JSON text indented for people (the part at `path`, e.g. "data", "object"); the
    text as stored when it is too deep to parse (stored before the nesting limit: the
    parser and the encoder recurse)."""
    try:
        value = json.loads(text)
        for key in path:
            value = value[key]
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (RecursionError, ValueError, KeyError, TypeError):
        return text
