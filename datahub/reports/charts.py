"""Charts as SVG strings, in pure Python: no matplotlib, no JavaScript, nothing fetched from anywhere.

The same SVG goes inline into the monthly report's HTML (and so into its PDF, as vector graphics) and
into the steward dashboard's pages. Every chart:

- is a complete ``<svg>`` element with ``viewBox``, ``width`` and ``height`` (it scales with CSS
  ``max-width: 100%; height: auto``), ``role="img"`` and a ``<title>`` (plus a ``<desc>`` listing the
  values) for screen readers;
- draws its text in :data:`FONT_FAMILY` (WenQuanYi Micro Hei first, the CJK font the PDF embeds);
- escapes every label and title, so names coming from data cannot inject markup;
- is deterministic: the same input gives the same bytes (ids derive from the content).

Public functions (names kept stable for the dashboard):

=======================  ===========================================================================
:func:`bar_chart`        horizontal bars, one per label (rankings), optional target line
:func:`grouped_bars`     vertical bars, several series side by side per category
:func:`stacked_bars`     horizontal stacked bars, one row per category (parts of a whole)
:func:`line_chart`       lines over ordered x labels (months), optional dashed target line
:func:`bullet`           one value on a scale against a target (pass rate vs 98.7%)
=======================  ===========================================================================

Colours: :data:`PALETTE` for series; :data:`GOOD`, :data:`WARN`, :data:`BAD` for verdicts.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

FONT_FAMILY = "'WenQuanYi Micro Hei', 'WenQuanYi Zen Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif"
PALETTE = ("#2f6fb0", "#e08a1e", "#3a9a5b", "#c0392b", "#7d5ba6", "#17a2b8", "#8c6d31", "#d35f9e")
GOOD = "#2e8b57"
WARN = "#e0a020"
BAD = "#c0392b"
AXIS = "#555555"
GRID = "#dddddd"
TARGET = "#c0392b"
TEXT = "#222222"
MUTED = "#777777"

Format = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One series of a grouped, stacked or line chart: a name (the legend) and one value per category
    (``None``: no value there — a gap in a line, no bar)."""

    name: str
    values: Sequence[float | None]
    color: str | None = None


def one_decimal(value: float) -> str:
    return f"{value:.1f}"


def text_width(text: str, size: float) -> float:
    """Approximate rendered width: CJK and full-width characters one em, others about half an em."""
    wide = sum(1 for ch in text if ord(ch) >= 0x2E80 or 0xFF00 <= ord(ch) <= 0xFFEF)
    return size * (wide + 0.56 * (len(text) - wide))


