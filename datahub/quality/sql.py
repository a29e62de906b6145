"""Quoting for the DuckDB SQL the quality engine writes: names and literals, never concatenated raw."""

from __future__ import annotations

from typing import Any


def name(identifier: str) -> str:
    """A quoted identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A SQL literal for a string, boolean or number."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)
