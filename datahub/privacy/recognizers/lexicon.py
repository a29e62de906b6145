"""What the Chinese text recognizers know of the language: surnames, given-name characters, place words.

Everything here either is a short, stable fact declared in this file (the common surnames, the
words that name a road or a building) or is read on first use from dictionaries that ship inside
packages, so nothing is downloaded:

- jieba's ``dict.txt`` (349,046 words with frequencies and part-of-speech tags): the characters that
  follow a common surname in words tagged ``nr`` (person name) are the given-name characters; its
  words of two or more characters tell where a place name starts (``人民`` of ``市民反映人民路``).
- zhconv's ``zhcdict.json``: the traditional characters with a one-character simplified form.

:func:`fold` maps a text character for character (full-width digits and letters to ASCII, traditional to
simplified), so offsets into the folded text are offsets into the original.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from importlib import resources

from datahub.privacy.recognizers.base import HAN

COMPOUND_SURNAMES: frozenset[str] = frozenset(
    [
        "欧阳",
        "司马",
        "诸葛",
        "上官",
        "司徒",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "夏侯",
        "令狐",
        "端木",
        "独孤",
        "南宫",
        "西门",
        "轩辕",
        "呼延",
        "钟离",
        "澹台",
        "太史",
        "申屠",
        "闻人",
        "赫连",
        "百里",
    ]
)
"""Two-character surnames (复姓) still in use."""

SURNAMES: frozenset[str] = frozenset(
    # The most common single-character surnames, which cover well over 90% of the population
    # (Ministry of Public Security household-registration rankings), in roughly that order.
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
    "裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄"
    "窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池"
    "查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆"
    "朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫"
    "杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧"
    "闭傅萧阎赖洪"
) - frozenset("区门楼来都但由时位")
"""Common single-character surnames, less those mostly written as words (区门楼来都但由时位)."""

HONORIFICS: tuple[str, ...] = (
    *("先生", "女士", "小姐", "师傅", "老师", "阿姨", "大爷", "大妈", "大姐", "大哥", "同志"),
    *("医生", "律师", "经理", "主任", "书记", "警官", "同学"),
)
"""Words that follow a person's name (张伟先生); with a surname alone (王先生) they name no one."""

TITLES: tuple[str, ...] = (
    *("局长", "处长", "科长", "股长", "厅长", "部长", "司长", "市长", "县长", "区长", "镇长", "乡长"),
    *("村长", "组长", "队长", "所长", "站长", "院长", "校长", "馆长", "厂长", "社长", "行长", "董事长"),
    *("总经理", "总监", "主席", "委员", "代表", "秘书", "会计", "护士", "教授", "博士", "法官", "检察官"),
    *("老板", "总", "工", "老", "叔", "婶", "姐", "哥", "伯", "爷", "奶奶"),
)
"""Titles and kin words that follow a surname as a form of address (王局长, 李总, 张姐); with
:data:`HONORIFICS`, what the surname-with-title policy looks for (the surname is masked, the title kept)."""

PERSON_CUES: tuple[str, ...] = (
    *("来电人", "联系人", "投诉人", "举报人", "反映人", "当事人", "申请人", "求助人", "报警人", "受害人"),
    *("委托人", "代理人", "收件人", "签收人", "经办人", "负责人", "承租人", "户主", "房东", "租户"),
    *("住户", "业主", "市民", "居民", "村民", "群众", "网友", "患者", "家属", "老人", "孩子", "儿子"),
    *("女儿", "丈夫", "妻子", "母亲", "父亲", "邻居", "同事", "员工", "司机", "姓名", "名叫", "我叫"),
    *("叫做", "本人", "网格员", "工作人员", "民警", "店主", "老板", "学生"),
)
"""Words after which a name follows (市民张伟, 联系人：赵敏)."""

WEAK_CUES: tuple[str, ...] = ("联系", "与", "和", "跟", "同", "对", "被", "找", "给", "让", "向")
"""Words a name often follows that many other words follow too (与王强发生纠纷, 对李楠的处理): a name
after them, or at the start of a sentence, must also end where a word starts."""

NAME_ENDS = frozenset("，。、；：,.;:！!？?（）() \t\r\n的家")
"""Characters that may follow a name found after a weak cue, besides the start of a frequent word."""

CUE_JOINERS = "：: 　为是叫"
"""What may stand between a cue and the name (联系人：赵敏, 来电人为李强)."""

NOT_GIVEN = frozenset(
    "某姓氏我你他她它们的了在是和与及或等说称向对被把将也又已曾都就还很把从到去来让给找请要想问"
)
"""Characters that end a name rather than continue it (市民张某, 业主向我们…, 王某某 names no one)."""

FOLLOWERS: tuple[str, ...] = (
    *(
        "反映",
        "反应",
        "来电",
        "致电",
        "来访",
        "投诉",
        "举报",
        "咨询",
        "求助",
        "表示",
        "称",
        "说",
        "诉求",
        "要求",
    ),
    *("希望", "认为", "发现", "告知", "报警", "家", "一家", "夫妇", "电话", "手机", "联系", "身份证", "证件"),
    *(
        "车辆",
        "驾驶",
        "居住",
        "租住",
        "购买",
        "办理",
        "申请",
        "现",
        "目前",
        "今天",
        "昨天",
        "近日",
        "多次",
        "因",
    ),
    *(
        "从",
        "于",
        "所",
        "的",
        "之",
        "在",
        "和",
        "与",
        "及",
        "等",
        "是",
        "向",
        "对",
        "被",
        "将",
        "把",
        "也",
        "又",
    ),
    *HONORIFICS,
)
"""Words that follow a name in complaint texts: a given name stops before them (市民张伟反映)."""

