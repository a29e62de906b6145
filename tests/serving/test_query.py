"""The query language of the rows route, run against a real in-memory DuckDB table.

Every expectation is computed in Python from the rows themselves (or, for hostile input, from an
independent evaluator of the parsed filter), never from the compiled SQL.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import re
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from datahub.errors import InputError
from datahub.serving.query import (
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_IN_LIST,
    MAX_TERMS,
    And,
    Compare,
    CompiledQuery,
    Contains,
    InList,
    IsNull,
    Like,
    Node,
    Not,
    Or,
    QueryError,
    check_filter,
    compile_count,
    compile_query,
    encode_cursor,
    parse_filter,
    unlimited,
)
from tests.fixtures.injection_corpus import HOSTILE, HOSTILE_NAMES

COLUMNS = {
    "id": "integer",
    "part": "string",
    "seq": "integer",
    "name": "string",
    "city": "string",
    "n": "integer",
    "amount": "decimal",
    "day": "date",
    "ts": "timestamp",
    "flag": "boolean",
    "tags": "list",
    "phone": "string",
}
KEY = ("id",)
MASKED = {"phone": 'concat(left("phone", 3), \'****\', right("phone", 4))'}
SECRET = b"test-cursor-secret"
N_ROWS = 300

NAMES = [
    "张伟", "王芳", "李娜", "abc", "ABC", "Abc", "abd", "a_c", "a%c", "a\\c", "O'Brien", "it''s",
    "Zoë", "M", "中文名字很长的一个名字", "", " ", "x\ny", "100%", "under_score", "小明", "小红",
]  # fmt: skip
CITIES = ["武汉", "北京", "Wuhan", "São Paulo", None]
TAGS = ["red", "blue", "红色", "蓝色", "night", "O'Neil", "%"]


def _make_rows() -> list[dict[str, Any]]:
    rng = random.Random(20261001)
    order = list(range(N_ROWS))
    rng.shuffle(order)
    rows = []
    for i in order:
        none = rng.random
        name = HOSTILE_NAMES[i] if i < len(HOSTILE_NAMES) else (None if none() < 0.1 else rng.choice(NAMES))
        n: int | None = None if none() < 0.2 else rng.randint(-50, 50)
        if i == 20:
            n = 2**63 - 1
        if i == 21:
            n = -(2**63)
        amount = None if none() < 0.2 else round(rng.uniform(-1000, 1000), 2)
        if i in (30, 31):
            amount = 12.5
        day = None if none() < 0.2 else dt.date(2026, 9, 15) + dt.timedelta(days=rng.randint(0, 60))
        ts = (
            None
            if none() < 0.2
            else dt.datetime(2026, 9, 25) + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 20))
        )
        if i in (40, 41):
            ts = dt.datetime(2026, 10, 1, 8, 0, 0)
        if i == 42:
            ts = dt.datetime(2026, 10, 1)
        tags: list[str] | None = (
            rng.choice([None, [], None, []]) if none() < 0.3 else rng.sample(TAGS, rng.randint(1, 3))
        )
        rows.append(
            {
                "id": i * 3 + 7,
                "part": "abc"[i % 3],
                "seq": i // 3,
                "name": name,
                "city": rng.choice(CITIES),
                "n": n,
                "amount": amount,
                "day": day,
                "ts": ts,
                "flag": rng.choice([True, False, None]),
                "tags": tags,
                "phone": f"138{rng.randint(0, 99_999_999):08d}",
            }
        )
    return rows


ROWS = _make_rows()
BY_ID = {r["id"]: r for r in ROWS}
ALL_IDS = {r["id"] for r in ROWS}


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE t (id BIGINT, part VARCHAR, seq INTEGER, name VARCHAR, city VARCHAR, n BIGINT, "
        "amount DOUBLE, day DATE, ts TIMESTAMP, flag BOOLEAN, tags VARCHAR[], phone VARCHAR)"
    )
    connection.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [list(r.values()) for r in ROWS]
    )
    connection.execute("CREATE TABLE canary AS SELECT 42 AS answer")
    yield connection
    connection.close()


def _state(con: duckdb.DuckDBPyConnection) -> Any:
    tables = con.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()
    rows = con.execute("SELECT * FROM t ORDER BY id").fetchall()
    canary = con.execute("SELECT * FROM canary").fetchall()
    settings = con.execute("SELECT current_setting('threads')").fetchall()
    return tables, rows, canary, settings


@pytest.fixture(scope="module")
def pristine(con: duckdb.DuckDBPyConnection) -> Any:
    return _state(con)


def query(**kwargs: Any) -> CompiledQuery:
    args: dict[str, Any] = {"relation": "t", "view": "t", "columns": COLUMNS, "key": KEY, "secret": SECRET}
    args.update(kwargs)
    return compile_query(**args)


def fetch(
    con: duckdb.DuckDBPyConnection, **kwargs: Any
) -> tuple[list[str], list[tuple[Any, ...]], str | None]:
    q = query(**kwargs)
    rows, cursor = q.page(con.execute(q.sql, q.params).fetchall())
    return q.columns, rows, cursor


def ids(con: duckdb.DuckDBPyConnection, filter: str | None = None, **kwargs: Any) -> list[int]:
    columns, rows, cursor = fetch(con, filter=filter, fields="id", limit=1000, **kwargs)
    assert columns == ["id"]
    assert cursor is None
    return [r[0] for r in rows]


def expected_ids(predicate: Callable[[dict[str, Any]], bool]) -> list[int]:
    return sorted(r["id"] for r in ROWS if predicate(r))


def walk(con: duckdb.DuckDBPyConnection, limit: int, **kwargs: Any) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    cursor = None
    for _ in range(N_ROWS + 2):
        _columns, rows, cursor = fetch(con, limit=limit, cursor=cursor, **kwargs)
        assert len(rows) <= limit
        out.extend(rows)
        if cursor is None:
            return out
        assert len(rows) == limit  # a page before the last one is full
    raise AssertionError("pagination did not end")


def python_order(rows: Sequence[dict[str, Any]], order: Sequence[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Ascending puts nulls last, descending puts them first."""
    result = list(rows)
    for name, descending in reversed(order):
        nulls = [r for r in result if r[name] is None]
        values = sorted((r for r in result if r[name] is not None), key=lambda r: r[name], reverse=descending)
        result = nulls + values if descending else values + nulls
    return result


