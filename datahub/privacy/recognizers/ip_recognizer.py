"""Recognizer for IPv4 and IPv6 addresses (IP_ADDRESS)."""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar

from presidio_analyzer import Pattern

from datahub.privacy.recognizers.base import DIGIT, NormalisedPatternRecognizer

_ALNUM = f"{DIGIT}A-Za-zＡ-Ｚａ-ｚ"
_DOTS = ".．"
_COLON = "[:：]"
_HEX = "[0-9A-Fa-f０-９Ａ-Ｆａ-ｆ]"
_GROUP = f"{_HEX}{{1,4}}"

# IPv4: four dot-separated runs of one to three digits; ipaddress decides the octets.
_IPV4 = f"[{DIGIT}]{{1,3}}(?:[{_DOTS}][{DIGIT}]{{1,3}}){{3}}"
# IPv6: hex groups joined by one or two colons, or starting with "::"; it never starts with a lone
# colon, so that "IP:2001:db8::1" matches from the 2. ipaddress decides the rest.
_IPV6 = (
    f"(?:{_GROUP}(?:{_COLON}{{1,2}}{_GROUP}){{1,7}}(?:{_COLON}{{2}})?"
    f"|{_COLON}{{2}}(?:{_GROUP}(?:{_COLON}{{1,2}}{_GROUP}){{0,6}})?)"
)


_CLOCK = re.compile("[0-9]{1,2}::[0-9]{1,2}")
"""Hours and minutes with a doubled colon (``08::30``): a valid IPv6 address, but a time in text."""


class IpRecognizer(NormalisedPatternRecognizer):
    """IPv4 (RFC 791, dotted decimal) and IPv6 (RFC 4291 section 2.2, RFC 5952) addresses.

    Patterns find candidate shapes and the standard library's :mod:`ipaddress` decides:
    ``IPv4Address`` takes four decimal octets from 0 to 255 without leading zeros (``192.168.01.1``
    and ``256.1.1.1`` are rejected), ``IPv6Address`` eight hex groups or a ``::``-compressed form
    (``2001:db8::1``, ``fe80::1``, ``::1``). A compressed IPv6 address must hold a decimal digit:
    ``a::b`` and ``::`` are rejected, being more often ``Namespace::member`` than an address worth
    masking; nor is ``08::30`` (two decimal groups of one or two digits), a time typed with a doubled
    colon. Full-width digits, letters, dots and colons are accepted (checked after NFKC).

    Accepted shapes: ``192.168.1.10`` inside Chinese text, ``IP:10.0.0.1``, an address followed by a
    port, prefix length or sentence-ending dot (``10.0.0.1:8080``, ``10.0.0.0/8``, ``10.0.0.1.``:
    the address alone matches). IPv4 addresses embedded in IPv6 (``::ffff:192.168.1.1``) are found
    as their IPv4 part only; zone indices (``%eth0``) stay outside the match.

    Look-arounds (each a single character class, so that the screening regex can stand in for them
    in polars): before an IPv4
    address no digit, dot or ``v`` (``v1.2.3.4`` and ``5.1.2.3.4`` are not addresses; other letters
    may touch it, as in ``IP10.0.0.1``), before an IPv6 address no hex digit or dot (``IP2001:db8::1``
    is found); a colon may come before an address, so ``IP:2001:db8::1`` is found, which is why the
    IPv6 pattern never starts with a lone colon. After an IPv4 address no letter or digit; after an
    IPv6 address no letter, digit, colon or dot, so an IPv6 match never ends inside a longer colon
    run or an embedded IPv4 address.

    False-positive risks: version strings with exactly four numeric parts (``1.2.3.4``, a four-part
    Windows file version), section numbers and dotted OIDs (``1.3.6.1.4.1`` yields ``1.3.6.1``);
    three-part versions (``3.10.12``) never match. Eight colon-separated hex groups (EUI-64 hardware
    ids) and short compressed forms (``1::2``) are valid IPv6 addresses and match, and so can the tail
    of a longer colon run, a colon being allowed before a match (``12345:6789::1`` yields
    ``6789::1``); times (``12:30:45``) and MAC addresses (six groups, no ``::``) do not.
    """

    ENTITY: ClassVar[str] = "IP_ADDRESS"

    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern("ipv4", rf"(?<![{DIGIT}{_DOTS}vVｖＶ]){_IPV4}(?![{_ALNUM}])", 0.5),
        Pattern("ipv6", rf"(?<![{_HEX[1:-1]}{_DOTS}]){_IPV6}(?![{_ALNUM}{_DOTS}:])", 0.5),
    )

    CONTEXT: ClassVar[tuple[str, ...]] = (
        "ip",
        "ip地址",
        "地址",
        "登录ip",
        "来源ip",
        "ipv4",
        "ipv6",
    )

    def is_valid(self, normalised: str) -> bool:
        if not normalised.isascii():
            return False
        if ":" not in normalised:
            try:
                ipaddress.IPv4Address(normalised)
            except ValueError:
                return False
            return True
        if _CLOCK.fullmatch(normalised):
            return False
        try:
            ipaddress.IPv6Address(normalised)
        except ValueError:
            return False
        return "::" not in normalised or any(c.isdigit() for c in normalised)
