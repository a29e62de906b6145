"""The unified data dictionary (统一数据字典)."""

from datahub.dictionary.calendar import CalendarYear, Holiday, WorkCalendar
from datahub.dictionary.loader import Problem, calendar_warnings, check_dictionary, load_dictionary
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
    "CalendarYear",
    "Code",
    "CodeTable",
    "Crosswalk",
    "DataElement",
    "Dictionary",
    "ElementType",
    "Holiday",
    "PersonalClass",
    "Problem",
    "Validator",
    "WorkCalendar",
    "calendar_warnings",
    "check_dictionary",
    "load_dictionary",
]
