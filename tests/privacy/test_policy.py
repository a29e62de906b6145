"""The desensitisation policy: pseudonyms, generalisation and k-anonymity, from the contracts."""

from __future__ import annotations

import polars as pl
import pytest

from datahub.contracts import Catalog
from datahub.privacy.kanonymity import k_of
from datahub.privacy.leaks import find_leaks
from datahub.privacy.policy import (
    PSEUDONYM_LENGTH,
    desensitise,
    pseudonym,
    pseudonym_column,
    quasi_identifiers,
)

KEY = b"test-secret-key"
PHONES = ["13812345678", "13912345678", "13700001111", "18600002222"]


def test_pseudonyms_are_keyed_stable_and_never_look_like_numbers() -> None:
    token = pseudonym("13812345678", KEY)
    assert len(token) == PSEUDONYM_LENGTH and set(token) <= set("abcdefghijklmnop")
    assert pseudonym("１３８１２３４５６７８ ", KEY) == token  # the same number in full width, padded
    assert pseudonym("13812345678", b"another-key") != token
    assert pseudonym("13812345679", KEY) != token
    column = pseudonym_column(pl.Series("phone", ["13812345678", None, "13812345678", "13912345678"]), KEY)
    assert column.name == "phone"
    assert column.to_list() == [token, None, token, pseudonym("13912345678", KEY)]


def _hotline(rows: int, districts: int = 2) -> pl.DataFrame:
    """Conformed hotline rows: a person per row, addresses on a few streets of a few districts."""
    streets = [("朝阳区", "建国路"), ("朝阳区", "光华路"), ("海淀区", "学院路"), ("海淀区", "中关村大街")]
    places = [streets[(i % districts) * 2 + (i // districts) % 2] for i in range(rows)]
    return pl.DataFrame(
        {
            "work_order_id": [f"GD20261001{i:06d}" for i in range(rows)],
            "caller_name": ["王建国"] * rows,
            "caller_phone": [PHONES[i % len(PHONES)] for i in range(rows)],
            "caller_id_number": ["11010519491231002X"] * rows,
            "complaint_text": [f"本人王建国，电话{PHONES[i % len(PHONES)]}，反映噪音。" for i in range(rows)],
            "address": [
                f"{d}{s}{i + 1}号{i % 7 + 1}栋{i % 3 + 1}单元{100 + i}室" for i, (d, s) in enumerate(places)
            ],
        }
    )


def test_the_hotline_contract_pseudonymises_masks_scans_and_generalises(catalog: Catalog) -> None:
    hotline = catalog.get("hotline_12345")
    frame = _hotline(40)
    result = desensitise(frame, hotline, KEY)
    shared = result.frame
    assert shared.get_column("caller_phone").to_list() == [pseudonym(p, KEY) for p in frame["caller_phone"]]
    assert set(shared.get_column("caller_name")) == {"王**"}
    assert set(shared.get_column("caller_id_number")) == {"110105********002X"}
    assert shared.item(0, "complaint_text") == "本人王**，电话*******5678，反映噪音。"
    # the address is a quasi-identifier: generalised at least to its street, and 5-anonymous
    assert [c.name for c in quasi_identifiers(hotline)] == ["address"]
    assert set(shared.get_column("address")) <= {
        "朝阳区建国路",
        "朝阳区光华路",
        "海淀区学院路",
        "海淀区中关村大街",
    }
    assert k_of(shared, ["address"]) >= 5
    assert result.k_anonymity is not None and result.k_anonymity.k_reached >= 5
    assert result.withheld.len() == 0 and shared.height == frame.height
    assert result.counts["caller_phone:pseudonymised"] == 40
    assert result.counts["complaint_text:CN_MOBILE"] == 40 and result.counts["complaint_text:PERSON"] == 40
    assert find_leaks(shared, hotline) == []
    text = shared.write_csv()
    assert KEY.decode() not in text and not any(p in text for p in PHONES)


def test_the_same_person_gets_the_same_token_in_every_dataset(catalog: Catalog) -> None:
    hotline = desensitise(_hotline(10), catalog.get("hotline_12345"), KEY).frame
    app = pl.DataFrame({"user_phone": PHONES[:2]})
    reports = desensitise(app, catalog.get("gov_app_reports"), KEY).frame
    assert reports.get_column("user_phone").to_list() == hotline.get_column("caller_phone").to_list()[:2]


def test_k_anonymity_generalises_further_then_withholds(catalog: Catalog) -> None:
    hotline = catalog.get("hotline_12345")
    # 4 streets of 2 districts, 3 rows each: 12 rows, no street holds 5, each district holds 6
    frame = _hotline(12)
    result = desensitise(frame, hotline, KEY)
    assert set(result.frame.get_column("address")) == {"朝阳区", "海淀区"}
    assert result.k_anonymity is not None and result.k_anonymity.levels == {"address": 1}
    assert result.counts["address:extra_levels"] == 1
    # three rows can never be 5-anonymous: all withheld, and said so
    few = desensitise(frame.head(3), hotline, KEY)
    assert few.frame.height == 0 and few.withheld.to_list() == [0, 1, 2]
    assert few.counts["k_anonymity:withheld"] == 3


@pytest.mark.parametrize("k", [1, 3])
def test_the_contract_chooses_k(catalog: Catalog, k: int) -> None:
    from dataclasses import replace

    hotline = replace(catalog.get("hotline_12345"), k_anonymity=k)
    result = desensitise(_hotline(12), hotline, KEY)
    assert result.k_anonymity is not None and result.k_anonymity.k_required == k
    assert k_of(result.frame, ["address"]) >= k
    assert set(result.frame.get_column("address")) <= {
        "朝阳区建国路",
        "朝阳区光华路",
        "海淀区学院路",
        "海淀区中关村大街",
    }