def _like(pattern: str, value: str, insensitive: bool) -> bool:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if insensitive else 0)
    return re.fullmatch("".join(out), value, flags) is not None


def _lit(kind: str, text: str) -> Any:
    return {
        "string": lambda: text,
        "list": lambda: text,
        "integer": lambda: int(text),
        "decimal": lambda: float(text),
        "boolean": lambda: text == "true",
        "date": lambda: dt.date.fromisoformat(text),
        "timestamp": lambda: dt.datetime.fromisoformat(text),
    }[kind]()


def evaluate(node: Node, row: dict[str, Any]) -> bool:
    """An independent reading of a parsed filter (two-valued: an atom on a null field is false)."""
    if isinstance(node, And):
        return all(evaluate(i, row) for i in node.items)
    if isinstance(node, Or):
        return any(evaluate(i, row) for i in node.items)
    if isinstance(node, Not):
        return not evaluate(node.item, row)
    value = row[node.field]
    kind = COLUMNS[node.field]
    if isinstance(node, IsNull):
        return (value is not None) if node.negated else (value is None)
    if value is None:
        return False
    if isinstance(node, Contains):
        return node.value.text in value
    if isinstance(node, Like):
        return _like(node.pattern.text, value, node.case_insensitive) != node.negated
    if isinstance(node, InList):
        return (value in [_lit(kind, v.text) for v in node.values]) != node.negated
    assert isinstance(node, Compare)
    other = _lit(kind, node.value.text)
    return {
        "=": value == other,
        "!=": value != other,
        "<": value < other,
        "<=": value <= other,
        ">": value > other,
        ">=": value >= other,
    }[node.op]


# ---------------------------------------------------------------------------------------------------
# Filters


