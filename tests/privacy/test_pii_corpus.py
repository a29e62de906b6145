"""The labelled PII evaluation corpus: reproducible, correctly spanned, and honest about its labels.

The checks are written against the conventions in ``tests/fixtures/pii_corpus.py`` and, wherever an
identifier has a check character, against python-stdnum rather than the generator's own code. The
validators are also run on deliberately broken samples, so that a check which can never fail shows up.
"""

from __future__ import annotations

import datetime
import ipaddress
import itertools
import json
import re
import time
import unicodedata
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest
from faker.providers.person.zh_CN import Provider as ZhPersonProvider
from stdnum import luhn, numdb
from stdnum.cn import ric, uscc

from tests.fixtures.pii_corpus import (
    ALL_TEMPLATES,
    COMPOUND_STEMS,
    COMPOUND_SURNAMES,
    ENTITY_TYPES,
    KINDS,
    ROAD_STEMS,
    TRAD_TABLE,
    Entity,
    Sample,
    generate,
    read_jsonl,
    write_jsonl,
)

N = 5000
MAX_SECONDS = 10.0

# Written out from the brief, independently of the generator's own list.
MOBILE_SEGMENTS = frozenset(
    str(p)
    for p in (
        *range(130, 140), *range(145, 150), 150, 151, 152, 153, *range(155, 160), 162, 165, 166, 167,
        *range(170, 179), *range(180, 190), 190, 191, 192, 193, *range(195, 200),
    )
)  # fmt: skip
PLATE_LETTER = "A-HJ-NP-Z"  # no I, no O
# Simplified, plus the traditional forms a traditional-character text writes them in.
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼滬雲遼魯蘇贛晉陝閩貴粵寧瓊"
# Ordinary (5 characters after the letter, optional "·" or space), small new-energy (D/F first),
# large new-energy (D/F last).
PLATE_BODY = (
    rf"[{PROVINCES}][{PLATE_LETTER}][· ]?"
    rf"(?:[{PLATE_LETTER}0-9]{{5}}|[DF][{PLATE_LETTER}0-9][0-9]{{4}}|[0-9]{{5}}[DF])"
)
PLATE = re.compile(rf"^{PLATE_BODY}$")
PLATE_IN_TEXT = re.compile(rf"(?<![A-Za-z0-9]){PLATE_BODY}(?![A-Za-z0-9])")
EMAIL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9._]*[A-Za-z0-9_])?@[a-z0-9-]+(?:\.[a-z0-9-]+)+$")
LANDLINE = re.compile(r"^(?:\(0\d{2,3}\)|0\d{2,3})[ -]?[2-8]\d{2,3} ?\d{4}$")
# Honorifics and titles after a surname (the personal-data policy: 王先生 labels 王, 李总 labels 李).
HONORIFICS = (
    "先生", "女士", "小姐", "师傅", "老师", "阿姨", "大爷", "大妈", "大姐", "大哥", "同志", "医生",
    "律师", "经理", "主任", "书记", "警官", "局长", "老板", "总",
)  # fmt: skip
CJK = re.compile(r"^[\u4e00-\u9fff]+$")
ADDRESS_END = re.compile(r"(?:[0-9]|[号號室栋棟幢楼樓座组組元])$")
# The end of a street-level place without a number: a road/street/lane, a compound or a village name.
STREET_END = re.compile(
    r"(?:路|街|大街|大道|巷|胡同|花园|家园|小区|新村|公寓|嘉园|名苑|华庭|雅苑|新城|村|[一二]期|东区|一区)$"
)
# Never an address on their own: cities, districts, towns, 街道, well-known areas, generic places.
NOT_ADDRESSES = (
    "朝阳区", "周口市", "金山街道", "白云区", "高新区", "张家港", "王府井", "刘家窑", "朱家角", "石景山",
    "宋庄", "高桥镇", "谢家湾", "吴江区", "杨浦区", "钱塘江", "所住小区", "附近小区", "小区", "老小区",
    "安置小区", "商业街", "城中村", "马路", "学校周边", "菜市场", "家门口", "公交站", "单位宿舍",
)  # fmt: skip
GENERIC_PLACE = re.compile(
    "所住小区|附近小区|老小区|安置小区|商业街|城中村|马路|学校周边|菜市场|家门口|公交站|某小区"
)
AFTER_ROAD = ("上", "沿线", "一带", "附近", "交叉口")
# Surnames (Faker's zh_CN list is where the corpus takes them from; compound ones from the corpus).
SURNAMES = frozenset(k for k in ZhPersonProvider.last_names if len(k) == 1)
ALL_SURNAMES = "|".join(sorted(COMPOUND_SURNAMES, key=len, reverse=True) + sorted(SURNAMES))
# 小/老 + a common surname; characters that also make ordinary words after 小/老 (小时, 老年) left out.
ADDRESS_FORM = re.compile(
    "[小老](?:王|李|张|刘|陈|杨|黄|吴|赵|周|徐|孙|马|朱|胡|林|郭|何|罗|郑|梁|谢|宋|唐|许|邓|冯|韩"
    "|曹|曾|彭|萧|蔡|潘|董|袁|余|叶|蒋|杜|苏|魏|程|吕|丁|沈|任|姚|卢|钟|姜|崔|谭|廖|范|汪|陆|贾|韦|夏|邱)"
)
_TO_SIMPLIFIED = {ord(trad): simp for simp, trad in TRAD_TABLE.items()}  # code point -> code point


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def simplified(text: str) -> str:
    """NFKC and the corpus' traditional characters mapped back, one character to one (offsets hold)."""
    return nfkc(text).translate(_TO_SIMPLIFIED)


