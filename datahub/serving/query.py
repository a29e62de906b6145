"""The query language of ``GET /api/v1/views/{name}/rows``, compiled to one parameterised DuckDB query.

The request parameters ``fields``, ``filter``, ``order``, ``limit`` and ``cursor`` become one SQL
statement whose every user value is a ``?`` parameter: no user text is ever pasted into SQL. Field
names are checked against the view's columns and only the platform's own spelling of a column is
written (quoted) into the statement. docs/query.md is the user-facing version of this text.

Filter language
---------------
A filter is a boolean expression over the view's fields::

    district = '江汉区' and created_at >= '2026-10-01' and not (status in ('closed', 'void'))

comparisons        ``field = value``, ``!=`` (or ``<>``), ``<``, ``<=``, ``>``, ``>=``
lists of values    ``field in (v1, v2, ...)``, ``field not in (...)``
nulls              ``field is null``, ``field is not null`` (``null`` is never a value)
patterns           ``field like 'pattern'``, ``field ilike 'pattern'`` (case-insensitive), and
                   ``not like`` / ``not ilike``: ``%`` matches any run of characters, ``_`` one
                   character, ``\\%``, ``\\_`` and ``\\\\`` match ``%``, ``_`` and ``\\`` themselves;
                   strings only; ``like`` is case-sensitive
containment        ``contains(field, 'x')``: a list field holds the element ``'x'``; a string field
                   holds the substring ``'x'`` (case-sensitive)
logic              ``and``, ``or``, ``not`` and parentheses; ``not`` binds tighter than ``and``,
                   ``and`` tighter than ``or``

Keywords are case-insensitive (``AND``, ``In``, ``IS NOT NULL``); field names are identifiers
``[A-Za-z_][A-Za-z0-9_]*`` and must be spelled as the view spells them.

Values: single-quoted strings (``''`` inside one is a quote: ``'O''Brien'``), numbers (``42``,
``-3``, ``12.5``, ``1e3``), ``true`` and ``false``. Each value is checked against its field's type:

string      a quoted string
integer     an integral number within 64 bits
decimal     a number
date        ``'2026-10-01'``
timestamp   ``'2026-10-01'`` (midnight), ``'2026-10-01T08:00'``, ``'2026-10-01 08:00:00'``,
            ``'2026-10-01T08:00:00.250'``: local time, no time-zone offset
boolean     ``true`` or ``false``: only ``=``, ``!=``, ``in`` and ``not in``
list        a list of strings: only ``contains(field, 'x')`` and ``is [not] null``

Nulls: a comparison, ``in``, ``like`` or ``contains`` on a null field is false, so ``x != 1`` does
not return rows where ``x`` is null; ``not`` is the exact complement of what it negates, so
``not (x = 1)`` does. Select nulls with ``is null``.

Limits: at most 2,000 characters, 100 conditions, 20 levels of nesting (parentheses and ``not``), and
500 values in one ``in`` list.

Other parameters
----------------
``fields``  comma-separated field names; default every readable field in the view's order
``order``   comma-separated field names, ``-name`` for descending; default the key ascending. The key
            columns are always added as tiebreakers. Ascending puts nulls last, descending puts them
            first (a null sorts above every value). Lists cannot be ordered on.
``limit``   1 to 1000 rows, default 100
``cursor``  the ``next_cursor`` of the previous page, to read the next one with the same view,
            filter and order (``fields`` and ``limit`` may change between pages)

A blank parameter is the same as a missing one. A field that is masked for the caller may be
returned but not filtered or ordered on (filtering would reveal the masked values).

Every problem raises :class:`QueryError` (code ``invalid_query``, HTTP 422), naming the parameter.

Use::

    q = compile_query(
        "read_parquet(['…'])", {"ticket_id": "string", …}, ("ticket_id",), view="hotline_12345",
        fields=fields, filter=filter, order=order, limit=limit, cursor=cursor,
        masked={"caller_phone": 'mask_phone("caller_phone")'}, extra_filter=access.row_filter,
        secret=settings.secret_key(),
    )
    rows, next_cursor = q.page(con.execute(q.sql, q.params).fetchall())
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from datahub.errors import InputError

MAX_FILTER_LENGTH = 2_000
MAX_DEPTH = 20
MAX_TERMS = 100
MAX_IN_LIST = 500
MAX_LIST_PARAMETER_LENGTH = 10_000  # fields and order
MAX_CURSOR_LENGTH = 16_384
MAX_NUMBER_LENGTH = 40
DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000

LOGICAL_TYPES = ("string", "integer", "decimal", "date", "timestamp", "boolean", "list")
_ORDERABLE = frozenset(LOGICAL_TYPES) - {"list"}
_INT64 = (-(2**63), 2**63 - 1)
_HIDDEN = "__datahub_cursor_{}"
_DEFAULT_SECRET = b"datahub-query-cursor-v1"
_CURSOR_VERSION = 1

_IDENT_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_IDENT_CHARS = _IDENT_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_SPACE = frozenset(" \t\r\n")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?", re.ASCII
)
_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,38}(?:\.[0-9]{1,38})?", re.ASCII)
_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

_RESERVED = frozenset({"and", "or", "not", "in", "is", "null", "like", "ilike", "true", "false"})
_COMPARISONS = {"=": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class QueryError(InputError):
    """A ``fields``, ``filter``, ``order``, ``limit`` or ``cursor`` that cannot be used.

    ``parameter`` is the request parameter at fault (``row_filter`` for a grant's filter);
    ``position`` the 1-based character of a filter where the problem is, when there is one.
    """

    code = "invalid_query"
    http_status = 422

    def __init__(self, message: str, parameter: str, *, position: int | None = None) -> None:
        self.parameter = parameter
        self.position = position
        super().__init__(message, path=f"query.{parameter}")

    def to_dict(self) -> dict[str, object]:  # type: ignore[override]
        return {**super().to_dict(), "parameter": self.parameter, "position": self.position}


# ---------------------------------------------------------------------------------------------------
# Syntax tree


@dataclass(frozen=True)
class Literal:
    """A value as written: ``kind`` is ``string`` (``text`` is the unquoted string), ``number``
    (``text`` as written) or ``boolean`` (``text`` is ``true`` or ``false``)."""

    kind: str
    text: str
    position: int


@dataclass(frozen=True)
class Compare:
    field: str
    op: str  # =, !=, <, <=, >, >= (``<>`` is read as ``!=``)
    value: Literal
    position: int


@dataclass(frozen=True)
class InList:
    field: str
    values: tuple[Literal, ...]
    negated: bool
    position: int


@dataclass(frozen=True)
class IsNull:
    field: str
    negated: bool
    position: int


@dataclass(frozen=True)
class Like:
    field: str
    pattern: Literal
    case_insensitive: bool
    negated: bool
    position: int


@dataclass(frozen=True)
class Contains:
    field: str
    value: Literal
    position: int


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Compare | InList | IsNull | Like | Contains | And | Or | Not
Atom = Compare | InList | IsNull | Like | Contains


def canonical(node: Node) -> Any:
    """A JSON-able form of ``node`` that ignores spacing, keyword case and redundant parentheses."""
    if isinstance(node, Compare):
        return ["cmp", node.field, node.op, [node.value.kind, node.value.text]]
    if isinstance(node, InList):
        return ["in", node.field, node.negated, [[v.kind, v.text] for v in node.values]]
    if isinstance(node, IsNull):
        return ["null", node.field, node.negated]
    if isinstance(node, Like):
        return ["like", node.field, node.case_insensitive, node.negated, node.pattern.text]
    if isinstance(node, Contains):
        return ["contains", node.field, [node.value.kind, node.value.text]]
    if isinstance(node, And):
        return ["and", [canonical(i) for i in node.items]]
    if isinstance(node, Or):
        return ["or", [canonical(i) for i in node.items]]
    return ["not", canonical(node.item)]


def atoms(node: Node) -> list[Atom]:
    if isinstance(node, And | Or):
        return [a for item in node.items for a in atoms(item)]
    if isinstance(node, Not):
        return atoms(node.item)
    return [node]


# ---------------------------------------------------------------------------------------------------
# Tokenizer and parser


@dataclass(frozen=True)
class _Token:
    kind: str  # word, string, number, op, (, ), ",", end
    text: str  # words lower-cased are keywords; strings unquoted
    position: int  # 1-based
    raw: str = ""


def _describe(ch: str) -> str:
    if ch.isprintable() and not ch.isspace():
        return f"'{ch}'"
    return f"U+{ord(ch):04X}"


def _tokenize(text: str, parameter: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        start = i + 1
        if ch in _SPACE:
            i += 1
        elif ch in _IDENT_START:
            j = i + 1
            while j < n and text[j] in _IDENT_CHARS:
                j += 1
            tokens.append(_Token("word", text[i:j], start))
            i = j
        elif ch in _DIGITS or (ch == "-" and i + 1 < n and text[i + 1] in _DIGITS):
            j = i + 1
            while j < n and text[j] in _DIGITS:
                j += 1
            if j + 1 < n and text[j] == "." and text[j + 1] in _DIGITS:
                j += 1
                while j < n and text[j] in _DIGITS:
                    j += 1
            if j < n and text[j] in "eE":
                k = j + 1
                if k < n and text[k] in "+-":
                    k += 1
                if k < n and text[k] in _DIGITS:
                    j = k
                    while j < n and text[j] in _DIGITS:
                        j += 1
            if j < n and (text[j] in _IDENT_CHARS or text[j] == "."):
                raise QueryError(f"malformed number at character {start}", parameter, position=start)
            if j - i > MAX_NUMBER_LENGTH:
                raise QueryError(
                    f"number at character {start} is longer than {MAX_NUMBER_LENGTH} characters",
                    parameter,
                    position=start,
                )
            tokens.append(_Token("number", text[i:j], start))
            i = j
        elif ch == "'":
            parts: list[str] = []
            j = i + 1
            while True:
                k = text.find("'", j)
                if k < 0:
                    raise QueryError(
                        f"unterminated string starting at character {start}", parameter, position=start
                    )
                parts.append(text[j:k])
                if k + 1 < n and text[k + 1] == "'":
                    parts.append("'")
                    j = k + 2
                    continue
                i = k + 1
                break
            tokens.append(_Token("string", "".join(parts), start))
        elif ch in "<>!=":
            two = text[i : i + 2]
            if two in ("<=", ">=", "!=", "<>"):
                tokens.append(_Token("op", two, start))
                i += 2
            elif ch == "!":
                raise QueryError(
                    f"unexpected '!' at character {start} (did you mean '!=')", parameter, position=start
                )
            elif two == "==":
                raise QueryError(f"use '=' rather than '==' at character {start}", parameter, position=start)
            else:
                tokens.append(_Token("op", ch, start))
                i += 1
        elif ch in "(),":
            tokens.append(_Token(ch, ch, start))
            i += 1
        else:
            hint = ""
            if ch == '"':
                hint = " (strings take single quotes; field names are written bare)"
            elif ch in "‘’“”＇＂`´":
                hint = " (strings take ASCII single quotes ')"
            raise QueryError(
                f"unexpected character {_describe(ch)} at character {start}{hint}", parameter, position=start
            )
    tokens.append(_Token("end", "", n + 1))
    return tokens


class _Parser:
    def __init__(self, text: str, parameter: str) -> None:
        self.parameter = parameter
        self.tokens = _tokenize(text, parameter)
        self.index = 0
        self.depth = 0
        self.terms = 0

    # helpers
    def error(self, message: str, token: _Token | None = None) -> QueryError:
        token = token or self.peek()
        where = "" if token.kind == "end" else f" at character {token.position}"
        return QueryError(f"{message}{where}", self.parameter, position=token.position)

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def next(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def keyword(self, word: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "word" and token.text.lower() == word

    def expect(self, kind: str, what: str) -> _Token:
        token = self.peek()
        if token.kind != kind:
            raise self.error(f"expected {what}, found {_show(token)}")
        return self.next()

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise self.error(f"expected '{word}', found {_show(self.peek())}")
        self.next()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the filter nests deeper than {MAX_DEPTH} levels")

    def term(self) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.error(f"the filter has more than {MAX_TERMS} conditions")

    # grammar
    def parse(self) -> Node:
        node = self.expression()
        if self.peek().kind != "end":
            raise self.error(f"unexpected {_show(self.peek())}")
        return node

    def expression(self) -> Node:
        items = [self.conjunction()]
        while self.keyword("or"):
            self.next()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self) -> Node:
        items = [self.unary()]
        while self.keyword("and"):
            self.next()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        if self.keyword("not"):
            self.next()
            self.enter()
            node: Node = Not(self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        token = self.peek()
        if token.kind == "(":
            self.next()
            self.enter()
            node = self.expression()
            self.expect(")", "')'")
            self.depth -= 1
            return node
        if self.keyword("contains") and self.peek(1).kind == "(":
            self.next()
            self.next()
            self.term()
            name = self.field_name()
            self.expect(",", "','")
            value = self.literal()
            self.expect(")", "')'")
            return Contains(name, value, token.position)
        name = self.field_name()
        self.term()
        return self.predicate(name, token.position)

    def field_name(self) -> str:
        token = self.peek()
        if token.kind != "word":
            raise self.error(f"expected a field name, found {_show(token)}")
        if token.text.lower() in _RESERVED:
            raise self.error(f"expected a field name, found the keyword '{token.text}'")
        self.next()
        return token.text

    def predicate(self, name: str, position: int) -> Node:
        token = self.peek()
        if token.kind == "op":
            self.next()
            op = "!=" if token.text == "<>" else token.text
            return Compare(name, op, self.literal(), position)
        if self.keyword("is"):
            self.next()
            negated = self.keyword("not")
            if negated:
                self.next()
            if not self.keyword("null"):
                raise self.error(
                    f"expected 'null' after 'is{' not' if negated else ''}', found {_show(self.peek())}"
                )
            self.next()
            return IsNull(name, negated, position)
        negated = False
        if self.keyword("not"):
            self.next()
            negated = True
        if self.keyword("in"):
            self.next()
            self.expect("(", "'(' after 'in'")
            values = [self.literal()]
            while self.peek().kind == ",":
                self.next()
                values.append(self.literal())
                if len(values) > MAX_IN_LIST:
                    raise self.error(f"an 'in' list holds more than {MAX_IN_LIST} values")
            self.expect(")", "',' or ')'")
            return InList(name, tuple(values), negated, position)
        if self.keyword("like") or self.keyword("ilike"):
            insensitive = self.next().text.lower() == "ilike"
            return Like(name, self.literal(), insensitive, negated, position)
        expected = (
            "'in', 'like' or 'ilike' after 'not'" if negated else "an operator (=, !=, <, in, is, like…)"
        )
        raise self.error(f"expected {expected} after field '{_show_name(name)}', found {_show(token)}")

    def literal(self) -> Literal:
        token = self.peek()
        if token.kind in ("string", "number"):
            self.next()
            return Literal(token.kind, token.text, token.position)
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            self.next()
            return Literal("boolean", token.text.lower(), token.position)
        if token.kind == "word" and token.text.lower() == "null":
            raise self.error("null is not a value: write 'field is null' or 'field is not null'")
        if token.kind == "word":
            shown = _show_name(token.text)
            raise self.error(f"expected a value, found '{shown}' (quote strings: '{shown}')")
        raise self.error(f"expected a value, found {_show(token)}")


def _show(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the filter"
    if token.kind == "string":
        return "a string"
    if token.kind == "number":
        return f"the number {token.text}"
    return f"'{_show_name(token.text)}'"


def _check_text(text: str, parameter: str, limit: int) -> None:
    if len(text) > limit:
        raise QueryError(f"{parameter} is longer than {limit} characters", parameter)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QueryError(
            f"{parameter} is not valid Unicode text", parameter, position=exc.start + 1
        ) from None
    if "\x00" in text:
        raise QueryError(f"{parameter} contains a NUL character", parameter, position=text.index("\x00") + 1)


def parse_filter(text: str, parameter: str = "filter") -> Node:
    """The syntax tree of a filter; raises QueryError on anything outside the language or its limits."""
    if not isinstance(text, str):
        raise QueryError(f"{parameter} must be text", parameter)
    _check_text(text, parameter, MAX_FILTER_LENGTH)
    if not text.strip():
        raise QueryError(f"{parameter} is empty", parameter)
    return _Parser(text, parameter).parse()


# ---------------------------------------------------------------------------------------------------
# Checking and compiling a filter


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _known(columns: Mapping[str, str]) -> str:
    return ", ".join(columns) or "(none)"


def _resolve(
    name: str,
    columns: Mapping[str, str],
    masked: Mapping[str, str],
    parameter: str,
    position: int | None,
    use: str,
) -> str:
    if name not in columns:
        raise QueryError(
            f"unknown field '{_show_name(name)}' in {parameter}; known fields: {_known(columns)}",
            parameter,
            position=position,
        )
    if name in masked:
        raise QueryError(
            f"field '{name}' is masked for this caller: it cannot be {use}", parameter, position=position
        )
    return columns[name]


def _value(name: str, kind: str, lit: Literal, parameter: str) -> Any:
    """``lit`` converted for a field of logical type ``kind``."""

    def bad(expected: str) -> QueryError:
        shown = f"'{lit.text}'" if lit.kind == "string" else lit.text
        if len(shown) > 60:
            shown = shown[:57] + "…"
        return QueryError(
            f"field '{name}' ({kind}) cannot take the value {shown} at character {lit.position}: {expected}",
            parameter,
            position=lit.position,
        )

    if kind in ("string", "list"):
        if lit.kind != "string":
            raise bad("write a quoted string, e.g. '42'")
        return lit.text
    if kind == "integer":
        if lit.kind != "number" or any(c in lit.text for c in ".eE"):
            raise bad("write an integer, e.g. 42")
        number = int(lit.text)
        if not _INT64[0] <= number <= _INT64[1]:
            raise bad("the integer is out of the 64-bit range")
        return number
    if kind == "decimal":
        if lit.kind != "number":
            raise bad("write a number, e.g. 12.5")
        decimal_value = float(lit.text)
        if not math.isfinite(decimal_value):
            raise bad("the number is out of range")
        return decimal_value
    if kind == "boolean":
        if lit.kind != "boolean":
            raise bad("write true or false")
        return lit.text == "true"
    if kind == "date":
        if lit.kind != "string" or not _DATE.fullmatch(lit.text):
            raise bad("write a date as 'YYYY-MM-DD'")
        try:
            return dt.date.fromisoformat(lit.text)
        except ValueError:
            raise bad("no such date") from None
    if kind == "timestamp":
        if lit.kind != "string" or not _TIMESTAMP.fullmatch(lit.text):
            raise bad("write 'YYYY-MM-DD', 'YYYY-MM-DDTHH:MM[:SS]' or 'YYYY-MM-DD HH:MM[:SS]'")
        try:
            return dt.datetime.fromisoformat(lit.text)
        except ValueError:
            raise bad("no such date or time") from None
    raise ValueError(f"unknown logical type {kind!r} for column {name!r}")


def _check_like_pattern(name: str, lit: Literal, parameter: str) -> str:
    if lit.kind != "string":
        raise QueryError(
            f"the pattern for field '{name}' at character {lit.position} must be a quoted string",
            parameter,
            position=lit.position,
        )
    text = lit.text
    i = 0
    while i < len(text):
        if text[i] == "\\":
            if i + 1 >= len(text) or text[i + 1] not in "%_\\":
                raise QueryError(
                    f"in the pattern for field '{name}' at character {lit.position}, a backslash must be "
                    "followed by %, _ or another backslash",
                    parameter,
                    position=lit.position,
                )
            i += 2
        else:
            i += 1
    return text


class _Compiler:
    def __init__(self, columns: Mapping[str, str], masked: Mapping[str, str], parameter: str) -> None:
        self.columns = columns
        self.masked = masked
        self.parameter = parameter
        self.params: list[Any] = []

    def compile(self, node: Node) -> str:
        if isinstance(node, And | Or):
            joiner = " AND " if isinstance(node, And) else " OR "
            return "(" + joiner.join(self.compile(item) for item in node.items) + ")"
        if isinstance(node, Not):
            # Two-valued logic: an atom on a null is false, so NOT is the exact complement.
            return f"(NOT COALESCE({self.compile(node.item)}, FALSE))"
        return self.atom(node)

    def field(self, name: str, position: int) -> tuple[str, str]:
        kind = _resolve(name, self.columns, self.masked, self.parameter, position, "filtered on")
        return quote_identifier(name), kind

    def refuse(self, name: str, kind: str, what: str, position: int, hint: str) -> QueryError:
        return QueryError(
            f"field '{name}' is {kind}: {what} does not apply to it at character {position} ({hint})",
            self.parameter,
            position=position,
        )

    def atom(self, node: Atom) -> str:
        column, kind = self.field(node.field, node.position)
        if isinstance(node, IsNull):
            return f"({column} IS {'NOT ' if node.negated else ''}NULL)"
        if isinstance(node, Contains):
            if kind not in ("list", "string"):
                raise self.refuse(node.field, kind, "contains()", node.position, "it takes lists and strings")
            self.params.append(_value(node.field, "string", node.value, self.parameter))
            function = "list_contains" if kind == "list" else "contains"
            return f"{function}({column}, ?)"
        if kind == "list":
            raise self.refuse(
                node.field, "a list", "this condition", node.position, "use contains() or is null"
            )
        if isinstance(node, Like):
            if kind != "string":
                raise self.refuse(node.field, kind, "like", node.position, "it takes strings")
            self.params.append(_check_like_pattern(node.field, node.pattern, self.parameter))
            op = ("NOT " if node.negated else "") + ("ILIKE" if node.case_insensitive else "LIKE")
            return f"({column} {op} ? ESCAPE '\\')"
        if isinstance(node, InList):
            self.params.extend(_value(node.field, kind, v, self.parameter) for v in node.values)
            marks = ", ".join("?" for _ in node.values)
            return f"({column} {'NOT IN' if node.negated else 'IN'} ({marks}))"
        if kind == "boolean" and node.op not in ("=", "!="):
            raise self.refuse(node.field, kind, f"'{node.op}'", node.position, "use = or !=")
        self.params.append(_value(node.field, kind, node.value, self.parameter))
        return f"({column} {_COMPARISONS[node.op]} ?)"


def _check_columns(columns: Mapping[str, str]) -> None:
    for name, kind in columns.items():
        if str(kind) not in LOGICAL_TYPES:
            raise ValueError(f"column {name!r} has logical type {kind!r}; known: {', '.join(LOGICAL_TYPES)}")


def compile_filter(
    text: str,
    columns: Mapping[str, str],
    *,
    masked: Mapping[str, str] | None = None,
    parameter: str = "filter",
) -> tuple[str, list[Any], Node]:
    """``text`` as a SQL condition with ``?`` placeholders, its parameters, and its syntax tree."""
    _check_columns(columns)
    node = parse_filter(text, parameter)
    compiler = _Compiler({k: str(v) for k, v in columns.items()}, masked or {}, parameter)
    return compiler.compile(node), compiler.params, node


def check_filter(
    columns: Mapping[str, str],
    text: str,
    *,
    masked: Mapping[str, str] | None = None,
    parameter: str = "row_filter",
) -> None:
    """Raises QueryError when ``text`` does not compile against ``columns`` (e.g. a grant's row filter)."""
    compile_filter(text, columns, masked=masked, parameter=parameter)


# ---------------------------------------------------------------------------------------------------
# fields, order, limit


@dataclass(frozen=True)
class OrderKey:
    name: str
    descending: bool = False

    def sql(self) -> str:
        direction = "DESC NULLS FIRST" if self.descending else "ASC NULLS LAST"
        return f"{quote_identifier(self.name)} {direction}"

    def text(self) -> str:
        return f"-{self.name}" if self.descending else self.name


def _split_names(text: str, parameter: str) -> list[str]:
    if not isinstance(text, str):
        raise QueryError(f"{parameter} must be text", parameter)
    _check_text(text, parameter, MAX_LIST_PARAMETER_LENGTH)
    parts = [p.strip() for p in text.split(",")]
    if any(not p for p in parts):
        raise QueryError(f"{parameter} has an empty entry: separate names with single commas", parameter)
    return parts


def _show_name(name: str) -> str:
    return name if len(name) <= 60 else name[:57] + "…"


def parse_fields(text: str | None, columns: Mapping[str, str]) -> list[str]:
    """The requested output fields, in request order (every column when ``text`` is blank)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return list(columns)
    names = _split_names(text, "fields")
    seen: set[str] = set()
    for name in names:
        if name not in columns:
            raise QueryError(
                f"unknown field '{_show_name(name)}' in fields; known fields: {_known(columns)}", "fields"
            )
        if name in seen:
            raise QueryError(f"field '{name}' is listed twice in fields", "fields")
        seen.add(name)
    return names


def parse_order(
    text: str | None, columns: Mapping[str, str], key: Sequence[str], masked: Mapping[str, str] | None = None
) -> tuple[OrderKey, ...]:
    """The sort keys: those asked for, then the key columns not among them (ascending)."""
    masked = masked or {}
    keys: list[OrderKey] = []
    if text is not None and (not isinstance(text, str) or text.strip()):
        for part in _split_names(text, "order"):
            descending = part.startswith("-")
            name = part[1:] if descending else part
            if not _IDENTIFIER.fullmatch(name):
                raise QueryError(
                    f"'{_show_name(part)}' in order is not a field name (write name or -name for descending)",
                    "order",
                )
            kind = _resolve(name, columns, masked, "order", None, "ordered on")
            if kind not in _ORDERABLE:
                raise QueryError(f"field '{name}' is a {kind}: it cannot be ordered on", "order")
            if any(k.name == name for k in keys):
                raise QueryError(f"field '{name}' is listed twice in order", "order")
            keys.append(OrderKey(name, descending))
    for name in key:
        if name not in columns:
            raise QueryError(
                f"this view cannot be paged for this caller: its key column '{name}' is not readable", "order"
            )
        if name in masked:
            raise QueryError(
                f"this view cannot be paged for this caller: its key column '{name}' is masked", "order"
            )
        if not any(k.name == name for k in keys):
            keys.append(OrderKey(name))
    return tuple(keys)


def parse_limit(value: int | str | None) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_LIMIT
    if isinstance(value, bool):
        raise QueryError(f"limit must be a whole number from 1 to {MAX_LIMIT}", "limit")
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 10 or not text.isascii() or not text.isdigit():
            raise QueryError(f"limit must be a whole number from 1 to {MAX_LIMIT}", "limit")
        value = int(text)
    if not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise QueryError(f"limit must be a whole number from 1 to {MAX_LIMIT}", "limit")
    return value


# ---------------------------------------------------------------------------------------------------
# Cursors


def _fingerprint(
    view: str, filter_node: Node | None, extra_node: Node | None, order: Sequence[OrderKey]
) -> str:
    document = [
        view,
        canonical(filter_node) if filter_node is not None else None,
        canonical(extra_node) if extra_node is not None else None,
        [k.text() for k in order],
    ]
    blob = json.dumps(document, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def _signature(secret: bytes, fingerprint: str, values: list[Any]) -> str:
    blob = json.dumps([fingerprint, values], ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    digest = hmac.new(secret, blob.encode("utf-8"), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def _encode_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)  # 'nan', 'inf', '-inf'
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else repr(float(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"a {type(value).__name__} cannot go into a cursor")


def encode_cursor(secret: bytes, fingerprint: str, values: Sequence[Any]) -> str:
    encoded = [_encode_value(v) for v in values]
    payload = {
        "v": _CURSOR_VERSION,
        "q": fingerprint,
        "k": encoded,
        "s": _signature(secret, fingerprint, encoded),
    }
    blob = json.dumps(payload, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return base64.urlsafe_b64encode(blob.encode("ascii")).decode("ascii").rstrip("=")


def _bad_cursor(reason: str) -> QueryError:
    return QueryError(f"the cursor is not valid ({reason}); start again from the first page", "cursor")


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _decode_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "string" and isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _bad_cursor("a value is not valid Unicode text") from None
        return value
    if (
        kind == "integer"
        and isinstance(value, int)
        and not isinstance(value, bool)
        and _INT64[0] <= value <= _INT64[1]
    ):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "decimal":
        if isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
                raise _bad_cursor("a value is out of range")
            return value
        if isinstance(value, str):
            if value in ("nan", "inf", "-inf"):
                return float(value)
            if _DECIMAL_TEXT.fullmatch(value):
                try:
                    return Decimal(value)
                except InvalidOperation:
                    pass
    if kind == "date" and isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    if kind == "timestamp" and isinstance(value, str) and len(value) <= 40:
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise _bad_cursor("a value does not fit its field")


def decode_cursor(text: str, secret: bytes, fingerprint: str, kinds: Sequence[str]) -> list[Any]:
    """The order-column values of the last row of the previous page, checked against this query."""
    if not isinstance(text, str) or len(text) > MAX_CURSOR_LENGTH:
        raise _bad_cursor(f"longer than {MAX_CURSOR_LENGTH} characters")
    text = text.strip()
    if not text or any(c not in _BASE64URL for c in text) or len(text) % 4 == 1:
        raise _bad_cursor("not base64url")
    try:
        blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        payload = json.loads(blob.decode("utf-8"), parse_constant=_reject_constant)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise _bad_cursor("not a cursor of this API") from None
    if not isinstance(payload, dict) or set(payload) != {"v", "q", "k", "s"}:
        raise _bad_cursor("not a cursor of this API")
    if (
        payload["v"] != _CURSOR_VERSION
        or not isinstance(payload["q"], str)
        or not isinstance(payload["s"], str)
    ):
        raise _bad_cursor("not a cursor of this API")
    values = payload["k"]
    if not isinstance(values, list) or not all(
        v is None or isinstance(v, bool | int | float | str) for v in values
    ):
        raise _bad_cursor("not a cursor of this API")
    try:
        expected = _signature(secret, payload["q"], values)
    except ValueError:
        raise _bad_cursor("not a cursor of this API") from None
    if not hmac.compare_digest(expected.encode("ascii"), payload["s"].encode("utf-8", "replace")):
        raise _bad_cursor("it was altered or truncated")
    if not hmac.compare_digest(payload["q"].encode("utf-8", "replace"), fingerprint.encode("ascii")):
        raise QueryError(
            "the cursor belongs to another query (the view, filter or order changed); "
            "start again from the first page",
            "cursor",
        )
    if len(values) != len(kinds):
        raise _bad_cursor("wrong number of values")
    return [_decode_value(v, k) for v, k in zip(values, kinds, strict=True)]


def _keyset(order: Sequence[OrderKey], values: Sequence[Any]) -> tuple[str, list[Any]]:
    """Rows strictly after ``values`` in ``order`` (asc: nulls last; desc: nulls first)."""
    alternatives: list[str] = []
    params: list[Any] = []
    equal: list[str] = []
    equal_params: list[Any] = []
    for key, value in zip(order, values, strict=True):
        column = quote_identifier(key.name)
        after: str | None
        after_params: list[Any] = []
        if value is None:
            after = f"{column} IS NOT NULL" if key.descending else None
        elif key.descending:
            after, after_params = f"{column} < ?", [value]
        else:
            after, after_params = f"({column} > ? OR {column} IS NULL)", [value]
        if after is not None:
            alternatives.append("(" + " AND ".join([*equal, after]) + ")")
            params.extend([*equal_params, *after_params])
        if value is None:
            equal.append(f"{column} IS NULL")
        else:
            equal.append(f"{column} = ?")
            equal_params.append(value)
    if not alternatives:
        return "FALSE", []
    return "(" + " OR ".join(alternatives) + ")", params


# ---------------------------------------------------------------------------------------------------
# The compiled query


@dataclass(frozen=True)
class CompiledQuery:
    """One page's query: run ``sql`` with ``params``, then hand the rows to :meth:`page`.

    ``columns`` are the output fields, the first ``len(columns)`` values of each fetched row; further
    values are hidden order columns for the cursor. The query asks for ``limit + 1`` rows.
    """

    sql: str
    params: list[Any]
    columns: list[str]
    limit: int
    order: tuple[OrderKey, ...]
    fingerprint: str
    cursor_positions: tuple[int, ...] = ()
    cursor_kinds: tuple[str, ...] = ()
    secret: bytes = field(default=_DEFAULT_SECRET, repr=False)
    whole: Statement | None = field(default=None, repr=False)  # see unlimited()

    def page(self, rows: Sequence[Sequence[Any]]) -> tuple[list[tuple[Any, ...]], str | None]:
        return paginate(self, rows)


@dataclass(frozen=True)
class Statement:
    """One SQL statement and its parameters (a count, or every row of a query for an export)."""

    sql: str
    params: list[Any]


CompiledCount = Statement


def unlimited(query: CompiledQuery) -> Statement:
    """Every row of ``query`` from its cursor on, in its order, with only its output ``columns`` and no
    limit: for streaming exports."""
    if query.whole is None:
        raise ValueError("this CompiledQuery was not made by compile_query")
    return query.whole


def paginate(query: CompiledQuery, rows: Sequence[Sequence[Any]]) -> tuple[list[tuple[Any, ...]], str | None]:
    """The page's rows (output fields only) and the cursor of the next page, or None on the last page."""
    width = len(query.columns)
    page = [tuple(row[:width]) for row in rows[: query.limit]]
    if len(rows) <= query.limit:
        return page, None
    last = rows[query.limit - 1]
    values = [last[i] for i in query.cursor_positions]
    return page, encode_cursor(query.secret, query.fingerprint, values)


def _where(
    columns: Mapping[str, str],
    masked: Mapping[str, str],
    filter: str | None,
    extra_filter: str | None,
    extra_filter_columns: Mapping[str, str] | None,
) -> tuple[list[str], list[Any], Node | None, Node | None]:
    conditions: list[str] = []
    params: list[Any] = []
    extra_node = filter_node = None
    if extra_filter is not None and extra_filter.strip():
        sql, extra_params, extra_node = compile_filter(
            extra_filter,
            extra_filter_columns if extra_filter_columns is not None else columns,
            parameter="row_filter",
        )
        conditions.append(sql)
        params.extend(extra_params)
    if filter is not None and (not isinstance(filter, str) or filter.strip()):
        sql, filter_params, filter_node = compile_filter(filter, columns, masked=masked)
        conditions.append(sql)
        params.extend(filter_params)
    return conditions, params, filter_node, extra_node


def compile_query(
    relation: str,
    columns: Mapping[str, str],
    key: Sequence[str],
    *,
    view: str = "",
    fields: str | None = None,
    filter: str | None = None,
    order: str | None = None,
    limit: int | str | None = None,
    cursor: str | None = None,
    masked: Mapping[str, str] | None = None,
    extra_filter: str | None = None,
    extra_filter_columns: Mapping[str, str] | None = None,
    secret: bytes | None = None,
) -> CompiledQuery:
    """The query for one page of ``relation``.

    relation              trusted SQL for the table to read (``read_parquet([...])``, a view name), no alias
    columns               the caller's readable columns -> logical type, in the view's order
    key                   the key columns: unique together, the tiebreaker of every order
    view                  what a cursor is bound to besides the query: the view's name (add the snapshot
                          version to refuse cursors across publications)
    fields .. cursor      the request parameters, as sent (None or blank: the default)
    masked                column -> trusted SQL expression serving it masked (``mask_phone("phone")``);
                          such a column is returned as that expression and cannot be filtered or ordered on
    extra_filter          a grant's row filter in the same language, ANDed with ``filter``; trusted, so it
                          may use masked columns and, with ``extra_filter_columns``, columns the caller
                          cannot read
    secret                signs cursors (default: a fixed key, which detects corruption but not forgery)
    """
    _check_columns(columns)
    columns = {k: str(v) for k, v in columns.items()}
    masked = dict(masked or {})
    if not key:
        raise ValueError("a view needs key columns to be paged")
    secret = secret or _DEFAULT_SECRET
    output = parse_fields(fields, columns)
    keys = parse_order(order, columns, key, masked)
    size = parse_limit(limit)
    conditions, params, filter_node, extra_node = _where(
        columns, masked, filter, extra_filter, extra_filter_columns
    )
    fingerprint = _fingerprint(view, filter_node, extra_node, keys)
    kinds = tuple(columns[k.name] for k in keys)
    if cursor is not None and (not isinstance(cursor, str) or cursor.strip()):
        values = decode_cursor(cursor, secret, fingerprint, kinds)
        sql, keyset_params = _keyset(keys, values)
        conditions.append(sql)
        params.extend(keyset_params)

    select = [
        f"({masked[name]}) AS {quote_identifier(name)}" if name in masked else quote_identifier(name)
        for name in output
    ]
    hidden: list[str] = []
    positions: list[int] = []
    for i, k in enumerate(keys):
        if k.name in output:
            positions.append(output.index(k.name))
        else:
            positions.append(len(select) + len(hidden))
            hidden.append(f"{quote_identifier(k.name)} AS {quote_identifier(_HIDDEN.format(i))}")
    rest = f" FROM {relation}"
    if conditions:
        rest += " WHERE " + " AND ".join(conditions)
    rest += " ORDER BY " + ", ".join(k.sql() for k in keys)
    whole = Statement(f"SELECT {', '.join(select)}{rest}", list(params))
    sql = f"SELECT {', '.join(select + hidden)}{rest} LIMIT ?"
    return CompiledQuery(
        sql, [*params, size + 1], output, size, keys, fingerprint, tuple(positions), kinds, secret, whole
    )


def compile_count(
    relation: str,
    columns: Mapping[str, str],
    *,
    filter: str | None = None,
    masked: Mapping[str, str] | None = None,
    extra_filter: str | None = None,
    extra_filter_columns: Mapping[str, str] | None = None,
) -> Statement:
    """How many rows ``filter`` and ``extra_filter`` select (for a total beside the first page)."""
    _check_columns(columns)
    columns = {k: str(v) for k, v in columns.items()}
    conditions, params, _, _ = _where(columns, dict(masked or {}), filter, extra_filter, extra_filter_columns)
    sql = f"SELECT count(*) AS {quote_identifier('count')} FROM {relation}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    return Statement(sql, params)
