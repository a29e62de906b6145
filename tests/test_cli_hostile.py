"""The CLI facing hostile input: huge or control-character values, bad settings, bad arguments and a
full disk all get a short, clear answer — never a traceback, never a terminal escape sequence."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datahub.cli import app
from datahub.contracts import Catalog
from datahub.dictionary import Dictionary
from datahub.display import JSON_LIMIT, VALUE_LIMIT, shown
from datahub.files import write_whole
from tests.conftest import ROOT, fill, tmpfs
from tests.hotline_rows import valid_row, write_hotline

CONTRACT = ROOT / "contracts" / "hotline_12345.odcs.yaml"
HOSTILE = "\x1b[2J\nrow 1: a fake [/] line \u202e"
HOSTILE_SHOWN = "\\x1b[2J\\nrow 1: a fake [/] line \\u202e"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    monkeypatch.setenv("COLUMNS", "250")


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``datahub ARGS`` through the console entry point, in a process of its own."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATAHUB_")}
    base = {"DATAHUB_HOME": str(tmp_path / "var"), "DATAHUB_DEMO_MODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "datahub.cli", *args],
        env=clean | base | env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _export(tmp_path: Path, dictionary: Dictionary, catalog: Catalog, categories: list[str]) -> Path:
    """A hotline export whose rows carry these (unmapped) categories, after one valid row."""
    rows = [valid_row(dictionary, 0)]
    rows += [valid_row(dictionary, i) | {"诉求分类": c} for i, c in enumerate(categories, start=1)]
    return write_hotline(tmp_path / "export.csv", rows, catalog.get("hotline_12345"), encoding="utf-8")


# The one shortening function -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("夜间施工噪音", "夜间施工噪音"),  # Chinese text is text
        ("a\tb\r\nc", "a\\tb\\r\\nc"),  # no fake lines
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),  # no terminal escape sequences
        ("\u202eevil", "\\u202eevil"),  # no right-to-left override
        ("bad\udcffname", "bad\\udcffname"),  # an undecodable file name cannot crash the output
        (None, ""),
        (42, "42"),
    ],
)
def test_shown_escapes_control_characters(value: object, expected: str) -> None:
    assert shown(value) == expected


def test_shown_shortens_long_values_and_says_how_long_they_were() -> None:
    assert shown("x" * 5_000_000) == "x" * VALUE_LIMIT + "…(5,000,000 characters)"
    assert shown("x" * VALUE_LIMIT) == "x" * VALUE_LIMIT
    assert shown("\n" * 1000, limit=3) == "\\n\\n\\n…(1,000 characters)"


# datahub check ---------------------------------------------------------------------------------


def test_check_text_output_shortens_a_huge_cell(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    file = _export(tmp_path, dictionary, catalog, ["X" * 5_000_000])
    result = runner.invoke(app, ["check", str(file), "--contract", str(CONTRACT)])
    assert result.exit_code == 0, result.output[:2000]
    assert len(result.output) < 5_000, result.output[:2000]
    assert "row 2: " in result.output  # (the reader quarantines it as too long, quoting 64 KiB of it)
    assert "X" * (VALUE_LIMIT + 1) not in result.output


def test_check_json_output_bounds_a_huge_cell(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    file = _export(tmp_path, dictionary, catalog, ["X" * 5_000_000])
    result = runner.invoke(app, ["check", str(file), "--contract", str(CONTRACT), "--json"])
    assert result.exit_code == 0, result.output[:2000]
    assert len(result.stdout) < 50_000
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["value"].startswith("X" * JSON_LIMIT + "…(")


def test_check_escapes_control_characters_and_markup(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    file = _export(tmp_path, dictionary, catalog, [HOSTILE])
    result = runner.invoke(app, ["check", str(file), "--contract", str(CONTRACT)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert HOSTILE_SHOWN in result.output
    assert not any(line.startswith("row 1: a fake") for line in result.output.splitlines())


@pytest.mark.parametrize(
    ("limit", "printed", "more"),
    [([], 50, "… and 10 more"), (["--limit", "5"], 5, "… and 55 more"), (["--limit", "0"], 60, None)],
)
def test_check_caps_the_findings_printed(
    tmp_path: Path,
    dictionary: Dictionary,
    catalog: Catalog,
    limit: list[str],
    printed: int,
    more: str | None,
) -> None:
    file = _export(tmp_path, dictionary, catalog, [f"ZZ{i}" for i in range(60)])
    result = runner.invoke(app, ["check", str(file), "--contract", str(CONTRACT), *limit])
    assert result.exit_code == 0, result.output
    assert sum(line.lstrip().startswith("row ") for line in result.output.splitlines()) == printed
    assert (more in result.output) if more else ("more" not in result.output)
    every = runner.invoke(app, ["check", str(file), "--contract", str(CONTRACT), "--json", *limit])
    assert len(json.loads(every.stdout)["problems"]) == 60  # --json lists every finding


# Values echoed elsewhere -----------------------------------------------------------------------


def test_an_error_quoting_a_hostile_value_is_escaped() -> None:
    result = runner.invoke(app, ["quarantine", "list", "hotline_12345", "--delivery", HOSTILE])
    assert result.exit_code == 2
    assert "\x1b" not in result.output and HOSTILE_SHOWN in result.output


def test_an_error_quoting_a_huge_value_is_shortened() -> None:
    result = runner.invoke(app, ["quarantine", "list", "hotline_12345", "--delivery", "D" * 100_000])
    assert result.exit_code == 2
    assert len(result.output) < 3_000 and "characters)" in result.output


def test_quarantine_list_escapes_and_shortens_values(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    rows = [valid_row(dictionary, i) for i in range(8)]  # 6 valid rows: enough to be 5-anonymous
    rows[1] = rows[1] | {"诉求分类": HOSTILE}
    rows[2] = rows[2] | {"诉求分类": "X" * 100_000}
    file = write_hotline(tmp_path / "hostile.csv", rows, catalog.get("hotline_12345"), encoding="utf-8")
    assert runner.invoke(app, ["ingest", "hotline_12345", str(file)]).exit_code == 0
    result = runner.invoke(app, ["quarantine", "list", "hotline_12345"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and HOSTILE_SHOWN in result.output
    assert "…(100,000 characters)" in result.output and len(result.output) < 3_000


def test_quarantine_list_names_each_rows_delivery_and_caps_what_it_prints(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    rows = [valid_row(dictionary, i) for i in range(70)]
    for row in rows[:60]:
        row["诉求分类"] = "无此分类"  # 60 rows quarantined, 10 published
    file = write_hotline(tmp_path / "many.csv", rows, catalog.get("hotline_12345"), encoding="utf-8")
    assert runner.invoke(app, ["ingest", "hotline_12345", str(file)]).exit_code == 0
    listed = runner.invoke(app, ["quarantine", "list", "hotline_12345"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert len(lines) == 51 and lines[-1].strip() == "… and 10 more (--limit 0 or --json for all)"
    ids = {line.split()[0] for line in lines[:-1]}
    assert len(ids) == 1 and len(next(iter(ids))) == 32  # the delivery's id, which export takes
    everything = runner.invoke(app, ["quarantine", "list", "hotline_12345", "--limit", "0"])
    assert len(everything.output.splitlines()) == 60
    as_json = runner.invoke(app, ["quarantine", "list", "hotline_12345", "--json"])
    assert {json.loads(line)["_delivery"] for line in as_json.output.splitlines()} == ids
    out = tmp_path / "fix.csv"
    exported = runner.invoke(app, ["quarantine", "export", "hotline_12345", ids.pop(), "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "60 rows" in exported.output and out.is_file()


# Settings from the environment ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATAHUB_API_PORT", "abc", "DATAHUB_API_PORT: expected an integer, got 'abc'"),
        ("DATAHUB_API_PORT", "70000", "DATAHUB_API_PORT: expected 1 to 65535, got '70000'"),
        ("DATAHUB_DEMO_MODE", "maybe", "DATAHUB_DEMO_MODE: expected true or false, got 'maybe'"),
        ("DATAHUB_API_WORKERS", "0", "DATAHUB_API_WORKERS: expected at least 1, got '0'"),
    ],
)
def test_a_malformed_setting_is_a_config_error_naming_the_variable(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    done = run_cli(tmp_path, "status", **{variable: value})
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"error [config_error] {message}\n"


def test_an_empty_setting_is_unset(tmp_path: Path) -> None:
    """`DATAHUB_HOME=` is the default home, not the working directory (which became the home)."""
    done = subprocess.run(
        [sys.executable, "-m", "datahub.cli", "status", "--json"],
        env={k: v for k, v in os.environ.items() if not k.startswith("DATAHUB_")}
        | {"DATAHUB_HOME": "", "DATAHUB_API_PORT": "", "DATAHUB_DEMO_MODE": ""},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_variable_is_a_warning_naming_the_nearest_setting(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "status", "--json", DATAHUB_HOMEE=str(tmp_path / "elsewhere"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "warning: DATAHUB_HOMEE is not a setting and is ignored; did you mean DATAHUB_HOME?\n"
    )
    assert json.loads(done.stdout)  # the command still ran


# Bad arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["contract", "register", "{missing}"], "{missing}: cannot be read: no such file"),
        (["contract", "register", "{dir}"], "{dir}: cannot be read: is a directory"),
        (["contract", "register", "{gbk}"], "{gbk}: not UTF-8"),
        (["contract", "diff", "{missing}", str(CONTRACT)], "{missing}: cannot be read: no such file"),
        (["contract", "diff", "{list}", str(CONTRACT)], "{list}: a contract must be a YAML mapping"),
        (["contract", "diff", str(CONTRACT), "{empty}"], "{empty}: a contract must be a YAML mapping"),
        (["synth", "--out", "{dir}/synth", "--start", "2026-13-01"], "--start: expected YYYY-MM-DD"),
        (["demo", "--start", "soon"], "--start: expected YYYY-MM-DD"),
    ],
)
def test_bad_arguments_get_a_clear_error(tmp_path: Path, args: list[str], message: str) -> None:
    places = {
        "missing": tmp_path / "missing.yaml",
        "dir": tmp_path,
        "gbk": tmp_path / "gbk.yaml",
        "list": tmp_path / "list.yaml",
        "empty": tmp_path / "empty.yaml",
    }
    places["gbk"].write_bytes("name: 热线\n".encode("gbk"))
    places["list"].write_text("- 1\n- 2\n", encoding="utf-8")
    places["empty"].write_text("", encoding="utf-8")
    args = [a.format(**places) for a in args]
    done = run_cli(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error [") and message.format(**places) in done.stderr, done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["grant", "list", "--status", "bogus"],
        ["deliveries", "--status", "bogus"],
        ["audit", "list", "--limit", "-5"],
        ["synth", "--out", "x", "--days", "0"],
        ["synth", "--out", "x", "--rows-per-day", "-5"],
        ["serve", "--port", "99999"],
    ],
)
def test_an_argument_out_of_range_is_a_usage_error(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output


# A full disk -----------------------------------------------------------------------------------


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB filesystem of the test's own, mounted at ``tmp_path/disk``."""
    with tmpfs(tmp_path / "disk", "4m") as mount:
        yield mount


