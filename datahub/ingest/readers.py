"""Read a delivered file as text, exactly as the department sent it.

Every reader returns a :class:`Delivered`: a polars DataFrame whose columns are the file's own headers
and whose values are strings (or null), one row per record in file order, with each record's number.
A record the reader cannot take (a JSON Lines line that is not an object, a value longer than
:data:`CELL_LIMIT`) is a :class:`RecordProblem`: the pipeline quarantines it alone, with its number
and reason, and publishes the others. A file that cannot be read as the dataset at all raises
``UnreadableDelivery`` naming the file, the line where it can, and the reason.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path

import polars as pl

from datahub.contracts import Dataset, DeliveryFormat
from datahub.errors import UnreadableDelivery
from datahub.quality.columns import accepted_columns, ignored_columns
from datahub.quality.reasons import Reason

SNIFF_BYTES = 64 * 1024
CELL_LIMIT = 1_048_576
"""Characters one value may hold: a 1 MB field is read, a longer one quarantines its record."""
RECORD_TEXT_LIMIT = 64 * 1024
"""Characters of a refused record (or value) kept with its reason; its full length is noted."""
JSON_DEPTH_LIMIT = 64
"""Objects and lists nested in one JSON record, at most."""
RECORD = "(record)"
"""The column of a problem with the record as a whole (not valid JSON, not an object)."""
ROW_NUMBER = "_row_number"
# Tried in order when the contract says "auto"; GB18030 decodes every GBK file.
AUTO_ENCODINGS = ("utf-8-sig", "gb18030")
ENCODING_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "utf-8": "utf-8-sig", "utf8": "utf-8-sig"}


@dataclass(frozen=True)
class RecordProblem:
    """Why the reader refused one record: it is quarantined alone, the file's other records go on."""

    index: int  # the record's position in the frame
    row: int  # its number, as quarantine shows it (JSON Lines: its line)
    reason: Reason
    column: str  # the column at fault, or RECORD for the record as a whole
    text: str  # what was delivered (the record, or the value at fault), cut to RECORD_TEXT_LIMIT
    length: int  # the full length of what was delivered, in characters
    detail: str  # what is wrong, for a message

    @property
    def value(self) -> str:
        """The delivered text as quarantine keeps it: cut, with its full length noted."""
        return self.text if len(self.text) >= self.length else f"{self.text}… ({self.length:,} characters)"


@dataclass(frozen=True)
class Delivered:
    """What a reader made of a file: every record (a refused one without the values at fault), the
    number of each, and the problems of those refused."""

    frame: pl.DataFrame
    rows: pl.Series  # Int64: the number of each record of ``frame``
    problems: list[RecordProblem] = field(default_factory=list)
    unit: str = "row"  # what a record's number counts ("line" for JSON Lines)
    notes: list[str] = field(default_factory=list)  # what was done to the file its sender should know

    @classmethod
    def of(cls, frame: pl.DataFrame) -> Delivered:
        """Every record of ``frame`` read, numbered from 1."""
        return cls(frame, pl.int_range(1, frame.height + 1, dtype=pl.Int64, eager=True))

    @property
    def records(self) -> int:
        return self.rows.len()

    def _refused(self) -> pl.Expr:
        refused = pl.Series(sorted({p.index for p in self.problems}), dtype=pl.Int64)
        return pl.int_range(pl.len(), dtype=pl.Int64).is_in(refused.implode())

    def accepted(self) -> pl.DataFrame:
        """The records read, numbered (``_row_number``), those refused left out."""
        numbered = self.frame.with_columns(self.rows.alias(ROW_NUMBER))
        return numbered.filter(~self._refused()) if self.problems else numbered

    def refused(self) -> pl.DataFrame:
        """The records refused, numbered (``_row_number``), without the values at fault."""
        return self.frame.with_columns(self.rows.alias(ROW_NUMBER)).filter(self._refused())