def _str(name: str, test: Callable[[str], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r[name] is not None and test(r[name])


FILTERS: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("n = 3", lambda r: r["n"] == 3),
    ("n != 3", lambda r: r["n"] is not None and r["n"] != 3),
    ("n <> 3", lambda r: r["n"] is not None and r["n"] != 3),
    ("not (n = 3)", lambda r: r["n"] != 3),
    ("n > -5 and n <= 10", lambda r: r["n"] is not None and -5 < r["n"] <= 10),
    ("n < 0 or n >= 40", lambda r: r["n"] is not None and (r["n"] < 0 or r["n"] >= 40)),
    ("n = 9223372036854775807", lambda r: r["n"] == 2**63 - 1),
    ("n = -9223372036854775808", lambda r: r["n"] == -(2**63)),
    ("n in (1, 2, 3, -4)", lambda r: r["n"] in (1, 2, 3, -4)),
    ("n not in (1, 2, 3)", lambda r: r["n"] is not None and r["n"] not in (1, 2, 3)),
    ("not (n not in (1, 2))", lambda r: not (r["n"] is not None and r["n"] not in (1, 2))),
    ("n is null", lambda r: r["n"] is None),
    ("n IS NOT NULL", lambda r: r["n"] is not None),
    ("amount >= 12.5", lambda r: r["amount"] is not None and r["amount"] >= 12.5),
    ("amount = 12.5", lambda r: r["amount"] == 12.5),
    ("amount < 0", lambda r: r["amount"] is not None and r["amount"] < 0),
    ("amount > -1e2 and amount < 1e2", lambda r: r["amount"] is not None and -100 < r["amount"] < 100),
    ("day = '2026-10-01'", lambda r: r["day"] == dt.date(2026, 10, 1)),
    (
        "day >= '2026-10-01' and day < '2026-10-15'",
        lambda r: r["day"] is not None and dt.date(2026, 10, 1) <= r["day"] < dt.date(2026, 10, 15),
    ),
    (
        "day in ('2026-10-01', '2026-10-02')",
        lambda r: r["day"] in (dt.date(2026, 10, 1), dt.date(2026, 10, 2)),
    ),
    ("ts >= '2026-10-01'", lambda r: r["ts"] is not None and r["ts"] >= dt.datetime(2026, 10, 1)),
    ("ts = '2026-10-01'", lambda r: r["ts"] == dt.datetime(2026, 10, 1)),
    ("ts < '2026-10-01T08:00:00'", lambda r: r["ts"] is not None and r["ts"] < dt.datetime(2026, 10, 1, 8)),
    ("ts = '2026-10-01 08:00:00'", lambda r: r["ts"] == dt.datetime(2026, 10, 1, 8)),
    ("ts = '2026-10-01T08:00'", lambda r: r["ts"] == dt.datetime(2026, 10, 1, 8)),
    (
        "ts > '2026-10-01T08:00:00.5'",
        lambda r: r["ts"] is not None and r["ts"] > dt.datetime(2026, 10, 1, 8, 0, 0, 500000),
    ),
    ("flag = true", lambda r: r["flag"] is True),
    ("flag != false", lambda r: r["flag"] is True),
    ("flag in (false)", lambda r: r["flag"] is False),
    ("not flag = true", lambda r: r["flag"] is not True),
    ("flag is null", lambda r: r["flag"] is None),
    ("name = '张伟'", lambda r: r["name"] == "张伟"),
    ("name = 'O''Brien'", lambda r: r["name"] == "O'Brien"),
    ("name = 'it''''s'", lambda r: r["name"] == "it''s"),
    ("name = ''", lambda r: r["name"] == ""),
    ("name = 'x\ny'", lambda r: r["name"] == "x\ny"),
    ("name like '张%'", _str("name", lambda s: s.startswith("张"))),
    ("name like 'a_c'", _str("name", lambda s: len(s) == 3 and s[0] == "a" and s[2] == "c")),
    ("name like 'a\\_c'", lambda r: r["name"] == "a_c"),
    ("name like '%\\%%'", _str("name", lambda s: "%" in s)),
    ("name like 'a\\\\c'", lambda r: r["name"] == "a\\c"),
    ("name like 'abc'", lambda r: r["name"] == "abc"),
    ("name ilike 'AB%'", _str("name", lambda s: s.lower().startswith("ab"))),
    ("name ILIKE 'abc'", _str("name", lambda s: s.lower() == "abc")),
    ("name not like '%a%'", _str("name", lambda s: "a" not in s)),
    ("name not ilike 'a%'", _str("name", lambda s: not s.lower().startswith("a"))),
    ("name < 'M'", _str("name", lambda s: s < "M")),
    ("name >= '中'", _str("name", lambda s: s >= "中")),
    ("name in ('小明', '小红', 'Zoë')", lambda r: r["name"] in ("小明", "小红", "Zoë")),
    ("contains(name, '小')", _str("name", lambda s: "小" in s)),
    ("contains(tags, 'red')", _str("tags", lambda t: "red" in t)),
    ("contains(tags, '红色')", _str("tags", lambda t: "红色" in t)),
    ("contains(tags, 'O''Neil')", _str("tags", lambda t: "O'Neil" in t)),
    ("not contains(tags, 'red')", lambda r: not (r["tags"] is not None and "red" in r["tags"])),
    ("tags is null", lambda r: r["tags"] is None),
    (
        "tags is not null and not contains(tags, 'blue')",
        lambda r: r["tags"] is not None and "blue" not in r["tags"],
    ),
    (
        "city = '武汉' or city = '北京' and n > 0",
        lambda r: r["city"] == "武汉" or (r["city"] == "北京" and (r["n"] or 0) > 0),
    ),
    (
        "(city = '武汉' or city = '北京') and n > 0",
        lambda r: r["city"] in ("武汉", "北京") and (r["n"] or 0) > 0,
    ),
    ("not not n = 1", lambda r: r["n"] == 1),
    ("not (n > 0 or amount > 0)", lambda r: not ((r["n"] or 0) > 0 or (r["amount"] or 0) > 0)),
    ("not (n > 0 and city = 'Wuhan')", lambda r: not ((r["n"] or 0) > 0 and r["city"] == "Wuhan")),
    ("id >= 100 AND id < 200 OR id = 7", lambda r: 100 <= r["id"] < 200 or r["id"] == 7),
    ("  part='a'and(seq<10)  ", lambda r: r["part"] == "a" and r["seq"] < 10),
    ("name = 'Robert''); DROP TABLE t;--'", lambda r: r["name"] == "Robert'); DROP TABLE t;--"),
    ("name = ''' OR 1=1 --'", lambda r: r["name"] == "' OR 1=1 --"),
]


@pytest.mark.parametrize(("text", "predicate"), FILTERS, ids=[f[0] for f in FILTERS])
def test_filter_selects_what_python_selects(
    con: duckdb.DuckDBPyConnection, text: str, predicate: Callable[[dict[str, Any]], bool]
) -> None:
    expected = expected_ids(predicate)
    assert expected, "the test data should hold rows for this filter"
    assert len(expected) < N_ROWS, "the filter should leave rows out"
    assert ids(con, text) == expected
    count = compile_count("t", COLUMNS, filter=text)
    assert con.execute(count.sql, count.params).fetchall() == [(len(expected),)]
    # the parsed tree means the same as the SQL
    assert expected_ids(lambda r: evaluate(parse_filter(text), r)) == expected


def test_filter_values_are_parameters_never_sql() -> None:
    marker = "SECRET_MARKER_7f3a"
    q = query(filter=f"name = '{marker}' or contains(tags, '{marker}') or name like '{marker}%'")
    assert marker not in q.sql
    assert [p for p in q.params if isinstance(p, str) and marker in p] == [marker, marker, f"{marker}%"]
    # the SQL text does not depend on the values at all
    assert q.sql == query(filter="name = 'x' or contains(tags, 'y') or name like 'z%'").sql


BAD_FILTERS = [
    ("n = 'a'", "field 'n' (integer) cannot take the value 'a'"),
    ("n = 1.5", "write an integer"),
    ("n = 9223372036854775808", "64-bit"),
    ("amount = 'x'", "write a number"),
    ("amount = 1e999", "out of range"),
    ("day = '2026-13-01'", "no such date"),
    ("day = '2026-10-1'", "YYYY-MM-DD"),
    ("day = 20261001", "YYYY-MM-DD"),
    ("ts = '2026-10-01T08:00:00+08:00'", "field 'ts' (timestamp)"),
    ("ts = '2026-10-01T24:00'", "no such date or time"),
    ("flag = 1", "write true or false"),
    ("flag < true", "use = or !="),
    ("name = 1", "write a quoted string"),
    ("name = true", "write a quoted string"),
    ("name like 5", "must be a quoted string"),
    ("n like '1%'", "field 'n' is integer: like"),
    ("contains(n, '1')", "contains()"),
    ("contains(tags, 1)", "write a quoted string"),
    ("tags = 'x'", "is a list"),
    ("tags in ('x')", "is a list"),
    ("name = null", "null is not a value"),
    ("n = 1 and", "expected a field name, found the end of the filter"),
    ("(n = 1", "expected ')'"),
    ("n = 1)", "unexpected ')'"),
    ("n == 1", "use '=' rather than '=='"),
    ("n in ()", "expected a value"),
    ("n in (1,)", "expected a value"),
    ("n not = 1", "expected 'in', 'like' or 'ilike' after 'not'"),
    ("n is 1", "expected 'null' after 'is'"),
    ('name = "x"', "strings take single quotes"),
    ("name = ‘x’", "ASCII single quotes"),
    ("name = 'x", "unterminated string"),
    ("name like 'a\\'", "backslash must be followed by"),
    ("name like 'a\\b'", "backslash must be followed by"),
    ("nme = 'x'", "unknown field 'nme' in filter; known fields: id, part, seq, name, city"),
    ("Name = 'x'", "unknown field 'Name'"),
    ("phone = '138'", "field 'phone' is masked for this caller"),
    ("phone is null", "field 'phone' is masked for this caller"),
    ("contains(phone, '138')", "field 'phone' is masked for this caller"),
    ("n = 1; drop table t", "unexpected character ';'"),
    ("n = 1 -- x", "unexpected character '-'"),
    ("1 = 1", "expected a field name, found the number 1"),
    ("and = 1", "expected a field name, found the keyword 'and'"),
    ("n = abc", "quote strings"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILTERS, ids=[b[0] for b in BAD_FILTERS])
def test_bad_filter_is_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        query(filter=text, masked=MASKED)
    assert message in caught.value.message
    assert caught.value.parameter == "filter"
    body = caught.value.to_dict()
    assert body["code"] == "invalid_query"
    assert body["parameter"] == "filter"
    assert body["path"] == "query.filter"


def test_query_error_is_an_input_error_with_a_position() -> None:
    with pytest.raises(InputError) as caught:
        query(filter="n = 1 and nme = 2")
    assert isinstance(caught.value, QueryError)
    assert caught.value.http_status == 422
    assert caught.value.position == 11
    assert QueryError.code == "invalid_query"


def test_keywords_are_case_insensitive_and_spacing_is_free(con: duckdb.DuckDBPyConnection) -> None:
    a = ids(con, "n is not null and n in (1,2) or flag = TRUE")
    b = ids(con, "n IS NOT NULL AND n IN(1 , 2)OR flag=true")
    assert a == b == expected_ids(lambda r: r["n"] in (1, 2) or r["flag"] is True)


def test_limits_accept_the_maximum_and_refuse_one_more(con: duckdb.DuckDBPyConnection) -> None:
    deep = "(" * MAX_DEPTH + "n = 1" + ")" * MAX_DEPTH
    assert ids(con, deep) == expected_ids(lambda r: r["n"] == 1)
    with pytest.raises(QueryError, match="nests deeper"):
        query(filter="(" + deep + ")")
    nots = "not " * MAX_DEPTH + "n = 1"
    assert ids(con, nots) == expected_ids(lambda r: r["n"] == 1)
    with pytest.raises(QueryError, match="nests deeper"):
        query(filter="not " + nots)

    terms = " or ".join(f"n = {i}" for i in range(MAX_TERMS))
    assert ids(con, terms) == expected_ids(lambda r: r["n"] is not None and 0 <= r["n"] < MAX_TERMS)
    with pytest.raises(QueryError, match="more than 100 conditions"):
        query(filter=terms + " or n = -1")

    values = [i % 10 for i in range(MAX_IN_LIST)]
    in_list = f"n in ({','.join(map(str, values))})"
    assert ids(con, in_list) == expected_ids(lambda r: r["n"] in values)
    with pytest.raises(QueryError, match="more than 500 values"):
        query(filter=in_list[:-1] + ",999)")

    padded = "n = 1" + " " * (MAX_FILTER_LENGTH - 5)
    assert ids(con, padded) == expected_ids(lambda r: r["n"] == 1)
    with pytest.raises(QueryError, match="longer than 2000 characters"):
        query(filter=padded + " ")


def test_blank_parameters_are_defaults(con: duckdb.DuckDBPyConnection) -> None:
    columns, rows, cursor = fetch(con, fields=" ", filter="  ", order="", cursor="", limit="")
    assert columns == list(COLUMNS)
    assert len(rows) == 100
    assert cursor is not None
    assert [r[0] for r in rows] == sorted(ALL_IDS)[:100]


# ---------------------------------------------------------------------------------------------------
# Fields, masking, limit, grants' row filters


def test_fields_choose_and_order_the_output(con: duckdb.DuckDBPyConnection) -> None:
    columns, rows, _ = fetch(con, fields="name, id ,city", filter="id < 40")
    assert columns == ["name", "id", "city"]
    assert rows == [(BY_ID[i]["name"], i, BY_ID[i]["city"]) for i in sorted(ALL_IDS) if i < 40]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("id,id", "listed twice"),
        ("id,nme", "unknown field 'nme' in fields; known fields: id, part"),
        ("id,,name", "empty entry"),
        ("id,", "empty entry"),
        ("*", "unknown field '*'"),
        ('"id"', "unknown field '\"id\"'"),
    ],
)
def test_bad_fields_are_refused(fields: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)) as caught:
        query(fields=fields)
    assert caught.value.parameter == "fields"


