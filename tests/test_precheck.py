"""`datahub check FILE --contract PATH`: a department tests an export before delivering it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datahub.cli import app
from datahub.contracts import Catalog
from datahub.dictionary import Dictionary
from tests.conftest import ROOT
from tests.hotline_rows import valid_row, write_hotline

CONTRACT = ROOT / "contracts" / "hotline_12345.odcs.yaml"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(tmp_path / "var"))


def test_check_lists_every_failing_row_and_publishes_nothing(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    rows = [valid_row(dictionary, i) for i in range(6)]
    rows[2] = rows[2] | {"联系电话": "1381234567"}
    rows[4] = rows[4] | {"满意度": "8", "诉求分类": "ZZ000"}
    file = write_hotline(tmp_path / "export.csv", rows, catalog.get("hotline_12345"))
    result = runner.invoke(app, ["check", str(file), "--contract", str(CONTRACT), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["rows_read"], body["rows_valid"], body["rows_invalid"]) == (6, 4, 2)
    problems = {(p["row"], p["column"], p["reason"]) for p in body["problems"]}
    assert problems == {
        (3, "caller_phone", "invalid_format"),
        (5, "satisfaction", "out_of_range"),
        (5, "event_category", "unmapped_code"),
    }
    phone = next(p["value"] for p in body["problems"] if p["column"] == "caller_phone")
    assert phone != "1381234567" and phone.endswith("4567")
    assert not (tmp_path / "var" / "lake" / "warehouse").exists()  # nothing published


def test_check_text_output(tmp_path: Path, dictionary: Dictionary, catalog: Catalog) -> None:
    file = write_hotline(tmp_path / "export.csv", [valid_row(dictionary)], catalog.get("hotline_12345"))
    result = runner.invoke(app, ["check", str(file), "--contract", str(CONTRACT)])
    assert result.exit_code == 0
    assert "1 rows read, 1 valid, 0 would be quarantined" in result.output


def test_check_unreadable_file_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "export.csv"
    bad.write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    result = runner.invoke(app, ["check", str(bad), "--contract", str(CONTRACT)])
    assert result.exit_code == 2
    assert "missing required columns" in result.output and "semicolon" in result.output