def normalise_header(name: str) -> str:
    return unicodedata.normalize("NFKC", str(name)).strip().lstrip("\ufeff")


def normalised_names(names: list[str], file: str) -> list[str]:
    """The headers as the platform reads them (:func:`normalise_header`); a header that names a column
    twice, as delivered or once normalised (``工单编号`` and ``工单编号 ``), makes the file unreadable:
    which of the two columns is meant cannot be known."""
    normalised = [normalise_header(name) for name in names]
    seen: dict[str, list[str]] = {}
    for raw, name in zip(names, normalised, strict=True):
        seen.setdefault(name, []).append(raw)
    twice = {name: raws for name, raws in seen.items() if len(raws) > 1 and name}
    if twice:
        listed = "; ".join(
            f"{name} ({len(raws)} times: {', '.join(repr(r) for r in raws)})" for name, raws in twice.items()
        )
        raise UnreadableDelivery(f"the header names a column more than once: {listed}", file=file, line=1)
    return normalised


def decode_text(data: bytes, encoding: str, file: str) -> str:
    """Decode with the contract's encoding (or detect it), refusing what no candidate decodes."""
    declared = ENCODING_ALIASES.get(encoding.lower(), encoding)
    candidates = AUTO_ENCODINGS if declared == "auto" else (declared, *AUTO_ENCODINGS)
    for candidate in dict.fromkeys(candidates):
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UnreadableDelivery(
            f"cannot decode as {', '.join(dict.fromkeys(candidates))} (first bad byte at offset {exc.start})",
            file=file,
            line=line,
        ) from exc
    raise AssertionError("unreachable")


def _find_ragged_line(text: str, delimiter: str, width: int) -> tuple[int, int] | None:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    next(reader, None)
    for record in reader:
        if record and len(record) != width:
            return reader.line_num, len(record)
    return None


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _nul_line(text: str, at: int) -> int:
    return text.count("\n", 0, at) + 1


def _read_text(path: Path, encoding: str) -> str:
    """The file as text. A byte-order mark says UTF-16 whatever the contract declares (Excel's
    "Unicode text"); a NUL anywhere is refused on its own line: never passed on to consumers."""
    data = path.read_bytes()
    file = str(path)
    if data.startswith(_UTF16_BOMS):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UnreadableDelivery(
                f"starts with a UTF-16 byte-order mark but is not UTF-16 (bad bytes at offset {exc.start})",
                file=file,
                line=1,
            ) from exc
    else:
        at = data.find(b"\x00")
        if at >= 0:
            line = data.count(b"\n", 0, at) + 1
            raise UnreadableDelivery("a NUL byte in a text delivery (binary content?)", file=file, line=line)
        text = decode_text(data, encoding, file)
    if "\x00" in text:
        raise UnreadableDelivery(
            "a NUL character in a text delivery", file=file, line=_nul_line(text, text.index("\x00"))
        )
    return text.lstrip("\ufeff")


def read_csv(path: Path, dataset: Dataset) -> Delivered:
    return Delivered.of(_csv_frame(_read_text(path, dataset.delivery.encoding), str(path)))


def read_text_csv(path: Path) -> pl.DataFrame:
    """A CSV file of text columns in whatever encoding it comes (a fixed quarantine export that Excel
    on Chinese Windows saved as GBK), read with the checks of a CSV delivery."""
    return _csv_frame(_read_text(Path(path), "auto"), str(path))


