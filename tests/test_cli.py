"""Every CLI command's promise: exit codes and what it prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datahub.cli import app
from datahub.contracts import Catalog
from datahub.dictionary import Dictionary
from tests.conftest import ROOT
from tests.hotline_rows import valid_row, write_hotline

runner = CliRunner()


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    monkeypatch.setenv("COLUMNS", "250")


def test_dictionary_check_valid() -> None:
    result = runner.invoke(app, ["dictionary", "check", str(ROOT / "dictionary")])
    assert result.exit_code == 0, result.output
    assert "data elements" in result.output


def test_dictionary_check_broken_names_file_entry_and_reason(tmp_path: Path) -> None:
    broken = tmp_path / "dictionary"
    shutil.copytree(ROOT / "dictionary", broken)
    streets = broken / "code_tables" / "streets.csv"
    lines = streets.read_text(encoding="utf-8").splitlines()
    first = lines[1].split(",")
    first[3] = "999999"  # parent district that does not exist
    lines[1] = ",".join(first)
    streets.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["dictionary", "check", str(broken)])
    assert result.exit_code == 1
    assert "code_tables/streets.csv" in result.output
    assert f"code {first[0]}" in result.output
    assert "999999" in result.output


def test_ingest_json_summary_and_exit_codes(tmp_path: Path, dictionary: Dictionary, catalog: Catalog) -> None:
    rows = [valid_row(dictionary, i) for i in range(8)]  # 7 valid rows: enough to be 5-anonymous
    rows[1] = rows[1] | {"满意度": "7"}
    file = write_hotline(tmp_path / "hotline.csv", rows, catalog.get("hotline_12345"))
    result = runner.invoke(app, ["ingest", "hotline_12345", str(file), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["rows_in"], body["rows_published"], body["rows_quarantined"]) == (8, 7, 1)
    assert body["reasons"] == [{"reason": "out_of_range", "column": "satisfaction", "rows": 1}]

    again = runner.invoke(app, ["ingest", "hotline_12345", str(file), "--json"])
    assert again.exit_code == 0, again.output
    assert (json.loads(again.stdout)["status"], json.loads(again.stdout)["earlier"]) == ("published", True)

    status = runner.invoke(app, ["status", "--json"])
    assert status.exit_code == 0
    hotline = next(s for s in json.loads(status.stdout) if s["dataset"] == "hotline_12345")
    assert hotline["rows_current"] == 7 and hotline["all_reconciled"] is True


def test_ingest_rejects_a_file_it_cannot_read(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = runner.invoke(app, ["ingest", "hotline_12345", str(empty)])
    assert result.exit_code == 2
    assert "empty file" in result.output
    assert str(empty.name) in result.output


def test_ingest_unknown_dataset(tmp_path: Path) -> None:
    file = tmp_path / "x.csv"
    file.write_text("a\n1\n")
    result = runner.invoke(app, ["ingest", "nope", str(file), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "not_found"


def test_status_table_lists_every_dataset(catalog: Catalog) -> None:
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0
    for dataset in catalog:
        assert dataset.name in result.output


def test_every_command_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8") + (ROOT / "docs" / "cli.md").read_text(
        encoding="utf-8"
    )
    import typer.main

    group = typer.main.get_group(app)
    names = [n for n, c in group.commands.items() if not hasattr(c, "commands")]
    names += [f"{g} {n}" for g, c in group.commands.items() if hasattr(c, "commands") for n in c.commands]
    for name in names:
        assert f"datahub {name}" in readme, name


def test_ingest_text_summary(tmp_path: Path, dictionary: Dictionary, catalog: Catalog) -> None:
    rows = [valid_row(dictionary, i) for i in range(8)]
    rows[0] = rows[0] | {"联系电话": "12"}
    file = write_hotline(tmp_path / "hotline_text.csv", rows, catalog.get("hotline_12345"))
    result = runner.invoke(app, ["ingest", "hotline_12345", str(file)])
    assert result.exit_code == 0, result.output
    assert "输入 in 8, 发布 published 7, 隔离 quarantined 1" in result.output
    assert "invalid_format" in result.output and "caller_phone" in result.output
    again = runner.invoke(app, ["ingest", "hotline_12345", str(file)])
    assert "already delivered" in again.output


@pytest.mark.parametrize("command", [["audit", "verify"], ["audit", "list"], ["grant", "list"]])
def test_a_settings_error_is_a_clear_error_not_a_traceback(tmp_path: Path, command: list[str]) -> None:
    """The console entry point turns a platform error no command handled into `error [code] …`, exit 2."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAHUB_")}
    done = subprocess.run(
        [sys.executable, "-m", "datahub.cli", *command],
        env=env | {"DATAHUB_HOME": str(tmp_path / "var")},  # the placeholder key outside demo mode
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "error [config_error]" in done.stderr and "Traceback" not in done.stderr, done.stderr
