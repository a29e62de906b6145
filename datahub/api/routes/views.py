"""Published datasets and event-ready views (数据共享): listing, schema, rows, export, events.

Every read decides access for the caller (sharing class, grants), puts the grant's row filter inside
the query, runs on one snapshot version and is written to the audit log before its rows leave.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from datahub.api.deps import CurrentPrincipal, ServiceDep, get_principal
from datahub.api.models import ErrorPublic, PagePublic, ViewSchemaPublic, ViewsPublic
from datahub.errors import InputError, NotFound
from datahub.serving.neutralise import neutralise_formulas
from datahub.serving.snapshots import Moment

router = APIRouter(
    tags=["views"],
    dependencies=[Depends(get_principal)],
    responses={
        401: {"model": ErrorPublic, "description": "No or unknown API key (`unauthenticated`)."},
        403: {"model": ErrorPublic, "description": "Not readable by this caller (`forbidden`)."},
        404: {"model": ErrorPublic, "description": "No such view, or not published yet (`not_found`)."},
        429: {"model": ErrorPublic, "description": "Over the client's rate limit (`rate_limited`)."},
        503: {
            "model": ErrorPublic,
            "description": "The read could not be recorded in the audit log, so it is not served "
            "(`audit_write_failed`).",
        },
    },
)

ViewName = Annotated[str, Path(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,99}$", examples=["events_unified"])]
Fields = Annotated[
    str | None,
    Query(
        max_length=4000,
        description="Comma-separated columns (default: all you may read).",
        examples=["event_id,category,district_code,report_time"],
    ),
]
Filter = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="A filter in the query language (docs/query.md).",
        examples=["district_code = '330102' and report_time >= '2026-10-01'"],
    ),
]
Order = Annotated[
    str | None,
    Query(
        max_length=1000,
        description="Comma-separated columns, `-name` for descending (default: the key).",
        examples=["-report_time"],
    ),
]
Purpose = Annotated[
    str | None,
    Query(
        max_length=500,
        description="Why you read this; recorded in the audit log (default: the grant's purpose).",
        examples=["城市运行态势研判"],
    ),
]


AsOf = Annotated[
    datetime | None,
    Query(
        description="Read the snapshot that was current at this time (ISO 8601; without a zone: UTC). "
        "Default: the current snapshot.",
        examples=["2026-11-30T16:00:00Z"],
    ),
]
SnapshotId = Annotated[
    int | None,
    Query(
        ge=0,
        description="Read this snapshot (the `version` of an earlier response) instead of the current one.",
    ),
]


def _moment(as_of: datetime | None, snapshot: int | None) -> Moment | None:
    if as_of is not None and snapshot is not None:
        raise InputError("give as_of or snapshot, not both", path="as_of")
    return Moment(as_of=as_of, snapshot=snapshot) if as_of is not None or snapshot is not None else None


def _snapshot_headers(version: str, committed: datetime | None) -> dict[str, str]:
    """The headers that name the snapshot a response read."""
    headers = {"X-Datahub-Version": version, "X-Datahub-Snapshot": version}
    if committed is not None:
        headers["X-Datahub-Snapshot-Time"] = committed.isoformat()
    return headers


@router.get("/views", response_model=ViewsPublic, summary="Views you may read or request")
def list_views(principal: CurrentPrincipal, service: ServiceDep) -> dict[str, Any]:
    views = service.views(principal)
    return {"data": views, "count": len(views)}


@router.get("/views/{name}", response_model=ViewSchemaPublic, summary="A view's schema, as you read it")
def view_schema(name: ViewName, principal: CurrentPrincipal, service: ServiceDep) -> dict[str, Any]:
    return service.schema(principal, name)


@router.get("/views/{name}/rows", response_model=PagePublic, summary="A page of rows")
async def view_rows(
    request: Request,
    name: ViewName,
    principal: CurrentPrincipal,
    service: ServiceDep,
    fields: Fields = None,
    filter: Filter = None,
    order: Order = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Rows per page.")] = 100,
    cursor: Annotated[
        str | None, Query(max_length=4000, description="`next_cursor` of the previous page.")
    ] = None,
    purpose: Purpose = None,
    as_of: AsOf = None,
    snapshot: SnapshotId = None,
) -> Response:
    at = _moment(as_of, snapshot)
    read = functools.partial(
        service.read_page,
        principal,
        name,
        fields=fields,
        filter=filter,
        order=order,
        limit=limit,
        cursor=cursor,
        purpose=purpose,
        at=at,
    )
    # A page read by key from memory costs less than handing it to a thread; a query runs in one.
    if at is None and service.answers_at_once(principal, name, filter=filter, order=order):
        page, recorded = read()
    else:
        page, recorded = await run_in_threadpool(read)
    # The read is committed to the audit log before its rows leave (raises AuditWriteError: 503).
    await asyncio.wrap_future(recorded)
    next_url = None
    if page.next_cursor:
        next_url = str(request.url.include_query_params(cursor=page.next_cursor))
    # Serialised here rather than by FastAPI from Python objects: one polars write and a small envelope.
    head = {
        "view": page.view,
        "version": page.version,
        "snapshot_time": page.snapshot_time.isoformat() if page.snapshot_time else None,
        "columns": page.columns,
        "count": page.count,
        "next_cursor": page.next_cursor,
        "next": next_url,
    }
    envelope = json.dumps(head, ensure_ascii=False).encode("utf-8")
    body = envelope[:-1] + b', "data": ' + page.rows_json + b"}"
    headers = _snapshot_headers(page.version, page.snapshot_time)
    return Response(body, media_type="application/json", headers=headers)


class _Chunks(io.RawIOBase):
    """A write-only file whose bytes are handed on in chunks (for writers that want a file)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def _flat(batch: pa.RecordBatch) -> pa.RecordBatch:
    """CSV holds no lists: a list column is written as its items joined by ``|``."""
    columns = [
        pc.binary_join(column, "|") if pa.types.is_list(column.type) else column for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _stream(fmt: str, batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    sink = _Chunks()
    writer: Any = None
    try:
        for batch in batches:
            if fmt == "csv":
                batch = neutralise_formulas(_flat(batch))
            if fmt == "jsonl":
                yield pl.from_arrow(batch).write_ndjson().encode("utf-8")  # type: ignore[union-attr]
                continue
            if writer is None:
                if fmt == "arrow":
                    writer = pa.ipc.new_stream(sink, batch.schema)
                elif fmt == "parquet":
                    writer = pq.ParquetWriter(sink, batch.schema, compression="zstd")
                else:
                    writer = pa_csv.CSVWriter(sink, batch.schema)
            if fmt == "parquet":
                writer.write_table(pa.Table.from_batches([batch]))
            else:
                writer.write_batch(batch)
            yield sink.take()
        if writer is not None:
            writer.close()
            yield sink.take()
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


class _ClosingStream(StreamingResponse):
    """A streamed response that closes its (synchronous) body when the response ends, however it
    ends. Starlette leaves a body that a disconnected client did not read to the garbage collector,
    which may take long: the export's version lease, its database cursor and its end record wait on it."""

    def __init__(self, content: Iterator[bytes], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._content = content

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # No step of the body runs now (a cancelled one is waited for). Closing it releases the
            # version, which may drop a superseded one: in a worker thread, as the body's steps run.
            close = getattr(self._content, "close", None)
            if close is not None:
                await run_in_threadpool(close)


MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}


@router.get(
    "/views/{name}/export",
    summary="Every row you may read, streamed",
    response_class=StreamingResponse,
    responses={200: {"content": {m: {} for m in MEDIA.values()}, "description": "The rows, streamed."}},
)
def view_export(
    name: ViewName,
    principal: CurrentPrincipal,
    service: ServiceDep,
    format: Annotated[Literal["csv", "jsonl", "parquet", "arrow"], Query(description="File format.")] = "csv",
    fields: Fields = None,
    filter: Filter = None,
    order: Order = None,
    purpose: Purpose = None,
    as_of: AsOf = None,
    snapshot: SnapshotId = None,
) -> StreamingResponse:
    _, version, batches = service.export(
        principal,
        name,
        fields=fields,
        filter=filter,
        order=order,
        purpose=purpose,
        at=_moment(as_of, snapshot),
    )
    body = _stream(format, batches)
    if format == "csv":
        body = _with_bom(body)
    filename = f"{name}.{format}"
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        **_snapshot_headers(version.version, version.created_at),
    }
    return _ClosingStream(body, media_type=MEDIA[format], headers=headers)


def _with_bom(body: Iterator[bytes]) -> Iterator[bytes]:
    """CSV for Excel users: a UTF-8 byte order mark first, so Chinese opens correctly."""
    yield b"\xef\xbb\xbf"
    yield from body


@router.get("/events/{event_id}", summary="One unified event with its sources")
def event(
    event_id: Annotated[str, Path(max_length=100, examples=["EV-hotline_12345-GD20261001000001"])],
    principal: CurrentPrincipal,
    service: ServiceDep,
    purpose: Purpose = None,
) -> dict[str, Any]:
    literal = "'" + event_id.replace("'", "''") + "'"
    page = service.rows(principal, "events_unified", filter=f"event_id = {literal}", limit=1, purpose=purpose)
    if not page.count:
        raise NotFound(f"no event '{event_id}' you may read", path="event_id")
    return {"view": page.view, "version": page.version, "data": page.records()[0]}