def test_masked_column_is_served_masked_and_cannot_be_filtered_or_ordered(
    con: duckdb.DuckDBPyConnection,
) -> None:
    columns, rows, _ = fetch(con, fields="id,phone", filter="id < 100", masked=MASKED)
    assert columns == ["id", "phone"]
    assert rows
    for id_, phone in rows:
        raw = BY_ID[id_]["phone"]
        assert phone == raw[:3] + "****" + raw[-4:]
    with pytest.raises(QueryError, match="masked for this caller") as caught:
        query(order="-phone", masked=MASKED)
    assert caught.value.parameter == "order"
    with pytest.raises(QueryError, match="masked for this caller"):
        query(filter="phone like '138%'", masked=MASKED)
    # a masked key cannot page: its values would travel in the cursor
    with pytest.raises(QueryError, match="key column 'id' is masked"):
        query(masked={"id": "0"})
    # without masking the same column filters
    assert ids(con, "phone like '1380%'") == expected_ids(lambda r: r["phone"].startswith("1380"))


def test_extra_filter_is_anded_and_may_use_masked_and_hidden_columns(con: duckdb.DuckDBPyConnection) -> None:
    got = ids(con, "n > 0", extra_filter="city = '武汉' or phone like '1381%'", masked=MASKED)
    assert got == expected_ids(
        lambda r: (r["n"] or 0) > 0 and (r["city"] == "武汉" or r["phone"].startswith("1381"))
    )
    # a grant's filter on a column the caller cannot read: it still applies, the column stays unreadable
    readable = {k: v for k, v in COLUMNS.items() if k != "city"}
    got = ids(con, None, columns=readable, extra_filter="city = 'Wuhan'", extra_filter_columns=COLUMNS)
    assert got == expected_ids(lambda r: r["city"] == "Wuhan")
    with pytest.raises(QueryError, match="unknown field 'city' in filter"):
        query(columns=readable, filter="city = 'Wuhan'", extra_filter_columns=COLUMNS)
    with pytest.raises(QueryError) as caught:
        query(extra_filter="city = ")
    assert caught.value.parameter == "row_filter"
    count = compile_count("t", COLUMNS, filter="n > 0", extra_filter="city = '北京'")
    assert con.execute(count.sql, count.params).fetchall() == [
        (len(expected_ids(lambda r: (r["n"] or 0) > 0 and r["city"] == "北京")),)
    ]


