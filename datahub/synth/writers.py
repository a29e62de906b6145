"""Write a generated table in the format, encoding and headers its contract declares.

Every writer is byte-for-byte deterministic: the same table gives the same file (the Excel writer
pins the timestamps that openpyxl and zipfile would otherwise take from the clock).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from datahub.contracts import DeliveryFormat
from datahub.dictionary import ElementType
from datahub.synth.defects import Table

EXTENSIONS = {
    DeliveryFormat.csv: "csv",
    DeliveryFormat.jsonl: "jsonl",
    DeliveryFormat.parquet: "parquet",
    DeliveryFormat.excel: "xlsx",
}
CSV_CHUNK_ROWS = 100_000
ARROW_TYPES = {
    ElementType.string: pa.string(),
    ElementType.integer: pa.int64(),
    ElementType.decimal: pa.float64(),
    ElementType.date: pa.date32(),
    ElementType.timestamp: pa.timestamp("us"),
    ElementType.boolean: pa.bool_(),
}


def write_table(table: Table, path: Path, delivered: dt.date) -> None:
    fmt = table.dataset.delivery.format
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt is DeliveryFormat.csv:
        write_csv(table, path)
    elif fmt is DeliveryFormat.jsonl:
        write_jsonl(table, path)
    elif fmt is DeliveryFormat.parquet:
        write_parquet(table, path)
    else:
        write_xlsx(table, path, delivered)


def _text(v: object) -> str | None:
    if v is None:
        return None
    return v if isinstance(v, str) else str(v)


def write_csv(table: Table, path: Path) -> None:
    ds = table.dataset
    enc = ds.delivery.encoding.lower()

    def column(values: np.ndarray) -> list[str | None]:
        # Text tables hold str or None only (pl.String is strict, so anything else fails loudly).
        return values.tolist() if table.text else [_text(v) for v in values.tolist()]

    # The GBK export comes from a Windows system (CRLF); the others end lines with LF.
    crlf = enc in ("gbk", "gb2312", "gb18030")
    codec = "utf-8" if enc in ("auto", "utf-8-sig", "utf8-sig") else enc
    with path.open("wb") as fh:
        if enc in ("utf-8-sig", "utf8-sig"):
            fh.write(b"\xef\xbb\xbf")
        for start in range(0, max(table.n, 1), CSV_CHUNK_ROWS):  # in chunks, to keep memory flat
            chunk = slice(start, start + CSV_CHUNK_ROWS)
            frame = pl.DataFrame(
                {
                    c.physical_name: pl.Series(c.physical_name, column(table.cols[c.name][chunk]), pl.String)
                    for c in ds.columns
                }
            )
            text = frame.write_csv(
                include_header=start == 0, line_terminator="\r\n" if crlf else "\n", quote_style="necessary"
            )
            # Strict encoding: every generated character must be representable (a failure here is a bug).
            fh.write(text.encode(codec))


def _nest(physical: str, value: Any, row: dict[str, Any]) -> None:
    parts = physical.split(".")
    node = row
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value


def _json_value(v: object) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def write_jsonl(table: Table, path: Path) -> None:
    ds = table.dataset
    columns = [(c.physical_name, table.cols[c.name].tolist()) for c in ds.columns]
    lines = []
    for i in range(table.n):
        row: dict[str, Any] = {}
        for physical, values in columns:
            _nest(physical, _json_value(values[i]), row)
        lines.append(json.dumps(row, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_parquet(table: Table, path: Path) -> None:
    ds = table.dataset
    arrays, fields = [], []
    for c in ds.columns:
        typ = ARROW_TYPES[c.type]
        arrays.append(pa.array(table.cols[c.name].tolist(), type=typ))
        fields.append(pa.field(c.physical_name, typ))  # required is the contract's check, not the file's
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), path, compression="zstd")


def write_xlsx(table: Table, path: Path, delivered: dt.date) -> None:
    from openpyxl import Workbook

    ds = table.dataset
    wb = Workbook(write_only=True)
    stamp = dt.datetime.combine(delivered, dt.time(18, 0))
    wb.properties.created = stamp
    wb.properties.creator = ds.owner_department or "datahub"
    ws = wb.create_sheet(ds.delivery.sheet or ds.name)
    ws.append([c.physical_name for c in ds.columns])
    columns = [table.cols[c.name].tolist() for c in ds.columns]
    for i in range(table.n):
        ws.append([_json_value(col[i]) for col in columns])
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_pin_zip(buf.getvalue(), stamp))


def _pin_zip(data: bytes, stamp: dt.datetime) -> bytes:
    """Rewrite an .xlsx so that nothing in it depends on the clock."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = body.decode("utf-8")
                text = re.sub(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rf"\g<1>{iso}\g<2>", text)
                body = text.encode("utf-8")
            pinned = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            pinned.compress_type = zipfile.ZIP_DEFLATED
            pinned.external_attr = 0o600 << 16
            dst.writestr(pinned, body)
    return out.getvalue()
