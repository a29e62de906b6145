"""Throughput of the masking engine on generated complaint texts and personal-data columns.

    .venv/bin/python benchmarks/masking_throughput.py [ROWS [DISTINCT]]

ROWS defaults to 1,000,000. DISTINCT is how many different phone numbers and resident ids the rows
draw from (default: as many as there are rows, so nearly every identifier is new: the worst case for
the once-per-distinct-token validation; a city's real complaints repeat callers).

The data is built vectorised from pools and random choices (Faker per row would take longer than
the masking): ~60-character Chinese texts; 60% hold a mobile number (plain, ``138 1234 5678``,
``+86-138-1234-5678`` or full-width), 30% a resident id and 10% only the 12345 hotline; every text
holds a work-order number, a fine and, in 5% of rows, an 11-digit number off the number plan, all
of which must stay unmasked.
"""

from __future__ import annotations

import datetime
import functools
import sys
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import polars as pl

from datahub.privacy.masking import mask_column, scan_text_column
from datahub.privacy.recognizers import CnMobileRecognizer

DISTRICTS = ["朝阳区", "海淀区", "浦东新区", "天河区", "南山区", "武侯区", "江汉区", "鼓楼区", "雁塔区"]
STREETS = ["建国路", "中山路", "人民街道", "解放路", "和平街", "新华镇", "长江路", "五一路"]
ISSUES = ["噪音扰民", "占道经营", "路灯损坏", "垃圾未清运", "井盖缺失", "违章停车", "油烟污染", "积水严重"]
SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "欧阳", "司马", "诸葛"]
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟"]
REGIONS = ["110105", "110108", "310104", "310115", "440106", "440305", "330106", "320102", "510107", "420106"]
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK_CHARACTERS = list("10X98765432")
ASCII_DIGITS = list("0123456789")
FULL_WIDTH_DIGITS = list("０１２３４５６７８９")

_T = TypeVar("_T")


def _pick(rng: np.random.Generator, pool: list[str] | pl.Series, rows: int) -> pl.Series:
    return pl.Series(pool)[rng.integers(0, len(pool), rows)]


def _digits(rng: np.random.Generator, rows: int, width: int) -> pl.Series:
    return pl.Series(rng.integers(0, 10**width, rows)).cast(pl.String).str.zfill(width)


def _days_after(start: datetime.date, rng: np.random.Generator, rows: int, span: int) -> pl.Series:
    return pl.select(
        pl.lit(start) + pl.duration(days=pl.lit(pl.Series(rng.integers(0, span, rows))))
    ).to_series()


def phone_pool(rng: np.random.Generator, size: int) -> pl.Series:
    """``size`` random mobile numbers on the number plan."""
    return _pick(rng, sorted(CnMobileRecognizer.NUMBER_PLAN_PREFIXES), size) + _digits(rng, size, 8)


def resident_id_pool(rng: np.random.Generator, size: int) -> pl.Series:
    """``size`` random resident ids with a correct GB 11643 check character, born 1940-2004."""
    births = _days_after(datetime.date(1940, 1, 1), rng, size, 365 * 65).dt.strftime("%Y%m%d")
    body = _pick(rng, REGIONS, size) + births + _digits(rng, size, 3)
    digits = np.frombuffer("".join(body.to_list()).encode(), dtype=np.uint8).reshape(size, 17) - ord("0")
    return body + pl.Series(ID_CHECK_CHARACTERS)[(digits.astype(np.int64) @ ID_WEIGHTS) % 11]


