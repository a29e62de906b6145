"""The sharing service: what the API's routes call. Plain library code, no HTTP.

One ``Service`` per application holds the served catalog (datasets and views from their contracts),
the in-memory snapshots, the clients, the grants and the audit writer. Each read decides access for the
caller (datahub.access.policy), compiles the caller's query with the grant's row filter inside it
(datahub.serving.query), runs it on one snapshot version, and records the read in the audit log: a page
is committed to the log before it is handed back, an export before its first batch (and again with
its outcome when it ends).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from datahub.access import Access, Clients, Grants, Principal, decide
from datahub.access.return_flow import ReturnFlow
from datahub.audit import AuditEntry, AuditWriter, open_audit_log
from datahub.contracts import Dataset
from datahub.errors import DatahubError, Forbidden, NotFound
from datahub.lake import PublishedVersion
from datahub.platform import CATALOG_RECHECK_SECONDS, Platform
from datahub.serving import query
from datahub.serving.catalog import Served, get_served, logical_types, served
from datahub.serving.notices import Notice, for_reader, upcoming
from datahub.serving.snapshots import Moment, Snapshots, Version, iso_times
from datahub.settings import derive_key

DATA_READS = ("read", "export", "open311")
"""Audit actions that are data reads: a page of rows (or one event), an export, an Open311 call.

An export has two records: ``export.start`` (committed before its first batch leaves; no rows) and
``export`` at its end, with the rows handed to the transport and ``detail.outcome``; the two share
``detail.export``. Only the second counts here, so an export is counted once, with its rows."""

EXPORT_BATCH_ROWS = 65_536


@dataclass(frozen=True)
class Page:
    view: str
    version: str
    columns: list[str]
    count: int
    rows_json: bytes  # the rows as a JSON array of objects (timestamps and dates as ISO 8601 text)
    next_cursor: str | None
    snapshot_time: datetime | None = None  # when the version read was committed (UTC)

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts."""
        rows: list[dict[str, Any]] = json.loads(self.rows_json)
        return rows


def _by_key(view: Dataset, decision: Access, filter: str | None, order: tuple[query.OrderKey, ...]) -> bool:
    """Whether a page is read in key order with nothing filtering it (no filter, no grant row filter, no
    raw columns to join): then it is a binary search and a slice of the key-ordered version."""
    return (
        not decision.raw
        and decision.row_filter is None
        and not (filter and filter.strip())
        and len(view.key_columns) == 1
        and [(k.name, k.descending) for k in order] == [(view.key_columns[0], False)]
    )