def test_a_file_written_whole_leaves_nothing_behind_on_a_full_disk(disk: Path) -> None:
    """The report's HTML and PDF, the lake's manifests and CURRENT are written this way."""
    (disk / "report.pdf").write_bytes(b"the old report")
    filler = fill(disk)
    with pytest.raises(OSError) as raised:
        write_whole(disk / "report.pdf", b"x" * (1 << 20))
    assert raised.value.errno == errno.ENOSPC
    assert sorted(p.name for p in disk.iterdir()) == ["filler", "report.pdf"]
    filler.unlink()
    assert (disk / "report.pdf").read_bytes() == b"the old report"


def _assert_disk_full(done: subprocess.CompletedProcess[str], path: Path) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr == f"error [disk_full] no space left on device while writing {path}\n"


def test_synth_on_a_full_disk_fails_cleanly_and_leaves_nothing(tmp_path: Path, disk: Path) -> None:
    fill(disk)
    done = run_cli(tmp_path, "synth", "--out", str(disk / "synth"), "--days", "1", "--rows-per-day", "20")
    _assert_disk_full(done, disk / "synth")
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_quarantine_export_on_a_full_disk_fails_cleanly_and_leaves_nothing(
    tmp_path: Path, disk: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    rows = [valid_row(dictionary, i) for i in range(8)]
    rows[1] = rows[1] | {"诉求分类": "ZZ000"}
    file = write_hotline(tmp_path / "hotline.csv", rows, catalog.get("hotline_12345"))
    ingested = runner.invoke(app, ["ingest", "hotline_12345", str(file), "--json"])
    delivery = json.loads(ingested.stdout)["delivery_id"]
    fill(disk)
    done = run_cli(
        tmp_path, "quarantine", "export", "hotline_12345", delivery, "--out", str(disk / "fix.csv")
    )
    _assert_disk_full(done, disk / "fix.csv")
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]
    (disk / "filler").unlink()
    again = run_cli(
        tmp_path, "quarantine", "export", "hotline_12345", delivery, "--out", str(disk / "fix.csv")
    )
    assert again.returncode == 0, again.stderr
    assert "ZZ000" in (disk / "fix.csv").read_text(encoding="utf-8")


