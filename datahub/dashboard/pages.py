"""What each dashboard page shows, gathered from the platform's own library code (no HTTP here).

The routes in :mod:`datahub.dashboard.app` only check who is asking and render these dicts with the
templates. Quality comes from :func:`datahub.quality.history.quality_report`, deliveries and their
reconciliation from the metadata database, the quarantine from :func:`quarantined_rows` (masked here
before anyone sees it), contract versions from the registry, grants from :class:`Grants`, reads from
the audit log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import select

from datahub.access import Principal
from datahub.access.grants import grant_dict, last_answer_day
from datahub.access.policy import personal
from datahub.citytime import city_time
from datahub.contracts import Column, Dataset, Desensitise
from datahub.contracts.registry import ContractRegistry, now_utc, standing
from datahub.dashboard import labels, versions
from datahub.dashboard.access import department_scope, may_open_dataset
from datahub.dictionary import PersonalClass
from datahub.dictionary.loader import DEPARTMENT_TABLE
from datahub.errors import NotFound
from datahub.metadata import Delivery, DeliveryStatus, Grant, GrantStatus
from datahub.platform import Platform
from datahub.privacy.masking import mask_column, scan_text_column
from datahub.privacy.policy import mask_for_quarantine, mask_kind
from datahub.quality.conformity import REASONS_COLUMN
from datahub.quality.expectations import latency_rule
from datahub.quality.history import PASS_RATE_TARGET, quality_report, quarantined_rows
from datahub.quality.scores import DIMENSION_NAMES
from datahub.reports import charts, figures
from datahub.serving.service import Service
from datahub.status import DatasetStatus, dataset_status

QUARANTINE_ROWS_SHOWN = 30  # rows of the quarantine shown on a dataset page; the download has them all
DELIVERIES_SHOWN = 20
READS_SHOWN = 30
SAMPLE_ROWS_SHOWN = 10  # failing rows shown per rule (the run keeps up to 20)
LINEAGE_TITLES = {"_source_file": "交付文件", "_row_number": "行号"}


def as_beijing(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time the platform stores in UTC (naive, or ISO text), as people here read it: Beijing time."""
    if value is None:
        return "—"
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return city_time(at).strftime(fmt)


def department_names(platform: Platform) -> dict[str, str]:
    return {code: c.name_zh for code, c in platform.dictionary.codes(DEPARTMENT_TABLE).items()}


def department_name(platform: Platform, code: str | None) -> str:
    if code is None:
        return "—"
    return department_names(platform).get(code, code)


def column_title(dataset: Dataset, name: str) -> str:
    """A column as people know it: the dictionary element's Chinese name, else its delivered name."""
    if name in LINEAGE_TITLES:
        return LINEAGE_TITLES[name]
    for column in dataset.columns:
        if name in (column.name, column.physical_name):
            return column.element.name_zh if column.element else column.physical_name
    return name


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


# --------------------------------------------------------------------------------------- datasets


def visible_statuses(platform: Platform, principal: Principal) -> list[DatasetStatus]:
    """Every dataset the caller may open, with its status (stewards: all; a department: its own)."""
    return [
        s for s in dataset_status(platform) if may_open_dataset(principal, platform.catalog.get(s.dataset))
    ]


def dataset_rows(platform: Platform, principal: Principal) -> list[dict[str, Any]]:
    """The dataset list: owner, sharing class, latest pass rate and score, failing rules, freshness."""
    names = department_names(platform)
    out = []
    for s in visible_statuses(platform, principal):
        quality = s.quality or {}
        failed = quality.get("failed_rules", [])
        out.append(
            {
                "name": s.dataset,
                "title": s.title,
                "department": names.get(s.owner_department or "", s.owner_department or "—"),
                "sharing": labels.label(labels.SHARING_CLASS_NAMES, s.sharing_class),
                "deliveries": s.deliveries,
                "last_status": labels.label(labels.DELIVERY_STATUS_NAMES, s.last_status)
                if s.last_status
                else None,
                "pass_rate": quality.get("pass_rate"),
                "score": quality.get("overall_score"),
                "failed_rules": len(failed),
                "blocking_failed": sum(1 for r in failed if r["blocking"])
                or int(bool(quality.get("blocked"))),
                "stale": s.stale,
                # An unfinished delivery (waiting, claimed, failed) is not reconciled until it finishes.
                "reconciled": s.all_reconciled,
                "unfinished": s.unfinished,
                "unfinished_statuses": [
                    (labels.label(labels.DELIVERY_STATUS_NAMES, status), n)
                    for status, n in sorted(s.unfinished_statuses.items())
                ],
                "rows_current": s.rows_current,
            }
        )
    return out


