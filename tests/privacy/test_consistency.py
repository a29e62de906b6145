"""Consistency and the cross-column rule: a name or address found once is masked wherever it occurs in
its text and its row; a row's own personal values are masked in its free text; the leak gate finds
them where masking did not."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from pathlib import Path

import polars as pl
import pytest
from faker import Faker

from datahub import pipeline
from datahub.contracts import Catalog
from datahub.metadata import Delivery
from datahub.privacy import leaks, masking
from datahub.privacy.leaks import Leak, find_leaks
from datahub.privacy.masking import mask_in_rows, mask_text, mask_value, presidio_mask_text, scan_text_column
from datahub.privacy.policy import desensitise, personal_values
from datahub.privacy.scanner import Finding, by_position
from tests.hotline_rows import valid_row, write_hotline
from tests.privacy.test_publication import _leaky_platform

KEY = b"test-secret-key"


@pytest.mark.parametrize(
    ("text", "findings", "masked"),
    [
        (  # found once (after the cue 市民): masked at every mention
            "市民冯辉金来电反映，冯辉金称楼上漏水。冯辉金要求尽快处理。",
            [Finding("PERSON", 2, 5, 0.85)],
            "市民冯**来电反映，冯**称楼上漏水。冯**要求尽快处理。",
        ),
        (  # an address too
            "住建国路88号3栋401室，建国路88号3栋401室楼上漏水",
            [Finding("CN_ADDRESS", 1, 13, 0.8)],
            "住建国路*********，建国路*********楼上漏水",
        ),
        (  # a surname alone (王 of 王先生) is not propagated: it would mask every 王
            "王先生反映王府井大街的王记饭馆油烟",
            [Finding("PERSON", 0, 1, 0.85)],
            "*先生反映王府井大街的王记饭馆油烟",
        ),
        (  # the longer name first: 张伟 inside the second 张伟明 does not cut it short
            "张伟明说张伟明和张伟吵架",
            [Finding("PERSON", 0, 3, 0.85), Finding("PERSON", 8, 10, 0.6)],
            "张**说张**和张*吵架",
        ),
        (  # a mention inside another finding (a road named like the caller) stays that finding's
            "市民张华来电反映张华路12号3栋漏水",
            [Finding("PERSON", 2, 4, 0.85), Finding("CN_ADDRESS", 8, 16, 0.8)],
            "市民张*来电反映张华路*****漏水",
        ),
        (  # other entities are not propagated
            "电话13812345678，13812345678",
            [Finding("CN_MOBILE", 2, 13, 1.0)],
            "电话*******5678，13812345678",
        ),
    ],
)
def test_found_names_and_addresses_are_masked_wherever_they_occur(
    text: str, findings: list[Finding], masked: str
) -> None:
    assert mask_text(text, findings) == masked


def test_the_scanner_masks_every_mention_of_a_name_it_found_once() -> None:
    texts = [
        "市民冯辉金来电反映楼上漏水，经核实冯辉金反映属实，要求冯辉金家尽快处理。",
        "市民司马青来电，司马青说小区门口占道经营。",
        "王先生反映王府井大街噪音",
    ]
    masked, counts = scan_text_column(pl.Series(texts))
    assert masked.to_list()[:2] == [
        "市民冯**来电反映楼上漏水，经核实冯**反映属实，要求冯**家尽快处理。",
        "市民司马*来电，司马*说小区门口占道经营。",
    ]
    # whether or not the recognizers mask the surname of 王先生, the 王 of 王府井 stays
    assert masked[2] in ("王先生反映王府井大街噪音", "*先生反映王府井大街噪音")
    assert counts["PERSON"] == 5 + masked[2].startswith("*")  # each mention counts


def test_presidio_masks_every_mention_as_the_column_path_does() -> None:
    fake = Faker("zh_CN")
    fake.seed_instance(20261002)
    names = [fake.name() for _ in range(60)]
    texts = [
        f"市民{name}来电反映{fake.street_name()}噪音，经核实{name}反映属实，{name}要求回复。"
        for name in names
    ]
    masked = scan_text_column(pl.Series(texts))[0].to_list()
    assert masked == [presidio_mask_text(text) for text in texts]
    found = [
        (name, out) for name, out in zip(names, masked, strict=True) if not out.startswith(f"市民{name}")
    ]
    assert len(found) >= 50  # the cue reveals most names
    assert not any(name in out for name, out in found)  # and then every mention of each is masked


def test_mask_in_rows_hides_each_rows_own_values_where_they_stand_in_the_raw_text() -> None:
    raw = pl.Series(
        "t",
        [
            "住幸福路12号1室，幸福路12号1室漏水",
            "幸福路12号1室",
            None,
            "楼下司徒秋白家",
            "本人王建国",
            "本人王建国，王建国说",
        ],
    )
    # as the recognizers masked it: 秋白 found alone in row 3, 王建国 as its mask would in row 4,
    # and more than its mask would (every character) in row 5
    masked = pl.Series("t", [*raw[:3], "楼下司徒秋*家", "本人王**", "本人***，***说"], dtype=pl.String)
    literals = pl.DataFrame(
        {
            "row": [0, 0, 2, 3, 4, 5],
            "value": ["12号", "幸福路12号1室", "幸福", "司徒秋白", "王建国", "王建国"],
            "mask": ["***", "幸福路******", "**", "司徒**", "王**", "王**"],
            "label": ["short", "address", "short", "name", "name", "name"],
        }
    )
    out, counts = mask_in_rows(raw, masked, literals)
    assert out.name == "t"
    assert out.to_list() == [
        "住幸福路******，幸福路******漏水",
        "幸福路12号1室",  # row 1 has no values of its own
        None,
        "楼下司徒**家",  # what the finding left of the name is hidden too
        "本人王**",
        "本人***，***说",  # what the recognizers hid stays hidden
    ]
    # the longer value first: the shorter one inside it is hidden with it, and not counted again;
    # names the recognizers had hidden already are not counted either
    assert counts == {"address": 2, "name": 1}
    assert raw[0] == "住幸福路12号1室，幸福路12号1室漏水" and masked[3] == "楼下司徒秋*家"  # inputs stay


@pytest.fixture
def recognize(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    """Stand-in recognizers, entity -> regex, for the tests of the rules themselves: the real ones
    are being taught more names (a test here must not pass or fail with what they learn)."""

    def install(patterns: dict[str, str]) -> None:
        compiled = [(entity, re.compile(pattern)) for entity, pattern in patterns.items()]

        def find(text: str) -> list[Finding]:
            found = (Finding(e, m.start(), m.end(), 0.85) for e, rx in compiled for m in rx.finditer(text))
            return sorted(found, key=by_position)

        def transform_texts(texts: pl.Series, transform: Callable, *_: object, **__: object) -> dict:
            return {t: transform(t, f) for t in texts.drop_nulls().unique().to_list() if (f := find(t))}

        def scan_texts(texts: pl.Series, entities: Collection[str] | None = None, **_: object) -> dict:
            kept = {
                t: [f for f in find(t) if entities is None or f.type in entities] for t in texts.drop_nulls()
            }
            return {t: f for t, f in kept.items() if f}

        monkeypatch.setattr(masking, "transform_texts", transform_texts)
        monkeypatch.setattr(leaks, "scan_texts", scan_texts)

    return install


CUED_NAME = "(?:(?<=市民)|(?<=来电人))[\u4e00-\u9fff]{3}"

# 31 hotline rows: the first on a street of its own (withheld for 5-anonymity), then 30 on one street;
# each row's caller has an unusual name and a number off the number plan.
NAMES = ["欧阳春晓", "司徒秋白", "上官映雪", "皇甫星河", "慕容晚晴", "东方既白"]


def _phone(i: int) -> str:
    return f"140{i:08d}"  # no mobile segment 140: not a phone to CN_MOBILE


def _hotline(rows: int = 31) -> pl.DataFrame:
    names = [NAMES[i % len(NAMES)] for i in range(rows)]
    return pl.DataFrame(
        {
            "work_order_id": [f"GD20261001{i:06d}" for i in range(rows)],
            "caller_name": names,
            "caller_phone": [_phone(i) for i in range(rows)],
            "caller_id_number": ["11010519491231002X"] * rows,
            "complaint_text": [
                f"楼下{name}家装修噪音扰民，请回电{_phone(i)}。" for i, name in enumerate(names)
            ],
            "address": ["海淀区学院路5号"] + [f"朝阳区建国路{i}号" for i in range(1, rows)],
        }
    )


def test_a_rows_own_personal_values_are_masked_in_its_text(
    catalog: Catalog, recognize: Callable[[dict[str, str]], None]
) -> None:
    recognize({})  # no recognizer finds anything
    hotline = catalog.get("hotline_12345")
    frame = _hotline()
    result = desensitise(frame, hotline, KEY)
    assert result.withheld.to_list() == [0]  # so shared row i is input row i + 1
    texts = result.frame.get_column("complaint_text").to_list()
    assert texts == [
        f"楼下{mask_value('person_name', frame.item(i, 'caller_name'))}家装修噪音扰民，请回电*******{i:04d}。"
        for i in range(1, 31)
    ]
    assert result.counts["complaint_text:cross_column"] == 60  # a name and a phone in each row
    # the gate, given the raw values of the rows shared, finds nothing left
    assert find_leaks(result.frame, hotline, personal_values(frame, hotline, result.withheld)) == []


def test_a_finding_over_part_of_a_value_leaves_none_of_it(
    catalog: Catalog, recognize: Callable[[dict[str, str]], None]
) -> None:
    recognize({"PERSON": "秋白"})  # found alone, the end of 司徒秋白
    result = desensitise(_hotline(), catalog.get("hotline_12345"), KEY)
    texts = result.frame.get_column("complaint_text").to_list()
    assert texts[0] == "楼下司徒**家装修噪音扰民，请回电*******0001。"


def test_a_full_width_spelling_of_a_value_is_the_value(
    catalog: Catalog, recognize: Callable[[dict[str, str]], None]
) -> None:
    recognize({})
    wide = str.maketrans("0123456789", "０１２３４５６７８９")
    texts = [f"回电{_phone(i).translate(wide)}" for i in range(31)]
    frame = _hotline().with_columns(complaint_text=pl.Series(texts))
    shared = desensitise(frame, catalog.get("hotline_12345"), KEY).frame
    assert shared.get_column("complaint_text").to_list() == [f"回电*******{i:04d}" for i in range(1, 31)]


def test_names_found_in_one_free_text_column_are_masked_in_the_rows_others(
    catalog: Catalog, recognize: Callable[[dict[str, str]], None]
) -> None:
    recognize({"PERSON": CUED_NAME})  # names after 市民 or 来电人 only
    boston = catalog.get("boston311_requests")  # two scanned columns, no k-anonymity
    frame = pl.DataFrame(
        {
            "case_enquiry_id": ["101", "102", "103"],
            "case_title": [
                "市民冯辉金来电反映路灯损坏",
                "市民司马青来电反映路灯损坏",
                "经核实李春花反映属实",
            ],
            "closure_reason": [
                "经核实冯辉金反映属实，已修复",
                "经核实冯辉金反映属实，已修复",
                "已联系来电人李春花",
            ],
        }
    )
    result = desensitise(frame, boston, KEY)
    assert result.frame.get_column("closure_reason").to_list() == [
        "经核实冯**反映属实，已修复",  # found in the row's title
        "经核实冯辉金反映属实，已修复",  # found in another row's title only: not this row's
        "已联系来电人李**",
    ]
    assert result.frame.get_column("case_title").to_list() == [
        "市民冯**来电反映路灯损坏",
        "市民司马*来电反映路灯损坏",
        "经核实李**反映属实",  # found in the row's closure reason, a column further on
    ]
    assert result.counts["closure_reason:PERSON"] == 2 and result.counts["case_title:PERSON"] == 3


def test_the_gate_reports_a_raw_personal_value_left_in_text(
    catalog: Catalog, recognize: Callable[[dict[str, str]], None]
) -> None:
    recognize({})
    hotline = catalog.get("hotline_12345")
    frame = _hotline()
    result = desensitise(frame, hotline, KEY)
    personal = personal_values(frame, hotline, result.withheld)
    # planted after masking, as a failing masking pass would leave them: shared row j is input row j + 1
    planted = result.frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 4)
        .then(pl.lit(f"请回电{_phone(5)}"))
        .when(pl.int_range(pl.len()) == 7)
        .then(pl.lit(f"楼下{frame.item(8, 'caller_name')}家又在装修，{frame.item(8, 'caller_name')}说"))
        .otherwise(pl.col("complaint_text"))
        .alias("complaint_text")
    )
    assert find_leaks(planted, hotline) == []  # the recognizers see nothing
    assert find_leaks(planted, hotline, personal) == [
        Leak("complaint_text", "CROSS_COLUMN:caller_name", 1, "楼下上官**家又在装修，上官**说"),
        Leak("complaint_text", "CROSS_COLUMN:caller_phone", 1, "请回电*******0005"),
    ]
    # the same value in another row's text is no leak of this row
    elsewhere = result.frame.with_columns(pl.lit(f"请回电{_phone(5)}").alias("complaint_text"))
    assert [(leak.entity, leak.rows) for leak in find_leaks(elsewhere, hotline, personal)] == [
        ("CROSS_COLUMN:caller_phone", 1)
    ]
    with pytest.raises(ValueError, match="rows"):
        find_leaks(planted, hotline, personal_values(frame, hotline))  # withheld rows not left out


def test_a_dataset_with_nothing_personal_has_nothing_to_look_for(catalog: Catalog) -> None:
    sensors = catalog.get("iot_sensor_readings")
    frame = pl.DataFrame({"remark": ["传感器离线"]})
    assert personal_values(frame, sensors).width == 0
    assert find_leaks(frame, sensors, personal_values(frame, sensors)) == []


def test_a_value_its_mask_leaves_as_it_is_is_neither_counted_nor_a_leak(
    catalog: Catalog, recognize: Callable[[dict[str, str]], None]
) -> None:
    recognize({})
    hotline = catalog.get("hotline_12345")
    # an address that ends at its street is shown whole by its mask: a street alone locates no one
    frame = _hotline().with_columns(
        address=pl.lit("朝阳区建国路"), complaint_text=pl.lit("朝阳区建国路路灯不亮")
    )
    result = desensitise(frame, hotline, KEY)
    assert set(result.frame.get_column("complaint_text")) == {"朝阳区建国路路灯不亮"}
    assert "complaint_text:cross_column" not in result.counts
    assert find_leaks(result.frame, hotline, personal_values(frame, hotline, result.withheld)) == []


def test_a_value_a_recognizer_found_is_reported_once(
    catalog: Catalog, recognize: Callable[[dict[str, str]], None]
) -> None:
    recognize({"PERSON": "(?<=本人)王建国", "CN_MOBILE": "1[3-9][0-9]{9}"})
    hotline = catalog.get("hotline_12345")
    frame = pl.DataFrame(
        {
            "caller_name": ["王建国"],
            "caller_phone": ["13812345678"],
            "complaint_text": ["本人王建国，电话13812345678，反映噪音。"],
        }
    )
    found = find_leaks(frame.select("complaint_text"), hotline, personal_values(frame, hotline))
    assert sorted(leak.entity for leak in found) == ["CN_MOBILE", "PERSON"]  # no CROSS_COLUMN besides


def test_a_planted_personal_value_blocks_publication(tmp_path: Path) -> None:
    """With the real recognizers, in the pipeline: found by them or by the cross-column check, the
    caller's name in a text shared as it is blocks the delivery."""
    platform = _leaky_platform(tmp_path)  # the complaint text shared as it is
    hotline = platform.catalog.get("hotline_12345")
    rows = [valid_row(platform.dictionary, i) for i in range(1, 9)]
    for row in rows:
        row["来电人"] = "欧阳春晓"
        row["诉求内容"] = "楼下欧阳春晓家装修噪音扰民。"
    summary = pipeline.ingest_file(platform, hotline.name, write_hotline(tmp_path / "a.csv", rows, hotline))
    assert summary.status == "blocked"
    with platform.metadata.session() as s:
        delivery = s.get(Delivery, summary.delivery_id)
        assert delivery is not None and delivery.error is not None
        assert delivery.error.startswith("blocked by pii_leak: complaint_text: 8 ")
        assert "欧阳春晓" not in delivery.error
    platform.metadata.dispose()