def is_bare_surname(text: str) -> bool:
    return (len(text) == 1 and text in SURNAMES) or text in COMPOUND_SURNAMES


def _is_date(yyyymmdd: str) -> bool:
    try:
        datetime.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return True


def ric_valid(number: str) -> bool:
    """``stdnum.cn.ric.is_valid``; python-stdnum 2.2 raises KeyError for some prefecture prefixes."""
    try:
        return ric.is_valid(number)
    except KeyError:
        return False


# Province-level codes of python-stdnum's GB/T 2260 table (its unindented lines), and 83 (permits).
PROVINCE_PREFIXES = frozenset(
    re.findall(r"^(\d\d) ", (resources.files("stdnum.cn") / "loc.dat").read_text(encoding="utf-8"), re.M)
) | {"83"}


def id_like(number: str) -> bool:
    """An 18-digit number a resident-id recognizer may accept: stdnum-valid, or a province prefix, a
    real date and a matching check character (without stdnum's county-in-birth-year rule)."""
    n = number.upper()
    if len(n) != 18 or not n[:17].isdigit():
        return False
    return ric_valid(n) or (
        n[:2] in PROVINCE_PREFIXES and _is_date(n[6:14]) and n[17] == ric.calc_check_digit(n)
    )


def _known_county(region: str) -> bool:
    return any("county" in props for _, props in numdb.get("cn/loc").info(region))


# --------------------------------------------------------------------------------------------------
# Validators: each returns a list of problems (empty when the sample is fine).
# --------------------------------------------------------------------------------------------------


def span_problems(sample: Sample) -> list[str]:
    problems = []
    previous_end = 0
    for e in sample.entities:
        if e.type not in ENTITY_TYPES:
            problems.append(f"unknown type {e.type}")
        if not 0 <= e.start < e.end <= len(sample.text):
            problems.append(f"span out of range {e}")
        if sample.text[e.start : e.end] != e.text:
            problems.append(f"span text differs: {e.text!r} vs {sample.text[e.start : e.end]!r}")
        if e.text != e.text.strip():
            problems.append(f"label has surrounding space: {e.text!r}")
        if e.start < previous_end:
            problems.append(f"overlapping or unsorted label {e}")
        previous_end = max(previous_end, e.end)
    if sample.kind not in KINDS:
        problems.append(f"unknown kind {sample.kind}")
    if sample.kind == "negative" and sample.entities:
        problems.append("negative sample with labels")
    return problems


