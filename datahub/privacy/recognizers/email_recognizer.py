"""Recognizer for e-mail addresses, offline (EMAIL_ADDRESS)."""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import Pattern

from datahub.privacy.recognizers.base import DIGIT, NormalisedPatternRecognizer

_ALNUM = f"{DIGIT}A-Za-zＡ-Ｚａ-ｚ"
# What a local part holds besides letters and digits: _ % + - (ASCII and full width), and dots inside.
_LOCAL_FIRST = f"{_ALNUM}_%+\\-＿％＋－"
_LOCAL = f"{_LOCAL_FIRST}.．"
_LABEL = f"[{_ALNUM}](?:[{_ALNUM}\\-－]*[{_ALNUM}])?"
_TLD = "(?:[A-Za-zＡ-Ｚａ-ｚ]{2,63}|[XxＸｘ][NnＮｎ][\\-－]{2}" + f"[{_ALNUM}\\-－]+)"
_DOT = "[.．]"

_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TLD_SHAPE = re.compile(r"[A-Za-z]{2,63}|xn--[a-z0-9-]{1,59}", re.IGNORECASE)


class EmailRecognizer(NormalisedPatternRecognizer):
    """E-mail addresses in the practical subset of RFC 5322's ``addr-spec`` that people write.

    ``local@domain``: the local part is a dot-atom of letters, digits and ``_ % + -`` (RFC 5322's
    rarer atom characters ``! # $ & ' * / = ? ^ ` { | } ~`` and quoted local parts are not looked
    for), at most 64 characters, not starting or ending with a dot and without two dots in a row. The
    domain is a host name (RFC 1035 / RFC 1123): labels of letters, digits and hyphens, 1 to 63
    characters, not starting or ending with a hyphen, at most 253 characters in all, and a top-level
    label of two or more letters or an IDNA ``xn--`` label. Internationalised (Chinese) domain names
    and address literals (``user@[10.0.0.1]``) are not looked for.

    Everything is checked offline. Presidio's own ``EmailRecognizer`` validates with ``tldextract``,
    which fetches the public-suffix list over the network; it is not used.

    Accepted shapes: ``zhangwei@163.com`` inside Chinese text (``发送至zhangwei@163.com。`` matches
    the address alone), ``li.na+city@mail.example.gov.cn``, full-width letters, digits, ``＠`` and
    ``．`` (checked after NFKC). A sentence-ending dot after the address stays outside the match.

    False-positive risks: anything of the shape ``x@y.zz`` matches, including package coordinates
    and handles such as ``git@github.com``. Characters of a local part may not come right before the
    match and letters, digits, ``_ % + -`` not right after it, so a match never starts or ends in the
    middle of a longer address-like run.
    """

    ENTITY: ClassVar[str] = "EMAIL_ADDRESS"

    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "email_address",
            rf"(?<![{_LOCAL}])[{_LOCAL_FIRST}][{_LOCAL}]*[@＠](?:{_LABEL}{_DOT})+{_TLD}(?![{_LOCAL_FIRST}])",
            0.5,
        ),
    )

    CONTEXT: ClassVar[tuple[str, ...]] = (
        "邮箱",
        "电子邮箱",
        "电子邮件",
        "邮件",
        "email",
        "e-mail",
        "mail",
    )

    def is_valid(self, normalised: str) -> bool:
        local, at, domain = normalised.rpartition("@")
        if not at or not normalised.isascii():
            return False
        if not 1 <= len(local) <= 64 or local.startswith(".") or local.endswith(".") or ".." in local:
            return False
        labels = domain.split(".")
        return (
            len(domain) <= 253
            and len(labels) >= 2
            and all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
            and _TLD_SHAPE.fullmatch(labels[-1]) is not None
        )
