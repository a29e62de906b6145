"""The monthly report (月通报) as one HTML document, and the same HTML as a PDF (WeasyPrint).

:func:`render_html` turns :class:`~datahub.reports.figures.MonthFigures` into a self-contained HTML page
(Jinja2 template ``templates/month.html.j2``, styles inline, charts as inline SVG from
:mod:`datahub.reports.charts`, no reference to anything outside the document). :func:`render_pdf`
prints that HTML on A4 with page numbers, embedding a CJK font: ``settings.report_font`` or the first
of :data:`FONT_CANDIDATES` that exists, declared to WeasyPrint by an extra ``@font-face`` stylesheet
(so the HTML itself names no local file). Without a font it raises
:class:`~datahub.errors.FontMissing` rather than print boxes.

:func:`write_report` computes, renders and writes ``report-YYYY-MM.html`` and ``.pdf``;
:func:`cached_report` is what the API serves: the file for a month, regenerated only when
:func:`~datahub.reports.figures.fingerprint` says the metadata changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from datahub.citytime import city_time
from datahub.errors import FontMissing
from datahub.files import write_whole
from datahub.platform import Platform
from datahub.reports import charts
from datahub.reports.figures import (
    BOARD_NAMES,
    RED,
    SHARING_CLASS_NAMES,
    YELLOW,
    MonthFigures,
    fingerprint,
    month_figures,
    parse_month,
)
from datahub.settings import Settings

ISSUER = "市大数据办"
TITLE = "城市数据质量月通报"
FONT_FAMILY_NAME = "WenQuanYi Micro Hei"
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),  # Debian/Ubuntu fonts-wqy-microhei
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),  # Fedora wqy-microhei-fonts
    Path("/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc"),  # Arch wqy-microhei
    Path("/usr/local/share/fonts/wqy-microhei.ttc"),
)
SECTIONS = (
    "一页摘要",
    "部门红黄榜",
    "各部门分维度得分",
    "主要问题",
    "逾期交付",
    "数据共享",
    "事件指标",
    "下月整改重点",
)
"""The report's section headings, in order (each printed with its number: 一、一页摘要 …)."""
PROBLEMS_SHOWN = 15
CONSUMERS_IN_TABLE_ONLY = 3
"""Up to this many consumers the table says it all; more get a chart of rows served."""
ROLE_NAMES = {
    "steward": "数据管理员",
    "admin": "系统管理员",
    "leader": "领导",
    "department": "部门",
    "consumer": "接入系统",
}
NUMERALS = "一二三四五六七八九十"


@dataclass(frozen=True)
class ReportFiles:
    month: str
    html: Path
    pdf: Path
    seconds: dict[str, float]  # figures, html, pdf
    figures: MonthFigures


def font_path(settings: Settings) -> Path:
    """The CJK font file to embed: the setting, else the first known path that exists."""
    if settings.report_font is not None:
        if settings.report_font.is_file():
            return settings.report_font
        raise FontMissing(
            f"DATAHUB_REPORT_FONT names {settings.report_font}, which does not exist; install "
            "fonts-wqy-microhei (apt-get install fonts-wqy-microhei) or point it at a CJK TTF/TTC font"
        )
    for candidate in FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise FontMissing(
        "no CJK font for the report PDF: install fonts-wqy-microhei (apt-get install fonts-wqy-microhei, "
        "see scripts/system-packages) or set DATAHUB_REPORT_FONT to a CJK TTF/TTC font file"
    )


# --------------------------------------------------------------------------- formatting


def _num(value: float | int | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}%"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _change(value: float | None, unit: str = "个百分点") -> str:
    if value is None:
        return "—"
    if abs(value) < 0.005:
        return "持平"
    return f"{'↑' if value > 0 else '↓'} {abs(value):.2f} {unit}"


def _minutes(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} 分钟"


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 24:.1f} 天" if value >= 48 else f"{value:.1f} 小时"


def _limit(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} 分钟"


def _date(value: datetime) -> str:
    local = city_time(value)
    return f"{local.year}年{local.month}月{local.day}日"


def _datetime(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M}"


def _month_short(month: str) -> str:
    start, _ = parse_month(month)
    return f"{start.year % 100:02d}年{start.month}月"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("datahub.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=_num,
        pct=_pct,
        score=_score,
        change=_change,
        minutes=_minutes,
        hours=_hours,
        date=_date,
        datetime=_datetime,
        recorded=lambda value: _datetime(city_time(value)),  # a time the platform recorded (UTC)
        limit=_limit,
        band=score_band,
    )
    return env


