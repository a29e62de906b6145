"""A read is in the audit log before its rows leave, even when the server is killed (SIGKILL) under
load; an export is recorded at its start and, when it ends, with the rows it handed on; a read whose
record cannot be written is refused, not served."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from datahub import pipeline
from datahub.access import Clients
from datahub.api import create_app
from datahub.audit import open_audit_log
from datahub.platform import Platform
from datahub.settings import Settings
from tests.api.conftest import serve
from tests.api.server_process import start
from tests.hotline_rows import valid_row, write_hotline

VIEW = "hotline_12345"
ROWS = 4000
BATCH = 1000  # export batch rows: four batches
ROWS_PATH = f"/api/v1/views/{VIEW}/rows"
EXPORT_PATH = f"/api/v1/views/{VIEW}/export"
SMALL_BUFFER = 16_384  # SO_RCVBUF of the test's client, SO_SNDBUF of the server's connections


@dataclass(frozen=True)
class Published:
    settings: Settings

    @property
    def home(self) -> Path:
        return self.settings.var

    def client(self, name: str) -> tuple[str, str]:
        """A new steward client: its id and API key."""
        platform = Platform(self.settings)
        try:
            made = Clients(platform.metadata, platform.dictionary).create(
                name, "steward", rate_limit=1_000_000
            )
        finally:
            platform.metadata.dispose()
        return made.client_id, made.api_key

    def records(self, client_id: str, action: str) -> list[dict[str, Any]]:
        """The client's audit records of ``action``, oldest first, as the database has them now."""
        platform = Platform(self.settings)
        log = open_audit_log(platform)
        try:
            return log.query(client_id=client_id, action=action, limit=1_000_000)[::-1]
        finally:
            log.close()
            platform.metadata.dispose()

    def verify(self) -> str | None:
        """None when the audit log verifies, else verify's message."""
        platform = Platform(self.settings)
        log = open_audit_log(platform)
        try:
            result = log.verify()
        finally:
            log.close()
            platform.metadata.dispose()
        return None if result.ok else result.message


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    root = tmp_path_factory.mktemp("audited")
    settings = Settings(home=root / "var", demo_mode=True)
    platform = Platform(settings)
    hotline = platform.catalog.get(VIEW)
    rows = [valid_row(platform.dictionary, i + 1) for i in range(ROWS)]
    summary = pipeline.ingest_file(platform, VIEW, write_hotline(root / "delivery.csv", rows, hotline))
    assert summary.status == "published" and summary.rows_published == ROWS, summary
    platform.metadata.dispose()
    yield Published(settings)


def _small_receive_buffer() -> httpx.HTTPTransport:
    return httpx.HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)])


def _csv_rows(body: bytes) -> int:
    """Complete data lines in the first bytes of a CSV export (BOM and header line off)."""
    return max(body.count(b"\n") - 1, 0)


def test_every_answered_read_is_in_the_audit_log_when_the_server_is_killed(published: Published) -> None:
    client_id, key = published.client("reader-killed")
    answered: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def read(url: str, t: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            for i in range(1_000_000):
                if stop.is_set():
                    return
                purpose = f"kill test {t}-{i}"  # recorded as given: names the request in the log
                params: dict[str, Any] = {"limit": 20, "purpose": purpose}
                if i % 2:  # a query run in a worker thread; otherwise a page by key on the event loop
                    params["order"] = "-work_order_id"
                try:
                    answer = http.get(ROWS_PATH, params=params)
                except httpx.HTTPError:
                    return  # the server is gone
                with lock:
                    (answered if answer.status_code == 200 else refused).append(purpose)

    with start(published.home, key) as server:
        readers = [threading.Thread(target=read, args=(server.url, t)) for t in range(4)]
        for thread in readers:
            thread.start()
        deadline = time.monotonic() + 8
        while len(answered) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # mid-load: requests in flight, records being written
        stop.set()
        for thread in readers:
            thread.join(timeout=30)
    assert not refused, refused[:5]
    assert len(answered) >= 50, "the load did not get going"
    recorded = {r["purpose"] for r in published.records(client_id, "read")}
    missing = [p for p in answered if p not in recorded]
    assert not missing, (
        f"{len(missing)} of {len(answered)} answered reads are not in the audit log: {missing[:5]}"
    )
    assert published.verify() is None


def test_an_export_killed_midway_has_its_start_recorded(published: Published) -> None:
    client_id, key = published.client("exporter-killed")
    with (
        start(published.home, key, export_batch_rows=BATCH, send_buffer=SMALL_BUFFER) as server,
        httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
            transport=_small_receive_buffer(),
        ) as http,
        http.stream("GET", EXPORT_PATH, params={"format": "csv", "purpose": "killed export"}) as answer,
    ):
        assert answer.status_code == 200
        received = bytearray()
        for chunk in answer.iter_raw():
            received += chunk
            if _csv_rows(received) >= 100:  # rows have left the server
                break
        server.kill()
    starts = published.records(client_id, "export.start")
    assert [(r["purpose"], r["view"], r["rows"]) for r in starts] == [("killed export", VIEW, None)]
    assert starts[0]["detail"]["export"]
    assert published.records(client_id, "export") == []  # killed midway: no end
    assert published.verify() is None


