"""The one way the platform reads YAML (contracts and dictionary files): plain data, bounded.

Dates stay strings (the ODCS JSON Schema wants strings, not date objects). Before or while parsing,
cheaply, a document is refused when it is larger than ``MAX_YAML_BYTES``, nests deeper than
``MAX_DEPTH``, or would hold more than ``MAX_VALUES`` values once its aliases are expanded (a
"billion laughs" document is a few KB that expands to hundreds of millions of values in whatever
walks it next); when an alias refers to itself; when a mapping repeats a key (YAML says the last one
would silently win); and when a tag other than the plain JSON-like ones is used (``!!python/...``,
``!!binary``, ``!!set``, custom ``!tags``). Every refusal is a ``ContractError`` (or the error type the
caller names) with the file and line.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from datahub.errors import ContractError, DatahubError

MAX_YAML_BYTES = 1024 * 1024
# Contracts nest about ten levels (schema, property, quality rule, ...); nested objects add a few more.
MAX_DEPTH = 64
# Values (scalars, lists and mappings) once aliases are expanded: the largest ODCS example has ~12,000.
# Composing is pure Python (~100,000 values a second): this also bounds the time a document takes.
MAX_VALUES = 100_000

_YAML = "tag:yaml.org,2002:"
_PLAIN_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null", "seq", "map", "merge"))


class _Refused(yaml.MarkedYAMLError):
    pass


class _BoundedLoader(yaml.SafeLoader):
    """Counts, as it composes, the values the document stands for once aliases are expanded (each
    alias counts as the values it repeats) and the nesting depth; checks tags and repeated keys as each
    node is composed. So a refusal comes before any expansion, after at most ``MAX_VALUES`` nodes."""

    def compose_document(self) -> Node | None:
        self._sizes: dict[int, int] = {}
        self._values = 0
        self._depth = 0
        return super().compose_document()

    def _count(self, values: int, mark: Any) -> None:
        self._values += values
        if self._values > MAX_VALUES:
            raise _Refused(
                None,
                None,
                f"more than {MAX_VALUES:,} values, counting those each alias repeats; "
                "write fewer values, or use fewer aliases",
                mark,
            )

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            alias = super().compose_node(parent, index)
            if id(alias) not in self._sizes:
                raise _Refused(None, None, f"alias *{event.anchor} refers to itself", event.start_mark)
            self._count(self._sizes[id(alias)], event.start_mark)
            return alias
        start = self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(None, None, f"nested more than {MAX_DEPTH} levels deep", start)
        self._count(1, start)
        node = super().compose_node(parent, index)
        assert node is not None  # only an alias event composes to nothing
        self._depth -= 1
        if node.tag not in _PLAIN_TAGS:
            raise _Refused(
                None,
                None,
                f"tag '{node.tag.removeprefix(_YAML)}' is not allowed: a contract holds plain strings, "
                "numbers, booleans, lists and mappings",
                node.start_mark,
            )
        if isinstance(node, MappingNode):
            _refuse_repeated_keys(node)
        self._sizes[id(node)] = 1 + sum(self._sizes[id(child)] for child in _children(node))
        return node


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _refuse_repeated_keys(node: MappingNode) -> None:
    first: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or key.tag == _YAML + "merge":
            continue
        if (key.tag, key.value) in first:
            raise _Refused(
                None,
                None,
                f"duplicate key '{key.value}' (first at line {first[key.tag, key.value]}); "
                "a key may appear once in a mapping",
                key.start_mark,
            )
        first[key.tag, key.value] = key.start_mark.line + 1


_BoundedLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != _YAML + "timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _too_large(size: int, source: str | None, error: type[DatahubError]) -> DatahubError:
    return error(
        f"{size:,} bytes is larger than {MAX_YAML_BYTES // 2**20} MiB, the most a document may be",
        file=source,
    )


@lru_cache(maxsize=32)
def _parsed(text: str) -> Any:
    """Parsing is pure Python and the same contract texts are read again and again (registry, catalog,
    lint, diff): each text is parsed once, and every caller gets its own copy."""
    return yaml.load(text, Loader=_BoundedLoader)


def load_yaml_text(text: str, *, source: str | None = None, error: type[DatahubError] = ContractError) -> Any:
    """The plain data in ``text``; ``source`` names it in refusals."""
    size = len(text.encode("utf-8"))
    if size > MAX_YAML_BYTES:
        raise _too_large(size, source, error)
    try:
        return copy.deepcopy(_parsed(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark is not None else None
        reason = exc.problem if isinstance(exc, _Refused) else f"not valid YAML: {exc.problem}"
        raise error(str(reason), file=source, path=where) from None
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML: {exc}", file=source) from None


def load_yaml(path: Path, *, error: type[DatahubError] = ContractError) -> Any:
    """The plain data in the UTF-8 file at ``path``, refused unread past ``MAX_YAML_BYTES``."""
    source = str(path)
    with Path(path).open("rb") as fh:
        data = fh.read(MAX_YAML_BYTES + 1)
        if len(data) > MAX_YAML_BYTES:
            fh.seek(0, 2)
            raise _too_large(fh.tell(), source, error)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 (byte offset {exc.start}); save the file as UTF-8", file=source) from None
    return load_yaml_text(text, source=source, error=error)
