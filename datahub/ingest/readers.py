"""Read a delivered file as text, exactly as the department sent it.

Every reader returns a polars DataFrame whose columns are the file's own headers and whose values
are strings (or null), one row per record in file order. A file that cannot be read as the dataset
raises ``UnreadableDelivery`` naming the file, the line where it can, and the reason.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path

import polars as pl

from datahub.contracts import Dataset, DeliveryFormat
from datahub.errors import UnreadableDelivery

SNIFF_BYTES = 64 * 1024
# Tried in order when the contract says "auto"; GB18030 decodes every GBK file.
AUTO_ENCODINGS = ("utf-8-sig", "gb18030")
ENCODING_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "utf-8": "utf-8-sig", "utf8": "utf-8-sig"}


def normalise_header(name: str) -> str:
    return unicodedata.normalize("NFKC", str(name)).strip().lstrip("\ufeff")


def _looks_binary(head: bytes) -> bool:
    return b"\x00" in head


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


def _read_text(path: Path, dataset: Dataset) -> str:
    data = path.read_bytes()
    if _looks_binary(data[:SNIFF_BYTES]):
        raise UnreadableDelivery("binary content (NUL bytes) in a text delivery", file=str(path), line=1)
    if _looks_binary(data):  # a NUL further on: never passed on to consumers
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise UnreadableDelivery("a NUL byte in a text delivery", file=str(path), line=line)
    return decode_text(data, dataset.delivery.encoding, str(path)).lstrip("\ufeff")


def read_csv(path: Path, dataset: Dataset) -> pl.DataFrame:
    file = str(path)
    text = _read_text(path, dataset)
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
    delivered = next(csv.reader([header_line]), [])  # polars renames a repeated name: check the header
    names = normalised_names(delivered if len(delivered) == frame.width else frame.columns, file)
    # Columns without a name keep polars' own distinct names ("", "_duplicated_0").
    return frame.rename({c: n or c for c, n in zip(frame.columns, names, strict=True)})


def _flatten(record: dict[str, object], prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
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
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _records_frame(records: list[dict[str, object]]) -> pl.DataFrame:
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    return pl.DataFrame(
        {name: [_text(r.get(name)) for r in records] for name in columns},
        schema=dict.fromkeys(columns, pl.String),
    )


def read_jsonl(path: Path, dataset: Dataset) -> pl.DataFrame:
    file = str(path)
    text = _read_text(path, dataset)
    records: list[dict[str, object]] = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UnreadableDelivery(f"not valid JSON: {exc.msg}", file=file, line=line_no) from exc
        if not isinstance(record, dict):
            raise UnreadableDelivery("a JSON Lines record must be an object", file=file, line=line_no)
        records.append(_flatten(record))
    if not records:
        raise UnreadableDelivery("empty file: no records", file=file, line=1)
    frame = _records_frame(records)
    return frame.rename(dict(zip(frame.columns, normalised_names(frame.columns, file), strict=True)))


def read_parquet(path: Path, dataset: Dataset) -> pl.DataFrame:
    file = str(path)
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:
        raise UnreadableDelivery(f"not a readable Parquet file: {exc}", file=file) from exc
    casts = []
    for name, dtype in frame.schema.items():
        if dtype.is_float():
            # 12.0 → "12": the same text a CSV delivery of the value would carry.
            expr = pl.col(name)
            casts.append(
                pl.when(expr == expr.round(0))
                .then(expr.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(expr.cast(pl.String))
                .alias(name)
            )
        elif dtype.is_temporal():
            casts.append(pl.col(name).dt.to_string("%Y-%m-%d %H:%M:%S").alias(name))
        else:
            casts.append(pl.col(name).cast(pl.String))
    names = normalised_names(frame.columns, file)
    return frame.select(casts).rename(dict(zip(frame.columns, names, strict=True)))


def read_excel(path: Path, dataset: Dataset) -> pl.DataFrame:
    from openpyxl import load_workbook

    file = str(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise UnreadableDelivery(f"not a readable Excel workbook: {exc}", file=file) from exc
    try:
        sheet = book[dataset.delivery.sheet] if dataset.delivery.sheet else book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
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
    return pl.DataFrame(
        {n: c for n, c in zip(names, columns, strict=True)}, schema=dict.fromkeys(names, pl.String)
    )


READERS: dict[DeliveryFormat, Callable[[Path, Dataset], pl.DataFrame]] = {
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


def read_delivery(path: Path, dataset: Dataset) -> pl.DataFrame:
    """Read ``path`` as a delivery of ``dataset``; checks that every required column is present."""
    path = Path(path)
    if not path.is_file():
        raise UnreadableDelivery("no such file", file=str(path))
    if path.stat().st_size == 0:
        raise UnreadableDelivery("empty file (0 bytes)", file=str(path), line=1)
    # A fixed quarantine export comes back as Parquet text columns, whatever the department's format.
    reader = (
        READERS[DeliveryFormat.parquet]
        if path.name.endswith(RESUBMISSION_SUFFIX)
        else READERS[dataset.delivery.format]
    )
    frame = reader(path, dataset)
    present = set(frame.columns)
    missing = [c.physical_name for c in dataset.columns if c.required and c.physical_name not in present]
    if missing:
        raise UnreadableDelivery(
            f"missing required columns: {', '.join(missing)}{_delimiter_hint(frame.columns)}",
            file=str(path),
            line=1,
        )
    if frame.height == 0:
        raise UnreadableDelivery("no records after the header", file=str(path), line=2)
    return frame