def _csv_frame(text: str, file: str) -> pl.DataFrame:
    if not text.strip():
        raise UnreadableDelivery("empty file: no header and no rows", file=file, line=1)
    header_line = text.split("\n", 1)[0]
    try:
        frame = pl.read_csv(text.encode("utf-8"), infer_schema=False, has_header=True)
    except pl.exceptions.ComputeError as exc:
        width = len(next(csv.reader([header_line])))
        ragged = _find_ragged_line(text, ",", width)
        if ragged:
            line, found = ragged
            raise UnreadableDelivery(
                f"record has {found} fields where the header has {width}", file=file, line=line
            ) from exc
        raise UnreadableDelivery(f"not a readable CSV: {exc}", file=file, line=1) from exc
    if frame.width > 1 and frame[:, -1].null_count():
        # polars fills a record cut short (a file cut mid-record) with nulls: refuse it as ragged
        ragged = _find_ragged_line(text, ",", frame.width)
        if ragged:
            line, found = ragged
            raise UnreadableDelivery(
                f"record has {found} fields where the header has {frame.width}", file=file, line=line
            )
    delivered = next(csv.reader([header_line]), [])  # polars renames a repeated name: check the header
    names = normalised_names(delivered if len(delivered) == frame.width else frame.columns, file)
    # Columns without a name keep polars' own distinct names ("", "_duplicated_0").
    return frame.rename({c: n or c for c, n in zip(frame.columns, names, strict=True)})


class _NamedTwice(Exception):
    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(", ".join(names))


class _Twice(dict[str, object]):
    """A JSON object that named a field more than once (``json`` would keep the last silently)."""

    twice: list[str]


def _json_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    record = dict(pairs)
    if len(record) == len(pairs):
        return record
    twice = _Twice(record)
    twice.twice = [name for name, n in Counter(name for name, _ in pairs).items() if n > 1]
    return twice


def _flatten(record: dict[str, object], prefix: str = "") -> dict[str, object]:
    """Nested objects as dotted names; a name given twice (``{"a": 1, "a": 2}``, or ``"a.b"`` beside
    ``{"a": {"b": …}}``) raises _NamedTwice: which value is meant cannot be known."""
    if isinstance(record, _Twice):
        raise _NamedTwice([f"{prefix}{name}" for name in record.twice])
    out: dict[str, object] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        fields = _flatten(value, f"{name}.") if isinstance(value, dict) else {name: value}
        if twice := [n for n in fields if n in out]:
            raise _NamedTwice(twice)
        out.update(fields)
    return out


def _text(value: object) -> str | None:
    """A cell as text: ISO for dates and times, integers without a trailing .0, JSON for lists."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _records_frame(records: list[dict[str, object]]) -> pl.DataFrame:
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    return pl.DataFrame(
        {name: [_text(r.get(name)) for r in records] for name in columns},
        schema=dict.fromkeys(columns, pl.String),
    )


# An integer of any length is kept as its digits; an object naming a field twice is marked.
_JSON = json.JSONDecoder(parse_int=str, object_pairs_hook=_json_object)
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _skip_space(text: str, pos: int) -> int:
    found = _JSON_SPACE.match(text, pos)
    return found.end() if found else pos


def _nesting(text: str) -> int:
    """How deep objects and lists nest in a JSON text, found without parsing it (and so without the
    recursion that parsing something nested thousands deep would need)."""
    if text.count("{") + text.count("[") <= JSON_DEPTH_LIMIT:  # cheap: most records
        return 0
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", _JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


_TOO_DEEP = (Reason.nested_too_deep, f"nested deeper than {JSON_DEPTH_LIMIT} levels")
_JSON_KINDS = {"[": "list", '"': "string", "t": "boolean", "f": "boolean", "n": "null"}


def _not_an_object(text: str) -> tuple[Reason, str]:
    kind = _JSON_KINDS.get(text.lstrip()[:1], "number")
    return Reason.not_an_object, f"a JSON {kind}, not an object"


def _json_record(value: object, text: str) -> dict[str, object] | tuple[Reason, str]:
    """A parsed JSON value as a record of flat fields, or why it is refused."""
    if not isinstance(value, dict):
        return _not_an_object(text)
    try:
        return _flatten(value)
    except _NamedTwice as exc:
        return Reason.duplicate_field, f"names a field more than once: {exc}"


def _json_line(text: str) -> dict[str, object] | tuple[Reason, str]:
    """One JSON Lines record, or why it is refused (the reason and what is wrong)."""
    if _nesting(text) > JSON_DEPTH_LIMIT:  # found before parsing, so never parsed that deep
        return _TOO_DEEP
    try:
        value = _JSON.decode(text)
    except json.JSONDecodeError as exc:
        return Reason.invalid_json, f"not valid JSON: {exc.msg} (col {exc.colno})"
    except RecursionError:
        return _TOO_DEEP
    return _json_record(value, text)


def _holds_nul(record: dict[str, object]) -> bool:
    """A NUL in a field's name or text: refused like a NUL byte, whichever way it was written."""
    return any("\x00" in key or (isinstance(v, str) and "\x00" in v) for key, v in record.items())