PLACE_UNITS: tuple[str, ...] = (
    *("大道", "大街", "胡同", "路", "街", "巷", "弄", "里", "道"),
    *("小区", "花园", "家园", "公寓", "新村", "社区", "大厦", "广场", "中心", "山庄", "别墅", "宿舍"),
    *("雅苑", "名苑", "花苑", "嘉园", "佳园", "华庭", "豪庭", "新城", "名城", "名都", "公馆", "华府"),
    *("苑", "园", "庭", "府", "城", "院", "村", "湾", "坊", "寓", "阁", "邸", "居"),
)
"""Words ending the name of a road, a lane or a residential compound (the longest that ends a name wins)."""

DIRECTIONS = "东西南北中"
"""Direction characters between a road's name and its unit (中山北路, 重庆东大道)."""

ADMIN_UNITS: tuple[str, ...] = (
    "自治区",
    "自治州",
    "街道",
    "新区",
    "省",
    "市",
    "州",
    "盟",
    "区",
    "县",
    "旗",
    "镇",
    "乡",
)
"""Words ending the name of an administrative area (GB/T 2260 levels and townships)."""

ADDRESS_PARTS: tuple[str, ...] = (
    "号院",
    "号楼",
    "号",
    "弄",
    "栋",
    "幢",
    "座",
    "单元",
    "室",
    "楼",
    "层",
    "组",
    "户",
    "门",
)
"""What follows a number in an address (88号, 3号楼, 2单元, 502室)."""

STOP = frozenset(
    "，。、；：:;,.!！?？（）()【】[]「」“”\"' \t\r\n　"
    "的了在是和与及或我你他她它们这那有被把将向对从到于住说称"
)
"""Characters a place name never holds: punctuation and words that come before an address (住在, 在)."""

# Full-width digits and letters (１３８, ＡＢ); full-width punctuation, in nearly every Chinese text,
# stays as it is, and the recognizers accept both forms of what they look for.
_FULL_WIDTH = {
    code: code - 0xFEE0 for code in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))
}


@functools.cache
def _fold_table() -> dict[int, int]:
    text = resources.files("zhconv").joinpath("zhcdict.json").read_text(encoding="utf-8")
    to_simplified = json.loads(text)["zh2Hans"]
    table = {ord(t): ord(s) for t, s in to_simplified.items() if len(t) == 1 and len(s) == 1 and t != s}
    return table | _FULL_WIDTH


@functools.cache
def _foldable() -> frozenset[str]:
    return frozenset(map(chr, _fold_table()))


@functools.lru_cache(maxsize=16)  # each recognizer folds the same text in turn
def fold(text: str) -> str:
    """``text`` with full-width digits, letters and hyphens made ASCII and traditional characters
    simplified, one for one (most texts have nothing to fold, as the set of their characters tells)."""
    return text if _foldable().isdisjoint(text) else text.translate(_fold_table())


@functools.cache
def _unfolded() -> dict[str, str]:
    """Every character and the characters that fold to it."""
    forms: dict[str, set[str]] = {}
    for original, folded in _fold_table().items():
        forms.setdefault(chr(folded), {chr(folded)}).add(chr(original))
    return {char: "".join(sorted(chars)) for char, chars in forms.items()}


def any_form(word: str) -> str:
    """A regex (for polars as well as Python) matching ``word`` in any form :func:`fold` maps onto it."""
    forms = _unfolded()
    return "".join(f"[{re.escape(forms[c])}]" if c in forms else re.escape(c) for c in word)


@functools.cache
def _jieba_words() -> dict[str, tuple[int, str]]:
    words: dict[str, tuple[int, str]] = {}
    with resources.files("jieba").joinpath("dict.txt").open(encoding="utf-8") as handle:
        for line in handle:
            word, frequency, tag = line.split()
            words[word] = (int(frequency), tag)
    return words


@functools.cache
def given_name_characters() -> frozenset[str]:
    """Characters that follow a surname in at least two of jieba's person names (tags ``nr``, ``nrt``,
    ``nrfg``)."""
    counts: Counter[str] = Counter()
    for word, (_, tag) in _jieba_words().items():
        if tag.startswith("nr") and 2 <= len(word) <= 4:
            counts.update(word[2:] if word[:2] in COMPOUND_SURNAMES else word[1:])
    han = re.compile(f"[{HAN}]")
    return frozenset(c for c, n in counts.items() if n >= 2 and c not in NOT_GIVEN and han.match(c))


@functools.cache
def common_words() -> frozenset[str]:
    """Frequent words that are not names (明天, 物业, 高度): a name candidate that is one is not a name."""
    return frozenset(
        word
        for word, (frequency, tag) in _jieba_words().items()
        if 2 <= len(word) <= 3 and frequency >= 300 and not tag.startswith("nr")
    )


@functools.cache
def known_words() -> frozenset[str]:
    """Words of two or three characters in jieba's dictionary that are not a private person's name:
    every word not tagged as a name, and the frequent ones tagged as names, which are words (谢谢,
    明白, 阳光) or the names of the famous."""
    return frozenset(
        word
        for word, (frequency, tag) in _jieba_words().items()
        if 2 <= len(word) <= 3 and (not tag.startswith("nr") or frequency >= 500)
    )


@functools.cache
def place_words() -> frozenset[str]:
    """Words of two to five characters that may name a place or start its name (nouns, places, names).

    Verbs, pronouns, adverbs and the like are left out, so ``反映`` never starts ``反映人民路``.
    """
    kept_tags = ("n", "ns", "nr", "nz", "nt", "a", "m", "s", "f", "j", "l", "i", "an", "ng", "nrt", "nrfg")
    return frozenset(
        word
        for word, (_, tag) in _jieba_words().items()
        if 2 <= len(word) <= 5 and tag in kept_tags and not (set(word) & STOP)
    )
