"""Contract versions on the dashboard: the version in force and any still to come, each version's
state and who decided it, the stewards' decisions on breaking versions, and the change notices.

The registry (:mod:`datahub.contracts.registry`) holds every rule; this module only says it in the
page's words and hands a steward's form to the same ``approve`` / ``reject`` the API and the CLI call.
Times are shown in Beijing time; a date typed into a form is Beijing time too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from datahub.access import Principal
from datahub.citytime import city_time, recorded_time
from datahub.contracts import Dataset
from datahub.contracts.registry import (
    BY_RULE,
    DECIDERS,
    Caller,
    ContractRegistry,
    Standing,
    effective_of,
    now_utc,
    state_of,
)
from datahub.errors import Conflict, Forbidden, InputError, NotFound
from datahub.metadata import ContractVersion, VersionState
from datahub.serving.notices import Notice
from datahub.serving.service import Service

REASON_MAX = 500  # characters of a decision note or a reason

# How a version stands, as the page says it.
STATE_NAMES = {
    "in_force": "生效中",
    "pending": "待审批",
    "scheduled": "已批准",
    "rejected": "已拒绝",
    "superseded": "已被取代",
}
STATE_BADGES = {
    "in_force": "good",
    "pending": "warn",
    "scheduled": "info",
    "rejected": "bad",
    "superseded": "",
}
DONE_NAMES = {"approved": "已批准", "rejected": "已拒绝"}


def _when(value: datetime) -> str:
    return f"{city_time(value):%Y-%m-%d %H:%M}"


def decides_versions(principal: Principal) -> bool:
    """Whether ``principal`` approves and rejects breaking versions (as the registry decides)."""
    return principal.role.value in DECIDERS


def shown_state(row: ContractVersion, st: Standing, at: datetime) -> str:
    """``in_force``, ``pending``, ``scheduled`` (approved for a later date), ``rejected`` or
    ``superseded`` (overtaken before it took effect, or replaced by a later version in force)."""
    state = state_of(row)
    if st.in_force is not None and row.id == st.in_force.id:
        return "in_force"
    if state == VersionState.approved:
        effective = effective_of(row)
        return "scheduled" if effective is not None and effective > at else "superseded"
    return state


def decision(row: ContractVersion, state: str) -> str:
    """Who decided the version and how, in a sentence."""
    if state_of(row) == VersionState.pending:
        return "含破坏性变更，等待数据管理员审批并确定生效时间。"
    if state_of(row) == VersionState.superseded:
        return "审批前已登记了更新的版本，本版本不再生效。"
    when = _when(row.decided_at) if row.decided_at else "—"
    if row.decided_by == BY_RULE or row.decided_by is None:
        first = row.changes is None
        return "首个登记版本，登记即生效。" if first else "兼容变更，按规则无需审批，登记即生效。"
    note = f"：{row.decision_note}" if row.decision_note else "。"
    if state_of(row) == VersionState.rejected:
        return f"{row.decided_by} 于 {when}（北京时间）拒绝{note}"
    return f"{row.decided_by} 于 {when}（北京时间）批准{note}"


def version_state(row: ContractVersion, st: Standing, at: datetime) -> dict[str, Any]:
    """What the 契约版本 section shows of one version beside its changes."""
    state = shown_state(row, st, at)
    effective = effective_of(row)
    name = STATE_NAMES[state]
    if state == "scheduled" and effective is not None:
        name = f"已批准·将于 {_when(effective)} 生效"
    return {
        "state": state,
        "state_name": name,
        "state_badge": STATE_BADGES[state],
        "decision": decision(row, state),
        "effective_at": effective,
        "decidable": state == "pending",
    }


def standing_summary(st: Standing | None) -> dict[str, Any]:
    """The header's badges: the version in force and the one to come (待审批, or its date)."""
    if st is None:
        return {"in_force": None, "pending": None}
    coming = st.pending
    pending = None
    if coming is not None:
        effective = effective_of(coming)
        pending = {
            "version": coming.version,
            "state": "pending" if effective is None else "scheduled",
            "text": "待审批" if effective is None else f"将于 {_when(effective)} 生效（北京时间）",
        }
    return {"in_force": st.in_force.version if st.in_force else None, "pending": pending}