def _rule_descriptions(dataset: Dataset) -> dict[str, str]:
    """The descriptions the contract gives its named quality rules (ODCS ``quality[].description``)."""
    found: dict[str, str] = {}

    def collect(rules: Any) -> None:
        for rule in rules or []:
            if isinstance(rule, dict) and rule.get("name") and rule.get("description"):
                found[str(rule["name"])] = str(rule["description"])

    for obj in dataset.raw.get("schema") or []:
        collect(obj.get("quality"))
        for prop in obj.get("properties") or []:
            collect(prop.get("quality"))
    return found


def _sample_table(dataset: Dataset, sample: list[dict[str, Any]]) -> dict[str, Any]:
    keys: list[str] = []
    for row in sample:
        keys.extend(k for k in row if k not in keys)
    return {
        "headers": [column_title(dataset, k) for k in keys],
        "rows": [[row.get(k) for k in keys] for row in sample[:SAMPLE_ROWS_SHOWN]],
        "more": max(0, len(sample) - SAMPLE_ROWS_SHOWN),
    }


def _rules(dataset: Dataset, latest: dict[str, Any]) -> list[dict[str, Any]]:
    described = _rule_descriptions(dataset)
    out = []
    for r in latest["rules"]:
        passed = r["evaluated"] - r["failed"]
        out.append(
            {
                **r,
                "check_name": labels.label(figures.CHECK_NAMES, r["check"]),
                "dimension_name": DIMENSION_NAMES.get(r["dimension"], r["dimension"]),
                "column_title": " + ".join(column_title(dataset, c) for c in r["column"].split("|"))
                if r["column"]
                else "（整批）",
                "description": described.get(r["rule"], ""),
                "pass_rate": _pct(passed, r["evaluated"]),
                "failing_rows": _sample_table(dataset, r["sample"]) if not r["success"] else None,
            }
        )
    # Failing rules first (blocking before warnings), then the rest in suite order.
    return sorted(out, key=lambda r: (r["success"], not r["blocking"]))


def reconciliation(status: str, reconciled: bool | None) -> str:
    """How a delivery stands in the reconciliation rows in = published + quarantined: ``unfinished``
    (waiting, claimed or failed: not reconciled until it finishes), ``duplicate`` (nothing to
    reconcile), ``reconciled`` or ``unreconciled``."""
    if status == DeliveryStatus.duplicate:
        return "duplicate"
    if status not in DeliveryStatus.FINAL:
        return "unfinished"
    return "reconciled" if reconciled is True else "unreconciled"


def _deliveries(platform: Platform, dataset: Dataset) -> list[dict[str, Any]]:
    with platform.metadata.session() as s:
        rows = s.scalars(
            select(Delivery)
            .where(Delivery.dataset == dataset.name)
            .order_by(Delivery.delivered_at.desc(), Delivery.landed_at.desc())
            .limit(DELIVERIES_SHOWN)
        ).all()
        return [
            {
                "id": d.id,
                "source_file": d.source_file,
                "delivered_at": d.delivered_at,
                "status": d.status,
                "status_name": labels.label(labels.DELIVERY_STATUS_NAMES, d.status),
                "error": d.error,
                "rows_in": d.rows_in,
                "rows_published": d.rows_published,
                "rows_quarantined": d.rows_quarantined,
                "reconciled": d.reconciled,
                "reconciliation": reconciliation(d.status, d.reconciled),
                "reasons": [
                    {
                        "reason": labels.label(labels.REASON_NAMES, r.reason),
                        "column": column_title(dataset, r.column),
                        "rows": r.rows,
                    }
                    for r in d.reasons
                ],
            }
            for d in rows
        ]