def entity_problems(e: Entity) -> list[str]:
    """Whether the labelled text really is what its type says, by the rules in the corpus docstring."""
    t = nfkc(e.text)
    ok = True
    if e.type == "CN_RESIDENT_ID":
        if len(t) == 18:
            ok = ric_valid(t)
        else:  # 15-digit pre-1999 number: county + YYMMDD + sequence
            ok = len(t) == 15 and t.isdigit() and _known_county(t[:6]) and _is_date("19" + t[6:12])
    elif e.type == "CN_USCC":
        ok = len(t) == 18 and uscc.is_valid(t)
    elif e.type == "CN_MOBILE":
        digits = re.sub(r"[ -]", "", t)
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
        ok = (
            not t.startswith("+") and len(digits) == 11 and digits.isdigit() and digits[:3] in MOBILE_SEGMENTS
        )
    elif e.type == "CN_LANDLINE":
        ok = bool(LANDLINE.match(t)) and 10 <= sum(c.isdigit() for c in t) <= 12
    elif e.type == "CN_BANK_CARD":
        digits = t.replace(" ", "")
        ok = (
            16 <= len(digits) <= 19
            and digits.isdigit()
            and luhn.is_valid(digits)
            and not id_like(digits)
            and not uscc.is_valid(digits)
            and digits.startswith(("62", "4", "5"))
        )
    elif e.type == "EMAIL_ADDRESS":
        ok = bool(EMAIL.match(t))
    elif e.type == "IP_ADDRESS":
        try:
            ipaddress.ip_address(t)
        except ValueError:
            ok = False
    elif e.type == "CN_LICENSE_PLATE":
        ok = bool(PLATE.match(t))
    elif e.type == "PERSON":
        s = simplified(t)
        # A full name, or a surname alone (whether an honorific or 小/老 stands by it: see
        # person_context_problems); never the honorific, 小/老 or a withheld 某 inside the label.
        ok = (
            (is_bare_surname(s) or 2 <= len(t) <= 4)
            and bool(CJK.match(t))
            and not s.endswith(HONORIFICS)
            and not s.startswith(("小", "老"))
            and "某" not in s
            and "姓" not in s[1:]
        )
    elif e.type == "CN_ADDRESS":
        s = simplified(t)
        numbered = any(c.isdigit() for c in t) and bool(ADDRESS_END.search(t))
        ok = (
            (numbered or bool(STREET_END.search(s)))
            and s not in NOT_ADDRESSES
            and not GENERIC_PLACE.search(s)
            and not s.endswith(AFTER_ROAD)
        )
    return [] if ok else [f"invalid {e.type}: {e.text!r}"]


def person_context_problems(sample: Sample) -> list[str]:
    """A surname alone is labelled only with an honorific/title after it or 小/老 before it, and no
    label stands before a withheld 某 / 姓男子."""
    text = simplified(sample.text)
    problems = []
    for e in sample.entities:
        if e.type != "PERSON":
            continue
        after, before = text[e.end :], text[: e.start]
        if is_bare_surname(simplified(e.text)) and not (
            after.startswith(HONORIFICS) or before.endswith(("小", "老"))
        ):
            problems.append(f"surname labelled without an honorific or 小/老: {e.text!r}")
        if after.startswith(("某", "姓")):
            problems.append(f"withheld name labelled: {text[e.start : e.end + 3]!r}")
    return problems


# Look-alikes in the text outside the labels (labels masked first, then NFKC).
RUN18 = re.compile(r"(?<![0-9A-Za-z])[0-9A-Z]{18}(?![0-9A-Za-z])")
RUN_CARD = re.compile(r"(?<!\d)\d{16,19}(?!\d)")
GROUPED_CARD = re.compile(r"(?<![\d ])\d{4}(?: \d{4}){3}(?: \d{1,4})?(?![\d])")
RUN15 = re.compile(r"(?<!\d)\d{15}(?!\d)")
MOBILE_LIKE = re.compile(r"(?<![\d+])(?:86[ -]?)?1\d{2}[ -]?\d{4}[ -]?\d{4}(?!\d)")
IPV4_LIKE = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
IPV6_LIKE = re.compile(r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Fa-f:])")
EMAIL_LIKE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
NUMBERED_ADDRESS = re.compile(r"(?:路|街|巷|胡同|弄|大道)\d+号|\d+(?:栋|幢|号楼)")
# A surname with an honorific or title (not after 某, which withholds it: 张某先生 is not generated).
SURNAME_HONORIFIC = re.compile(rf"(?<!某)(?:{ALL_SURNAMES})(?:{'|'.join(HONORIFICS)})")
# Named roads, compounds and villages without a number, from the corpus' own stems.
STREET_PLACE = re.compile(
    rf"(?:{'|'.join(ROAD_STEMS)})[东西南北中]?(?:路|大街|街|大道|巷|胡同|村)"
    rf"|(?:{'|'.join(COMPOUND_STEMS)})(?:花园|家园|小区|新村|公寓|嘉园|名苑|华庭|雅苑|新城)"
    r"|[\u4e00-\u9fff]家村|李村|黄河路|向阳花园|江南小区|翠苑一区"
)


def masked(sample: Sample) -> str:
    chars = list(sample.text)
    for e in sample.entities:
        chars[e.start : e.end] = "□" * (e.end - e.start)
    return nfkc("".join(chars))


