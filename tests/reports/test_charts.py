"""The SVG charts: well-formed, titled, in the CJK font, escaped, drawn to scale, deterministic."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from datahub.reports import charts
from datahub.reports.charts import Series

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script> & 部门'


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


ALL = {
    "bar": lambda label: charts.bar_chart([(label, 50.0), ("公安局", 100.0)], title=label, target=98.7),
    "grouped": lambda label: charts.grouped_bars(
        [label, "完整性"], [Series(label, [1.0, 2.0]), Series("乙", [3.0, None])], title=label, unit="分"
    ),
    "stacked": lambda label: charts.stacked_bars(
        [label, "乙"], [Series("红色", [1.0, 2.0]), Series(label, [3.0, 0.0])], title=label
    ),
    "line": lambda label: charts.line_chart(
        ["9月", "10月", "11月"], [Series(label, [97.0, None, 98.9])], title=label, target=98.7, unit="%"
    ),
    "bullet": lambda label: charts.bullet(97.5, 98.7, title=label, label=label),
}


@pytest.mark.parametrize("kind", list(ALL))
def test_every_chart_is_well_formed_titled_and_escaped(kind: str) -> None:
    svg = ALL[kind](HOSTILE)
    root = _parse(svg)  # raises on markup injected through a label
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.get("viewBox") and root.get("width") and root.get("height")
    assert root.get("font-family", "").startswith("'WenQuanYi Micro Hei'")
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == HOSTILE
    assert root.get("aria-labelledby", "").split()[0] == title.get("id")
    assert not list(root.iter(f"{SVG}script")) and "<script" not in svg
    assert "&lt;script&gt;" in svg  # the label is there, as text
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert ALL[kind](HOSTILE) == svg  # deterministic


def test_bars_are_drawn_to_scale() -> None:
    root = _parse(charts.bar_chart([("甲", 50.0), ("乙", 100.0)], title="t", max_value=100.0))
    widths = [float(r.get("width", 0)) for r in root.iter(f"{SVG}rect")]
    assert len(widths) == 2 and widths[0] == pytest.approx(widths[1] / 2, rel=0.01)


def test_a_scale_starting_above_zero_keeps_proportions() -> None:
    root = _parse(charts.bar_chart([("甲", 95.0), ("乙", 100.0)], title="t", min_value=90.0, max_value=100.0))
    widths = [float(r.get("width", 0)) for r in root.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(widths[1] / 2, rel=0.01)


def test_a_gap_in_a_line_splits_it() -> None:
    root = _parse(charts.line_chart(list("abcde"), [Series("s", [1.0, 2.0, None, 3.0, 4.0])], title="t"))
    assert len(list(root.iter(f"{SVG}polyline"))) == 2
    assert len(list(root.iter(f"{SVG}circle"))) == 4


def test_the_target_line_is_drawn_where_the_target_is() -> None:
    root = _parse(charts.line_chart(["a", "b"], [Series("s", [90.0, 100.0])], title="t", target=95.0))
    dashed = [line for line in root.iter(f"{SVG}line") if line.get("stroke-dasharray")]
    circles = [float(c.get("cy", 0)) for c in root.iter(f"{SVG}circle")]
    assert len(dashed) == 1
    assert float(dashed[0].get("y1", 0)) == pytest.approx(sum(circles) / 2, abs=0.5)  # halfway between


@pytest.mark.parametrize(("value", "color"), [(99.0, charts.GOOD), (98.7, charts.GOOD), (98.69, charts.BAD)])
def test_the_bullet_is_green_at_or_above_target_and_red_below(value: float, color: str) -> None:
    fills = [r.get("fill") for r in _parse(charts.bullet(value, 98.7, title="t")).iter(f"{SVG}rect")]
    assert color in fills and ({charts.GOOD, charts.BAD} - {color}).isdisjoint(fills)


def test_no_data_is_said_not_drawn() -> None:
    root = _parse(charts.bullet(None, 98.7, title="t"))
    assert "无数据" in _texts(root)
    assert {r.get("fill") for r in root.iter(f"{SVG}rect")} == {"#eeeeee"}


@pytest.mark.parametrize(
    ("target", "min_value", "ends"),
    [(95.0, 90.0, {"90", "100"}), (98.7, 90.0, {"90"}), (90.5, 90.0, {"100"})],
)
def test_the_targets_label_never_runs_into_the_scales_ends(
    target: float, min_value: float, ends: set[str]
) -> None:
    texts = _texts(_parse(charts.bullet(93.0, target, title="t", min_value=min_value, width=420)))
    assert f"目标 {target:g}%" in texts
    assert {t for t in texts if t in ("90", "100")} == ends