# --------------------------------------------------------------------------- charts

SCORE_BANDS = ((99.0, "good"), (95.0, "fair"), (80.0, "poor"), (float("-inf"), "bad"))
"""Dimension scores by band (at or above the bound): the table's cell colours and the chart's bars."""
_BAND_COLORS = {"good": charts.GOOD, "fair": "#8fbf5a", "poor": charts.WARN, "bad": charts.BAD}


def score_band(value: float | None) -> str:
    if value is None:
        return "none"
    return next(name for bound, name in SCORE_BANDS if value >= bound)


def _band_color(value: float) -> str:
    return _BAND_COLORS[score_band(value)]


def _charts(f: MonthFigures) -> dict[str, Markup]:
    out: dict[str, str] = {}
    out["city_bullet"] = charts.bullet(
        f.city.pass_rate,
        f.target,
        title=f"{f.label}全市数据合格率与目标",
        label="全市合格率",
        min_value=min(90.0, float(int(f.city.pass_rate or 100) - 1)),
        width=640,
        fmt=lambda v: f"{v:.2f}",
    )
    months = [_month_short(m) for m in f.trend.months]
    out["city_trend"] = charts.line_chart(
        months,
        [charts.Series("全市数据合格率", [p.pass_rate for p in f.trend.city], charts.PALETTE[0])],
        title="全市数据合格率月度趋势",
        unit="%",
        max_value=100.0,
        target=f.target,
        target_label=f"目标 {f.target}%",
        width=330,
        height=200,
        fmt=lambda v: f"{v:.2f}",
    )
    out["score_trend"] = charts.line_chart(
        months,
        [charts.Series("全市综合得分", [p.score for p in f.trend.city], charts.PALETTE[1])],
        title="全市综合得分月度趋势",
        unit="分",
        max_value=100.0,
        width=330,
        height=200,
    )
    ranked = [d for d in f.departments if d.rank is not None]
    low = min([d.quality.pass_rate or 100 for d in ranked] + [f.target]) if ranked else 90.0
    out["ranking"] = charts.bar_chart(
        [(d.name, d.quality.pass_rate or 0.0) for d in ranked],
        title=f"{f.label}各部门数据合格率排名",
        unit="%",
        target=f.target,
        target_label=f"目标 {f.target}%",
        min_value=max(0.0, float(int(low) - 2)),
        max_value=100.0,
        colors=[charts.GOOD if d.board == RED else charts.WARN for d in ranked],
        fmt=lambda v: f"{v:.2f}",
        width=640,
    )
    if ranked and len(months) > 1:
        out["department_trend"] = charts.line_chart(
            months,
            [
                charts.Series(d.name, [p.pass_rate for p in f.trend.departments.get(d.code, ())])
                for d in ranked
            ],
            title="各部门数据合格率月度趋势",
            unit="%",
            max_value=100.0,
            target=f.target,
            width=640,
            height=240,
        )
    if f.city.dimensions:
        out["dimensions"] = charts.bar_chart(
            [(f.dimension_names[d], v) for d, v in f.city.dimensions.items()],
            title=f"{f.label}全市分维度得分（GB/T 36344）",
            unit=" 分",
            max_value=100.0,
            colors=[_band_color(v) for v in f.city.dimensions.values()],
            width=640,
        )
    if f.events is not None and f.events.events:
        out["categories"] = charts.bar_chart(
            [(c.name, float(c.events)) for c in f.events.by_category],
            title=f"{f.label}事件量（按事件大类）",
            fmt=lambda v: f"{v:,.0f}",
            unit=" 件",
            width=640,
            bar_height=14,
        )
        levels = [lv for lv in f.events.by_level if lv.events]
        out["levels"] = charts.grouped_bars(
            [
                f"{lv.name}（时限{lv.limit_minutes:.0f}分钟）" if lv.limit_minutes else lv.name
                for lv in levels
            ],
            [
                charts.Series("响应时长中位数", [lv.response_p50 for lv in levels], charts.PALETTE[0]),
                charts.Series("响应时长P90", [lv.response_p90 for lv in levels], charts.PALETTE[1]),
                charts.Series("响应时限", [lv.limit_minutes for lv in levels], charts.BAD),
            ],
            title="各响应等级响应时长与时限（分钟）",
            unit="分钟",
            width=640,
            height=220,
            show_values=True,
        )
    s = f.sharing
    if s.sharing_rate is not None:
        out["sharing_bullet"] = charts.bullet(
            s.sharing_rate,
            s.target,
            title="数据共享率与目标",
            label="共享率",
            min_value=0.0,
            width=640,
            fmt=lambda v: f"{v:.1f}",
        )
    if len(s.consumers) > CONSUMERS_IN_TABLE_ONLY:
        top = s.consumers[:10]
        out["consumers"] = charts.bar_chart(
            [(c.client, float(c.rows)) for c in top],
            title="各调用方本月获取数据行数",
            fmt=lambda v: f"{v:,.0f}",
            unit=" 行",
            width=640,
            bar_height=14,
        )
    return {name: Markup(svg) for name, svg in out.items()}


