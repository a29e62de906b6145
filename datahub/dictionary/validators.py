"""Check-character validators named by data elements (``validator:`` in elements.yaml)."""

from __future__ import annotations

import re
from collections.abc import Callable

from stdnum.cn import ric, uscc

from datahub.dictionary.models import Validator

_MOBILE = re.compile(r"1[3-9]\d{9}")

VALIDATORS: dict[Validator, Callable[[str], bool]] = {
    Validator.cn_resident_id: lambda v: len(v) == 18 and ric.is_valid(v),
    Validator.cn_uscc: uscc.is_valid,
    Validator.cn_mobile: lambda v: _MOBILE.fullmatch(v) is not None,
}

# How each validator's values are written before checking: separators and country codes go.
NORMALISERS: dict[Validator, tuple[tuple[str, str], ...]] = {
    Validator.cn_mobile: ((r"^(?:\+?86)[\s-]?", ""), (r"[\s-]", "")),
    Validator.cn_resident_id: ((r"\s", ""), (r"x$", "X")),
    Validator.cn_uscc: ((r"\s", ""),),
}
