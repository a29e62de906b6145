"""The dashboard's pages over a dataset with an unfinished delivery (its process killed while
publishing, or failed): the dataset list, the dataset's deliveries and the overview say 未完成 and not
reconciled, never 一致. Pages come from the real application under a real server (sign-in included),
read as HTML; tests/dashboard/test_dashboard.py drives the same pages in a browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from datahub.api import create_app
from datahub.dashboard import labels
from datahub.platform import Platform
from datahub.settings import Settings
from tests.api.conftest import serve
from tests.unfinished import DATASET, FINISHED_FILE, MONTH, UNFINISHED_FILE, Unfinished, build


@pytest.fixture
def world(platform: Platform, tmp_path: Path, request: pytest.FixtureRequest) -> Unfinished:
    return build(platform, tmp_path, getattr(request, "param", "publishing"))


@pytest.fixture
def steward(world: Unfinished, settings: Settings) -> Iterator[httpx.Client]:
    app = create_app(settings)
    key = app.state.clients.create("unfinished-steward", "steward").api_key
    with serve(app) as server, httpx.Client(base_url=server.url, follow_redirects=True, timeout=60) as client:
        form = client.get("/dashboard/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token, form.text
        signed_in = client.post("/dashboard/login", data={"login_token": token.group(1), "api_key": key})
        assert signed_in.status_code == 200 and "/dashboard/" in str(signed_in.url), signed_in.text[:500]
        yield client


def _row(html: str, marker: str) -> str:
    """The table row of ``html`` that holds ``marker``."""
    for row in re.findall(r"<tr\b.*?</tr>", html, flags=re.S):
        if marker in row:
            return str(row)
    raise AssertionError(f"no row with {marker}")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("world", ["publishing", "failed"], indirect=True)
def test_the_dataset_list_shows_unfinished_not_reconciled(world: Unfinished, steward: httpx.Client) -> None:
    page = steward.get("/dashboard/datasets")
    assert page.status_code == 200
    cell = re.search(r'<td class="reconciliation">(.*?)</td>', _row(page.text, f"/datasets/{DATASET}"), re.S)
    assert cell, _row(page.text, f"/datasets/{DATASET}")
    shown = _text(cell.group(1))
    assert f"{labels.UNFINISHED} 1 批" in shown
    assert labels.DELIVERY_STATUS_NAMES[world.status] in shown
    assert "一致" not in shown.replace("不一致", "")


@pytest.mark.parametrize("world", ["publishing", "failed"], indirect=True)
def test_the_dataset_page_shows_the_unfinished_delivery_not_reconciled(
    world: Unfinished, steward: httpx.Client
) -> None:
    page = steward.get(f"/dashboard/datasets/{DATASET}")
    assert page.status_code == 200
    row = _row(page.text, UNFINISHED_FILE)
    assert 'class="failing"' in row
    cell = re.search(r'<td class="reconciliation">(.*?)</td>', row, re.S)
    assert cell, row
    shown = _text(cell.group(1))
    assert labels.UNFINISHED in shown and "一致" not in shown
    assert labels.DELIVERY_STATUS_NAMES[world.status] in shown
    assert "一致" in _text(_row(page.text, FINISHED_FILE))  # the finished one still reconciles
    notice = re.search(r'<div class="notice error" id="unfinished".*?</div>', page.text, re.S)
    assert notice and UNFINISHED_FILE in notice.group(0)


def test_the_overview_counts_the_unfinished_delivery(world: Unfinished, steward: httpx.Client) -> None:
    page = steward.get("/dashboard/", params={"month": MONTH})
    assert page.status_code == 200
    tile = re.search(r'id="city-deliveries">(.*?)</div>\s*</div>', page.text, re.S)
    assert tile, page.text
    shown = _text(tile.group(1))
    assert f"{labels.UNFINISHED} 1 批" in shown and "行数核对一致" not in shown
    attention = _text(page.text[page.text.index('id="attention"') : page.text.index('id="problems"')])
    assert labels.UNFINISHED in attention and UNFINISHED_FILE in attention
    assert labels.DELIVERY_STATUS_NAMES[world.status] in attention