def _unfinished(platform: Platform, dataset: Dataset) -> list[dict[str, Any]]:
    """Every delivery of the dataset that is not finished (however old), oldest first."""
    with platform.metadata.session() as s:
        rows = s.scalars(
            select(Delivery)
            .where(Delivery.dataset == dataset.name, Delivery.status.not_in(sorted(DeliveryStatus.FINAL)))
            .order_by(Delivery.delivered_at, Delivery.source_file)
        ).all()
        return [
            {
                "id": d.id,
                "source_file": d.source_file,
                "delivered_at": d.delivered_at,
                "status": d.status,
                "status_name": labels.label(labels.DELIVERY_STATUS_NAMES, d.status),
                "error": d.error,
            }
            for d in rows
        ]


def has_quarantine(platform: Platform, dataset: Dataset, delivery_id: str) -> bool:
    """Whether ``delivery_id`` is a delivery of ``dataset`` with quarantined rows."""
    with platform.metadata.session() as s:
        found = s.scalars(
            select(Delivery.rows_quarantined).where(
                Delivery.id == delivery_id, Delivery.dataset == dataset.name
            )
        ).first()
    return bool(found)


def _masked(column: Column, values: pl.Series) -> pl.Series:
    """Values of one quarantined column as the dashboard shows them.

    The quarantine keeps rows as delivered, so the department can fix and re-submit them. Shown here,
    identifiers are masked as in the quarantine's reasons (``mask_for_quarantine``), free text and
    columns the contract scans are scanned, and any other personal column gets its mask shape."""
    if column.personal_class in (PersonalClass.direct_identifier, PersonalClass.quasi_identifier):
        return mask_for_quarantine(column, values)
    if column.free_text or column.desensitise is Desensitise.scan:
        return scan_text_column(values.cast(pl.String))[0]
    if personal(column.desensitise, column.personal_class):
        return mask_column(values, mask_kind(column))
    return values


def masked_quarantine(dataset: Dataset, rows: pl.DataFrame) -> pl.DataFrame:
    """Quarantined rows with every personal value masked (reasons are masked when written)."""
    by_physical = {c.physical_name: c for c in dataset.columns}
    return rows.with_columns(
        _masked(by_physical[name], rows.get_column(name)).alias(name)
        for name in rows.columns
        if name in by_physical
    )


def _quarantine(platform: Platform, dataset: Dataset, deliveries: list[dict[str, Any]]) -> dict[str, Any]:
    held = [d for d in deliveries if d["rows_quarantined"]]
    shown: list[dict[str, Any]] = []
    physical = [c.physical_name for c in dataset.columns]
    keys = [c.physical_name for c in dataset.columns if c.primary_key]
    for delivery in held:
        room = QUARANTINE_ROWS_SHOWN - len(shown)
        if room <= 0:
            break
        try:
            rows = quarantined_rows(platform, dataset, delivery["id"]).head(room)
        except NotFound:
            continue
        masked = masked_quarantine(dataset, rows)
        for row in masked.iter_rows(named=True):
            shown.append(
                {
                    "source_file": row.get("_source_file"),
                    "row_number": row.get("_row_number"),
                    "key": " / ".join(str(row.get(k) or "—") for k in keys if k in row),
                    "reasons": [
                        {
                            "reason": labels.label(labels.REASON_NAMES, r["reason"]),
                            "column": column_title(dataset, r["column"]),
                            "value": r["value"],
                        }
                        for r in row.get(REASONS_COLUMN) or []
                    ],
                    "fields": [
                        (column_title(dataset, name), row.get(name)) for name in physical if name in row
                    ],
                }
            )
    return {
        "deliveries": held,
        "rows": shown,
        "total": sum(d["rows_quarantined"] or 0 for d in held),
        "limit": QUARANTINE_ROWS_SHOWN,
    }


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours >= 48 and hours % 24 == 0:
        return f"{hours / 24:.0f} 天"
    if hours >= 48:
        return f"{hours / 24:.1f} 天"
    return f"{hours:.0f} 小时" if hours == int(hours) else f"{hours:.1f} 小时"


def _declared_sla(dataset: Dataset) -> list[dict[str, str]]:
    """The contract's service levels (ODCS ``slaProperties``), in words."""
    out = []
    for sla in dataset.contract.slaProperties or []:
        unit = labels.label(labels.SLA_UNIT_NAMES, (sla.unit or "").lower()) if sla.unit else ""
        out.append(
            {
                "property": labels.label(labels.SLA_PROPERTY_NAMES, sla.property),
                "value": f"{sla.value} {unit}".strip(),
                "element": column_title(dataset, sla.element.split(".")[-1]) if sla.element else "",
            }
        )
    return out


