"""校核纠错 (《政务数据共享条例》, State Council Decree No. 809, 2025): a consumer that finds wrong data
in rows it read reports it; the department the rows come from checks it and answers within a limit.

open ──accept──▶ accepted ──corrected (a delivery of the dataset)──▶ corrected
  │   └─────────accept with the delivery at once────────────────────▶ corrected
  └──reject (a reason)──▶ rejected

Who files: a client that reads the view as a consumer (an active grant on it, or an unconditional view):
consumers, departments other than the owner, leaders. It names the rows by their primary-key values
(they must be in the current published version, among the rows it may read), the field (a column of
the view it may read), what is wrong and, optionally, its evidence.

Who answers: the department owning the rows — for a dataset its contract's owner; for a derived view
the owner of the dataset the rows come from when that is known (``source_records`` of each row, or the
view's one source), else the view's owner — and stewards and admins. The answer is due at the end of
the ``correction_answer_days``-th working day after the request (the city's working-day calendar).

Overdue: still open past ``due_at``, or answered (accepted or rejected) after it. The monthly report
counts, per department, the month's requests answered on time, late, still open and overdue
(:func:`correction_figures`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from datahub.access.clients import Principal, Role
from datahub.access.grants import DECIDERS
from datahub.audit import AuditEntry
from datahub.dictionary.loader import DEPARTMENT_TABLE
from datahub.errors import Conflict, Forbidden, InputError, NotFound
from datahub.metadata import CorrectionRequest, CorrectionStatus, Delivery, DeliveryStatus
from datahub.serving import query

if TYPE_CHECKING:
    from datahub.platform import Platform
    from datahub.serving.catalog import Served
    from datahub.serving.service import Service

REQUESTERS = (Role.consumer, Role.department, Role.leader)
KEYS_MAX = 100  # rows one request may name
PROBLEM_MAX = 2_000
EVIDENCE_MAX = 4_000
ANSWER_MAX = 2_000
SOURCE_RECORDS = "source_records"
"""A view column listing ``dataset:key`` of each row's source records, the primary record first."""
VIEW_SOURCES = {"sensor_alerts": "iot_sensor_readings", "resources_available": "emergency_resources"}
"""Views built from one dataset only (datahub.views.build.build_frames): their rows are its rows."""
ACTIONS = {
    "request": "correction.request",
    "accept": "correction.accept",
    "reject": "correction.reject",
    "corrected": "correction.corrected",
}