def build_data(rows: int, distinct: int, seed: int = 20261001) -> pl.DataFrame:
    """Columns ``text``, ``phone``, ``resident_id``, ``name`` and ``address`` of ``rows`` rows."""
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame(
        {
            "phone": _pick(rng, phone_pool(rng, distinct), rows),
            "resident_id": _pick(rng, resident_id_pool(rng, distinct), rows),
            "phone_shape": rng.integers(0, 10, rows),
            "content": rng.integers(0, 10, rows),
            "lookalike": rng.integers(0, 20, rows),
            "district": _pick(rng, DISTRICTS, rows),
            "street": _pick(rng, STREETS, rows),
            "issue": _pick(rng, ISSUES, rows),
            "surname": _pick(rng, SURNAMES, rows),
            "given": _pick(rng, GIVEN, rows),
            "house": pl.Series(rng.integers(1, 300, rows)).cast(pl.String),
            "day": _days_after(datetime.date(2026, 1, 1), rng, rows, 365).dt.strftime("%Y%m%d"),
            "order": _digits(rng, rows, 6),
            "amount": pl.Series(rng.integers(100, 99_999, rows)).cast(pl.String),
            "unassigned": _digits(rng, rows, 8),
        }
    )
    phone, line = pl.col("phone"), pl.col("phone").str.slice(3)
    written = (
        pl.when(pl.col("phone_shape") == 0)
        .then(pl.concat_str(phone.str.slice(0, 3), line.str.slice(0, 4), line.str.slice(4), separator=" "))
        .when(pl.col("phone_shape") == 1)
        .then(
            pl.concat_str(
                pl.lit("+86"), phone.str.slice(0, 3), line.str.slice(0, 4), line.str.slice(4), separator="-"
            )
        )
        .when(pl.col("phone_shape") == 2)
        .then(phone.str.replace_many(ASCII_DIGITS, FULL_WIDTH_DIGITS))
        .otherwise(phone)
    )
    identifier = (
        pl.when(pl.col("content") < 6)
        .then(pl.concat_str(pl.lit("，联系电话"), written))
        .when(pl.col("content") < 9)
        .then(pl.concat_str(pl.lit("，身份证"), "resident_id"))
        .otherwise(pl.lit("，热线12345转办"))
    )
    lookalike = (
        pl.when(pl.col("lookalike") == 0)
        .then(pl.concat_str(pl.lit("，备用号154"), "unassigned"))
        .otherwise(pl.lit(""))
    )
    text = pl.concat_str(
        "district", "street", pl.lit("居民"), "surname", pl.lit("某反映"), "issue", identifier, lookalike,
        pl.lit("，工单GD"), "day", "order", pl.lit("，罚款"), "amount", pl.lit("元"),
    )  # fmt: skip
    return frame.select(
        text=text,
        phone="phone",
        resident_id="resident_id",
        name=pl.concat_str("surname", "given"),
        address=pl.concat_str(pl.lit("某市"), "district", "street", "house", pl.lit("号")),
    )


def _timed(label: str, rows: int, run: Callable[[], _T]) -> _T:
    """Wall-clock time, and CPU time of the process (all threads), which other load does not inflate."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<38} {rows:>10,} rows {wall:6.2f} s wall {cpu:6.2f} s cpu {rows / wall:>11,.0f} rows/s")
    return result


def main(rows: int, distinct: int) -> None:
    start = time.perf_counter()
    data = build_data(rows, distinct)
    texts: pl.Series = data.get_column("text")
    print(
        f"built {rows:,} rows ({distinct:,} distinct phones and ids) in {time.perf_counter() - start:.2f} s"
    )
    first: str = texts.item(0)
    print(f"mean text length {texts.str.len_chars().to_numpy().mean():.0f} characters; first text: {first}")
    scan_text_column(texts.head(10))  # builds the Presidio analyzer outside the timing
    masked, counts = _timed("scan_text_column(text)", rows, lambda: scan_text_column(texts))
    first_masked: str = masked.item(0)
    print(f"  found {counts}; first text masked: {first_masked}")
    for column, kind in [
        ("phone", "mobile_phone"),
        ("resident_id", "resident_id"),
        ("name", "person_name"),
        ("address", "address"),
    ]:
        series = data.get_column(column)
        _timed(f"mask_column({column}, {kind!r})", rows, functools.partial(mask_column, series, kind))


if __name__ == "__main__":
    row_count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    main(row_count, int(sys.argv[2]) if len(sys.argv) > 2 else row_count)