def _freshness(
    dataset: Dataset, rules: list[dict[str, Any]], deliveries: list[dict[str, Any]]
) -> dict[str, Any]:
    """The SLA and, when its latency names the column to judge by, how the latest checked delivery met
    it (the ``freshness`` rule: the newest value no older than the latency when the file arrived)."""
    declared = _declared_sla(dataset)
    sla = latency_rule(dataset)
    if sla is None:
        return {"declared": declared, "checked": False}
    span, column = sla
    rule = next((r for r in rules if r["check"] == "stale_delivery"), None)
    checked = next((d for d in deliveries if d["status"] in ("published", "blocked", "withheld")), None)
    newest = rule["observed"] if rule else None
    lag = None
    if isinstance(newest, str) and checked is not None:
        try:
            lag = _span(city_time(checked["delivered_at"]) - datetime.fromisoformat(newest))
        except ValueError:
            lag = None
    return {
        "declared": declared,
        "checked": True,
        "span": _span(span),
        "column": column_title(dataset, column),
        "newest": newest,
        "delivered_at": checked["delivered_at"] if checked else None,
        "lag": lag,
        "success": rule["success"] if rule else None,
    }


def _verdict(change: dict[str, Any]) -> str:
    """What a contract change means to its consumers (datahub.contracts.diff), in one word."""
    if change.get("breaking"):
        return "破坏性"
    return "收紧" if change.get("tightening") else "兼容"


def _contract(registry: ContractRegistry, dataset: Dataset) -> dict[str, Any]:
    contract_id = str(dataset.contract.id)
    try:
        rows = registry.versions(contract_id)
    except NotFound:
        return {
            "id": contract_id,
            "loaded": dataset.version,
            "versions": [],
            **versions.standing_summary(None),
        }
    now = now_utc()
    st = standing(contract_id, rows, now)
    shown = []
    for row in reversed(rows):  # newest first
        recorded: dict[str, Any] = dict(row.changes or {})
        changes: list[dict[str, Any]] = list(recorded.get("changes") or [])
        shown.append(
            {
                **versions.version_state(row, st, now),
                "version": row.version,
                "registered_at": row.registered_at,
                "registered_by": row.registered_by,
                "sha256": row.sha256[:12],
                "first": row.changes is None,
                "breaking": bool(recorded.get("breaking")),
                "changes": [
                    {
                        **c,
                        "kind_name": labels.label(labels.CHANGE_KIND_NAMES, c.get("kind")),
                        "verdict": _verdict(c),
                    }
                    for c in changes
                ],
            }
        )
    return {
        "id": contract_id,
        "loaded": dataset.version,
        "versions": shown,
        **versions.standing_summary(st),
    }


def _delivery_dates(platform: Platform, ids: list[str]) -> dict[str, datetime]:
    with platform.metadata.session() as s:
        rows = s.execute(select(Delivery.id, Delivery.delivered_at).where(Delivery.id.in_(ids))).all()
    return {delivery_id: at for delivery_id, at in rows}


def _dataset_charts(
    platform: Platform, latest: dict[str, Any] | None, history: list[dict[str, Any]]
) -> dict[str, str | None]:
    if latest is None:
        return {}
    runs = list(reversed(history))  # oldest first, each labelled with the day its file was delivered
    delivered = _delivery_dates(platform, [run["delivery_id"] for run in runs])
    trend = None
    if len(runs) > 1:
        trend = charts.line_chart(
            [as_beijing(delivered[run["delivery_id"]], "%m-%d") for run in runs],
            [
                charts.Series("合格率", [run["pass_rate"] for run in runs]),
                charts.Series("综合得分", [run["overall_score"] for run in runs]),
            ],
            title="各批次合格率与综合得分",
            target=PASS_RATE_TARGET,
            target_label=f"合格率目标 {PASS_RATE_TARGET}%",
            width=620,
            height=230,
            show_values=len(runs) <= 6,
        )
    dimensions = charts.bar_chart(
        [(DIMENSION_NAMES.get(d, d), score) for d, score in latest["scores"].items()],
        title="最近一批各维度得分（GB/T 36344）",
        max_value=100,
        width=620,
    )
    return {"trend": trend, "dimensions": dimensions}


