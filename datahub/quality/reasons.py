"""Stable reason codes for quarantined rows, and the GB/T 36344 dimension each counts against."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a row was quarantined (规范性 conformity failures found while conforming a delivery)."""

    missing_required = "missing_required"  # a required value is empty
    invalid_type = "invalid_type"  # not a number, date, time or boolean
    spreadsheet_serial = "spreadsheet_serial"  # a date written as a spreadsheet's day number (45579)
    ambiguous_date = "ambiguous_date"  # day and month in an order the value does not tell (10/11/2024)
    invalid_format = "invalid_format"  # fails the element's pattern or check character
    out_of_range = "out_of_range"  # outside the element's minimum/maximum or length
    unknown_code = "unknown_code"  # not a code (or name) of the element's code table
    unmapped_code = "unmapped_code"  # a department's local code with no crosswalk entry
    duplicate_key = "duplicate_key"  # the primary key occurred earlier in the delivery or is published
    duplicate_value = "duplicate_value"  # a unique column's value occurred earlier or is published
    blocked_by_rule = "blocked_by_rule"  # the row was valid, but a blocking rule failed on its delivery
    k_anonymity = "k_anonymity"  # withheld from sharing: its quasi-identifiers would single it out
    # Records the reader could not take (datahub/ingest/readers.py): quarantined alone, the rest go on.
    invalid_json = "invalid_json"  # a JSON Lines line (or JSON array element) that is not valid JSON
    not_an_object = "not_an_object"  # valid JSON, but not an object of named values
    nested_too_deep = "nested_too_deep"  # objects or lists nested deeper than the reader allows
    duplicate_field = "duplicate_field"  # a JSON record naming a field twice (as sent, or flattened)
    value_too_long = "value_too_long"  # a value longer than the reader allows (readers.CELL_LIMIT)


# GB/T 36344 dimension of each conformity reason (blocked rows count against the rule that blocked them).
REASON_DIMENSIONS = {
    Reason.missing_required: "completeness",
    Reason.invalid_type: "conformity",
    Reason.spreadsheet_serial: "conformity",
    Reason.ambiguous_date: "conformity",
    Reason.invalid_format: "conformity",
    Reason.out_of_range: "accuracy",
    Reason.unknown_code: "consistency",
    Reason.unmapped_code: "consistency",
    Reason.duplicate_key: "accuracy",
    Reason.duplicate_value: "accuracy",
    Reason.invalid_json: "conformity",
    Reason.not_an_object: "conformity",
    Reason.nested_too_deep: "conformity",
    Reason.duplicate_field: "conformity",
    Reason.value_too_long: "conformity",
}

# How reports and the dashboard name each reason, in Chinese.
REASON_NAMES = {
    Reason.missing_required: "必填项缺失",
    Reason.invalid_type: "类型错误",
    Reason.spreadsheet_serial: "疑似电子表格日期序号",
    Reason.ambiguous_date: "日月顺序不明",
    Reason.invalid_format: "格式或校验位错误",
    Reason.out_of_range: "超出取值范围",
    Reason.unknown_code: "代码不在代码表中",
    Reason.unmapped_code: "部门代码无对照",
    Reason.duplicate_key: "主键重复",
    Reason.duplicate_value: "唯一值重复",
    Reason.blocked_by_rule: "交付被阻断规则扣留",
    Reason.k_anonymity: "不满足k-匿名暂缓共享",
    Reason.invalid_json: "JSON格式错误",
    Reason.not_an_object: "记录不是JSON对象",
    Reason.nested_too_deep: "嵌套层级过深",
    Reason.duplicate_field: "字段名重复",
    Reason.value_too_long: "字段值过长",
}
