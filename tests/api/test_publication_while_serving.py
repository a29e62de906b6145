"""A real server keeps answering while a pipeline publishes new versions: no error, and every response
comes from exactly one published version."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pyarrow as pa

from datahub import pipeline
from datahub.api import create_app
from datahub.platform import Platform
from datahub.settings import Settings
from tests.api.conftest import serve
from tests.hotline_rows import valid_row, write_hotline

ROWS = 400  # per delivery
DELIVERIES = 5


def _deliver(platform: Platform, tmp_path: Path, n: int) -> None:
    hotline = platform.catalog.get("hotline_12345")
    rows = [valid_row(platform.dictionary, n * ROWS + i + 1) for i in range(ROWS)]
    summary = pipeline.ingest_file(
        platform, hotline.name, write_hotline(tmp_path / f"d{n}.csv", rows, hotline)
    )
    assert summary.status == "published" and summary.rows_published == ROWS, summary


def test_reads_during_publication_are_consistent(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "var", demo_mode=True)
    platform = Platform(settings)
    _deliver(platform, tmp_path, 0)
    app = create_app(settings)
    key = app.state.clients.create("watcher", "steward").api_key
    headers = {"Authorization": f"Bearer {key}"}
    seen: list[tuple[str, str, int]] = []
    failures: list[str] = []
    stop = threading.Event()

    def read(url: str) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            while not stop.is_set():
                export = http.get("/api/v1/views/hotline_12345/export", params={"format": "arrow"})
                page = http.get(
                    "/api/v1/views/hotline_12345/rows", params={"limit": 1000, "fields": "work_order_id"}
                )
                if export.status_code != 200 or page.status_code != 200:
                    failures.append(f"{export.status_code} {page.status_code} {page.text[:200]}")
                    continue
                rows = pa.ipc.open_stream(export.content).read_all().num_rows
                seen.append(("export", export.headers["X-Datahub-Version"], rows))
                body = page.json()
                seen.append(("rows", body["version"], body["count"]))

    with serve(app) as server:
        readers = [threading.Thread(target=read, args=(server.url,)) for _ in range(3)]
        for thread in readers:
            thread.start()
        for n in range(1, DELIVERIES + 1):
            _deliver(platform, tmp_path, n)
        stop.set()
        for thread in readers:
            thread.join(timeout=120)
    assert not failures, failures[:3]
    history = platform.lake.tables.snapshots("published", "hotline_12345")
    published = {str(snapshot.snapshot_id): snapshot.rows for snapshot in history}
    assert len(published) == DELIVERIES + 1
    for kind, version, rows in seen:
        expected = published[version] if kind == "export" else min(1000, published[version])
        assert rows == expected, (kind, version, rows, expected)
    assert len({version for _, version, _ in seen}) >= 2, "the readers saw the publications happen"
    platform.metadata.dispose()