def dataset_page(platform: Platform, registry: ContractRegistry, dataset: Dataset) -> dict[str, Any]:
    """Everything the dataset page shows: rules and their pass rates with failing rows, the quarantine
    (masked), deliveries with their reconciliation, freshness against the SLA, contract versions."""
    try:
        report: dict[str, Any] | None = quality_report(platform, dataset)
    except NotFound:
        report = None
    latest = report["latest"] if report else None
    rules = _rules(dataset, latest) if latest else []
    deliveries = _deliveries(platform, dataset)
    return {
        "dataset": dataset,
        "department": department_name(platform, dataset.owner_department),
        "sharing": labels.label(labels.SHARING_CLASS_NAMES, dataset.sharing_class),
        "target": PASS_RATE_TARGET,
        "latest": latest,
        "history": report["history"] if report else [],
        "dimensions": DIMENSION_NAMES,
        "rules": rules,
        "failing": [r for r in rules if not r["success"]],
        "deliveries": deliveries,
        "unfinished": _unfinished(platform, dataset),
        "quarantine": _quarantine(platform, dataset, deliveries),
        "freshness": _freshness(dataset, rules, deliveries),
        "contract": _contract(registry, dataset),
        "charts": _dataset_charts(platform, latest, report["history"] if report else []),
    }


# ---------------------------------------------------------------------------------------- sharing


def _grants_on(platform: Platform, views: set[str] | None) -> list[dict[str, Any]]:
    """Grants, newest first: on ``views`` only, or every grant when None."""
    query = select(Grant).order_by(Grant.id.desc())
    if views is not None:
        query = query.where(Grant.view.in_(sorted(views)))
    with platform.metadata.session() as s:
        return [grant_dict(g) for g in s.scalars(query).all()]


def _grant_rows(platform: Platform, service: Service, grants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    clients = {c["client_id"]: c for c in service.clients.find()}
    out = []
    for g in grants:
        client = clients.get(str(g["client_id"]), {})
        served = service.catalog.get(str(g["view"]))
        view = served.contract if served else None
        out.append(
            {
                **g,
                "client_name": client.get("name", g["client_id"]),
                "client_role": labels.label(labels.ROLE_NAMES, str(client.get("role"))),
                "view_title": view.title if view else g["view"],
                "owner": department_name(platform, view.owner_department if view else None),
                "status_name": labels.label(labels.GRANT_STATUS_NAMES, str(g["status"])),
                "due_day": last_answer_day(datetime.fromisoformat(str(g["due_at"]).removesuffix("Z")))
                if g["due_at"]
                else None,
                "columns_text": "、".join(column_title(view, c) for c in g["columns"])
                if view and g["columns"]
                else "全部字段",
            }
        )
    return out


def sharing_page(platform: Platform, service: Service, principal: Principal) -> dict[str, Any]:
    """Grants waiting for a decision and recent decisions: every grant for stewards and leaders, the
    grants on its own views for a department."""
    scope = department_scope(principal)
    owned = None
    if scope is not None:
        owned = {n for n, s in service.catalog.items() if s.contract.owner_department == scope}
    grants = _grant_rows(platform, service, _grants_on(platform, owned))
    counts = dict.fromkeys(labels.GRANT_STATUS_NAMES, 0)
    for g in grants:
        counts[str(g["status"])] = counts.get(str(g["status"]), 0) + 1
    pending = [g for g in grants if g["status"] == GrantStatus.requested]
    return {
        "pending": pending,
        "overdue": [g for g in pending if g["overdue"]],  # waiting past their answer deadline
        "decided": [g for g in grants if g["status"] != GrantStatus.requested][:20],
        "counts": counts,
    }


def recent_reads(service: Service) -> list[dict[str, Any]]:
    """The latest reads of the audit log: who read which view, how many rows, for what purpose."""
    out = []
    for record in service.audit_records(limit=READS_SHOWN * 3):
        if record["action"] not in ("read", "export", "event", "open311"):
            continue
        view = service.catalog.get(str(record["view"])) if record["view"] else None
        out.append(
            {
                **record,
                "action_name": labels.label(labels.AUDIT_ACTION_NAMES, record["action"]),
                "view_title": view.contract.title if view else record["view"],
            }
        )
        if len(out) == READS_SHOWN:
            break
    return out