def test_check_filter_for_grants() -> None:
    check_filter(COLUMNS, "city = '武汉' and phone like '138%'")
    with pytest.raises(QueryError) as caught:
        check_filter(COLUMNS, "town = '武汉'")
    assert caught.value.parameter == "row_filter"
    assert "unknown field 'town' in row_filter" in caught.value.message


@pytest.mark.parametrize("limit", [0, -1, 1001, "abc", "1.5", "１２", True, " 10 0"])
def test_bad_limit_is_refused(limit: Any) -> None:
    with pytest.raises(QueryError, match="limit must be a whole number from 1 to 1000"):
        query(limit=limit)


def test_limit_fetches_one_more_row_and_pages(con: duckdb.DuckDBPyConnection) -> None:
    q = query(limit=1000, fields="id")
    assert q.params[-1] == 1001
    assert q.sql.endswith(" LIMIT ?")  # datahub.serving.service relies on both
    assert len(con.execute(q.sql, q.params).fetchall()) == N_ROWS
    _, rows, cursor = fetch(con, limit="7", fields="id")
    assert [r[0] for r in rows] == sorted(ALL_IDS)[:7]
    assert cursor is not None


# ---------------------------------------------------------------------------------------------------
# Ordering and cursors

ORDERS = [
    None,
    "-id",
    "n",
    "-n",
    "city,-amount",
    "-ts,flag",
    "-day,name",
    "flag,-city,n",
    "name",
    "-name,-part",
]


