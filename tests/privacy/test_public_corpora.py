"""The public NER corpora (``tests/fixtures/public_ner.py``) load as their publishers count them, with
offsets that point at the mentions, and the matching that scores detectors on them counts right."""

from __future__ import annotations

import json
import re

import pytest

from tests.fixtures.public_ner import (
    ADDRESS,
    CORPORA,
    DATA_DIR,
    PERSON,
    PRF,
    Label,
    Sample,
    cluener,
    cluener_addresses,
    covers_half,
    exact_matches,
    msra,
    numbered,
    overlap_matches,
    score,
    street_level,
    weibo,
)


def _mentions(samples: list[Sample], entity: str) -> list[str]:
    return [s.text[e.start : e.end] for s in samples for e in s.entities if e.type == entity]


# --- loaders -----------------------------------------------------------------------------------


def test_the_data_is_read_in_place_outside_the_project() -> None:
    assert DATA_DIR.parts[-3:] == ("shared", "data", "ner")
    assert (DATA_DIR / "cluener" / "train.json").is_file()
    assert set(CORPORA) == {"cluener", "weibo", "msra"}
    assert {kind for _, kind in CORPORA.values()} == {"fiction/news mix", "social media", "news"}


def test_cluener_counts_as_sources_md_states() -> None:
    samples = cluener()
    assert len(samples) == 10_748
    assert len({s.id for s in samples}) == 10_748
    assert len(_mentions(samples, PERSON)) == 3_755
    addresses = cluener_addresses()
    assert len(addresses) == 2_891
    street = [a for a in addresses if a.street_level]
    assert len(_mentions(samples, ADDRESS)) == len(street)
    assert 400 < len(street) < 700  # street-level is a minority of CLUENER's places


def test_cluener_offsets_round_trip_to_the_mentions() -> None:
    samples = {s.id: s for s in cluener()}
    for address in cluener_addresses():
        assert samples[address.sample].text[address.start : address.end] == address.text
    path = DATA_DIR / "cluener" / "train.json"
    decoder, text = json.JSONDecoder(), path.read_text(encoding="utf-8")
    first, _ = decoder.raw_decode(text, text.index("{"))
    sample = samples["cluener-train-0"]
    assert sample.text == first["text"]
    for mention, spans in first["label"]["name"].items():
        for start, end in spans:
            assert Label(PERSON, start, end + 1) in sample.entities
            assert sample.text[start : end + 1] == mention
    assert _mentions([sample], PERSON) == ["叶老桂"]


def test_cluener_person_mentions_are_names() -> None:
    names = _mentions(cluener(), PERSON)
    assert all(name.strip() == name and name for name in names)
    assert "叶老桂" in names
    chinese = [name for name in names if re.fullmatch("[\u4e00-\u9fff]{2,4}", name)]
    assert len(chinese) == 3_068  # the rest: transliterations (·), Latin names, a few quirks
    # labels kept as published, brackets and all
    assert "（charles" in names and "【吴海花】" in names


def test_msra_labels_bare_surnames() -> None:
    """MSRA tags a surname alone as PER (吴先生, 刘某, 张的丈夫): 66 of its 1,203 names, which the
    product does not count as names."""
    samples = {s.id: s for s in msra()}
    assert _mentions([samples["msra-val-48"]], PERSON) == ["吴"]
    assert sum(len(name) == 1 for name in _mentions(list(samples.values()), PERSON)) == 66


def test_weibo_counts_and_per_nom_left_out() -> None:
    samples = weibo()
    assert len(samples) == 1_350
    names = _mentions(samples, PERSON)
    # 574 B-PER.NAM chunks, and 4 that start with I-PER.NAM (as conlleval reads them)
    assert len(names) == 578
    path = DATA_DIR / "weibo" / "weiboNER_2nd_conll.train"
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert sum(len(s.text) for s in samples) == len(lines) + 12  # twelve mangled emoji are two U+FFFD
    assert sum(line.endswith("B-PER.NOM") for line in lines) == 766
    for nominal in ("男友", "粉丝"):  # labelled PER.NOM in the file
        assert any(nominal in s.text for s in samples)
        assert nominal not in names


def test_weibo_digits_and_word_positions() -> None:
    """A token is the character then its position in its word (0 to 37): ``310`` is ``3`` at 10,
    ``20`` is ``2`` at 0, so digits in the text are read as one character each."""
    texts = {s.id: s.text for s in weibo()}
    assert "2013年侨联春晚http://t.cn/zYimvPe" in texts["weibo-train-451"]
    assert "#2013厦门购物节#" in texts["weibo-train-496"]
    assert "媒体揭秘360产品黑匣子" in texts["weibo-train-498"]


def test_weibo_spot_checks() -> None:
    first = weibo()[0]
    assert first.text.startswith("科技全方位资讯智能")
    names = _mentions(weibo(), PERSON)
    assert "痞子" in names and "浪子" in names  # @痞子-浪子: two chunks around an O
    assert all("\ufffd" not in name for name in names)


