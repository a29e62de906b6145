"""The Chinese words the dashboard shows for the platform's stable codes (reasons, checks, statuses…).

Codes stay the platform's English identifiers everywhere else; only what people read is translated.
Names the monthly report uses too come from where they are declared (quarantine reasons from
``datahub.quality.reasons``, checks and delivery statuses from ``datahub.reports.figures``, sharing
classes and SLA units from ``datahub.contracts``, where contracts may write them); the rest are declared
here. A code without an entry is shown as it is (so a new code is visible, not hidden).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datahub.access import Role
from datahub.contracts import sla
from datahub.metadata import CorrectionStatus, GrantStatus
from datahub.quality.reasons import REASON_NAMES
from datahub.reports import figures

__all__ = [
    "AUDIT_ACTION_NAMES",
    "CHANGE_KIND_NAMES",
    "CORRECTION_STATUS_NAMES",
    "DELIVERY_STATUS_NAMES",
    "GRANT_STATUS_NAMES",
    "REASON_NAMES",
    "ROLE_NAMES",
    "SHARING_CLASS_NAMES",
    "SLA_PROPERTY_NAMES",
    "SLA_UNIT_NAMES",
    "UNFINISHED",
    "label",
]

ROLE_NAMES = {
    Role.steward: "数据管理员",
    Role.admin: "平台管理员",
    Role.department: "部门",
    Role.leader: "领导",
    Role.consumer: "接入系统",
}

DELIVERY_STATUS_NAMES = figures.DELIVERY_STATUS_NAMES
UNFINISHED = figures.UNFINISHED_NAME
"""A delivery not finished (waiting, claimed or failed): shown as not reconciled until it is."""

SHARING_CLASS_NAMES = figures.SHARING_CLASS_NAMES

GRANT_STATUS_NAMES = {
    GrantStatus.requested: "待审批",
    GrantStatus.approved: "已批准",
    GrantStatus.refused: "已拒绝",
    GrantStatus.revoked: "已撤销",
}

CORRECTION_STATUS_NAMES = {
    CorrectionStatus.open: "待答复",
    CorrectionStatus.accepted: "已受理，待更正",
    CorrectionStatus.rejected: "已驳回",
    CorrectionStatus.corrected: "已更正",
}

SLA_PROPERTY_NAMES = {
    "frequency": "交付频率",
    "latency": "时效（数据最大滞后）",
    "retention": "保存期限",
    "availability": "可用性",
    "timeOfAvailability": "可用时间",
    "generalAvailability": "正式可用日期",
    "endOfSupport": "停止支持日期",
    "endOfLife": "停用日期",
}

SLA_UNIT_NAMES = sla.SLA_UNIT_NAMES

AUDIT_ACTION_NAMES = {
    "read": "分页读取",
    "export": "导出",
    "export.start": "导出开始",
    "event": "事件查询",
    "open311": "Open311 查询",
    "grant.request": "申请授权",
    "grant.approve": "批准授权",
    "grant.refuse": "拒绝授权",
    "grant.revoke": "撤销授权",
    "quarantine.export": "下载隔离数据",
    "correction.request": "提出校核纠错",
    "correction.accept": "受理校核纠错",
    "correction.reject": "驳回校核纠错",
    "correction.corrected": "完成数据更正",
}

# Contract changes (datahub.contracts.diff.RULES), as a steward reads them in a version's history.
CHANGE_KIND_NAMES = {
    "api_version_major_changed": "ODCS 主版本变更",
    "unclassified_change": "未归类的变更",
    "sharing_restricted": "共享类别收紧",
    "channel_changed": "渠道代码变更",
    "delivery_changed": "交付方式变更",
    "server_removed": "服务器移除",
    "server_changed": "服务器变更",
    "sla_removed": "服务等级移除",
    "sla_degraded": "服务等级降低",
    "sla_changed": "服务等级变更",
    "object_removed": "数据集移除",
    "object_renamed": "数据集改名",
    "physical_name_changed": "物理名变更",
    "physical_type_changed": "物理类型变更",
    "primary_key_changed": "主键变更",
    "column_removed": "字段删除",
    "column_renamed": "字段改名",
    "type_changed": "字段类型变更",
    "required_relaxed": "必填放宽",
    "unique_relaxed": "唯一性放宽",
    "range_widened": "取值范围放宽",
    "length_widened": "长度范围放宽",
    "pattern_changed": "格式规则变更",
    "format_changed": "日期时间格式变更",
    "enum_widened": "可选值增加",
    "unit_changed": "计量单位变更",
    "timezone_changed": "时区变更",
    "dictionary_element_changed": "数据元变更",
    "crosswalk_changed": "代码映射变更",
    "classification_raised": "密级提高",
    "classification_changed": "密级变更",
    "desensitise_strengthened": "脱敏加强",
    "sharing_widened": "共享类别放宽",
    "sla_added": "新增服务等级",
    "sla_improved": "服务等级提高",
    "required_column_added": "新增必填字段",
    "required_added": "新增必填要求",
    "unique_added": "新增唯一性要求",
    "range_narrowed": "取值范围收窄",
    "length_narrowed": "长度范围收窄",
    "pattern_added": "新增格式规则",
    "enum_narrowed": "可选值减少",
    "classification_lowered": "密级降低",
    "quality_rule_added": "新增质量规则",
    "quality_rule_stricter": "质量规则加严",
    "relationship_added": "新增关联关系",
    "version_changed": "版本号变更",
    "api_version_changed": "ODCS 次版本变更",
    "metadata_changed": "说明信息变更",
    "server_added": "新增服务器",
    "object_added": "新增数据集",
    "column_added": "新增可选字段",
    "desensitise_weakened": "脱敏放宽",
    "quality_rule_changed": "质量规则变更",
    "quality_rule_removed": "质量规则移除",
    "relationship_changed": "关联关系变更",
    "relationship_removed": "关联关系移除",
}


def label(names: Mapping[Any, str], code: str | None) -> str:
    """The Chinese name of ``code``, or the code itself when there is none."""
    if code is None:
        return "—"
    return names.get(code, code)
