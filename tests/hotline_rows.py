"""Hand-built hotline_12345 rows for reader and conformity tests: valid by construction."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from datahub.contracts import Dataset
from datahub.dictionary import Dictionary

VALID_PHONE = "13812345678"
VALID_ID = "11010519491231002X"


def valid_row(dictionary: Dictionary, n: int = 1) -> dict[str, str]:
    local_category = sorted(dictionary.crosswalks["hotline_category"].mapping)[0]
    district = next(iter(dictionary.codes("district").values()))
    street = next(c for c in dictionary.codes("street").values() if c.parent == district.code)
    return {
        "工单编号": f"GD20261001{n:06d}",
        "受理时间": "2026/10/01 08:23:11",
        "来电人": "王建国",
        "联系电话": VALID_PHONE,
        "身份证号": VALID_ID,
        "诉求内容": f"本人王建国，电话{VALID_PHONE}，反映夜间施工噪音扰民。",
        "诉求分类": local_category,
        "所属区": district.name_zh,
        "所属街道": street.name_zh,
        "事发地址": f"{street.name_zh}幸福路12号",
        "承办部门": "UM",
        "派单时间": "2026/10/01 08:40:00",
        "处置时间": "2026/10/01 12:00:00",
        "反馈时间": "2026/10/01 15:00:00",
        "评价时间": "2026/10/02 09:00:00",
        "满意度": "5",
        "是否解决": "是",
    }


def hotline_csv(rows: list[dict[str, str]], dataset: Dataset, encoding: str = "gbk") -> bytes:
    headers = [c.physical_name for c in dataset.columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=headers, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def write_hotline(path: Path, rows: list[dict[str, str]], dataset: Dataset, encoding: str = "gbk") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(hotline_csv(rows, dataset, encoding))
    return path
