"""Corrections close the loop: a department delivers bad rows, exports them, fixes them and resubmits.

The fixed rows count for the delivery they fix (never as a new delivery): the department's pass rate
rises, the dataset's headline stays its delivery, and the report's rows fixed and time to fix are those
direct SQL on the metadata database gives.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from datahub import pipeline
from datahub.api import create_app
from datahub.audit import open_audit_log
from datahub.citytime import city_time
from datahub.cli import app
from datahub.demo import summarise
from datahub.metadata import Delivery
from datahub.platform import Platform
from datahub.quality.history import DELIVERY_COLUMN, quality_report
from datahub.reports.figures import month_figures, month_of
from datahub.reports.render import render_html
from datahub.status import dataset_status
from tests.api.conftest import serve
from tests.hotline_rows import valid_row, write_hotline

HOTLINE = "hotline_12345"
BAD = 7  # rows out of range
FIXED = 5  # the first fix repairs five (enough for 5-anonymity): a batch mostly bad, as in the issue
HOURS_LATER = 50.0  # the department's fix is published this long after its delivery finished


def _env(platform: Platform) -> dict[str, str]:
    return {"DATAHUB_HOME": str(platform.settings.home), "DATAHUB_DEMO_MODE": "true"}


def _cli(platform: Platform, *args: str) -> str:
    done = CliRunner().invoke(app, list(args), env=_env(platform))
    assert done.exit_code == 0, done.output
    return done.output


def _refused(platform: Platform, *args: str) -> str:
    done = CliRunner().invoke(app, list(args), env=_env(platform))
    assert done.exit_code == 2, done.output
    assert "Traceback" not in done.output
    return done.output


def _deliver(platform: Platform, path: Path, first: int, bad: int) -> pipeline.DeliverySummary:
    """20 rows delivered now (the fixes come in the same month, as in the issue), ``bad`` of them
    out of range."""
    rows = [valid_row(platform.dictionary, n) for n in range(first, first + 20)]
    for row in rows[:bad]:
        row["满意度"] = "7"
    return pipeline.ingest_file(platform, HOTLINE, write_hotline(path, rows, platform.catalog.get(HOTLINE)))


def _month(platform: Platform, delivery_id: str) -> str:
    ((delivered_at,),) = _sql(platform, "SELECT delivered_at FROM deliveries WHERE id = :id", id=delivery_id)
    return month_of(city_time(datetime.fromisoformat(str(delivered_at))))


def _by_delivery(platform: Platform) -> list[dict]:  # type: ignore[type-arg]
    """`datahub quarantine deliveries` as JSON: each delivery with rows quarantined, fixed, waiting."""
    output = _cli(platform, "quarantine", "deliveries", HOTLINE, "--json")
    return [json.loads(line) for line in output.splitlines()]


def _fix(export: Path, rows: int) -> None:
    """The department repairs the satisfaction of the first ``rows`` rows of an export."""
    table = pl.read_csv(export, infer_schema=False)
    fixed = pl.Series([i < rows for i in range(table.height)])
    table.with_columns(
        pl.when(fixed).then(pl.lit("5")).otherwise(pl.col("满意度")).alias("满意度")
    ).write_csv(export)


def _sql(platform: Platform, query: str, **params: object) -> list[tuple]:  # type: ignore[type-arg]
    with platform.metadata.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(query), params)]


def _pass_rate_by_sql(platform: Platform) -> float:
    """Σ rows passed (originals, plus the rows their fixes published that passed) ÷ Σ rows in (originals)."""
    ((passed, rows_in),) = _sql(
        platform,
        "SELECT SUM(q.rows_passed), SUM(q.rows_in) FROM quality_runs q "
        "JOIN deliveries d ON d.id = q.delivery_id WHERE d.corrects IS NULL",
    )
    ((fixed_passed,),) = _sql(
        platform,
        "SELECT COALESCE(SUM(MIN(q.rows_passed, d.rows_published)), 0) FROM quality_runs q "
        "JOIN deliveries d ON d.id = q.delivery_id WHERE d.corrects IS NOT NULL",
    )
    return round(100 * (passed + fixed_passed) / rows_in, 3)


def test_a_fix_raises_the_departments_pass_rate_and_counts_for_the_delivery_it_fixes(
    platform: Platform, tmp_path: Path
) -> None:
    good = _deliver(platform, tmp_path / "good.csv", 1, 0)
    bad = _deliver(platform, tmp_path / "bad.csv", 100, BAD)
    month = _month(platform, bad.delivery_id)
    assert (bad.rows_published, bad.rows_quarantined) == (20 - BAD, BAD)
    before = month_figures(platform, month, with_events=False)
    (department,) = [d for d in before.departments if d.quality.runs]
    assert department.code == "OC" and department.quality.deliveries == 2

    listed = [
        json.loads(line)
        for line in _cli(platform, "quarantine", "deliveries", HOTLINE, "--json").splitlines()
    ]
    assert [
        (d["delivery_id"], d["rows_quarantined"], d["rows_fixed"], d["rows_waiting"]) for d in listed
    ] == [(bad.delivery_id, BAD, 0, BAD)]

    export = tmp_path / "fix.csv"
    _cli(platform, "quarantine", "export", HOTLINE, bad.delivery_id, "--out", str(export))
    assert set(pl.read_csv(export, infer_schema=False).get_column(DELIVERY_COLUMN)) == {bad.delivery_id}
    with open_audit_log(platform) as log:
        (record,) = log.query(action="quarantine.export")
    assert (record["view"], record["rows"], record["role"]) == (HOTLINE, BAD, "cli")
    assert record["client_name"].startswith("cli:")
    assert record["detail"] == {"delivery_id": bad.delivery_id, "unmasked": True, "channel": "cli"}

    # The department takes two days over it: what happened so far happened that long ago.
    with platform.metadata.session() as s:
        for delivery in s.scalars(select(Delivery)):
            delivery.finished_at -= timedelta(hours=HOURS_LATER)  # type: ignore[operator]
    _fix(export, FIXED)
    fix = json.loads(_cli(platform, "quarantine", "resubmit", HOTLINE, str(export), "--json"))
    assert fix["corrects"] == bad.delivery_id
    assert (fix["rows_in"], fix["rows_published"], fix["rows_quarantined"]) == (BAD, FIXED, BAD - FIXED)

    after = month_figures(platform, month, with_events=False)
    (fixed_department,) = [d for d in after.departments if d.quality.runs]
    # Counted as a new batch (5 of 7 rows good), the fix would lower the department's rate: it rises.
    assert fixed_department.quality.pass_rate > department.quality.pass_rate  # type: ignore[operator]
    assert fixed_department.quality.pass_rate == _pass_rate_by_sql(platform)
    assert after.city.pass_rate == _pass_rate_by_sql(platform)
    assert (fixed_department.quality.deliveries, fixed_department.quality.runs) == (2, 2)
    assert fixed_department.quality.rows_in == before.city.rows_in  # the fix is no new rows

    # Rows fixed and time to fix, against SQL.
    ((fixed_by_sql,),) = _sql(
        platform,
        "SELECT SUM(rows_published) FROM deliveries WHERE corrects = :id AND status != 'duplicate'",
        id=bad.delivery_id,
    )
    hours_by_sql = [
        h
        for (h,) in _sql(
            platform,
            "SELECT (julianday(f.finished_at) - julianday(o.finished_at)) * 24 FROM deliveries f "
            "JOIN deliveries o ON o.id = f.corrects WHERE f.rows_published > 0",
        )
    ]
    (fixes,) = after.resubmissions
    assert (fixes.code, fixes.rows_quarantined, fixes.rows_fixed, fixes.rows_waiting) == (
        "OC",
        BAD,
        fixed_by_sql,
        BAD - fixed_by_sql,
    )
    assert fixes.rows_fixed == FIXED
    assert fixes.time_to_fix_hours == pytest.approx(statistics.median(hours_by_sql), abs=0.01)
    assert fixes.time_to_fix_hours == pytest.approx(HOURS_LATER, abs=0.5)
    html = render_html(after)
    assert "隔离数据整改" in html and f"{fixes.time_to_fix_hours / 24:.1f} 天" in html

    # The dataset's headline is its delivery, with the fixed rows counted, not the fix batch.
    (status,) = [s for s in dataset_status(platform) if s.dataset == HOTLINE]
    assert (status.last_delivery, status.deliveries, status.last_rows_fixed) == ("bad.csv", 2, FIXED)
    assert status.quality is not None
    report = quality_report(platform, platform.catalog.get(HOTLINE))
    assert report["latest"]["delivery_id"] == bad.delivery_id
    assert [run["delivery_id"] for run in report["history"]] == [bad.delivery_id, good.delivery_id]
    ((bad_passed, bad_in),) = _sql(
        platform, "SELECT rows_passed, rows_in FROM quality_runs WHERE delivery_id = :id", id=bad.delivery_id
    )
    ((fix_passed,),) = _sql(
        platform,
        "SELECT q.rows_passed FROM quality_runs q JOIN deliveries d ON d.id = q.delivery_id "
        "WHERE d.corrects = :id",
        id=bad.delivery_id,
    )
    effective = round(100 * (bad_passed + fix_passed) / bad_in, 3)
    assert report["latest"]["pass_rate"] == status.quality["pass_rate"] == effective
    assert report["latest"]["delivered_pass_rate"] < effective
    (summary,) = [row for row in summarise(platform) if row["dataset"] == HOTLINE]
    assert (summary["deliveries"], summary["rows_in"], summary["rows_quarantined"]) == (2, 40, BAD - FIXED)

    # Every delivery, the fix included, still reconciles on its own.
    assert _sql(
        platform,
        "SELECT COUNT(*) FROM deliveries "
        "WHERE NOT reconciled OR rows_in != rows_published + rows_quarantined",
    ) == [(0,)]

    # The row still waiting is in the fix's quarantine; fixing it again links to the same delivery.
    (waiting,) = [
        json.loads(line)
        for line in _cli(platform, "quarantine", "deliveries", HOTLINE, "--json").splitlines()
    ]
    assert (waiting["rows_fixed"], waiting["rows_waiting"]) == (FIXED, BAD - FIXED)
    assert waiting["fixes"] == [fix["delivery_id"]] and waiting["waiting_in"] == [
        bad.delivery_id,
        fix["delivery_id"],
    ]
    again = tmp_path / "fix_again.csv"
    _cli(platform, "quarantine", "export", HOTLINE, fix["delivery_id"], "--out", str(again))
    _fix(again, BAD - FIXED)
    second = json.loads(_cli(platform, "quarantine", "resubmit", HOTLINE, str(again), "--json"))
    assert second["corrects"] == bad.delivery_id  # the delivery fixed, never the fix
    (last,) = [
        json.loads(line)
        for line in _cli(platform, "quarantine", "deliveries", HOTLINE, "--json").splitlines()
    ]
    assert last["rows_fixed"] == FIXED + second["rows_published"]
    assert last["rows_fixed"] + last["rows_waiting"] == BAD  # never counted twice
    final = month_figures(platform, month, with_events=False)
    assert [d.quality.deliveries for d in final.departments if d.quality.runs] == [2]
    assert final.city.pass_rate == _pass_rate_by_sql(platform)


def test_a_resubmission_names_the_one_delivery_of_its_dataset_it_fixes(
    platform: Platform, tmp_path: Path
) -> None:
    first = _deliver(platform, tmp_path / "a.csv", 1, 6)
    second = _deliver(platform, tmp_path / "b.csv", 100, 6)
    exports = []
    for summary in (first, second):
        out = tmp_path / f"{summary.delivery_id}.csv"
        _cli(platform, "quarantine", "export", HOTLINE, summary.delivery_id, "--out", str(out))
        _fix(out, 6)
        exports.append(out)

    both = tmp_path / "both.csv"
    pl.concat([pl.read_csv(e, infer_schema=False) for e in exports]).write_csv(both)
    refused = _refused(platform, "quarantine", "resubmit", HOTLINE, str(both))
    assert "[invalid_input]" in refused and "rows fixing 2 deliveries" in refused

    other = _refused(platform, "quarantine", "resubmit", "gov_app_reports", str(exports[0]))
    assert f"delivery {first.delivery_id} is a delivery of hotline_12345, not of gov_app_reports" in other

    bare = tmp_path / "bare.csv"
    pl.read_csv(exports[0], infer_schema=False).drop(DELIVERY_COLUMN).write_csv(bare)
    assert "keep the _delivery column" in _refused(platform, "quarantine", "resubmit", HOTLINE, str(bare))
    unknown = _refused(platform, "quarantine", "resubmit", HOTLINE, str(bare), "--fixes", "0" * 32)
    assert f"no delivery {'0' * 32}" in unknown
    linked = json.loads(
        _cli(platform, "quarantine", "resubmit", HOTLINE, str(bare), "--fixes", first.delivery_id, "--json")
    )
    assert linked["corrects"] == first.delivery_id and linked["rows_published"] == 6

    edited = tmp_path / "edited.csv"
    pl.read_csv(exports[1], infer_schema=False).with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("nonsense")).otherwise(pl.col(DELIVERY_COLUMN))
        .alias(DELIVERY_COLUMN)
    ).write_csv(edited)  # fmt: skip
    assert "line 4: _delivery" in _refused(platform, "quarantine", "resubmit", HOTLINE, str(edited))


def test_the_dashboard_shows_rows_fixed_waiting_and_time_to_fix_per_department(
    platform: Platform, tmp_path: Path
) -> None:
    bad = _deliver(platform, tmp_path / "bad.csv", 100, BAD)
    export = tmp_path / "fix.csv"
    _cli(platform, "quarantine", "export", HOTLINE, bad.delivery_id, "--out", str(export))
    _fix(export, FIXED)
    _cli(platform, "quarantine", "resubmit", HOTLINE, str(export))
    (fixes,) = month_figures(platform, _month(platform, bad.delivery_id), with_events=False).resubmissions

    app = create_app(platform.settings)
    clients = app.state.clients
    keys = {
        "steward": clients.create("fix-steward", "steward").api_key,
        "OC": clients.create("fix-oc", "department", department="OC").api_key,
        "UM": clients.create("fix-um", "department", department="UM").api_key,
    }
    with serve(app) as server:
        for who, key in keys.items():
            with _signed_in(server.url, key) as client:
                page = client.get("/dashboard/")
                assert page.status_code == 200
                section = re.search(r'<section class="card" id="fixes">.*?</section>', page.text, re.S)
                if who == "UM":  # another department's corrections are not its business
                    assert section is None
                    continue
                assert section, page.text[:2000]
                cells = re.findall(r"<td[^>]*>(.*?)</td>", section.group(0), re.S)
                assert cells == [
                    "城市运行管理中心",
                    "7",
                    "5",
                    "2",
                    "71.4%",
                    f"{fixes.time_to_fix_hours:,.1f}",
                ]


@contextmanager
def _signed_in(url: str, key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
        form = client.get("/dashboard/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token, form.text
        signed_in = client.post("/dashboard/login", data={"login_token": token.group(1), "api_key": key})
        assert signed_in.status_code == 200 and "/dashboard/" in str(signed_in.url), signed_in.text[:500]
        yield client