def _problem(index: int, row: int, why: tuple[Reason, str], text: str, column: str = RECORD) -> RecordProblem:
    reason, detail = why
    return RecordProblem(index, row, reason, column, text[:RECORD_TEXT_LIMIT], len(text), detail)


def read_jsonl(path: Path, dataset: Dataset) -> Delivered:
    """JSON Lines: one object per line (blank lines skipped), nested objects flattened to dotted names.
    A line that is not an object is refused alone; a file that is one JSON array is read as such."""
    file = str(path)
    text = _read_text(path, dataset.delivery.encoding)
    if text.startswith("[", _skip_space(text, 0)):
        return _read_json_array(text, file)
    records: list[dict[str, object]] = []
    rows: list[int] = []
    problems: list[RecordProblem] = []
    # Lines end at \n alone: str.splitlines would also cut at U+2028 and others inside a JSON string.
    for line_no, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        parsed = _json_line(line)
        if "\\u0000" in line and not isinstance(parsed, tuple) and _holds_nul(parsed):
            raise UnreadableDelivery(
                "a NUL character (written \\u0000) in a JSON string", file=file, line=line_no
            )
        if isinstance(parsed, tuple):
            problems.append(_problem(len(records), line_no, parsed, line))
            parsed = {}
        records.append(parsed)
        rows.append(line_no)
    if not records:
        raise UnreadableDelivery("empty file: no records", file=file, line=1)
    return Delivered(_jsonl_frame(records, file), pl.Series(rows, dtype=pl.Int64), problems, unit="line")


def _jsonl_frame(records: list[dict[str, object]], file: str) -> pl.DataFrame:
    frame = _records_frame(records)
    return frame.rename(dict(zip(frame.columns, normalised_names(frame.columns, file), strict=True)))


def _array_error(text: str, pos: int, message: str, file: str) -> UnreadableDelivery:
    where = json.JSONDecodeError(message, text, pos)
    return UnreadableDelivery(
        f"a JSON array, not JSON Lines, and it is not valid JSON at line {where.lineno} col {where.colno}: "
        f"{message}",
        file=file,
        line=where.lineno,
    )


def _read_json_array(text: str, file: str) -> Delivered:
    """A file that is one JSON array of objects, read element by element (the n-th element is record
    n); an element that is not an object is refused alone, broken JSON refuses the file."""
    records: list[dict[str, object]] = []
    problems: list[RecordProblem] = []
    pos = _skip_space(text, text.index("[") + 1)
    closed = text.startswith("]", pos)
    while not closed:
        try:
            value, end = _JSON.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise _array_error(text, exc.pos, exc.msg, file) from exc
        except RecursionError as exc:
            message = f"element {len(records) + 1} is nested deeper than {JSON_DEPTH_LIMIT} levels"
            raise _array_error(text, pos, message, file) from exc
        element = text[pos:end]
        record = _TOO_DEEP if _nesting(element) > JSON_DEPTH_LIMIT else _json_record(value, element)
        if "\\u0000" in element and not isinstance(record, tuple) and _holds_nul(record):
            message = f"element {len(records) + 1} holds a NUL character (written \\u0000)"
            raise _array_error(text, pos, message, file)
        if isinstance(record, tuple):
            problems.append(_problem(len(records), len(records) + 1, record, element))
            record = {}
        records.append(record)
        pos = _skip_space(text, end)
        if text.startswith(",", pos):
            pos = _skip_space(text, pos + 1)
        elif text.startswith("]", pos):
            closed = True
        else:
            raise _array_error(text, pos, "Expecting ',' delimiter", file)
    rest = _skip_space(text, pos + 1)
    if rest < len(text):
        raise _array_error(text, rest, "Extra data after the array", file)
    if not records:
        raise UnreadableDelivery("an empty JSON array: no records", file=file, line=1)
    rows = pl.int_range(1, len(records) + 1, dtype=pl.Int64, eager=True)
    return Delivered(_jsonl_frame(records, file), rows, problems, unit="element")