def contract_standing(registry: ContractRegistry, dataset: Dataset) -> Standing | None:
    try:
        return registry.standing(str(dataset.contract.id))
    except NotFound:
        return None


# ------------------------------------------------------------------------------------ decisions


def _effective_at(text: str) -> datetime | None:
    """The form's effective date: ``YYYY-MM-DDTHH:MM`` or a day (midnight), Beijing time, as naive UTC;
    empty for now."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"生效时间“{text[:40]}”无法识别，请写作 YYYY-MM-DD HH:MM（北京时间）。", path="effective_at"
        ) from None
    if moment.tzinfo is not None:
        raise InputError("生效时间请填写北京时间，不带时区。", path="effective_at")
    return recorded_time(moment)


def decide(
    service: Service,
    principal: Principal,
    dataset: Dataset,
    version: str,
    approve: bool,
    form: dict[str, str],
) -> ContractVersion:
    """Approve or reject ``version`` of ``dataset``'s contract through the registry, as
    ``POST /api/v1/contracts/{id}/versions/{v}/approve|reject`` does, and record it in the audit log."""
    if not decides_versions(principal):
        raise Forbidden("只有数据管理员（大数据局）和平台管理员可以审批契约版本。")
    contract_id = str(dataset.contract.id)
    caller = Caller(name=principal.name, role=principal.role.value, department=principal.department)
    registry = service.platform.registry
    note = form.get("note", "").strip()[:REASON_MAX] or None
    try:
        if approve:
            when = _effective_at(form.get("effective_at", ""))
            if when is not None and when < now_utc().replace(second=0, microsecond=0):
                raise InputError(
                    f"生效时间 {_when(when)}（北京时间）已经过去，请选择现在或以后的时间。",
                    path="effective_at",
                )
            row = registry.approve(contract_id, version, caller=caller, effective_at=when, note=note)
        else:
            reason = form.get("reason", "").strip()[:REASON_MAX]
            if not reason:
                raise InputError("拒绝契约版本须填写理由，提供部门据此修改后重新登记。", path="reason")
            row = registry.reject(contract_id, version, caller=caller, reason=reason)
    except Conflict:
        raise Conflict(f"“{dataset.title}”的契约版本 {version} 已不在待审批状态，不能再次审批。") from None
    except NotFound:
        raise NotFound(f"“{dataset.title}”的契约没有版本 {version}。") from None
    service.platform.forget_catalog()
    effective = effective_of(row)
    service.record_contract(
        principal,
        "contract.approve" if approve else "contract.reject",
        {
            "contract_id": contract_id,
            "version": version,
            "effective_at": str(effective) if effective else None,
            "note": row.decision_note,
            "channel": "dashboard",
        },
    )
    return row


def done_notice(
    done: str | None, version: str | None, registry: ContractRegistry, dataset: Dataset
) -> str | None:
    """The line shown after a decision (``?done=approved|rejected&version=…``)."""
    if done not in DONE_NAMES or not version:
        return None
    try:
        row = registry.get(str(dataset.contract.id), version)
    except NotFound:
        return None
    effective = effective_of(row)
    when = ""
    if done == "approved" and effective is not None:
        when = "，已生效" if effective <= now_utc() else f"，将于 {_when(effective)}（北京时间）生效"
    return f"{DONE_NAMES[done]}契约版本 {row.version}{when}，并已写入审计日志。"


# -------------------------------------------------------------------------------------- notices


def notice_rows(service: Service, principal: Principal) -> list[dict[str, Any]]:
    """The 契约变更通知 box: the versions to come that reach ``principal`` (``service.notices``)."""
    titles = {name: s.contract.title for name, s in service.catalog.items()}
    rows = []
    for n in service.notices(principal):
        rows.append(
            {
                "contract_id": n.contract_id,
                "datasets": [(d, titles.get(d, d)) for d in n.datasets],
                "in_force": n.in_force_version,
                "version": n.version,
                "state": n.state,
                "when": _notice_when(n),
                "breaking": n.breaking,
                "changes": len(n.changes),
                "views": [(v, titles.get(v, v)) for v in n.affects if v not in n.datasets],
            }
        )
    return rows


def _notice_when(n: Notice) -> str:
    if n.effective_at is None:
        return "待审批"
    return f"已批准，将于 {_when(n.effective_at)}（北京时间）生效"
