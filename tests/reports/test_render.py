"""The report as PDF and HTML: its text, read back with pypdf, has every section, every department's
Chinese name and the figures of the metadata database; the CJK font is embedded; the HTML loads
nothing from outside; the CLI writes both files; the Dagster asset materialises a month."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, materialize
from pypdf import PdfReader
from sqlalchemy import text
from typer.testing import CliRunner

from datahub.cli import app
from datahub.errors import FontMissing
from datahub.reports.render import SECTIONS, TITLE, ReportFiles, render_pdf, write_report
from datahub.settings import Settings
from pipelines.reports import REPORT_KEY, monthly_report_asset
from pipelines.resources import PlatformResource
from tests.reports.world import MONTH, ReportWorld

NUMERALS = "一二三四五六七八"


@pytest.fixture(scope="module")
def report(world: ReportWorld, tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    return write_report(world.platform, MONTH, tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def pdf_text(report: ReportFiles) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(report.pdf).pages)


def _flat(value: str) -> str:
    """Text without the line breaks and spaces a PDF puts wherever lines wrap."""
    return re.sub(r"\s+", "", value)


def _pass_rates_from_sql(world: ReportWorld) -> tuple[float, dict[str, float]]:
    query = """
        SELECT cv.owner_department, SUM(q.rows_passed), SUM(q.rows_in)
        FROM quality_runs q JOIN deliveries d ON d.id = q.delivery_id
        JOIN contract_versions cv ON cv.contract_id = 'urn:datahub:contract:' || q.dataset
             AND cv.version = q.contract_version
        WHERE d.delivered_at >= '2026-10-01' AND d.delivered_at < '2026-11-01'
        GROUP BY cv.owner_department
    """
    with world.platform.metadata.engine.connect() as connection:
        rows = connection.execute(text(query)).all()
    city = 100 * sum(r[1] for r in rows) / sum(r[2] for r in rows)
    return city, {r[0]: 100 * r[1] / r[2] for r in rows}


def test_the_pdf_has_every_section_and_every_department(world: ReportWorld, pdf_text: str) -> None:
    flat = _flat(pdf_text)
    assert TITLE in flat and "2026年10月" in flat and "市大数据办" in flat
    for numeral, heading in zip(NUMERALS, SECTIONS, strict=True):
        assert f"{numeral}、{heading}" in flat, heading
    for code in world.platform.dictionary.codes("department").values():
        assert code.name_zh in flat, code.name_zh
    assert "本月无数据交付的部门" in flat  # those are named too, in one line that says so
    assert "□" not in pdf_text and "\ufffd" not in pdf_text


def test_the_pdf_figures_equal_the_database(world: ReportWorld, pdf_text: str) -> None:
    city, departments = _pass_rates_from_sql(world)
    flat = _flat(pdf_text)
    assert f"数据合格率{city:.2f}%" in flat
    names = {c.code: c.name_zh for c in world.platform.dictionary.codes("department").values()}
    ranking = flat[flat.index("二、部门红黄榜") : flat.index("三、各部门分维度得分")]
    for code, rate in departments.items():
        # the ranking row: rank, name, list, pass rate as printed
        assert re.search(rf"\d{re.escape(names[code])}(红榜|黄榜){rate:.2f}%", ranking), (code, rate)


def _fonts(reader: PdfReader) -> list[Any]:
    found = []
    for page in reader.pages:
        resources = page["/Resources"].get_object()
        for font in resources.get("/Font", {}).get_object().values():
            found.append(font.get_object())
    return found


def test_the_cjk_font_is_embedded(report: ReportFiles) -> None:
    embedded = set()
    for font in _fonts(PdfReader(report.pdf)):
        descendants = font.get("/DescendantFonts")
        target = descendants.get_object()[0].get_object() if descendants else font
        descriptor = target.get("/FontDescriptor")
        if descriptor is None:
            continue
        descriptor = descriptor.get_object()
        if any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
            embedded.add(str(target["/BaseFont"]))
    assert any("WenQuanYi" in name for name in embedded), embedded


def test_the_html_loads_nothing_from_outside(report: ReportFiles) -> None:
    html = report.html.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:|//|file:)", html, re.I)
    assert not re.search(r"<(script|link|img|iframe|object)\b", html, re.I)
    assert html.count("<svg") >= 5 and "<title" in html
    for heading in SECTIONS:
        assert heading in html


def test_the_sharing_classes_cite_the_2025_regulation(report: ReportFiles) -> None:
    html = report.html.read_text(encoding="utf-8")
    assert "按共享类别（依《政务数据共享条例》，国务院令第809号）" in html and "2016" not in html


def test_no_cjk_font_is_a_clear_error(world: ReportWorld, tmp_path: Path) -> None:
    settings = Settings(
        home=world.platform.settings.var, report_font=tmp_path / "missing.ttc", demo_mode=True
    )
    with pytest.raises(FontMissing, match="fonts-wqy-microhei"):
        render_pdf("<p>城市</p>", settings)


def test_the_cli_writes_both_files(
    world: ReportWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(world.platform.settings.var))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    runner = CliRunner()
    result = runner.invoke(app, ["report", "--month", MONTH, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    pdf, html = tmp_path / f"report-{MONTH}.pdf", tmp_path / f"report-{MONTH}.html"
    assert result.output.split() == [str(pdf), str(html)]
    assert pdf.read_bytes().startswith(b"%PDF") and "部门红黄榜" in html.read_text(encoding="utf-8")
    bad = runner.invoke(app, ["report", "--month", "2026-13", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "invalid_input" in bad.output
    empty = runner.invoke(app, ["report", "--month", "2025-01", "--out", str(tmp_path)])
    assert empty.exit_code == 2 and "not_found" in empty.output


def test_the_dagster_asset_materialises_a_month(world: ReportWorld) -> None:
    resource = PlatformResource(home=str(world.platform.settings.var), demo_mode=True)
    result = materialize(
        [monthly_report_asset("2026-01")],
        partition_key=MONTH,
        resources={"platform": resource},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.asset_key == REPORT_KEY
    metadata = event.materialization.metadata
    assert Path(metadata["pdf"].value).is_file()  # type: ignore[arg-type]
    city, _ = _pass_rates_from_sql(world)
    assert metadata["pass_rate"].value == pytest.approx(city, abs=1e-3)


def test_the_definitions_wire_the_report(tmp_path: Path) -> None:
    from pipelines.definitions import REPORT_JOB, build_definitions

    defs = build_definitions(Settings(home=tmp_path / "var", demo_mode=True, reports_start="2026-09"))
    assert REPORT_KEY in defs.resolve_asset_graph().get_all_asset_keys()
    job = defs.resolve_job_def(REPORT_JOB)
    assert job.partitions_def is not None and job.partitions_def.get_partition_keys()[0] == "2026-09"
    schedule = defs.resolve_schedule_def("monthly_report_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 6 2 * *", "Asia/Shanghai")