def test_an_export_whose_client_disconnects_records_what_it_handed_on(published: Published) -> None:
    client_id, key = published.client("exporter-leaving")
    with (
        start(published.home, key, export_batch_rows=BATCH, send_buffer=SMALL_BUFFER) as server,
        httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
            transport=_small_receive_buffer(),
        ) as http,
    ):
        whole = http.get(EXPORT_PATH, params={"format": "csv", "purpose": "whole"})
        assert whole.status_code == 200 and _csv_rows(whole.content) == ROWS
        batch_bytes = len(whole.content) / (ROWS / BATCH)
        assert batch_bytes > 8 * SMALL_BUFFER + 65_536, "a batch must be larger than what buffers hold"
        with http.stream("GET", EXPORT_PATH, params={"format": "csv", "purpose": "left"}) as answer:
            received = bytearray()
            for chunk in answer.iter_raw():
                received += chunk
                if len(received) >= 1.5 * batch_bytes:  # halfway through the second batch
                    break
        # Leaving the block closed the connection in the middle of the body.
        got = _csv_rows(received)
        deadline = time.monotonic() + 15
        while not (ends := published.records(client_id, "export")) or len(ends) < 2:
            assert time.monotonic() < deadline, f"no end record for the interrupted export: {ends}"
            time.sleep(0.1)
    starts = published.records(client_id, "export.start")
    assert [r["purpose"] for r in starts] == ["whole", "left"]
    by_purpose = {r["purpose"]: r for r in ends}
    complete, left = by_purpose["whole"], by_purpose["left"]
    assert complete["rows"] == ROWS and complete["detail"]["outcome"] == "complete"
    assert left["detail"]["outcome"] == "interrupted"
    assert left["detail"]["export"] == starts[1]["detail"]["export"]  # the end names its start
    # Counted once handed to the transport: at least what the client got, at most one batch more.
    assert got <= left["rows"] <= got + BATCH, (got, left["rows"])
    assert published.verify() is None


def test_a_read_whose_record_cannot_be_written_is_refused(
    published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(published.settings)
    key = app.state.clients.create("refused", "steward").api_key
    service = app.state.service
    service.audit_writer.retry_delay = 0.01

    def broken(*_args: object, **_kwargs: object) -> list[int]:
        raise RuntimeError("audit database unavailable")

    monkeypatch.setattr(service.audit, "append", broken)
    with (
        serve(app) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http,
    ):
        for params in ({"limit": 5}, {"limit": 5, "order": "-work_order_id"}):
            page = http.get(ROWS_PATH, params=params)
            assert page.status_code == 503, page.text
            assert page.json()["error"]["code"] == "audit_write_failed"
            assert "work_order_id" not in page.text  # no rows left
        export = http.get(EXPORT_PATH, params={"format": "csv"})
        assert export.status_code == 503 and export.json()["error"]["code"] == "audit_write_failed"
        monkeypatch.undo()  # the database is back: reads are served (and recorded) again
        assert http.get(ROWS_PATH, params={"limit": 5}).status_code == 200