def _order_spec(order: str | None, key: Sequence[str]) -> list[tuple[str, bool]]:
    spec = [(p.lstrip("-"), p.startswith("-")) for p in order.split(",")] if order else []
    return spec + [(k, False) for k in key if k not in {name for name, _ in spec}]


@pytest.mark.parametrize("order", ORDERS)
def test_order_matches_python_with_nulls_last_ascending_first_descending(
    con: duckdb.DuckDBPyConnection, order: str | None
) -> None:
    _, rows, _ = fetch(con, order=order, fields="id", limit=1000)
    expected = [r["id"] for r in python_order(ROWS, _order_spec(order, KEY))]
    assert [r[0] for r in rows] == expected


# one-row pages (300 queries a walk) only for a few orders
WALKS = [(o, n) for o in ORDERS for n in (7, 64)] + [(o, 1) for o in (None, "city,-amount", "-ts,flag")]


@pytest.mark.parametrize("key", [("id",), ("part", "seq")])
@pytest.mark.parametrize(("order", "limit"), WALKS)
def test_cursor_walks_every_row_once(
    con: duckdb.DuckDBPyConnection, key: tuple[str, ...], order: str | None, limit: int
) -> None:
    rows = walk(con, limit, order=order, key=key, fields="id,part,seq")
    got = [r[0] for r in rows]
    assert len(got) == len(set(got)) == N_ROWS
    assert got == [r["id"] for r in python_order(ROWS, _order_spec(order, key))]


@pytest.mark.parametrize("order", ["-amount", "-day,-n", "name,-n"])
def test_cursor_walk_with_a_filter_and_hidden_order_columns(
    con: duckdb.DuckDBPyConnection, order: str
) -> None:
    text = "not (city = 'Wuhan') and (n is null or n > -20)"
    rows = walk(con, 9, order=order, filter=text, fields="name")  # the order columns are not output
    expected = python_order([r for r in ROWS if evaluate(parse_filter(text), r)], _order_spec(order, KEY))
    assert rows == [(r["name"],) for r in expected]
    assert 9 < len(rows) < N_ROWS


def test_fields_and_limit_may_change_between_pages(con: duckdb.DuckDBPyConnection) -> None:
    _, first, cursor = fetch(con, order="-amount", fields="id", limit=5)
    _, second, _ = fetch(con, order="-amount", fields="name,city", limit=3, cursor=cursor)
    expected = python_order(ROWS, [("amount", True), ("id", False)])
    assert [r[0] for r in first] == [r["id"] for r in expected[:5]]
    assert second == [(r["name"], r["city"]) for r in expected[5:8]]


def test_unlimited_reads_every_row_in_order_with_the_output_fields_only(
    con: duckdb.DuckDBPyConnection,
) -> None:
    text = "n is null or n > 0"
    whole = unlimited(query(filter=text, order="-day", fields="name,city"))
    expected = python_order([r for r in ROWS if r["n"] is None or r["n"] > 0], [("day", True), ("id", False)])
    assert con.execute(whole.sql, whole.params).fetchall() == [(r["name"], r["city"]) for r in expected]
    assert "LIMIT" not in whole.sql
    # from a cursor on: the rest of the walk
    _, first, cursor = fetch(con, filter=text, order="-day", fields="name,city", limit=10)
    rest = unlimited(query(filter=text, order="-day", fields="name,city", cursor=cursor))
    assert first + con.execute(rest.sql, rest.params).fetchall() == [(r["name"], r["city"]) for r in expected]


def test_filter_spelling_does_not_matter_to_the_cursor(con: duckdb.DuckDBPyConnection) -> None:
    _, _, cursor = fetch(con, filter="n > 0 and city = '武汉'", limit=3)
    _, rows, _ = fetch(con, filter="(n>0)   AND (city='武汉')", limit=3, cursor=cursor)
    assert rows


@pytest.mark.parametrize(
    "change",
    [
        {"filter": "n > 1"},
        {"filter": None},
        {"order": "-n"},
        {"order": "n,city"},
        {"view": "other"},
        {"extra_filter": "city = '武汉'"},
        {"secret": b"another-secret"},
        {"key": ("part", "seq")},
    ],
)
def test_cursor_replay_against_another_query_is_refused(
    con: duckdb.DuckDBPyConnection, change: dict[str, Any]
) -> None:
    base: dict[str, Any] = {"filter": "n > 0", "order": "n", "limit": 3}
    _, _, cursor = fetch(con, **base)
    assert cursor is not None
    fetch(con, **base, cursor=cursor)  # the same query takes it
    with pytest.raises(QueryError) as caught:
        fetch(con, **{**base, **change}, cursor=cursor)
    assert caught.value.parameter == "cursor"
    assert "start again from the first page" in caught.value.message


