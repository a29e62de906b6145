"""Values as the command line shows them: bounded in length, control characters escaped.

A delivered cell, a file name or a client's purpose can be 200 MB long or carry terminal escape
sequences (``ESC [ 2 J``), line breaks that fake output lines, or a right-to-left override. Every value
the CLI echoes in text goes through :func:`shown`; its ``--json`` output bounds values with
:func:`bounded` (JSON escapes control characters itself).
"""

from __future__ import annotations

import unicodedata
from typing import Any

VALUE_LIMIT = 200
"""Characters of a value shown in text output."""
MESSAGE_LIMIT = 1000
"""Characters of an error message shown in text output (a message may quote values)."""
JSON_LIMIT = 10_000
"""Characters of a string value in ``--json`` output."""

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    # Control (Cc), format (Cf: bidi overrides, zero-width), surrogate (Cs: undecodable file names),
    # private and unassigned (Co, Cn) characters, and the Unicode line and paragraph separators.
    if unicodedata.category(char)[0] != "C" and char not in "\u2028\u2029":
        return char
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _cut(text: str, limit: int) -> tuple[str, str]:
    """The first ``limit`` characters and, when there are more, ``…(N characters)``."""
    if len(text) <= limit:
        return text, ""
    return text[:limit], f"…({len(text):,} characters)"


def shown(value: object, limit: int = VALUE_LIMIT) -> str:
    """``value`` for text output: its first ``limit`` characters with control characters escaped
    (``\\x1b``, ``\\n``, ``\\u202e``), followed by ``…(N characters)`` when it is longer; None is ''."""
    if value is None:
        return ""
    head, tail = _cut(value if isinstance(value, str) else str(value), limit)
    return "".join(map(_escaped, head)) + tail


def bounded(value: Any, limit: int = JSON_LIMIT) -> Any:
    """``value`` for JSON output with every string longer than ``limit`` cut as :func:`shown` cuts it
    (without escaping); dicts, lists and tuples are walked."""
    if isinstance(value, str):
        return "".join(_cut(value, limit))
    if isinstance(value, dict):
        return {k: bounded(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [bounded(v, limit) for v in value]
    return value
