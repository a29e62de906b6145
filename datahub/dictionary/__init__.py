"""The unified data dictionary (统一数据字典)."""

from datahub.dictionary.loader import Problem, check_dictionary, load_dictionary
from datahub.dictionary.models import (
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