class Service:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.snapshots = Snapshots(platform.lake)
        self.clients = Clients(platform.metadata, platform.dictionary)
        self._catalog: dict[str, Served] | None = None
        self._catalog_of: object = None
        self._upcoming: tuple[float, list[Notice]] | None = None
        self._decisions: dict[tuple[object, ...], Access] = {}
        self._catalog_lock = threading.Lock()
        self.grants = Grants(
            platform.metadata,
            self._contracts,
            self.check_filter,
            signal=platform.settings.var / "grants.changed",
            calendar=platform.dictionary.calendar,
            answer_days=platform.settings.grant_answer_days,
        )
        self.return_flow = ReturnFlow(
            platform.metadata, platform.dictionary, signal=platform.settings.var / "grants.changed"
        )
        self.audit = open_audit_log(platform)
        # Reads wait for the commit of their record (group commit: concurrent reads share a batch).
        # Records nobody waits for (the end of an export) are written at most a fifth of a second
        # later, and flushed when the server stops.
        self.audit_writer = AuditWriter(self.audit, interval=0.2)
        self.export_batch_rows = EXPORT_BATCH_ROWS
        self._cursor_key = derive_key(platform.settings.secret_key, b"datahub query cursor v1")

    def close(self) -> None:
        self.audit_writer.close()
        self.snapshots.close()

    # ----------------------------------------------------------------------------------- catalog

    @property
    def catalog(self) -> dict[str, Served]:
        """What is served: the datasets of the contract versions in force (``Platform.catalog`` reads
        the registry again at most once a second, so a dataset registered elsewhere is served without a
        restart) and the views."""
        datasets = self.platform.catalog
        with self._catalog_lock:
            if self._catalog is None or self._catalog_of is not datasets:
                self._catalog = served(self.platform)
                self._catalog_of = datasets
                self._decisions.clear()
            return self._catalog

    # ----------------------------------------------------------------------------------- notices

    def upcoming(self) -> list[Notice]:
        """Contract versions still to come, read from the registry at most once a second."""
        now = time.monotonic()
        with self._catalog_lock:
            if self._upcoming is not None and now - self._upcoming[0] < CATALOG_RECHECK_SECONDS:
                return self._upcoming[1]
        notices = upcoming(self.platform.registry)
        with self._catalog_lock:
            self._upcoming = (now, notices)
        return notices

    def notices(self, principal: Principal) -> list[Notice]:
        """The notices ``principal`` is told (``datahub.serving.notices``)."""
        granted = {g.view for g in self.grants.active(principal.client_id)}
        return for_reader(self.upcoming(), principal, granted)

    def pending_header(self, name: str) -> str | None:
        """The ``X-Datahub-Pending-Version`` value for a read of ``name`` while a change to it is to come."""
        found = [n.header() for n in self.upcoming() if name in n.affects]
        return ", ".join(found) or None

    def pending_version(self, name: str) -> dict[str, Any] | None:
        """The contract version to come that changes ``name`` (for a view, the soonest of its sources';
        one awaiting approval comes after every scheduled one), as ``PendingVersionPublic``."""
        found = sorted(
            (n for n in self.upcoming() if name in n.affects),
            key=lambda n: (n.effective_at is None, n.effective_at or datetime.min, n.contract_id),
        )
        if not found:
            return None
        n = found[0]
        return {
            "contract_id": n.contract_id,
            "version": n.version,
            "in_force_version": n.in_force_version,
            "state": n.state,
            "effective_at": n.effective_at.replace(tzinfo=UTC) if n.effective_at else None,
        }

    def _contracts(self) -> dict[str, Dataset]:
        return {name: s.contract for name, s in self.catalog.items()}

    def check_filter(self, view: Dataset, text: str) -> None:
        """Raise when ``text`` is not a valid row filter of ``view``."""
        query.check_filter(logical_types(view), text, parameter="row_filter")

    def access(self, principal: Principal, name: str) -> tuple[Served, Access]:
        """The caller's access to ``name``: decided once per role, department, view and set of active
        grants (an approved grant's terms never change; revocation and expiry change the set)."""
        served_view = get_served(self.catalog, name)
        grants = self.grants.active(principal.client_id, name)
        standing = self.return_flow.on_view(principal.client_id, served_view.contract)
        holder = principal.client_id if grants or standing else None
        ids = (tuple(g.id for g in grants), tuple(a.id for a in standing))
        key = (principal.role, principal.department, holder, name, ids)
        decision = self._decisions.get(key)
        if decision is None:
            decision = decide(principal, served_view.contract, grants, standing)
            if len(self._decisions) > 10_000:
                self._decisions.clear()
            self._decisions[key] = decision
        return served_view, decision

    def readable(self, principal: Principal, name: str) -> tuple[Served, Access]:
        served_view, decision = self.access(principal, name)
        if not decision.allowed:
            raise Forbidden(f"'{name}' is {decision.reason}")
        return served_view, decision

    def views(self, principal: Principal) -> list[dict[str, Any]]:
        """Every view the caller may read or request, with its sharing class and the caller's access."""
        out = []
        for name, s in self.catalog.items():
            _, decision = self.access(principal, name)
            requestable = s.contract.sharing_class.value != "not_shared"
            if not decision.allowed and not requestable:
                continue
            manifest = self.snapshots.manifest(name)  # a listing loads no data
            rows = manifest.rows if manifest else 0
            current = manifest.version if manifest else None
            out.append(
                {
                    "name": name,
                    "kind": s.kind.value,
                    "title": s.contract.title,
                    "owner_department": s.contract.owner_department,
                    "sharing_class": s.contract.sharing_class.value,
                    "access": "granted"
                    if decision.grants or decision.standing
                    else ("allowed" if decision.allowed else "needs_grant"),
                    "reason": decision.reason,
                    "grants": list(decision.grants),
                    "standing_grants": list(decision.standing),
                    "version": current,
                    "rows": rows if decision.allowed else None,
                    "contract_version": s.contract.version,
                    "pending_version": self.pending_version(name),
                }
            )
        return out

    def schema(self, principal: Principal, name: str) -> dict[str, Any]:
        served_view, decision = self.readable(principal, name)
        view = served_view.contract
        types = served_view.types
        columns = []
        for c in view.columns:
            if c.name not in decision.columns:
                continue
            columns.append(
                {
                    "name": c.name,
                    "type": types[c.name],
                    "title": c.element.name_zh if c.element else None,
                    "primary_key": c.primary_key,
                    "personal_class": c.personal_class.value,
                    "masking": decision.masking[c.name],
                    "code_table": c.code_table,
                }
            )
        return {
            "name": view.name,
            "kind": served_view.kind.value,
            "title": view.title,
            "contract_version": view.version,
            "owner_department": view.owner_department,
            "sharing_class": view.sharing_class.value,
            "key": list(view.key_columns),
            "row_filter": decision.row_filter,
            "grants": list(decision.grants),
            "standing_grants": list(decision.standing),
            "columns": columns,
            "pending_version": self.pending_version(name),
        }

    # ------------------------------------------------------------------------------------- reads

    def answers_at_once(
        self, principal: Principal, name: str, *, filter: str | None, order: str | None
    ) -> bool:
        """Whether :meth:`rows` with these parameters will read a page by key from a version already in
        memory: a few hundred microseconds, which a server may spend on its event loop rather than hand
        to a thread. Anything else (a query to run, a version to load, an error to raise) is not."""
        try:
            served_view, decision = self.access(principal, name)
            if not decision.allowed or not self.snapshots.loaded(name):
                return False
            view = served_view.contract
            types = served_view.types
            keys = query.parse_order(order, {n: types[n] for n in decision.columns}, view.key_columns)
        except DatahubError:
            return False
        return _by_key(view, decision, filter, keys)

    @contextmanager
    def _published(self, view: Dataset, at: Moment | None = None) -> Iterator[Version]:
        """The current version of ``view`` (or the snapshot ``at`` names) for the length of the block;
        not found before it is published."""
        with self.snapshots.lease(view.name, view.key_columns, at) as version:
            if version is None:
                raise NotFound(f"'{view.name}' has not been published yet")
            yield version

    def _compile(
        self,
        served_view: Served,
        decision: Access,
        version: Version,
        *,
        fields: str | None,
        filter: str | None,
        order: str | None,
        limit: int | None,
        cursor: str | None,
    ) -> tuple[str, query.CompiledQuery]:
        """The relation the caller reads (raw columns joined in where a grant releases them) and the
        caller's query over it, with the grant's row filter inside."""
        view = served_view.contract
        relation = self.snapshots.relation(version, decision.raw)
        types = served_view.types
        compiled = query.compile_query(
            relation=relation,
            view=view.name,
            columns={n: types[n] for n in decision.columns},
            key=view.key_columns,
            fields=fields,
            filter=filter,
            extra_filter=decision.row_filter,
            extra_filter_columns=types,
            order=order,
            limit=limit,
            cursor=cursor,
            secret=self._cursor_key,
        )
        return relation, compiled

    def _entry(
        self,
        principal: Principal,
        action: str,
        view: str | None,
        *,
        columns: list[str] | None = None,
        filter: str | None = None,
        rows: int | None = None,
        purpose: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            client_id=principal.client_id,
            client_name=principal.name,
            role=principal.role.value,
            action=action,
            view=view,
            columns=columns,
            filter=filter,
            rows=rows,
            purpose=purpose,
            detail=detail,
        )

    def rows(
        self,
        principal: Principal,
        name: str,
        *,
        fields: str | None = None,
        filter: str | None = None,
        order: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        purpose: str | None = None,
        action: str = "read",
        at: Moment | None = None,
    ) -> Page:
        """A page of rows, returned once its audit record is committed; raises
        :class:`~datahub.audit.AuditWriteError` when the record cannot be written (the page is then
        not to be sent)."""
        page, recorded = self.read_page(
            principal,
            name,
            fields=fields,
            filter=filter,
            order=order,
            limit=limit,
            cursor=cursor,
            purpose=purpose,
            action=action,
            at=at,
        )
        recorded.result()
        return page

    def read_page(
        self,
        principal: Principal,
        name: str,
        *,
        fields: str | None = None,
        filter: str | None = None,
        order: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        purpose: str | None = None,
        action: str = "read",
        at: Moment | None = None,
    ) -> tuple[Page, Future[int]]:
        """:meth:`rows` for a caller on an event loop: the page and the commit of its audit record (a
        future of the record's seq). Send the page only once the future is done without an error
        (``await asyncio.wrap_future(recorded)``). ``at``: an earlier snapshot instead of the current one."""
        served_view, decision = self.readable(principal, name)
        view = served_view.contract
        with self._published(view, at) as version:
            relation, compiled = self._compile(
                served_view,
                decision,
                version,
                fields=fields,
                filter=filter,
                order=order,
                limit=limit,
                cursor=cursor,
            )
            if relation == version.table and _by_key(view, decision, filter, compiled.order):
                count, rows_json, next_cursor = self._page_by_key(version, compiled, cursor)
            else:
                con = self.snapshots.cursor()
                try:
                    fetched = con.execute(compiled.sql, compiled.params).fetchall()
                finally:
                    con.close()
                rows, next_cursor = query.paginate(compiled, fetched)
                frame = pl.DataFrame(rows, schema=compiled.columns, orient="row", infer_schema_length=None)
                count, rows_json = frame.height, iso_times(frame).write_json().encode("utf-8")
        entry = self._entry(
            principal,
            action,
            name,
            columns=compiled.columns,
            filter=filter,
            rows=count,
            purpose=purpose or decision.purpose,
            detail=self._detail(version, decision, order=order, cursor=cursor is not None, as_of=_when(at)),
        )
        recorded = self.audit_writer.submit(entry)
        page = Page(
            name, version.version, compiled.columns, count, rows_json, next_cursor, version.snapshot_time
        )
        return page, recorded

    def _page_by_key(
        self, version: Version, compiled: query.CompiledQuery, cursor: str | None
    ) -> tuple[int, bytes, str | None]:
        """A page in key order without a filter (the same rows the compiled query selects), read from
        the key-ordered version: the row after the cursor's key by binary search, the rows' JSON from
        the version's encoded blocks. Its row count, its JSON and the next cursor."""
        keys = version.key_list()
        start = 0
        if cursor is not None and cursor.strip():
            after = query.decode_cursor(cursor, self._cursor_key, compiled.fingerprint, compiled.cursor_kinds)
            start = version.after(after[0])
        stop = min(start + compiled.limit, len(keys))
        rows = version.json_rows(tuple(compiled.columns), start, stop)
        next_cursor = None
        if stop < len(keys):
            next_cursor = query.encode_cursor(self._cursor_key, compiled.fingerprint, [keys[stop - 1]])
        return len(rows), ("[" + ",".join(rows) + "]").encode("utf-8"), next_cursor

    @staticmethod
    def _detail(version: Version, decision: Access, **more: Any) -> dict[str, Any]:
        detail: dict[str, Any] = {"version": version.version, "grants": list(decision.grants)}
        if decision.standing:
            detail["standing_grants"] = list(decision.standing)
        if decision.raw:
            detail["raw_columns"] = sorted(decision.raw)
        if decision.row_filter:
            detail["row_filter"] = decision.row_filter
        detail.update({k: v for k, v in more.items() if v})
        return detail

    def export(
        self,
        principal: Principal,
        name: str,
        *,
        fields: str | None = None,
        filter: str | None = None,
        order: str | None = None,
        purpose: str | None = None,
        batch_rows: int | None = None,
        at: Moment | None = None,
    ) -> tuple[list[str], PublishedVersion, Iterator[Any]]:
        """The column names, the version read (the current one or the snapshot ``at`` names) and a
        generator of Arrow record batches of every row the caller may read (``batch_rows`` a batch, by
        default ``export_batch_rows``).

        The export is in the audit log before this returns (``export.start``, committed; raises
        :class:`~datahub.audit.AuditWriteError` when it cannot be). When the generator ends (exhausted,
        closed or failed) the version's lease is released and the record ``export`` written with its
        outcome (``complete``, ``interrupted`` or ``failed``) and the rows handed on: a batch counts
        once the consumer has asked for the next one, i.e. once it has been passed on."""
        served_view, decision = self.readable(principal, name)
        view = served_view.contract
        lease = self._published(view, at)
        version = lease.__enter__()
        con = None
        try:
            _, compiled = self._compile(
                served_view,
                decision,
                version,
                fields=fields,
                filter=filter,
                order=order,
                limit=None,
                cursor=None,
            )
            statement = query.unlimited(compiled)
            con = self.snapshots.cursor()
            reader: Any = con.sql(statement.sql, params=statement.params).to_arrow_reader(
                batch_rows or self.export_batch_rows
            )
            detail = self._detail(version, decision, order=order, export=uuid.uuid4().hex, as_of=_when(at))
            purpose = purpose or decision.purpose

            def entry(action: str, **more: Any) -> AuditEntry:
                return self._entry(
                    principal, action, name, columns=compiled.columns, filter=filter, purpose=purpose, **more
                )

            self.audit_writer.record(entry("export.start", detail=detail), wait=True)
        except BaseException:
            if con is not None:
                con.close()
            lease.__exit__(None, None, None)
            raise

        def batches() -> Iterator[Any]:
            sent = 0
            outcome = "failed"
            try:
                for batch in reader:
                    yield batch
                    sent += batch.num_rows  # the consumer asks for the next batch: this one has left
                outcome = "complete"
            except GeneratorExit:
                outcome = "interrupted"
                raise
            finally:
                con.close()
                lease.__exit__(None, None, None)
                # Not waited for: the start is committed already, and this runs wherever the generator
                # is closed (the API closes it in a worker thread, but a caller may on an event loop).
                self.audit_writer.record(entry("export", rows=sent, detail={**detail, "outcome": outcome}))

        return compiled.columns, version.published, batches()

    # ------------------------------------------------------------------------------------- audit

    def record_contract(self, principal: Principal, action: str, detail: dict[str, Any]) -> None:
        """A contract version's registration or a steward's decision on it, in the audit log
        (committed when this returns)."""
        self.audit_writer.record(self._entry(principal, action, None, detail=detail), wait=True)

    def record_grant(self, principal: Principal, action: str, grant: dict[str, Any]) -> None:
        """A grant's request or decision, in the audit log beside the reads it allows (committed when
        this returns)."""
        entry = self._entry(
            principal,
            action,
            str(grant["view"]),
            columns=grant["columns"],
            filter=grant["row_filter"],
            purpose=str(grant["purpose"]),
            detail={
                "grant_id": grant["grant_id"],
                "status": grant["status"],
                "client_id": grant["client_id"],
            },
        )
        self.audit_writer.record(entry, wait=True)

    def record_standing(self, principal: Principal, action: str, standing: dict[str, Any]) -> None:
        """A standing grant's creation or revocation, in the audit log (committed when this returns)."""
        entry = self._entry(
            principal,
            action,
            None,
            purpose=str(standing["purpose"]),
            detail={
                "standing_grant_id": standing["standing_grant_id"],
                "client_id": standing["client_id"],
                "area_level": standing["area_level"],
                "area_code": standing["area_code"],
            },
        )
        self.audit_writer.record(entry, wait=True)

    def audit_records(self, **filters: Any) -> list[dict[str, Any]]:
        """Audit records, newest first; everything recorded before this call is included."""
        self.audit_writer.flush()
        return self.audit.query(**filters)


def _when(at: Moment | None) -> str | None:
    """What an earlier read asked for, for its audit record."""
    if at is None:
        return None
    return (
        f"snapshot {at.snapshot}" if at.snapshot is not None else at.as_of.isoformat() if at.as_of else None
    )