def test_the_metadata_database_on_a_full_disk_is_a_clear_error(tmp_path: Path, disk: Path) -> None:
    home = {"DATAHUB_HOME": str(disk / "home")}
    assert run_cli(tmp_path, "status", **home).returncode == 0
    fill(disk)
    done = run_cli(tmp_path, "client", "create", "district-platform", "--role", "consumer", **home)
    _assert_disk_full(done, disk / "home" / "metadata.db")


def test_a_read_only_target_is_a_clear_error(tmp_path: Path) -> None:
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], check=True)
    try:
        done = run_cli(
            tmp_path, "synth", "--out", str(mount / "synth"), "--days", "1", "--rows-per-day", "20"
        )
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr == f"error [file_unusable] {mount / 'synth'}: read-only file system\n"


@pytest.mark.parametrize("name", ["missing", "dictionary.csv"])
def test_dictionary_check_of_no_directory_names_it(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    if name.endswith(".csv"):
        target.write_text("id\n", encoding="utf-8")
    result = runner.invoke(app, ["dictionary", "check", str(target)])
    assert result.exit_code == 1
    assert f"{target}: not a directory" in result.output


def test_grant_list_escapes_a_clients_purpose(tmp_path: Path) -> None:
    """A client writes the purpose of its grant request: the steward's console shows it as text."""
    from datahub.access import Clients, GrantRequest, Grants
    from datahub.platform import Platform

    platform = Platform()
    clients = Clients(platform.metadata, platform.dictionary)
    consumer = clients.authenticate(clients.create("ops", "consumer").api_key)
    assert consumer is not None
    views = {d.name: d for d in platform.catalog}
    grants = Grants(
        platform.metadata, lambda: views, lambda view, text: None, signal=platform.settings.grants_signal
    )
    grants.request(consumer, GrantRequest("hotline_12345", HOSTILE + "P" * 1900))
    platform.metadata.dispose()
    result = runner.invoke(app, ["grant", "list"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "P" * 300 not in result.output.replace("\n", "").replace("│", "").replace(" ", "")


def test_a_malformed_database_url_is_a_config_error_that_hides_it(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "status", DATAHUB_METADATA_URL="postgres//hub:s3cret@db")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error [config_error] DATAHUB_METADATA_URL: expected a SQLAlchemy")
    assert "s3cret" not in done.stderr


def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    url = "postgresql+psycopg://hub:s3cret@127.0.0.1:1/hub?connect_timeout=5"
    done = run_cli(tmp_path, "status", DATAHUB_METADATA_URL=url)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "s3cret" not in done.stderr, done.stderr
    assert done.stderr.startswith(
        "error [database_unavailable] the metadata database postgresql+psycopg://hub:***@127.0.0.1:1/hub"
    ), done.stderr