def truncate(text: str, size: float, width: float) -> str:
    """``text`` cut (with …) to fit ``width``."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _num(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    out = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if out == "-0" else out


def _text(
    x: float,
    y: float,
    content: str,
    *,
    size: float = 12,
    anchor: str = "start",
    color: str = TEXT,
    weight: str | None = None,
    baseline: str = "middle",
) -> str:
    attrs = f'x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}" text-anchor="{anchor}" fill="{color}"'
    attrs += f' dominant-baseline="{baseline}"'
    if weight:
        attrs += f' font-weight="{weight}"'
    return f"<text {attrs}>{escape(content)}</text>"


def _color(series: Series, index: int) -> str:
    return series.color or PALETTE[index % len(PALETTE)]


def _svg(width: float, height: float, title: str, desc: str, body: list[str]) -> str:
    digest = hashlib.sha1(f"{title}\n{desc}\n{width}x{height}".encode()).hexdigest()[:10]
    tid, did = f"chart-{digest}-t", f"chart-{digest}-d"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{tid} {did}" '
        f'width="{_num(width)}" height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}" '
        f"font-family={quoteattr(FONT_FAMILY)}>"
    )
    return "".join(
        [
            head,
            f'<title id="{tid}">{escape(title)}</title>',
            f'<desc id="{did}">{escape(desc)}</desc>',
            *body,
            "</svg>",
        ]
    )


def _nice_max(value: float) -> float:
    """A round upper bound of an axis at or above ``value`` (1, 1.2, 1.5, 2 … 8 × a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    return next(step * power for step in (1, 2, 2.5, 5, 10) if raw <= step * power)


def _intervals(low: float, high: float) -> int:
    """How many tick intervals split [low, high] into round steps (1, 2, 2.5, 3 or 5 × 10ⁿ), 3 to 6."""
    for count in (5, 4, 6, 3):
        step = (high - low) / count
        if step <= 0:
            break
        mantissa = step / 10 ** math.floor(math.log10(step))
        if any(abs(mantissa - nice) < 1e-9 for nice in (1, 2, 2.5, 3, 5, 10)):
            return count
    return 5


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / count
    return [low + i * step for i in range(count + 1)]


def _tick_label(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def _legend(
    series: Sequence[Series], x: float, y: float, width: float, size: float = 11
) -> tuple[list[str], float]:
    """Legend items laid out in rows from (x, y) within ``width``; returns the parts and the height used."""
    parts: list[str] = []
    cx, cy = x, y
    for i, s in enumerate(series):
        item = 14 + text_width(s.name, size) + 16
        if cx > x and cx + item > x + width:
            cx, cy = x, cy + size + 8
        parts.append(
            f'<rect x="{_num(cx)}" y="{_num(cy - 5)}" width="10" height="10" fill="{_color(s, i)}"/>'
        )
        parts.append(_text(cx + 14, cy, s.name, size=size))
        cx += item
    return parts, cy - y + size + 8


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    target: float | None = None,
    target_label: str | None = None,
    max_value: float | None = None,
    min_value: float = 0.0,
    colors: Sequence[str] | None = None,
    width: float = 640,
    bar_height: float = 20,
    label_width: float | None = None,
    fmt: Format = one_decimal,
) -> str:
    """Horizontal bars, one per ``(label, value)`` in the given order (sort before calling for a ranking).

    ``colors``: one per item (e.g. green for the red list, amber for the yellow one), else the first
    palette colour. ``target``: a dashed vertical line with ``target_label``. ``min_value`` lets a scale
    start above zero (pass rates between 90 and 100) — values below it draw as an empty bar."""
    size = 12
    if label_width is None:
        longest = max((text_width(label, size) for label, _ in items), default=40)
        label_width = min(max(longest + 10, 60), width * 0.4)
    values = [v for _, v in items]
    top = max([*values, target or 0, min_value + 1e-9])
    high = max_value if max_value is not None else _nice_max(top)
    if min_value > 0:
        step = _nice_step(high - min_value, 5) if high > min_value else 1.0
        min_value = math.floor(min_value / step) * step
    intervals = _intervals(min_value, high)
    value_room = 64
    plot_x, plot_w = label_width, width - label_width - value_room
    head = 26 if target is not None else 10
    gap = bar_height * 0.4
    height = head + len(items) * (bar_height + gap) + 24
    span = high - min_value if high > min_value else 1.0

    def sx(v: float) -> float:
        return plot_x + plot_w * (min(max(v, min_value), high) - min_value) / span

    body: list[str] = []
    axis_y = head + len(items) * (bar_height + gap)
    for t in _ticks(min_value, high, intervals):
        body.append(
            f'<line x1="{_num(sx(t))}" y1="{_num(head - 4)}" x2="{_num(sx(t))}" y2="{_num(axis_y)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(_text(sx(t), axis_y + 12, _tick_label(t), size=10, anchor="middle", color=MUTED))
    for i, (label, value) in enumerate(items):
        y = head + i * (bar_height + gap)
        color = colors[i] if colors and i < len(colors) else PALETTE[0]
        body.append(
            _text(plot_x - 6, y + bar_height / 2, truncate(label, size, label_width - 10), anchor="end")
        )
        w = sx(value) - plot_x
        body.append(
            f'<rect x="{_num(plot_x)}" y="{_num(y)}" width="{_num(max(w, 0))}" height="{_num(bar_height)}" '
            f'fill="{color}"/>'
        )
        body.append(_text(plot_x + max(w, 0) + 4, y + bar_height / 2, f"{fmt(value)}{unit}", size=11))
    body.append(
        f'<line x1="{_num(plot_x)}" y1="{_num(head - 4)}" x2="{_num(plot_x)}" y2="{_num(axis_y)}" '
        f'stroke="{AXIS}" stroke-width="1"/>'
    )
    if target is not None:
        tx = sx(target)
        body.append(
            f'<line x1="{_num(tx)}" y1="{_num(head - 6)}" x2="{_num(tx)}" y2="{_num(axis_y)}" '
            f'stroke="{TARGET}" stroke-width="1.5" stroke-dasharray="5 3"/>'
        )
        label = target_label or f"目标 {fmt(target)}{unit}"
        anchor = "end" if tx > plot_x + plot_w * 0.7 else "start"
        body.append(
            _text(tx + (-4 if anchor == "end" else 4), 10, label, size=11, anchor=anchor, color=TARGET)
        )
    desc = "；".join(f"{label} {fmt(value)}{unit}" for label, value in items)
    return _svg(width, height, title, desc, body)


def grouped_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    unit: str = "",
    max_value: float | None = None,
    min_value: float = 0.0,
    width: float = 640,
    height: float = 260,
    target: float | None = None,
    fmt: Format = one_decimal,
    show_values: bool = False,
) -> str:
    """Vertical bars: for each category one bar per series, side by side, with a legend on top."""
    size = 11
    legend, legend_h = _legend(series, 50, 12, width - 60)
    all_values = [v for s in series for v in s.values if v is not None]
    high = (
        max_value if max_value is not None else _nice_max(max([*all_values, target or 0, min_value + 1e-9]))
    )
    plot_x, plot_y = 46.0, 12 + legend_h + (20 if unit else 6)
    longest = max((text_width(c, size) for c in categories), default=0)
    slot = (width - plot_x - 10) / max(len(categories), 1)
    rotate = longest > slot - 4
    label_h = min(longest * 0.72 + 8, 110) if rotate else 18
    plot_h = height - plot_y - label_h - 6
    plot_w = width - plot_x - 10
    span = high - min_value if high > min_value else 1.0

    def sy(v: float) -> float:
        return plot_y + plot_h - plot_h * (min(max(v, min_value), high) - min_value) / span

    body = list(legend)
    for t in _ticks(min_value, high, _intervals(min_value, high)):
        body.append(
            f'<line x1="{_num(plot_x)}" y1="{_num(sy(t))}" x2="{_num(plot_x + plot_w)}" y2="{_num(sy(t))}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(_text(plot_x - 4, sy(t), _tick_label(t), size=10, anchor="end", color=MUTED))
    n = max(len(series), 1)
    bar_w = slot * 0.8 / n
    for ci, category in enumerate(categories):
        x0 = plot_x + ci * slot + slot * 0.1
        for si, s in enumerate(series):
            value = s.values[ci] if ci < len(s.values) else None
            if value is None:
                continue
            y = sy(value)
            body.append(
                f'<rect x="{_num(x0 + si * bar_w)}" y="{_num(y)}" width="{_num(bar_w * 0.92)}" '
                f'height="{_num(plot_y + plot_h - y)}" fill="{_color(s, si)}"/>'
            )
            if show_values:
                body.append(
                    _text(x0 + (si + 0.46) * bar_w, y - 6, fmt(value), size=9, anchor="middle", color=MUTED)
                )
        cx, cy = plot_x + (ci + 0.5) * slot, plot_y + plot_h + 10
        if rotate:
            label = truncate(category, size, 150)
            body.append(
                f'<text x="{_num(cx)}" y="{_num(cy)}" font-size="{size}" text-anchor="end" fill="{TEXT}" '
                f'dominant-baseline="middle" transform="rotate(-40 {_num(cx)} {_num(cy)})">'
                f"{escape(label)}</text>"
            )
        else:
            body.append(_text(cx, cy, truncate(category, size, slot - 2), size=size, anchor="middle"))
    body.append(
        f'<line x1="{_num(plot_x)}" y1="{_num(plot_y + plot_h)}" x2="{_num(plot_x + plot_w)}" '
        f'y2="{_num(plot_y + plot_h)}" stroke="{AXIS}" stroke-width="1"/>'
    )
    if target is not None:
        ty = sy(target)
        body.append(
            f'<line x1="{_num(plot_x)}" y1="{_num(ty)}" x2="{_num(plot_x + plot_w)}" y2="{_num(ty)}" '
            f'stroke="{TARGET}" stroke-width="1.5" stroke-dasharray="5 3"/>'
        )
    if unit:
        body.append(_text(plot_x - 4, plot_y - 14, f"（{unit.strip()}）", size=10, anchor="end", color=MUTED))
    desc = "；".join(
        f"{category}："
        + "，".join(f"{s.name} {fmt(v)}{unit}" for s in series if (v := _at(s.values, ci)) is not None)
        for ci, category in enumerate(categories)
    )
    return _svg(width, height, title, desc, body)


def _at(values: Sequence[float | None], index: int) -> float | None:
    return values[index] if index < len(values) else None


def stacked_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    unit: str = "",
    width: float = 640,
    bar_height: float = 18,
    normalise: bool = False,
    fmt: Format = one_decimal,
) -> str:
    """Horizontal stacked bars, one row per category, the series stacked left to right (legend on top).

    ``normalise``: each row as shares of its own total (100%), e.g. events by response level per
    department; otherwise on one common scale of the largest total."""
    size = 12
    legend, legend_h = _legend(series, 10, 12, width - 20)
    label_w = min(max((text_width(c, size) for c in categories), default=40) + 10, width * 0.35)
    value_room = 70
    plot_x, plot_y = label_w, 12 + legend_h + 4
    plot_w = width - plot_x - value_room
    gap = bar_height * 0.45
    totals = [sum(v or 0 for v in (_at(s.values, ci) for s in series)) for ci in range(len(categories))]
    high = 1.0 if normalise else _nice_max(max(totals, default=0))
    height = plot_y + len(categories) * (bar_height + gap) + 20
    body = list(legend)
    for ci, category in enumerate(categories):
        y = plot_y + ci * (bar_height + gap)
        body.append(
            _text(plot_x - 6, y + bar_height / 2, truncate(category, size, label_w - 10), anchor="end")
        )
        x = plot_x
        scale = (1 / totals[ci] if totals[ci] else 0) if normalise else 1 / high
        for si, s in enumerate(series):
            value = _at(s.values, ci)
            if not value:
                continue
            w = plot_w * value * scale
            tip = f"{category} {s.name} {fmt(value)}{unit}"
            body.append(
                f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(bar_height)}" '
                f'fill="{_color(s, si)}"><title>{escape(tip)}</title></rect>'
            )
            x += w
        body.append(_text(x + 4, y + bar_height / 2, f"{fmt(totals[ci])}{unit}", size=11, color=MUTED))
    desc = "；".join(
        f"{category}："
        + "，".join(f"{s.name} {fmt(v)}{unit}" for s in series if (v := _at(s.values, ci)) is not None)
        for ci, category in enumerate(categories)
    )
    return _svg(width, height, title, desc, body)


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    unit: str = "",
    target: float | None = None,
    target_label: str | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    width: float = 640,
    height: float = 240,
    fmt: Format = one_decimal,
    show_values: bool = True,
) -> str:
    """Lines over ordered ``x_labels`` (months); a ``None`` value leaves a gap. A single point draws as a
    dot. ``target``: a dashed horizontal line. The y range defaults to the data (and target) padded a
    little, so small changes near 100 stay visible; pass ``min_value``/``max_value`` to fix it."""
    legend, legend_h = _legend(series, 50, 12, width - 60)
    values = [v for s in series for v in s.values if v is not None]
    pool = [*values, *([target] if target is not None else [])]
    low = min(pool, default=0.0) if min_value is None else min_value
    high = max(pool, default=1.0) if max_value is None else max_value
    intervals = 4
    if min_value is None or max_value is None:
        pad = max((high - low) * 0.15, 0.5)
        low = low - pad if min_value is None else low
        high = high + pad if max_value is None else high
        step = _nice_step(max(high - low, 1e-9), 4)
        low = math.floor(low / step) * step if min_value is None else low
        high = math.ceil(high / step) * step if max_value is None else high
        intervals = max(1, round((high - low) / step))
    if high <= low:
        high = low + 1
    plot_x, plot_y = 46.0, 12 + legend_h + (22 if unit else 10)
    plot_w, plot_h = width - plot_x - 24, height - plot_y - 28
    n = len(x_labels)

    def sx(i: int) -> float:
        return plot_x + (plot_w * (i + 0.5) / n if n else plot_w / 2)

    def sy(v: float) -> float:
        return plot_y + plot_h - plot_h * (v - low) / (high - low)

    body = list(legend)
    for t in _ticks(low, high, intervals):
        body.append(
            f'<line x1="{_num(plot_x)}" y1="{_num(sy(t))}" x2="{_num(plot_x + plot_w)}" y2="{_num(sy(t))}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(_text(plot_x - 4, sy(t), _tick_label(t), size=10, anchor="end", color=MUTED))
    step = max(1, math.ceil(n / 12))
    for i, label in enumerate(x_labels):
        if i % step == 0 or i == n - 1:
            body.append(_text(sx(i), plot_y + plot_h + 14, label, size=10, anchor="middle", color=AXIS))
    if target is not None and low <= target <= high:
        ty = sy(target)
        body.append(
            f'<line x1="{_num(plot_x)}" y1="{_num(ty)}" x2="{_num(plot_x + plot_w)}" y2="{_num(ty)}" '
            f'stroke="{TARGET}" stroke-width="1.5" stroke-dasharray="5 3"/>'
        )
        body.append(
            _text(plot_x + plot_w, ty - 7, target_label or f"目标 {fmt(target)}{unit}", size=10, anchor="end",
                  color=TARGET)
        )  # fmt: skip
    for si, s in enumerate(series):
        color = _color(s, si)
        run: list[str] = []
        runs: list[list[str]] = []
        for i, v in enumerate(s.values[:n]):
            if v is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append(f"{_num(sx(i))},{_num(sy(v))}")
            body.append(f'<circle cx="{_num(sx(i))}" cy="{_num(sy(v))}" r="3" fill="{color}"/>')
            if show_values and len(series) <= 2:
                dy = -9 if si == 0 else 13
                body.append(_text(sx(i), sy(v) + dy, fmt(v), size=9, anchor="middle", color=color))
        if run:
            runs.append(run)
        body.extend(
            f'<polyline points="{" ".join(r)}" fill="none" stroke="{color}" stroke-width="2"/>'
            for r in runs
            if len(r) > 1
        )
    body.append(
        f'<line x1="{_num(plot_x)}" y1="{_num(plot_y + plot_h)}" x2="{_num(plot_x + plot_w)}" '
        f'y2="{_num(plot_y + plot_h)}" stroke="{AXIS}" stroke-width="1"/>'
    )
    if unit:
        body.append(_text(plot_x - 4, plot_y - 14, f"（{unit.strip()}）", size=10, anchor="end", color=MUTED))
    desc = "；".join(
        f"{s.name}："
        + "，".join(f"{x} {fmt(v)}{unit}" for x, v in zip(x_labels, s.values, strict=False) if v is not None)
        for s in series
    )
    return _svg(width, height, title, desc, body)


def bullet(
    value: float | None,
    target: float,
    *,
    title: str,
    label: str = "",
    unit: str = "%",
    min_value: float = 90.0,
    max_value: float = 100.0,
    width: float = 420,
    height: float = 56,
    fmt: Format = one_decimal,
) -> str:
    """One value on a scale against a target: a bar (green at or above target, red below) over a light
    band, a dark tick at the target. ``None`` draws the scale only with 无数据 (no data)."""
    label_w = text_width(label, 12) + 12 if label else 0
    plot_x, plot_w = label_w + 4, width - label_w - 70
    bar_y, bar_h = 14, 16
    span = max_value - min_value if max_value > min_value else 1.0

    def sx(v: float) -> float:
        return plot_x + plot_w * (min(max(v, min_value), max_value) - min_value) / span

    body = []
    if label:
        body.append(_text(0, bar_y + bar_h / 2, label, size=12))
    body.append(
        f'<rect x="{_num(plot_x)}" y="{_num(bar_y - 4)}" width="{_num(plot_w)}" height="{_num(bar_h + 8)}" '
        f'fill="#eeeeee"/>'
    )
    if value is not None:
        color = GOOD if value >= target else BAD
        body.append(
            f'<rect x="{_num(plot_x)}" y="{_num(bar_y)}" width="{_num(sx(value) - plot_x)}" '
            f'height="{_num(bar_h)}" fill="{color}"/>'
        )
        body.append(
            _text(plot_x + plot_w + 6, bar_y + bar_h / 2, f"{fmt(value)}{unit}", size=13, weight="bold")
        )
    else:
        body.append(_text(plot_x + plot_w + 6, bar_y + bar_h / 2, "无数据", size=12, color=MUTED))
    tx = sx(target)
    body.append(
        f'<line x1="{_num(tx)}" y1="{_num(bar_y - 7)}" x2="{_num(tx)}" y2="{_num(bar_y + bar_h + 7)}" '
        f'stroke="{TEXT}" stroke-width="2.5"/>'
    )
    target_label = f"目标 {target:g}{unit}"
    half = text_width(target_label, 10) / 2
    low, high = _tick_label(min_value), _tick_label(max_value)
    body.append(_text(tx, bar_y + bar_h + 17, target_label, size=10, anchor="middle"))
    # The scale's ends, unless the target's label would run into them.
    if plot_x + text_width(low, 10) + 4 < tx - half:
        body.append(_text(plot_x, bar_y + bar_h + 17, low, size=10, color=MUTED))
    if tx + half + 4 < plot_x + plot_w - text_width(high, 10):
        body.append(_text(plot_x + plot_w, bar_y + bar_h + 17, high, size=10, anchor="end", color=MUTED))
    shown = "无数据" if value is None else f"{fmt(value)}{unit}"
    desc = f"{label} {shown}，目标 {target:g}{unit}".strip()
    return _svg(width, height, title, desc, body)


__all__ = [
    "BAD",
    "FONT_FAMILY",
    "GOOD",
    "PALETTE",
    "WARN",
    "Series",
    "bar_chart",
    "bullet",
    "grouped_bars",
    "line_chart",
    "stacked_bars",
    "text_width",
]