def now_utc() -> datetime:
    """Naive UTC, as the metadata database stores times."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class CorrectionAsk:
    """What a consumer reports: ``keys`` are the rows' primary-key values, each a value (a one-column
    key) or an object naming every key column."""

    view: str
    keys: Sequence[Any]
    field: str
    problem: str
    evidence: str | None = None


def is_overdue(row: CorrectionRequest, now: datetime) -> bool:
    """Still open past ``due_at``, or answered after it."""
    if row.answered_at is None:
        return now > row.due_at
    return row.answered_at > row.due_at


def correction_dict(row: CorrectionRequest, now: datetime | None = None) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() + "Z" if value else None

    return {
        "correction_id": row.id,
        "view": row.view,
        "keys": row.keys,
        "field": row.field,
        "problem": row.problem,
        "evidence": row.evidence,
        "client_id": row.client_id,
        "client_name": row.client_name,
        "owner_department": row.owner_department,
        "source_dataset": row.source_dataset,
        "status": row.status,
        "requested_at": iso(row.requested_at),
        "due_at": iso(row.due_at),
        "overdue": is_overdue(row, now or now_utc()),
        "answered_at": iso(row.answered_at),
        "answered_by": row.answered_by,
        "answer": row.answer,
        "delivery_id": row.delivery_id,
        "corrected_at": iso(row.corrected_at),
    }


def _text(value: str | None, name: str, limit: int) -> str | None:
    """``value`` stripped, None when blank; InputError naming ``name`` when longer than ``limit``."""
    text = (value or "").strip()
    if len(text) > limit:
        raise InputError(f"{name} is {len(text)} characters; at most {limit}", path=name)
    return text or None


def _required(value: str | None, name: str, limit: int) -> str:
    text = _text(value, name, limit)
    if text is None:
        raise InputError(f"{name} is required: 1 to {limit} characters", path=name)
    return text


class Corrections:
    """The correction requests over the sharing service (its catalog, access decisions, snapshots and
    audit log). ``clock`` gives the time of every action (naive UTC); tests set it."""

    def __init__(self, service: Service, clock: Callable[[], datetime] = now_utc) -> None:
        self.service = service
        self.platform: Platform = service.platform
        self.clock = clock

    # ------------------------------------------------------------------------------------- filing

    def request(self, caller: Principal, ask: CorrectionAsk) -> dict[str, Any]:
        if caller.role not in REQUESTERS:
            raise Forbidden(
                f"role '{caller.role}' does not file correction requests (roles that do: consumer, "
                "department, leader); a steward answers them"
            )
        served_view, decision = self.service.access(caller, ask.view)
        view = served_view.contract
        if caller.role is Role.department and caller.department == view.owner_department:
            raise Forbidden(f"your department owns '{view.name}': correct it with a new delivery")
        if not decision.allowed:
            raise Forbidden(f"you report on rows you read: '{view.name}' is {decision.reason}", path="view")
        if ask.field not in decision.columns:
            raise InputError(
                f"'{ask.field}' is not a column of {view.name} you may read "
                f"(yours: {', '.join(decision.columns)})",
                path="field",
            )
        problem = _required(ask.problem, "problem", PROBLEM_MAX)
        evidence = _text(ask.evidence, "evidence", EVIDENCE_MAX)
        keys = self._keys(served_view, ask.keys)
        sources = self._rows(served_view, decision.row_filter, keys)
        owner, dataset = self._owner(served_view, sources)
        if caller.role is Role.department and caller.department == owner:
            raise Forbidden(
                f"your department owns these rows (of {dataset}): correct them with a new delivery"
            )
        now = self.clock()
        due = self.platform.dictionary.calendar.due(now, self.platform.settings.correction_answer_days)
        with self.platform.metadata.session() as s:
            row = CorrectionRequest(
                view=view.name,
                keys=keys,
                field=ask.field,
                problem=problem,
                evidence=evidence,
                client_id=caller.client_id,
                client_name=caller.name,
                owner_department=owner,
                source_dataset=dataset,
                status=CorrectionStatus.open,
                requested_at=now,
                due_at=due,
            )
            s.add(row)
            s.flush()
            out = correction_dict(row, now)
        self.record(caller, "request", out)
        return out

    def _keys(self, served_view: Served, given: Sequence[Any]) -> list[dict[str, Any]]:
        """Each key as ``{column: value}``, checked against the view's key columns and their types."""
        view = served_view.contract
        columns = view.key_columns
        if not columns:
            raise InputError(f"'{view.name}' has no primary key: its rows cannot be named", path="keys")
        if not isinstance(given, list | tuple) or not given:
            raise InputError(f"name the rows: a list of 1 to {KEYS_MAX} keys of {view.name}", path="keys")
        if len(given) > KEYS_MAX:
            raise InputError(f"{len(given)} keys; one request names at most {KEYS_MAX} rows", path="keys")
        out: list[dict[str, Any]] = []
        for i, key in enumerate(given):
            where = f"keys[{i}]"
            if not isinstance(key, dict):
                if len(columns) > 1:
                    raise InputError(
                        f"{view.name} has the key ({', '.join(columns)}): give each key as an object "
                        "naming every key column",
                        path=where,
                    )
                key = {columns[0]: key}
            missing = [c for c in columns if c not in key]
            unknown = [str(c) for c in key if c not in columns]
            if missing or unknown:
                raise InputError(
                    f"the key of {view.name} is ({', '.join(columns)}); "
                    f"missing: {', '.join(missing) or '-'}; not key columns: {', '.join(unknown) or '-'}",
                    path=where,
                )
            for column in columns:
                value = key[column]
                if not isinstance(value, str | int) or isinstance(value, bool):
                    raise InputError(
                        f"{column} is a {served_view.types[column]}: write it as text or a number",
                        path=f"{where}.{column}",
                    )
            normal = {c: key[c] for c in columns}
            if normal in out:
                raise InputError("this row is named twice", path=where)
            out.append(normal)
        return out

    def _rows(
        self, served_view: Served, row_filter: str | None, keys: list[dict[str, Any]]
    ) -> list[str | None]:
        """The rows of ``keys`` in the current published version, among those the caller may read (its
        grants' row filter): each one's primary source record (``dataset:key``, when the view lists
        them), in the order of ``keys``; InputError naming the first key not there."""
        view = served_view.contract
        types = served_view.types
        columns = view.key_columns
        cases: list[str] = []
        params: list[Any] = []
        for i, key in enumerate(keys):
            parts = []
            for column in columns:
                name = query.quote_identifier(column)
                if types[column] in ("date", "timestamp"):
                    parts.append(f"{name} = ?")
                else:
                    parts.append(f"CAST({name} AS VARCHAR) = ?")
                params.append(_key_value(column, types[column], key[column], f"keys[{i}].{column}"))
            cases.append(f"WHEN {' AND '.join(parts)} THEN {i}")
        where = ""
        if row_filter:
            sql, filter_params, _ = query.compile_filter(row_filter, types, parameter="row_filter")
            where = f" WHERE {sql}"
            params += filter_params
        source = f"{query.quote_identifier(SOURCE_RECORDS)}[1]" if SOURCE_RECORDS in types else "NULL"
        with self.service.snapshots.lease(view.name, columns) as version:
            if version is None:
                raise NotFound(f"'{view.name}' has not been published yet", path="view")
            con = self.service.snapshots.cursor()
            try:
                found = con.execute(
                    f"SELECT i, s FROM (SELECT CASE {' '.join(cases)} END AS i, {source} AS s "
                    f"FROM {version.table}{where}) WHERE i IS NOT NULL",
                    params,
                ).fetchall()
            finally:
                con.close()
        by_index = {int(i): record for i, record in found}
        for i, key in enumerate(keys):
            if i not in by_index:
                shown = ", ".join(f"{c} = {key[c]!r}" for c in columns)
                raise InputError(
                    f"no row with {shown} in the current published {view.name} among the rows you may read",
                    path=f"keys[{i}]",
                )
        return [by_index[i] for i in range(len(keys))]

    def _owner(self, served_view: Served, sources: list[str | None]) -> tuple[str | None, str | None]:
        """The department answering for these rows and the dataset they come from (None when unknown)."""
        view = served_view.contract
        catalog = self.service.catalog
        if served_view.kind.value == "dataset":
            return view.owner_department, view.name
        if SOURCE_RECORDS in served_view.types:
            names = {record.split(":", 1)[0] if record and ":" in record else None for record in sources}
        else:
            names = {view.name}
        resolved = set()
        for name in names:
            while name is not None and name in VIEW_SOURCES:
                name = VIEW_SOURCES[name]
            resolved.add(name)
        if len(resolved) == 1:
            (dataset,) = resolved
            if dataset in catalog and catalog[dataset].kind.value == "dataset":
                return catalog[dataset].contract.owner_department, dataset
        return view.owner_department, None

    # ------------------------------------------------------------------------------------- reading

    def _visible(self, caller: Principal) -> Any:
        """The condition on the requests ``caller`` may see: all for stewards and admins; a
        department's inbox and its own; any other client its own."""
        if caller.role in DECIDERS:
            return None
        own = CorrectionRequest.client_id == caller.client_id
        if caller.role is Role.department:
            return or_(own, CorrectionRequest.owner_department == caller.department)
        return own

    def find(
        self,
        caller: Principal,
        *,
        status: str | None = None,
        department: str | None = None,
        view: str | None = None,
        overdue: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first."""
        statement = select(CorrectionRequest).order_by(CorrectionRequest.id.desc())
        visible = self._visible(caller)
        if visible is not None:
            statement = statement.where(visible)
        if status is not None:
            statement = statement.where(CorrectionRequest.status == status)
        if department is not None:
            statement = statement.where(CorrectionRequest.owner_department == department)
        if view is not None:
            statement = statement.where(CorrectionRequest.view == view)
        now = self.clock()
        with self.platform.metadata.session() as s:
            rows = [correction_dict(r, now) for r in s.scalars(statement).all()]
        if overdue is not None:
            rows = [r for r in rows if r["overdue"] is overdue]
        return rows

    def get(self, correction_id: int, caller: Principal) -> dict[str, Any]:
        with self.platform.metadata.session() as s:
            return correction_dict(self._row(s, correction_id, caller), self.clock())

    def _row(self, s: Any, correction_id: int, caller: Principal) -> CorrectionRequest:
        row = s.get(CorrectionRequest, correction_id)
        if row is None or not (
            caller.role in DECIDERS
            or row.client_id == caller.client_id
            or (caller.role is Role.department and row.owner_department == caller.department)
        ):
            raise NotFound(f"unknown correction request {correction_id}")
        return row

    # ------------------------------------------------------------------------------------ answering

    def _answerable(self, s: Any, correction_id: int, caller: Principal) -> CorrectionRequest:
        row = self._row(s, correction_id, caller)
        if not (
            caller.role in DECIDERS
            or (caller.role is Role.department and caller.department == row.owner_department)
        ):
            raise Forbidden(
                f"correction request {correction_id} is answered by department {row.owner_department} "
                "(or a steward)"
            )
        return row

    def accept(
        self, correction_id: int, caller: Principal, note: str | None = None, delivery: str | None = None
    ) -> dict[str, Any]:
        """The data is wrong: accepted, and corrected at once when ``delivery`` already corrects it."""
        text = _text(note, "note", ANSWER_MAX)
        with self.platform.metadata.session() as s:
            row = self._answerable(s, correction_id, caller)
            if row.status != CorrectionStatus.open:
                raise Conflict(f"correction request {correction_id} is {row.status} already")
            now = self.clock()
            if delivery:
                self._link(s, row, delivery, now)
            else:
                row.status = CorrectionStatus.accepted
            row.answered_at, row.answered_by, row.answer = now, caller.name, text
            out = correction_dict(row, now)
        self.record(caller, "accept", out)
        if delivery:
            self.record(caller, "corrected", out)
        return out

    def reject(self, correction_id: int, caller: Principal, reason: str | None) -> dict[str, Any]:
        """The data is right: rejected with the reason the department found."""
        text = _required(reason, "reason", ANSWER_MAX)
        with self.platform.metadata.session() as s:
            row = self._answerable(s, correction_id, caller)
            if row.status != CorrectionStatus.open:
                raise Conflict(f"correction request {correction_id} is {row.status} already")
            now = self.clock()
            row.status = CorrectionStatus.rejected
            row.answered_at, row.answered_by, row.answer = now, caller.name, text
            out = correction_dict(row, now)
        self.record(caller, "reject", out)
        return out

    def corrected(self, correction_id: int, caller: Principal, delivery: str) -> dict[str, Any]:
        """An accepted request is corrected by ``delivery``."""
        with self.platform.metadata.session() as s:
            row = self._answerable(s, correction_id, caller)
            if row.status != CorrectionStatus.accepted:
                raise Conflict(
                    f"correction request {correction_id} is {row.status}: only an accepted one is "
                    "linked to its correcting delivery"
                )
            now = self.clock()
            self._link(s, row, delivery, now)
            out = correction_dict(row, now)
        self.record(caller, "corrected", out)
        return out

    def _datasets(self, row: CorrectionRequest) -> list[str]:
        """The datasets whose delivery may correct ``row``: its source dataset, else the owner's."""
        if row.source_dataset is not None:
            return [row.source_dataset]
        return sorted(
            name
            for name, served_view in self.service.catalog.items()
            if served_view.kind.value == "dataset"
            and served_view.contract.owner_department == row.owner_department
        )

    def candidates(self, correction_id: int, caller: Principal, limit: int = 5) -> list[dict[str, Any]]:
        """Published deliveries that could be the correction of an open or accepted request (of its
        dataset, landed after it), newest first: what the dashboard offers to link."""
        with self.platform.metadata.session() as s:
            row = self._answerable(s, correction_id, caller)
            found = s.scalars(
                select(Delivery)
                .where(
                    Delivery.dataset.in_(self._datasets(row)),
                    Delivery.status == DeliveryStatus.published,
                    Delivery.landed_at >= row.requested_at,
                )
                .order_by(Delivery.landed_at.desc())
                .limit(limit)
            ).all()
            return [
                {
                    "delivery_id": d.id,
                    "dataset": d.dataset,
                    "source_file": d.source_file,
                    "landed_at": d.landed_at,
                    "rows_published": d.rows_published,
                }
                for d in found
            ]

    def _link(self, s: Any, row: CorrectionRequest, delivery_id: str, now: datetime) -> None:
        """Link the delivery that corrected ``row``: a published delivery of the rows' dataset (of a
        dataset of the owner department when the dataset is unknown), landed after the request."""
        found = s.get(Delivery, delivery_id.strip()) if len(delivery_id.strip()) <= 64 else None
        if found is None:
            raise InputError(f"no delivery {delivery_id}; `datahub deliveries` lists them", path="delivery")
        expected = row.source_dataset or f"a dataset of department {row.owner_department}"
        if found.dataset not in self._datasets(row):
            raise InputError(
                f"delivery {found.id} is of {found.dataset}; a correction comes in a delivery of {expected}",
                path="delivery",
            )
        if found.status != DeliveryStatus.published:
            raise InputError(
                f"delivery {found.id} is {found.status}: only a published delivery corrects the data",
                path="delivery",
            )
        if found.landed_at < row.requested_at:
            raise InputError(
                f"delivery {found.id} landed before the request was made: it cannot be its correction",
                path="delivery",
            )
        row.status = CorrectionStatus.corrected
        row.delivery_id = found.id
        row.corrected_at = now

    # ----------------------------------------------------------------------------------------- audit

    def record(self, caller: Principal, step: str, correction: dict[str, Any]) -> None:
        """A step of the request in the audit log (committed when this returns)."""
        detail = {
            "correction_id": correction["correction_id"],
            "status": correction["status"],
            "owner_department": correction["owner_department"],
            "keys": len(correction["keys"]),
            "due_at": correction["due_at"],
        }
        if correction["delivery_id"]:
            detail["delivery_id"] = correction["delivery_id"]
        entry = AuditEntry(
            client_id=caller.client_id,
            client_name=caller.name,
            role=caller.role.value,
            action=ACTIONS[step],
            view=correction["view"],
            columns=[correction["field"]],
            rows=len(correction["keys"]),
            purpose=correction["problem"] if step == "request" else correction["answer"],
            detail=detail,
        )
        self.service.audit_writer.record(entry, wait=True)


# ------------------------------------------------------------------------------------------- demo

DEMO_VIEWS = ("iot_sensor_readings", "emergency_resources")
DEMO_CONSUMER = "demo-ops-centre"


def seed_correction(platform: Platform, client_name: str = DEMO_CONSUMER) -> int:
    """The demo's one open correction request: the consuming system ``client_name`` (created as a
    consumer when missing) reports the first row of the first published unconditional dataset of
    ``DEMO_VIEWS`` (read without a grant). Returns its id; the owner department's inbox shows it."""
    from datahub.access.clients import Clients
    from datahub.metadata import Client
    from datahub.serving.service import Service

    clients = Clients(platform.metadata, platform.dictionary)
    with platform.metadata.session() as s:
        client_id = s.scalar(select(Client.id).where(Client.name == client_name))
    if client_id is None:
        client_id = clients.create(client_name, Role.consumer.value).client_id
    caller = clients.get(client_id)
    service = Service(platform)
    try:
        for name in DEMO_VIEWS:
            served_view, decision = service.access(caller, name)
            view = served_view.contract
            if not decision.allowed or not service.snapshots.manifest(name):
                continue
            page = service.rows(caller, name, limit=1, purpose="演示：核对共享数据")
            if not page.count:
                continue
            row = page.records()[0]
            field = next(c for c in decision.columns if c not in view.key_columns)
            ask = CorrectionAsk(
                name,
                [{k: row[k] for k in view.key_columns}],
                field,
                "该字段取值与现场核实情况不符，请核实更正（演示）",
                "城运中心现场核查记录（演示）",
            )
            return int(Corrections(service).request(caller, ask)["correction_id"])
    finally:
        service.close()
    raise NotFound(f"no published dataset of {', '.join(DEMO_VIEWS)} to report on")


# --------------------------------------------------------------------------------- monthly report


@dataclass(frozen=True)
class DepartmentCorrections:
    """One answering department's requests received in the month, judged at ``as_of``."""

    department: str | None
    name: str
    received: int
    on_time: int  # answered (accepted or rejected) by due_at
    late: int  # answered after due_at
    open: int  # not answered yet
    overdue: int  # of ``open``: past due_at

    @property
    def on_time_rate(self) -> float | None:
        answered = self.on_time + self.late
        return round(100 * self.on_time / answered, 1) if answered else None


@dataclass(frozen=True)
class CorrectionFigures:
    as_of: datetime  # the end of the month, or now for the current month
    departments: tuple[DepartmentCorrections, ...]  # most received first
    total: DepartmentCorrections
    month_ended: bool  # as_of is the end of the month


def correction_figures(
    platform: Platform, start: datetime, end: datetime, *, now: datetime | None = None
) -> CorrectionFigures:
    """The requests received in [``start``, ``end``) (recorded times, naive UTC), per answering
    department, as they stood at the end of the month (or now, while the month is running): an answer
    given after that counts as not given yet."""
    as_of = min(end, now or now_utc())
    with platform.metadata.session() as s:
        rows = s.execute(
            select(
                CorrectionRequest.owner_department, CorrectionRequest.due_at, CorrectionRequest.answered_at
            ).where(CorrectionRequest.requested_at >= start, CorrectionRequest.requested_at < end)
        ).all()
    names = {code: c.name_zh for code, c in platform.dictionary.codes(DEPARTMENT_TABLE).items()}
    counts: dict[str | None, list[int]] = {}
    for department, due, answered in rows:
        tally = counts.setdefault(department, [0, 0, 0, 0, 0])
        tally[0] += 1
        if answered is not None and answered < as_of:
            tally[1 if answered <= due else 2] += 1
        else:
            tally[3] += 1
            tally[4] += due < as_of

    def figures(code: str | None, name: str, tally: Sequence[int]) -> DepartmentCorrections:
        return DepartmentCorrections(code, name, *tally)

    departments = sorted(
        (figures(code, names.get(code, code) if code else "—", tally) for code, tally in counts.items()),
        key=lambda d: (-d.received, d.department or ""),
    )
    total = figures(None, "全市", [sum(t[i] for t in counts.values()) for i in range(5)])
    return CorrectionFigures(as_of, tuple(departments), total, as_of == end)


def _key_value(column: str, kind: str, value: Any, where: str) -> Any:
    """A key value as the published column holds it (dates and times parsed from ISO text)."""
    if kind not in ("date", "timestamp"):
        return str(value)
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        form = "YYYY-MM-DD" if kind == "date" else "YYYY-MM-DDTHH:MM:SS"
        raise InputError(f"{column} is a {kind}: write it as {form}, not {value!r}", path=where) from None
    return parsed.date() if kind == "date" else parsed