def test_msra_counts_and_spot_checks() -> None:
    samples = msra()
    assert len(samples) == 3_000
    assert len(_mentions(samples, PERSON)) == 1_203
    assert samples[0].text.startswith("近日在江苏如皋市城西乡，１０００多个品种")  # full-width digits kept
    assert all(" " not in s.text for s in samples)
    assert all(e.type == PERSON for s in samples for e in s.entities)


# --- street-level addresses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "mention",
    [
        "海淀区中关村大街27号",
        "衡阳市仙姬巷28号",
        "建国路",
        "郑州市中原区须水镇西岗村",
        "杭州丁桥辰秀嘉苑12幢1单元",
        "深圳市龙岗区坂田街道吉华路555号济通大厦308",
        "湖南省衡阳市雁峰区黄茶岭街道黄路179号",
        "金陵小区",
        "上海市虹口区甜爱支路23号2楼",
    ],
)
def test_street_level(mention: str) -> None:
    assert street_level(mention)


@pytest.mark.parametrize(
    "mention",
    [
        "北京市海淀区",
        "美国",
        "徐汇区天平街道",
        "海淀区学院路街道",  # a sub-district named after a road
        "北太平庄街道",
        "石家庄市",
        "江西省余干县",
        "禾木乡",
        "新德里",
        "耶路撒冷",
        "丰台区区委办公室",  # 室 without a number
        "京港地铁4号线枣园站",  # a metro line is no house number
        "北海道",
        "关中农村",
    ],
)
def test_not_street_level(mention: str) -> None:
    assert not street_level(mention)


def test_numbered() -> None:
    assert numbered("南京路86号") and numbered("蓝桥名苑10幢1单元") and numbered("青蓝大厦一楼")
    assert not numbered("南京路") and not numbered("五角大楼")


# --- matching ------------------------------------------------------------------------------------


def test_exact_matches_are_one_to_one() -> None:
    assert exact_matches([(0, 2), (5, 8)], [(5, 8), (0, 3)]) == [(1, 0)]
    assert exact_matches([(0, 2)], [(0, 2), (0, 2)]) == [(0, 0)]
    assert exact_matches([(0, 2), (0, 2)], [(0, 2)]) == [(0, 0)]
    assert exact_matches([], [(0, 2)]) == []


def test_overlap_needs_half_of_the_gold_span() -> None:
    assert covers_half((0, 4), (2, 9))  # 2 of 4: exactly half
    assert not covers_half((0, 4), (3, 9))  # 1 of 4
    assert covers_half((0, 3), (1, 5))  # 2 of 3
    assert not covers_half((0, 3), (2, 5))  # 1 of 3: just below half
    assert not covers_half((0, 3), (3, 5))  # touching is no overlap
    assert covers_half((2, 4), (0, 10))  # a long finding covers a short name
    assert covers_half((0, 1), (0, 1))


def test_overlap_matches_are_one_to_one_and_as_many_as_possible() -> None:
    # one finding over two names matches one of them
    assert len(overlap_matches([(0, 2), (2, 4)], [(0, 4)])) == 1
    # one name found twice matches once
    assert len(overlap_matches([(0, 4)], [(0, 2), (2, 4)])) == 1
    # a greedy choice of (0, 4) for the first name would leave the second unmatched
    assert overlap_matches([(0, 2), (2, 4)], [(0, 4), (0, 2)]) == [(0, 1), (1, 0)]
    assert overlap_matches([(0, 2)], [(5, 7)]) == []


def test_score_counts_both_matchings_per_entity() -> None:
    samples = [
        Sample(
            "a",
            "与张三李四见面，住建国路88号",
            (Label(PERSON, 1, 3), Label(PERSON, 3, 5), Label(ADDRESS, 9, 15)),
        ),
        Sample("b", "王五", (Label(PERSON, 0, 2),)),
    ]
    findings = [
        [Label(PERSON, 1, 3), Label(PERSON, 4, 6), Label(ADDRESS, 8, 15)],
        [Label(PERSON, 0, 1), Label(ADDRESS, 0, 2)],
    ]
    person = score(samples, findings, PERSON)
    assert person.exact == PRF(gold=3, found=3, matched=1)
    assert person.overlap == PRF(gold=3, found=3, matched=3)  # 李四 half covered, 王 half of 王五
    assert person.exact.precision == pytest.approx(1 / 3) and person.exact.recall == pytest.approx(1 / 3)
    assert person.overlap.f1 == 1.0
    address = score(samples, findings, ADDRESS)
    assert address.exact == PRF(1, 2, 0) and address.overlap == PRF(1, 2, 1)
    assert address.overlap.precision == 0.5 and address.overlap.recall == 1.0
    assert address.overlap.f1 == pytest.approx(2 / 3)


def test_prf_edges() -> None:
    assert PRF(0, 0, 0).precision == 1.0 and PRF(0, 0, 0).recall == 1.0
    assert PRF(5, 0, 0).precision == 1.0 and PRF(5, 0, 0).recall == 0.0 and PRF(5, 0, 0).f1 == 0.0
    with pytest.raises(ValueError):
        score([Sample("a", "x", ())], [], PERSON)