def _cursor_payload(cursor: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return result


def _cursor_text(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_tampered_cursor_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    _, _, cursor = fetch(con, order="-n", limit=3)
    assert cursor is not None
    payload = _cursor_payload(cursor)
    assert set(payload) == {"v", "q", "k", "s"}
    tampered = [
        {**payload, "k": [payload["k"][0], payload["k"][1] + 3]},
        {**payload, "k": payload["k"][:1]},
        {**payload, "q": "0" * 32},
        {**payload, "s": payload["s"][:-2] + "AA"},
        {**payload, "v": 2},
        {k: v for k, v in payload.items() if k != "s"},
        [payload],
    ]
    for bad in tampered:
        with pytest.raises(QueryError, match="cursor") as caught:
            fetch(con, order="-n", limit=3, cursor=_cursor_text(bad))
        assert caught.value.parameter == "cursor"
    for bad_text in (
        cursor[:-4],
        cursor[:10],
        cursor + "A",
        cursor[:10] + ("B" if cursor[10] == "A" else "A") + cursor[11:],
        "x" + cursor,
    ):
        with pytest.raises(QueryError, match="cursor"):
            fetch(con, order="-n", limit=3, cursor=bad_text)


def test_forged_cursor_values_must_fit_their_fields(con: duckdb.DuckDBPyConnection) -> None:
    q = query(order="day")
    for values in (
        ["not a date", 1],
        [1, 1],
        ["2026-10-01", "1"],
        ["2026-10-01", True],
        ["2026-10-01", 2**64],
    ):
        forged = encode_cursor(SECRET, q.fingerprint, values)
        with pytest.raises(QueryError, match=r"does not fit its field|out of range"):
            query(order="day", cursor=forged)
    forged = encode_cursor(SECRET, q.fingerprint, ["2026-10-01", 100])
    _, rows, _ = fetch(con, order="day", fields="id", limit=1000, cursor=forged)
    expected = [
        r["id"]
        for r in python_order(ROWS, [("day", False), ("id", False)])
        if r["day"] is None or (r["day"], r["id"]) > (dt.date(2026, 10, 1), 100)
    ]
    assert [r[0] for r in rows] == expected


TYPED_TABLE = """
CREATE TABLE typed AS SELECT * FROM (VALUES
  (1, 'b', 2, 1.5::DECIMAL(10,2), 'nan'::DOUBLE, DATE '2026-10-01', TIMESTAMP '2026-10-01 08:00:00.5', true),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, 'a', -1, -0.25::DECIMAL(10,2), 'inf'::DOUBLE, DATE '2026-09-30', TIMESTAMP '2026-10-01 08:00', false),
  (4, 'b', 2, 1.5::DECIMAL(10,2), '-inf'::DOUBLE, DATE '2026-10-01', TIMESTAMP '2026-10-01 08:00:00.5', true),
  (5, '中', 7, 0.00001::DECIMAL(10,5), 0.1::DOUBLE, DATE '2020-02-29', TIMESTAMP '1999-12-31 23:59:59', NULL),
  (6, NULL, 2, 99999.99::DECIMAL(10,2), NULL, DATE '2026-10-01', NULL, false),
  (7, '', 2, 0::DECIMAL(10,2), 1e300::DOUBLE, NULL, TIMESTAMP '2026-10-01 08:00:00', true)
) v(id, s, i, m, d, day, ts, b)
"""
TYPED_COLUMNS = {
    "id": "integer",
    "s": "string",
    "i": "integer",
    "m": "decimal",
    "d": "decimal",
    "day": "date",
    "ts": "timestamp",
    "b": "boolean",
}


@pytest.mark.parametrize("column", ["s", "i", "m", "d", "day", "ts", "b"])
@pytest.mark.parametrize("descending", [False, True])
def test_cursor_round_trips_every_type(column: str, descending: bool) -> None:
    """DECIMAL, NaN and infinities, microseconds, booleans and nulls survive the cursor."""
    con = duckdb.connect()
    con.execute(TYPED_TABLE)
    order = f"-{column}" if descending else column

    def fetch_typed(limit: int, cursor: str | None) -> tuple[list[tuple[Any, ...]], str | None]:
        q = compile_query(
            "typed", TYPED_COLUMNS, ["id"], view="typed", fields="id",
            order=order, limit=limit, cursor=cursor,
        )  # fmt: skip
        return q.page(con.execute(q.sql, q.params).fetchall())

    everything, last = fetch_typed(1000, None)
    assert last is None
    assert len(everything) == 7
    for limit in (1, 2, 3):
        rows: list[tuple[Any, ...]] = []
        cursor: str | None = None
        while True:
            page, cursor = fetch_typed(limit, cursor)
            rows.extend(page)
            if cursor is None:
                break
        assert rows == everything
    direction = "DESC NULLS FIRST" if descending else "ASC NULLS LAST"
    assert everything == con.execute(f"SELECT id FROM typed ORDER BY {column} {direction}, id").fetchall()
    con.close()


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ("tags", "it cannot be ordered on"),
        ("id,id", "listed twice"),
        ("n,-n", "listed twice"),
        ("nme", "unknown field 'nme' in order"),
        ("--n", "is not a field name"),
        ("n desc", "is not a field name"),
        ("n,,id", "empty entry"),
        ("+n", "is not a field name"),
    ],
)
def test_bad_order_is_refused(order: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)) as caught:
        query(order=order)
    assert caught.value.parameter == "order"


