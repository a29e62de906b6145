"""Throughput of the masking engine on generated complaint texts and personal-data columns.

    .venv/bin/python benchmarks/masking_throughput.py [ROWS]      (default 1,000,000)

The data is built vectorised from small pools and random numbers (Faker per row would take longer
than the masking): ~60-character Chinese texts, most holding a mobile number (some with +86, spaces,
hyphens or full-width digits) or a valid resident id, and all holding a work-order number, a date and
an amount that must stay unmasked. Phone numbers and ids are random, so nearly all are distinct, the
worst case for the per-distinct-token validation.
"""

from __future__ import annotations

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
ASCII_DIGITS = list("0123456789")
FULL_WIDTH_DIGITS = list("０１２３４５６７８９")

_T = TypeVar("_T")


def _pick(rng: np.random.Generator, pool: list[str], rows: int) -> pl.Series:
    return pl.Series(pool)[rng.integers(0, len(pool), rows)]


def _digits(rng: np.random.Generator, rows: int, width: int) -> pl.Series:
    return pl.Series(rng.integers(0, 10**width, rows)).cast(pl.String).str.zfill(width)


def build_data(rows: int, seed: int = 20261001) -> pl.DataFrame:
    """Columns ``text``, ``phone``, ``resident_id``, ``name`` and ``address`` of ``rows`` rows."""
    rng = np.random.default_rng(seed)
    prefixes = sorted(CnMobileRecognizer.NUMBER_PLAN_PREFIXES)
    birth = pl.Series(rng.integers(0, 365 * 65, rows)).cast(pl.Duration("ms")) * 86_400_000
    frame = pl.DataFrame(
        {
            "prefix": _pick(rng, prefixes, rows),
            "line": _digits(rng, rows, 8),
            "region": _pick(rng, REGIONS, rows),
            "birth": (pl.Series([0], dtype=pl.Date).cast(pl.Datetime("ms")) + birth).dt.date(),
            "sequence": _digits(rng, rows, 3),
            "phone_shape": rng.integers(0, 10, rows),
            "content": rng.integers(0, 10, rows),
            "district": _pick(rng, DISTRICTS, rows),
            "street": _pick(rng, STREETS, rows),
            "issue": _pick(rng, ISSUES, rows),
            "surname": _pick(rng, SURNAMES, rows),
            "given": _pick(rng, GIVEN, rows),
            "house": pl.Series(rng.integers(1, 300, rows)).cast(pl.String),
            "order": _digits(rng, rows, 6),
            "amount": pl.Series(rng.integers(100, 99_999, rows)).cast(pl.String),
        }
    ).with_columns(pl.col("birth").dt.offset_by("-70y"))
    body = pl.concat_str("region", pl.col("birth").dt.strftime("%Y%m%d"), "sequence")
    checksum = pl.sum_horizontal(
        body.str.slice(i, 1).cast(pl.Int64) * weight for i, weight in enumerate(ID_WEIGHTS)
    )
    check = pl.lit(pl.Series(list("10X98765432"))).get((checksum % 11).cast(pl.UInt32))
    phone = pl.concat_str("prefix", "line")
    spaced = pl.concat_str(pl.col("prefix"), pl.col("line").str.slice(0, 4), pl.col("line").str.slice(4), separator=" ")
    dashed = pl.concat_str(pl.lit("+86"), "prefix", pl.col("line").str.slice(0, 4), pl.col("line").str.slice(4), separator="-")
    written = (
        pl.when(pl.col("phone_shape") == 0)
        .then(spaced)
        .when(pl.col("phone_shape") == 1)
        .then(dashed)
        .when(pl.col("phone_shape") == 2)
        .then(phone.str.replace_many(ASCII_DIGITS, FULL_WIDTH_DIGITS))
        .otherwise(phone)
    )
    frame = frame.with_columns(phone=phone, written=written, resident_id=pl.concat_str(body, check))
    identifier = (
        pl.when(pl.col("content") < 6)
        .then(pl.concat_str(pl.lit("，联系电话"), "written"))
        .when(pl.col("content") < 9)
        .then(pl.concat_str(pl.lit("，身份证"), "resident_id"))
        .otherwise(pl.lit("，热线12345转办"))
    )
    text = pl.concat_str(
        "district", "street", pl.lit("居民"), "surname", pl.lit("某反映"), "issue", identifier,
        pl.lit("，工单GD"), pl.col("birth").dt.strftime("%Y%m%d"), "order", pl.lit("，罚款"), "amount", pl.lit("元"),
    )  # fmt: skip
    return frame.select(
        text=text,
        phone="phone",
        resident_id="resident_id",
        name=pl.concat_str("surname", "given"),
        address=pl.concat_str(pl.lit("某市"), "district", "street", "house", pl.lit("号")),
    )


def _timed(label: str, rows: int, run: Callable[[], _T]) -> _T:
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    print(f"{label:<34} {rows:>10,} rows  {seconds:7.2f} s  {rows / seconds:>12,.0f} rows/s")
    return result


def main(rows: int) -> None:
    start = time.perf_counter()
    data = build_data(rows)
    print(f"built {rows:,} rows in {time.perf_counter() - start:.2f} s; text length mean ", end="")
    print(f"{data['text'].str.len_chars().mean():.0f} chars; example: {data['text'][0]}")
    scan_text_column(data["text"].head(10))  # builds the Presidio analyzer outside the timing
    masked, counts = _timed("scan_text_column(text)", rows, lambda: scan_text_column(data["text"]))
    print(f"{'':<34} found {counts}; example: {masked[0]}")
    for column, kind in [("phone", "mobile_phone"), ("resident_id", "resident_id"), ("name", "person_name")]:
        _timed(f"mask_column({column}, {kind})", rows, lambda c=column, k=kind: mask_column(data[c], k))
    _timed("mask_column(address, address)", rows, lambda: mask_column(data["address"], "address"))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