def unlabelled_problems(sample: Sample) -> list[str]:
    """Valid-looking personal data left unlabelled: a wrong-check look-alike that actually checks out."""
    text = masked(sample)
    problems = []
    for m in RUN18.finditer(text):
        if id_like(m.group()) or uscc.is_valid(m.group()):
            problems.append(f"unlabelled valid resident id / USCC {m.group()}")
    for m in RUN_CARD.finditer(text):
        if luhn.is_valid(m.group()):
            problems.append(f"unlabelled Luhn-valid number {m.group()}")
    for m in GROUPED_CARD.finditer(text):
        if luhn.is_valid(m.group().replace(" ", "")):
            problems.append(f"unlabelled Luhn-valid grouped number {m.group()}")
    for m in RUN15.finditer(text):
        if _known_county(m.group()[:6]) and _is_date("19" + m.group()[6:12]):
            problems.append(f"unlabelled 15-digit resident id look-alike {m.group()}")
    for m in MOBILE_LIKE.finditer(text):
        digits = re.sub(r"[ -]", "", m.group())
        if digits[-11:][:3] in MOBILE_SEGMENTS:
            problems.append(f"unlabelled mobile {m.group()}")
    for pattern in (IPV4_LIKE, IPV6_LIKE):
        for m in pattern.finditer(text):
            try:
                ipaddress.ip_address(m.group())
            except ValueError:
                continue
            problems.append(f"unlabelled IP address {m.group()}")
    problems += [f"unlabelled e-mail {m.group()}" for m in EMAIL_LIKE.finditer(text)]
    problems += [f"unlabelled plate {m.group()}" for m in PLATE_IN_TEXT.finditer(text)]
    problems += [f"unlabelled numbered address {m.group()}" for m in NUMBERED_ADDRESS.finditer(text)]
    # The personal-data policy: a surname by an honorific or as 小王/老李, and a named road, compound or
    # village (number or not) are personal data.
    simple = text.translate(_TO_SIMPLIFIED)
    problems += [f"unlabelled surname with honorific {m.group()}" for m in SURNAME_HONORIFIC.finditer(simple)]
    problems += [f"unlabelled 小/老 + surname {m.group()}" for m in ADDRESS_FORM.finditer(simple)]
    problems += [f"unlabelled street-level place {m.group()}" for m in STREET_PLACE.finditer(simple)]
    return problems


def all_problems(sample: Sample) -> list[str]:
    problems = span_problems(sample) + unlabelled_problems(sample) + person_context_problems(sample)
    for e in sample.entities:
        problems += entity_problems(e)
    return problems


# --------------------------------------------------------------------------------------------------
# Tests.
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def timed_corpus() -> tuple[list[Sample], float]:
    started = time.perf_counter()
    samples = generate(N)
    return samples, time.perf_counter() - started


@pytest.fixture(scope="module")
def corpus(timed_corpus: tuple[list[Sample], float]) -> list[Sample]:
    return timed_corpus[0]


def test_generate_is_fast(timed_corpus: tuple[list[Sample], float]) -> None:
    samples, seconds = timed_corpus
    assert len(samples) == N
    assert seconds < MAX_SECONDS, f"generate({N}) took {seconds:.1f}s"


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    assert generate(400) == generate(400)
    assert generate(400, seed=7) == generate(400, seed=7)
    assert generate(400, seed=7) != generate(400)
    assert [s.text for s in generate(400, seed=7)] != [s.text for s in generate(400)]


def test_generation_uses_no_global_random_state() -> None:
    import random

    random.seed(1)
    first = generate(200)
    random.seed(2)
    assert generate(200) == first


def test_ids_unique_and_kinds_in_proportion(corpus: list[Sample]) -> None:
    assert len({s.id for s in corpus}) == N
    kinds = Counter(s.kind for s in corpus)
    assert 0.65 < kinds["complaint"] / N < 0.75
    assert 0.11 < kinds["trap"] / N < 0.19
    assert 0.11 < kinds["negative"] / N < 0.19
    no_labels = sum(not s.entities for s in corpus) / N
    assert 0.18 < no_labels < 0.32
    assert sum(len(s.entities) <= 4 for s in corpus) / N > 0.95
    assert any(s.kind == "trap" and s.entities for s in corpus)  # traps label the real entities they hold