# --------------------------------------------------------------------------- rendering


def render_html(figures: MonthFigures) -> str:
    """The report as one self-contained HTML document (UTF-8, inline styles and SVG, nothing external)."""
    template = _environment().get_template("month.html.j2")
    return template.render(
        f=figures,
        title=TITLE,
        issuer=ISSUER,
        sections=SECTIONS,
        numerals=NUMERALS,
        charts=_charts(figures),
        problems_shown=PROBLEMS_SHOWN,
        board_names=BOARD_NAMES,
        red=RED,
        yellow=YELLOW,
        sharing_class_names=SHARING_CLASS_NAMES,
        role_names=ROLE_NAMES,
    )


def _font_css(font: Path) -> str:
    return (
        f"@font-face {{ font-family: '{FONT_FAMILY_NAME}'; src: url('{font.resolve().as_uri()}'); }}\n"
        f"html {{ font-family: '{FONT_FAMILY_NAME}', sans-serif; }}\n"
    )


def render_pdf(html: str, settings: Settings) -> bytes:
    """The HTML printed to PDF by WeasyPrint, with the CJK font embedded (FontMissing without one)."""
    font = font_path(settings)
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    stylesheet = CSS(string=_font_css(font), font_config=fonts)

    def no_fetching(url: str, timeout: int = 10, ssl_context: Any = None) -> dict[str, Any]:
        # The document is self-contained: anything it would fetch is a bug, not something to download.
        if url.startswith("file://") and url == font.resolve().as_uri():
            from weasyprint.urls import default_url_fetcher

            return dict(default_url_fetcher(url, timeout=timeout, ssl_context=ssl_context))
        raise ValueError(f"the report does not load external resources ({url})")

    document = HTML(string=html, url_fetcher=no_fetching, base_url=str(settings.var))
    pdf = document.write_pdf(stylesheets=[stylesheet], font_config=fonts)
    assert pdf is not None
    return bytes(pdf)


def report_name(month: str, suffix: str) -> str:
    return f"report-{month}.{suffix}"


def write_report(platform: Platform, month: str, out_dir: Path | None = None) -> ReportFiles:
    """Compute ``month``'s figures and write ``report-YYYY-MM.html`` and ``.pdf`` into ``out_dir``
    (default ``settings.reports_dir``). InputError for a malformed month, NotFound for a month without
    quality runs, FontMissing without a CJK font (checked before any work)."""
    parse_month(month)
    font_path(platform.settings)
    out = Path(out_dir) if out_dir is not None else platform.settings.reports_dir
    started = time.perf_counter()
    figures = month_figures(platform, month)
    at_figures = time.perf_counter()
    html = render_html(figures)
    at_html = time.perf_counter()
    pdf = render_pdf(html, platform.settings)
    at_pdf = time.perf_counter()
    html_path, pdf_path = out / report_name(month, "html"), out / report_name(month, "pdf")
    write_whole(html_path, html.encode("utf-8"))
    write_whole(pdf_path, pdf)
    return ReportFiles(
        month,
        html_path,
        pdf_path,
        {
            "figures": round(at_figures - started, 3),
            "html": round(at_html - at_figures, 3),
            "pdf": round(at_pdf - at_html, 3),
        },
        figures,
    )


def cached_report(platform: Platform, month: str, suffix: str) -> Path:
    """The month's report file (``html`` or ``pdf``) from the cache under ``reports_dir/cache``, made
    (both formats at once) when the metadata changed since it was cached."""
    if suffix not in ("html", "pdf"):
        raise ValueError(suffix)
    parse_month(month)
    key = fingerprint(platform, month)
    directory = platform.settings.reports_dir / "cache" / f"{month}-{key}"
    path = directory / report_name(month, suffix)
    if not path.is_file():
        write_report(platform, month, directory)
    return path


__all__ = [
    "FONT_CANDIDATES",
    "ISSUER",
    "SECTIONS",
    "TITLE",
    "ReportFiles",
    "cached_report",
    "font_path",
    "render_html",
    "render_pdf",
    "report_name",
    "score_band",
    "write_report",
]
