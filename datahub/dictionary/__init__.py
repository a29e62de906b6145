"""The unified data dictionary (统一数据字典)."""

from datahub.dictionary.loader import Problem, check_dictionary, load_dictionary
from datahub.dictionary.models import (
    PERSONAL_CLASS_NAMES,
    Code,
    CodeTable,
    Crosswalk,
    DataElement,
    Dictionary,
    ElementType,
    PersonalClass,
    Validator,
)

__all__ = [
    "PERSONAL_CLASS_NAMES",
    "Code",
    "CodeTable",
    "Crosswalk",
    "DataElement",
    "Dictionary",
    "ElementType",
    "PersonalClass",
    "Problem",
    "Validator",
    "check_dictionary",
    "load_dictionary",
]
