"""The monthly figures and report over a month with an unfinished delivery (its process killed while
publishing, or failed): it is counted and listed, the problems section names it, 下月整改重点 asks for it
to be finished, and the reconciliation figure does not say everything reconciled."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import update

from datahub.metadata import Delivery
from datahub.platform import Platform
from datahub.reports import figures
from datahub.reports.render import render_html
from tests.unfinished import DATASET, ERROR, MONTH, UNFINISHED_FILE, build


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("status", ["publishing", "failed"])
def test_the_month_counts_and_lists_the_unfinished_delivery(
    platform: Platform, tmp_path: Path, status: str
) -> None:
    world = build(platform, tmp_path, status)
    month = figures.month_figures(platform, MONTH, with_events=False)
    city = month.city
    assert (city.deliveries, city.unfinished, city.received, city.unreconciled) == (1, 1, 2, 0)
    assert city.all_reconciled is False
    department = next(
        d for d in month.departments if d.code == platform.catalog.get(DATASET).owner_department
    )
    assert (department.quality.unfinished, department.quality.all_reconciled) == (1, False)
    hotline = next(d for d in month.datasets if d.dataset == DATASET)
    assert (hotline.quality.unfinished, hotline.quality.all_reconciled) == (1, False)
    [unfinished] = month.unfinished
    assert (unfinished.delivery_id, unfinished.source_file, unfinished.status) == (
        world.unfinished_id,
        UNFINISHED_FILE,
        status,
    )
    assert unfinished.error == (ERROR if status == "failed" else None)
    assert UNFINISHED_FILE not in month.actions[0] and "未完成处理" in month.actions[0]
    assert figures.DELIVERY_STATUS_NAMES[status] in month.actions[0]


@pytest.mark.parametrize("status", ["publishing", "failed"])
def test_the_report_shows_the_unfinished_delivery_and_no_full_reconciliation(
    platform: Platform, tmp_path: Path, status: str
) -> None:
    build(platform, tmp_path, status)
    html = render_html(figures.month_figures(platform, MONTH, with_events=False))
    text = _text(html)
    summary = text[text.index("一、一页摘要") : text.index("二、部门红黄榜")]
    assert "另有 1 批交付未完成处理" in summary
    assert "行数核对（输入 = 发布 + 隔离）： 未全部核对 （未完成处理 1 批）" in summary
    assert "全部一致" not in summary
    tile = re.search(r'id="reconciliation">(.*?)</div>', html, re.S)
    assert tile and "未全部核对" in _text(tile.group(1))
    problems = text[text.index("四、主要问题") : text.index("五、逾期交付")]
    assert "未完成处理的交付" in problems and "本月有 1 批交付未完成处理" in problems
    assert UNFINISHED_FILE in problems and figures.DELIVERY_STATUS_NAMES[status] in problems


def test_a_month_whose_deliveries_all_finished_reconciles(platform: Platform, tmp_path: Path) -> None:
    world = build(platform, tmp_path, "failed")
    with platform.metadata.session() as s:
        s.execute(update(Delivery).where(Delivery.id == world.unfinished_id).values(status="published"))
    month = figures.month_figures(platform, MONTH, with_events=False)
    assert (month.city.deliveries, month.city.unfinished, month.city.all_reconciled) == (2, 0, True)
    assert month.unfinished == ()
    text = _text(render_html(month))
    assert "行数核对（输入 = 发布 + 隔离）： 全部一致" in text and "未完成处理的交付" not in text


def test_the_fingerprint_changes_when_a_delivery_fails(platform: Platform, tmp_path: Path) -> None:
    """Cached figures (dashboard, report files) are made again when a published delivery is found
    failed: the number of deliveries, their latest finish and their largest status stay the same."""
    world = build(platform, tmp_path, "published")
    before = figures.fingerprint(platform, MONTH)
    with platform.metadata.session() as s:
        s.execute(update(Delivery).where(Delivery.id == world.unfinished_id).values(status="failed"))
    assert figures.fingerprint(platform, MONTH) != before