def test_texts_look_like_work_orders(corpus: list[Sample]) -> None:
    lengths = [len(s.text) for s in corpus]
    assert sum(40 <= n <= 200 for n in lengths) / N > 0.75
    assert len(set(ALL_TEMPLATES)) >= 40
    assert len({s.text for s in corpus}) > 0.99 * N
    for mark in "，。：:、；()（） ":
        assert any(mark in s.text for s in corpus), mark
    traditional = sum(bool(re.search("[來電話號區聯樓]", s.text)) for s in corpus) / N
    fullwidth = sum(bool(re.search("[０-９]", s.text)) for s in corpus) / N
    assert 0.01 < traditional < 0.1
    assert 0.02 < fullwidth < 0.15


def test_spans_are_exact_and_do_not_overlap(corpus: list[Sample]) -> None:
    problems = [(s.id, p) for s in corpus for p in span_problems(s)]
    assert not problems, problems[:10]


def test_every_entity_type_occurs_often(corpus: list[Sample]) -> None:
    counts = Counter(e.type for s in corpus for e in s.entities)
    assert set(counts) == set(ENTITY_TYPES)
    rare = {t: counts[t] for t in ENTITY_TYPES if counts[t] < 100}
    assert not rare, rare


def test_every_label_is_valid_for_its_type(corpus: list[Sample]) -> None:
    problems = [(s.id, p) for s in corpus for e in s.entities for p in entity_problems(e)]
    assert not problems, problems[:10]


def test_identifier_checks_against_stdnum(corpus: list[Sample]) -> None:
    """The brief's explicit checks, spelled out: ids, USCCs and cards verified with python-stdnum."""
    by_type: dict[str, list[str]] = {t: [] for t in ENTITY_TYPES}
    for s in corpus:
        for e in s.entities:
            by_type[e.type].append(e.text)
    ids18 = [nfkc(t) for t in by_type["CN_RESIDENT_ID"] if len(t) == 18]
    assert ids18 and all(ric.is_valid(t) for t in ids18)  # (no KeyError wrapper: these must be valid)
    assert any(t.endswith("x") for t in by_type["CN_RESIDENT_ID"])  # lowercase check char
    assert any(re.search("[０-９]", t) for t in by_type["CN_RESIDENT_ID"])  # full-width
    assert sum(len(t) == 15 for t in by_type["CN_RESIDENT_ID"]) >= 20  # pre-1999 numbers
    assert all(uscc.is_valid(t) for t in by_type["CN_USCC"])
    cards = [nfkc(t).replace(" ", "") for t in by_type["CN_BANK_CARD"]]
    assert all(luhn.is_valid(c) and not ric_valid(c) for c in cards)
    assert {len(c) for c in cards} >= {16, 19}
    assert any(" " in t for t in by_type["CN_BANK_CARD"])


def test_label_conventions(corpus: list[Sample]) -> None:
    entities = [(s, e) for s in corpus for e in s.entities]
    mobiles = [e.text for _, e in entities if e.type == "CN_MOBILE"]
    assert any(s.text[e.start - 1 : e.start] == "+" and e.text.startswith("86") for s, e in entities)
    assert any(re.fullmatch(r"\d{3} \d{4} \d{4}", m) for m in mobiles)
    assert any(re.fullmatch(r"\d{3}-\d{4}-\d{4}", m) for m in mobiles)
    landlines = [e.text for _, e in entities if e.type == "CN_LANDLINE"]
    assert any(t.startswith(("(", "（")) for t in landlines)
    assert any(s.text[e.end : e.end + 1] == "转" for s, e in entities if e.type == "CN_LANDLINE")
    ips = [e.text for _, e in entities if e.type == "IP_ADDRESS"]
    assert any("::" in ip for ip in ips) and any(ip.count(":") == 7 for ip in ips)
    plates = [e.text for _, e in entities if e.type == "CN_LICENSE_PLATE"]
    assert any(len(p) == 8 and p[2] in "DF" for p in plates) and any(
        len(p) == 8 and p[-1] in "DF" for p in plates
    )
    assert any("·" in p for p in plates)
    persons = [(s, e) for s, e in entities if e.type == "PERSON"]
    full_names = [(s, e) for s, e in persons if not is_bare_surname(simplified(e.text))]
    names = [e.text for _, e in full_names]
    assert {len(n) for n in names} >= {2, 3, 4}
    assert any(n.startswith(COMPOUND_SURNAMES) for n in names)
    # An honorific after a full name stays outside the label (张伟先生 labels 张伟).
    assert any(s.text[e.end : e.end + 2] in HONORIFICS for s, e in full_names)
    # Some names stand with no cue word at all (the brief asks for about one in ten).
    cues = (
        "民",
        "人",
        "主",
        "户",
        "叫",
        "名",
        "居",
        "邻",
        "东",
        "板",
        "员",
        "机",
        "父",
        "者",
        ":",
        "：",
        "，",
    )
    no_cue = sum(
        1
        for s, e in full_names
        if not s.text[: e.start].endswith(cues) and not s.text[e.end :].startswith(HONORIFICS)
    )
    assert 0.05 < no_cue / len(names) < 0.2, no_cue / len(names)
    addresses = [e.text for _, e in entities if e.type == "CN_ADDRESS"]
    assert any(re.search("[市区]", a[:6]) for a in addresses)  # city/district included when written
    assert any(re.search("[室]$", a) for a in addresses) and any(a.endswith("号") for a in addresses)