def _parquet_text(column: pl.Series) -> pl.Series:
    """A Parquet column as the text a CSV delivery of its values would carry."""
    dtype = column.dtype
    if dtype.is_float():  # 12.0 → "12"
        whole = ((column == column.round(0)) & (column.abs() < 2.0**63)).fill_null(False)
        return column.cast(pl.Int64, strict=False).cast(pl.String).zip_with(whole, column.cast(pl.String))
    if isinstance(dtype, pl.Datetime):
        zoned = dtype.time_zone is not None  # kept with its offset: the city's time is not assumed
        return column.dt.to_string("%Y-%m-%dT%H:%M:%S%z" if zoned else "%Y-%m-%d %H:%M:%S")
    if isinstance(dtype, pl.Duration):
        return column.dt.to_string("iso")
    if isinstance(dtype, pl.List | pl.Array):  # as JSON text, as a list in a JSON Lines record is
        return pl.Series(column.name, [_text(v) for v in column.to_list()], dtype=pl.String)
    return column.cast(pl.String)


def read_parquet(path: Path, dataset: Dataset) -> Delivered:
    """Parquet columns as text; struct columns flattened to dotted names, as JSON Lines objects are."""
    file = str(path)
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:
        raise UnreadableDelivery(f"not a readable Parquet file: {exc}", file=file) from exc
    while structs := [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Struct)]:
        try:
            frame = frame.unnest(structs, separator=".")
        except pl.exceptions.DuplicateError as exc:
            raise UnreadableDelivery(
                f"a nested column, flattened, names a column more than once: {exc}", file=file
            ) from exc
    names = normalised_names(frame.columns, file)
    columns, untextual = [], []
    for column in frame.iter_columns():
        try:
            columns.append(_parquet_text(column))
        except pl.exceptions.PolarsError:
            untextual.append(f"{column.name} ({column.dtype})")
    if untextual:
        raise UnreadableDelivery(
            f"columns whose values are not text (binary data that is not UTF-8, or objects): "
            f"{', '.join(untextual)}",
            file=file,
        )
    return Delivered.of(pl.DataFrame([c.alias(n) for c, n in zip(columns, names, strict=True)]))


