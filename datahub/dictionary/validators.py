"""Check-character validators named by data elements (``validator:`` in elements.yaml).

python-stdnum does the checking. Its ``ric.is_valid`` looks the region up in its database on every
call (about 0.3 ms); the lookup depends only on the region prefix and the birth year, so it is cached
here, which makes validating a million resident ids a matter of seconds.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from functools import lru_cache

import polars as pl
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from datahub.dictionary.models import Validator

_MOBILE = re.compile(r"1[3-9][0-9]{9}")


@lru_cache(maxsize=65536)
def _region_known_in(prefix: str, year: int) -> bool:
    try:
        ric.get_birth_place(f"{prefix}{year:04d}0101000")
    except ValidationError:
        return False
    return True


def is_cn_resident_id(value: str) -> bool:
    """GB 11643: 17 digits and a MOD 11-2 check character, a real date, a region code of that time."""
    value = value.strip().upper()
    if len(value) != 18 or not value[:17].isdigit():
        return False
    if ric.calc_check_digit(value) != value[17]:
        return False
    try:
        born = datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return _region_known_in(value[:6], born.year)


VALIDATORS: dict[Validator, Callable[[str], bool]] = {
    Validator.cn_resident_id: is_cn_resident_id,
    Validator.cn_uscc: uscc.is_valid,
    Validator.cn_mobile: lambda v: _MOBILE.fullmatch(v) is not None,
}

# Validators with no check character run on whole columns at once.
COLUMN_VALIDATORS: dict[Validator, Callable[[pl.Series], pl.Series]] = {
    Validator.cn_mobile: lambda s: s.str.contains(f"^{_MOBILE.pattern}$"),
}

# How each validator's values are written before checking: separators and country codes go.
NORMALISERS: dict[Validator, tuple[tuple[str, str], ...]] = {
    Validator.cn_mobile: ((r"^(?:\+?86)[\s-]?", ""), (r"[\s-]", "")),
    Validator.cn_resident_id: ((r"\s", ""), (r"x$", "X")),
    Validator.cn_uscc: ((r"\s", ""),),
}