def test_no_valid_identifier_is_left_unlabelled(corpus: list[Sample]) -> None:
    """Trap look-alikes really fail their checks, and no real identifier hides in unlabelled text."""
    problems = [(s.id, p) for s in corpus for p in unlabelled_problems(s)]
    assert not problems, problems[:10]


def test_traps_hold_each_kind_of_look_alike(corpus: list[Sample]) -> None:
    texts = [masked(s) for s in corpus if s.kind == "trap"]
    joined = "\n".join(texts)
    found = {
        "work order": len(re.findall(r"(?:GD|WO)\d{16}", joined)),
        "hotline": len(re.findall(r"(?<!\d)(?:12345|110|119|120|12315)(?!\d)", joined)),
        "wrong-check id": sum(
            1
            for m in RUN18.finditer(joined)
            if m.group()[:17].isdigit() and _known_county(m.group()[:6]) and not ric_valid(m.group())
        ),
        "wrong-check USCC": sum(
            1
            for m in RUN18.finditer(joined)
            if uscc.compact(m.group())[:2] in {"91", "92", "93", "11", "12", "51", "52"}
        ),
        "Luhn-failing card": sum(
            1
            for m in [*RUN_CARD.finditer(joined), *GROUPED_CARD.finditer(joined)]
            if m.group().startswith(("62", "4", "5")) and not luhn.is_valid(m.group().replace(" ", ""))
        ),
        "unassigned mobile": sum(
            1
            for m in MOBILE_LIKE.finditer(joined)
            if re.sub(r"[ -]", "", m.group())[:3] not in MOBILE_SEGMENTS
        ),
        "invalid dotted quad": len(IPV4_LIKE.findall(joined)),
        "version string": len(re.findall(r"(?<![\d.])[vV]?\d+\.\d+(?:\.\d+)?(?![\d.])", joined)),
        "e-mail without TLD": len(re.findall(r"[A-Za-z0-9._]+@[A-Za-z0-9-]+(?![.A-Za-z0-9-])", joined)),
        "bad plate": len(
            re.findall(rf"[{PROVINCES}][A-Z][A-Z0-9]*[IO][A-Z0-9]*|[{PROVINCES}][A-Z]\d{{4}}(?!\d)", joined)
        ),
        "surname place": len(re.findall("张家港|王府井|周口市|金山街道|白云区|刘家窑|朱家角|石景山", joined)),
        "district alone": len(re.findall(r"(?<![小东一])区(?:居民|多处路段|某小区)", joined)),
        "generic place": len(GENERIC_PLACE.findall(joined)),
        "withheld name": len(re.findall("某|姓男子|姓女子", joined)),
    }
    scarce = {k: v for k, v in found.items() if v < 15}
    assert not scarce, found


def test_surname_with_honorific_or_title_labels_the_surname(corpus: list[Sample]) -> None:
    """王先生 labels 王 (not 先生), 慕容女士 labels 慕容, 小王/老李 label 王/李 (not 小/老)."""
    problems = [(s.id, p) for s in corpus for p in person_context_problems(s)]
    assert not problems, problems[:10]
    bare = [
        (simplified(s.text), e)
        for s in corpus
        for e in s.entities
        if e.type == "PERSON" and is_bare_surname(simplified(e.text))
    ]
    after = Counter(
        next(h for h in HONORIFICS if t[e.end :].startswith(h))
        for t, e in bare
        if t[e.end :].startswith(HONORIFICS)
    )
    assert {"先生", "女士", "师傅", "阿姨"} <= set(after), after
    assert len(set(after) & {"经理", "主任", "总", "医生", "律师", "书记", "警官", "局长"}) >= 4, after
    assert sum(after.values()) >= 300
    assert any(e.text in COMPOUND_SURNAMES and t[e.end :].startswith(HONORIFICS) for t, e in bare)
    assert sum(t[: e.start].endswith("小") for t, e in bare) >= 30
    assert sum(t[: e.start].endswith("老") for t, e in bare) >= 30
    assert any(t[e.start - 1 : e.start] not in "小老" and len(e.text) == 1 for t, e in bare)
    # A full name with an honorific is still labelled whole, the honorific outside.
    assert any(
        not is_bare_surname(e.text) and s.text[e.end :].startswith(("先生", "女士"))
        for s in corpus
        for e in s.entities
        if e.type == "PERSON"
    )
    # Negatives hold no surname with an honorific and no 小王/老李 at all.
    for s in corpus:
        if s.kind == "negative":
            text = simplified(s.text)
            assert not SURNAME_HONORIFIC.search(text) and not ADDRESS_FORM.search(text), s.text