def test_key_not_readable_cannot_page() -> None:
    readable = {k: v for k, v in COLUMNS.items() if k != "id"}
    with pytest.raises(QueryError, match="key column 'id' is not readable"):
        query(columns=readable)


def test_decimal_cursor_values_keep_their_digits() -> None:
    q = CompiledQuery("", [], ["m"], 1, (), "f", (0,), ("decimal",), SECRET)
    _, cursor = q.page([(Decimal("0.00001"),), (Decimal("1"),)])
    assert cursor is not None
    assert _cursor_payload(cursor)["k"] == ["0.00001"]


# ---------------------------------------------------------------------------------------------------
# Hostile input


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_filter_is_refused_or_means_what_it_says(
    con: duckdb.DuckDBPyConnection, pristine: Any, text: str
) -> None:
    try:
        q = query(filter=text, fields="id", limit=1000)
    except QueryError:
        pass
    else:
        got = [r[0] for r in q.page(con.execute(q.sql, q.params).fetchall())[0]]
        assert got == expected_ids(lambda r: evaluate(parse_filter(text), r))

    # inside a quoted string every hostile text is just a value
    quoted = text.replace("'", "''")

    def holds(r: dict[str, Any]) -> bool:
        return text in (r["tags"] or []) or (r["name"] is not None and text in r["name"])

    for template, predicate in (
        ("name = '{0}'", lambda r: r["name"] == text),
        ("name in ('{0}', 'zzz') and id > 0", lambda r: r["name"] == text),
        ("contains(tags, '{0}') or contains(name, '{0}')", holds),
    ):
        embedded = template.format(quoted)
        try:
            q = query(filter=embedded, fields="id", limit=1000)
        except QueryError:
            assert len(embedded) > MAX_FILTER_LENGTH or "\x00" in text or _unencodable(text)
            continue
        got = [r[0] for r in q.page(con.execute(q.sql, q.params).fetchall())[0]]
        assert got == expected_ids(predicate)
        assert q.sql == query(filter=template.format("x"), fields="id", limit=1000).sql
    if text in HOSTILE_NAMES:
        assert ids(con, f"name = '{quoted}'")  # stored as a value: found by it
    assert _state(con) == pristine


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_order_and_fields_are_refused_or_harmless(
    con: duckdb.DuckDBPyConnection, pristine: Any, text: str
) -> None:
    for parameter in ("order", "fields"):
        try:
            q = query(**{parameter: text}, masked=MASKED, limit=1000)
        except QueryError as exc:
            assert exc.parameter == parameter
            continue
        rows = q.page(con.execute(q.sql, q.params).fetchall())[0]
        assert len(rows) == N_ROWS
        names = [p.strip().lstrip("-") for p in text.split(",")]
        assert all(name in COLUMNS for name in names)
        if parameter == "fields":
            assert q.columns == names
    assert _state(con) == pristine


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_cursor_is_refused(con: duckdb.DuckDBPyConnection, pristine: Any, text: str) -> None:
    encoded = base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")
    for cursor in (text, encoded, encoded + "=="):
        if not cursor.strip():
            continue
        with pytest.raises(QueryError) as caught:
            query(cursor=cursor, order="name")
        assert caught.value.parameter == "cursor"
    # a correctly signed cursor whose value is hostile is only a value
    q = query(order="name", fields="id", limit=1000)
    for value in (text, text[:200]):
        forged = encode_cursor(SECRET, q.fingerprint, [value, 0])
        try:
            q2 = query(order="name", fields="id", limit=1000, cursor=forged)
        except QueryError:
            assert _unencodable(value) or len(forged) > 16_384
            continue
        got = [r[0] for r in q2.page(con.execute(q2.sql, q2.params).fetchall())[0]]
        expected = [
            r["id"]
            for r in python_order(ROWS, [("name", False), ("id", False)])
            if r["name"] is None or r["name"] > value or (r["name"] == value and r["id"] > 0)
        ]
        assert got == expected
    assert _state(con) == pristine


def test_corpus_is_large_and_varied() -> None:
    assert len(HOSTILE) >= 100
    assert len(set(HOSTILE)) == len(HOSTILE)
    assert any("\x00" in h for h in HOSTILE)
    assert any(len(h) > MAX_FILTER_LENGTH for h in HOSTILE)
    assert set(HOSTILE_NAMES) <= {r["name"] for r in ROWS}