def read_excel(path: Path, dataset: Dataset) -> Delivered:
    from openpyxl import load_workbook

    file = str(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise UnreadableDelivery(f"not a readable Excel workbook: {exc}", file=file) from exc
    try:
        sheets = {sheet.title: sheet for sheet in book.worksheets}  # not chart sheets: no cells
        wanted = dataset.delivery.sheet or next(iter(sheets), None)
        if wanted not in sheets:
            present = ", ".join(repr(name) for name in sheets) or "none"
            raise UnreadableDelivery(f"no sheet {wanted!r} in the workbook; its sheets: {present}", file=file)
        rows = sheets[wanted].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or all(h is None for h in header):
            raise UnreadableDelivery("empty workbook: no header row", file=file, line=1)
        names = normalised_names(
            [str(h) if h is not None else f"column_{i + 1}" for i, h in enumerate(header)], file
        )
        columns: list[list[str | None]] = [[] for _ in names]
        for values in rows:
            if values is None or all(v is None for v in values):
                continue
            for i in range(len(names)):
                columns[i].append(_text(values[i]) if i < len(values) else None)
    finally:
        book.close()
    return Delivered.of(
        pl.DataFrame(
            {n: c for n, c in zip(names, columns, strict=True)}, schema=dict.fromkeys(names, pl.String)
        )
    )


READERS: dict[DeliveryFormat, Callable[[Path, Dataset], Delivered]] = {
    DeliveryFormat.csv: read_csv,
    DeliveryFormat.jsonl: read_jsonl,
    DeliveryFormat.parquet: read_parquet,
    DeliveryFormat.excel: read_excel,
}


def _delimiter_hint(columns: list[str]) -> str:
    if len(columns) == 1:
        for sep, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in columns[0]:
                return f"; the header is one field containing {label}s: wrong delimiter?"
    return ""


RESUBMISSION_SUFFIX = ".resubmission.parquet"


def _refuse_long_values(read: Delivered) -> Delivered:
    """Each value longer than CELL_LIMIT refuses its record: its problem keeps the value cut short,
    the frame keeps it no longer (never published, nor printed, in full)."""
    frame = read.frame
    longest = frame.select(pl.col(pl.String).str.len_bytes().max()).row(0, named=True) if frame.width else {}
    candidates = [name for name, size in longest.items() if size is not None and size > CELL_LIMIT]
    if not candidates:  # bytes: a cheap bound on characters
        return read
    problems = list(read.problems)
    for name in candidates:
        values = frame.get_column(name)
        lengths = values.str.len_chars()
        for index in (lengths > CELL_LIMIT).fill_null(False).arg_true().to_list():
            length = lengths[index]
            problems.append(
                RecordProblem(
                    index,
                    read.rows[index],
                    Reason.value_too_long,
                    name,
                    values.slice(index, 1).str.slice(0, RECORD_TEXT_LIMIT).item(),
                    length,
                    f"{name}: a value of {length:,} characters (at most {CELL_LIMIT:,})",
                )
            )
    frame = frame.with_columns(
        pl.when(pl.col(name).str.len_chars() > CELL_LIMIT).then(None).otherwise(pl.col(name)).alias(name)
        for name in candidates
    )
    return replace(read, frame=frame, problems=sorted(problems, key=lambda p: p.index))


def read_delivery(path: Path, dataset: Dataset) -> Delivered:
    """Read ``path`` as a delivery of ``dataset``; checks that every required column is present, that
    every column is declared (those the contract ignores are dropped) and that some record could be
    read."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise UnreadableDelivery("no such file", file=file)
    if path.stat().st_size == 0:
        raise UnreadableDelivery("empty file (0 bytes)", file=file, line=1)
    # A fixed quarantine export comes back as Parquet text columns, whatever the department's format.
    reader = (
        READERS[DeliveryFormat.parquet]
        if path.name.endswith(RESUBMISSION_SUFFIX)
        else READERS[dataset.delivery.format]
    )
    read = reader(path, dataset)
    # Columns the contract ignores are dropped before any of their values is looked at or kept.
    if ignored := ignored_columns(read.frame.columns, dataset):
        note = f"columns ignored as the contract allows: {', '.join(ignored)}"
        read = replace(read, frame=read.frame.drop(ignored), notes=[*read.notes, note])
    read = _refuse_long_values(read)
    refused = {p.index for p in read.problems}
    if read.records and len(refused) == read.records:
        first = read.problems[0]
        raise UnreadableDelivery(
            f"no record could be read ({len(refused):,} refused), the first at {read.unit} {first.row}: "
            f"{first.detail}",
            file=file,
            line=first.row if read.unit == "line" else None,
        )
    # Undeclared columns refuse the file, as missing required ones do (datahub/quality/columns.py).
    frame = accepted_columns(read.frame, dataset, file, _delimiter_hint(read.frame.columns))
    if read.records == 0:
        raise UnreadableDelivery("no records after the header", file=file, line=2)
    return replace(read, frame=frame)