def test_withheld_names_are_never_labelled(corpus: list[Sample]) -> None:
    """张某, 张某某 and 刘姓男子 withhold the name: nothing of them is labelled."""
    withheld = re.compile(rf"(?:{ALL_SURNAMES})(?:某某|某|姓男子|姓女子)")
    seen = Counter()
    for s in corpus:
        text = simplified(s.text)
        for m in withheld.finditer(text):
            seen[s.kind] += 1
            overlapping = [e for e in s.entities if e.start < m.end() and m.start() < e.end]
            assert not overlapping, (s.id, m.group(), overlapping)
        assert not any(e.type == "PERSON" and "某" in e.text for e in s.entities), s.id
    assert all(seen[k] >= 30 for k in KINDS), seen  # complaints, traps and negatives all hold some
    assert any("某某" in s.text for s in corpus) and any("姓男子" in s.text for s in corpus)


def test_roads_compounds_and_villages_without_number_are_labelled(corpus: list[Sample]) -> None:
    entities = [(simplified(s.text), e) for s in corpus for e in s.entities if e.type == "CN_ADDRESS"]
    unnumbered = [(t, e) for t, e in entities if not any(c.isdigit() for c in nfkc(e.text))]
    assert len(unnumbered) >= 300
    assert all(STREET_END.search(simplified(e.text)) for _, e in unnumbered)
    for suffix in ("路", "街", "巷", "花园", "小区", "村"):
        assert any(simplified(e.text).endswith(suffix) for _, e in unnumbered), suffix
    # A district written right before a road or compound is inside the label (朝阳区建国路).
    assert any(
        re.match(r"[\u4e00-\u9fff]{1,6}[区市][\u4e00-\u9fff]+(?:路|街|大道|巷|胡同)$", simplified(e.text))
        for _, e in unnumbered
    )
    assert any(
        re.match(
            r"[\u4e00-\u9fff]{1,6}区[\u4e00-\u9fff]+(?:花园|家园|小区|新村|公寓|嘉园|名苑|华庭|雅苑|新城|[一二]期|东区)$",
            simplified(e.text),
        )
        for _, e in unnumbered
    )
    # 上, 沿线, 一带, 附近 and 交叉口 stay outside; a crossing is two labels.
    for word in AFTER_ROAD:
        assert any(t[e.end :].startswith(word) for t, e in unnumbered), word
    assert all(not simplified(e.text).endswith(AFTER_ROAD) for _, e in entities)
    crossings = 0
    for s in corpus:
        text = simplified(s.text)
        labels = [e for e in s.entities if e.type == "CN_ADDRESS"]
        for a, b in itertools.pairwise(labels):
            if text[a.end : b.start] == "与" and text[b.end :].startswith("交叉口"):
                crossings += 1
    assert crossings >= 20
    # Named places from the trap lists: 黄河路, 李村, 何家村, 向阳花园, 江南小区 are labelled.
    labelled = {simplified(e.text) for _, e in entities}
    assert {"黄河路", "李村", "何家村", "向阳花园", "江南小区"} <= labelled


def test_cities_districts_and_generic_places_are_never_labelled(corpus: list[Sample]) -> None:
    """朝阳区, 周口市, 金山街道 alone, 张家港/王府井, 所住小区, 商业街, 马路… are no address."""
    labels = [simplified(e.text) for s in corpus for e in s.entities if e.type == "CN_ADDRESS"]
    assert not [t for t in labels if t in NOT_ADDRESSES or GENERIC_PLACE.search(t)]
    assert not [t for t in labels if re.search(r"(?:(?<![小东一])区|市|县|镇|街道)$", t)]
    joined = "\n".join(masked(s).translate(_TO_SIMPLIFIED) for s in corpus)
    for word in (
        "张家港",
        "王府井",
        "周口市",
        "金山街道",
        "白云区",
        "高新区",
        "所住小区",
        "商业街",
        "马路",
        "某小区",
    ):
        assert word in joined, word  # they do occur, unlabelled
    # A district alone, outside any label (a district before 居民 or 多处路段).
    assert re.search(r"[\u4e00-\u9fff]{1,5}区(?:居民|多处路段)", joined)


def test_jsonl_round_trip(corpus: list[Sample], tmp_path: Path) -> None:
    path = tmp_path / "pii.jsonl"
    write_jsonl(corpus[:500], path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 500
    first = json.loads(lines[0])
    assert set(first) == {"id", "text", "kind", "entities"}
    assert all(set(e) == {"type", "start", "end", "text"} for e in first["entities"])
    assert "\\u" not in path.read_text(encoding="utf-8")  # readable UTF-8, not escapes
    assert read_jsonl(path) == corpus[:500]


def test_validators_catch_broken_samples() -> None:
    """The checks above can fail: each of these broken samples is caught."""
    good = Sample(
        "x",
        "市民张伟来电，联系电话13812345678。",
        (Entity("PERSON", 2, 4, "张伟"), Entity("CN_MOBILE", 11, 22, "13812345678")),
        "complaint",
    )
    assert all_problems(good) == []
    shifted = Sample("x", good.text, (Entity("PERSON", 2, 5, "张伟"),), "complaint")
    overlapping = Sample(
        "x", good.text, (Entity("PERSON", 2, 4, "张伟"), Entity("PERSON", 3, 5, "伟来")), "complaint"
    )
    unlabelled_mobile = Sample("x", good.text, (Entity("PERSON", 2, 4, "张伟"),), "complaint")
    labelled_negative = Sample("x", good.text, good.entities, "negative")
    for broken in (shifted, overlapping, unlabelled_mobile, labelled_negative):
        assert all_problems(broken), broken
    bad_values = {
        "CN_RESIDENT_ID": "11010519491231002Y",
        "CN_USCC": "91350100M000100Y44",
        "CN_MOBILE": "15412345678",
        "CN_BANK_CARD": "6222021234567890129",
        "IP_ADDRESS": "256.1.1.1",
        "EMAIL_ADDRESS": "zhangwei@localhost",
        "CN_LICENSE_PLATE": "京AI2345",
        "PERSON": "王先生",
        "CN_ADDRESS": "朝阳区",
        "CN_LANDLINE": "12345",
    }
    for etype, value in bad_values.items():
        assert entity_problems(Entity(etype, 0, len(value), value)), etype
    for etype, value in (
        ("PERSON", "张某"),
        ("PERSON", "小王"),
        ("PERSON", "女士"),
        ("CN_ADDRESS", "周口市"),
        ("CN_ADDRESS", "金山街道"),
        ("CN_ADDRESS", "所住小区"),
        ("CN_ADDRESS", "建国路上"),
        ("CN_ADDRESS", "王府井"),
    ):
        assert entity_problems(Entity(etype, 0, len(value), value)), value
    for etype, value in (
        ("PERSON", "王"),
        ("PERSON", "慕容"),
        ("CN_ADDRESS", "建国路"),
        ("CN_ADDRESS", "朝阳区向阳花园"),
    ):
        assert not entity_problems(Entity(etype, 0, len(value), value)), value
    for text in (
        "身份证11010519491231002X",
        "卡号6222021234567890128",
        "邮箱a.b@163.com",
        "京A12345",
        "建国路88号",
        "王先生来电",
        "慕容女士反映",
        "小王称",
        "建国路上施工",
        "向阳花园门口",
    ):
        assert unlabelled_problems(Sample("x", text, (), "negative")), text
    for text in ("张某来电", "刘姓男子称", "朝阳区居民反映", "所住小区门口", "张家港一带", "王府井附近"):
        assert not unlabelled_problems(Sample("x", text, (), "negative")), text
    surname_ok = Sample("x", "王先生来电", (Entity("PERSON", 0, 1, "王"),), "complaint")
    assert all_problems(surname_ok) == []
    surname_alone = Sample("x", "与王发生纠纷", (Entity("PERSON", 1, 2, "王"),), "complaint")
    withheld = Sample("x", "张某来电", (Entity("PERSON", 0, 1, "张"),), "complaint")
    for broken in (surname_alone, withheld):
        assert person_context_problems(broken), broken
