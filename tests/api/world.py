"""A small published city for the sharing API's tests: a synthetic week of every dataset through every
pipeline, a hotline delivery carrying a canary phone and id, the event views, and one client per role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from datahub import pipeline
from datahub.access import Clients
from datahub.api import create_app
from datahub.pipeline import process
from datahub.platform import Platform
from datahub.settings import Settings
from datahub.synth import SynthConfig, SynthResult, generate
from datahub.synth.model import DATASETS
from datahub.views import build_views
from tests.api.conftest import LiveServer, serve
from tests.hotline_rows import valid_row, write_hotline
from tests.synth_runs import land_synthetic

CANARY_PHONE = "13987654321"
CANARY_ID = "11010519491231002X"
CANARY_ROWS = 6
# Who calls: name -> (role, department).
ROLES = {
    "steward": ("steward", None),
    "admin": ("admin", None),
    "leader": ("leader", None),
    "consumer": ("consumer", None),
    "dept_oc": ("department", "OC"),  # owns the hotline, the gov app and the views
    "dept_ps": ("department", "PS"),  # owns the police transfers
    "dept_em": ("department", "EM"),  # owns the relief stock
}


@dataclass
class World:
    platform: Platform
    synth: SynthResult
    server: LiveServer
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def client(self, name: str, role: str, department: str | None = None, rate_limit: int = 200) -> str:
        """A new client's key."""
        clients: Clients = self.server.app.state.clients
        made = clients.create(name, role, department, rate_limit=rate_limit)
        self.keys[name] = made.api_key
        return made.api_key


def canary_rows(platform: Platform) -> list[dict[str, str]]:
    """Hotline rows whose caller, text and id carry the canary (ids far from the generator's)."""
    rows = [valid_row(platform.dictionary, 990_000 + i) for i in range(CANARY_ROWS)]
    for row in rows:
        row |= {
            "联系电话": CANARY_PHONE,
            "身份证号": CANARY_ID,
            "诉求内容": f"来电人称，身份证{CANARY_ID}，电话{CANARY_PHONE}，反映噪音。",
        }
    return rows


@contextmanager
def build_world(home: Path) -> Iterator[World]:
    settings = Settings(home=home / "var", demo_mode=True)
    platform = Platform(settings)
    config = SynthConfig(start=date(2026, 10, 1), days=7, rows_per_day=120, seed=23, defect_rate=0.02)
    synth = generate(config, platform.dictionary, platform.catalog, home / "synth")
    land_synthetic(platform, synth)
    for name in DATASETS:  # in generation order: the app's reference rule reads the published hotline
        assert {s.status for s in process(platform, platform.catalog.get(name))} <= {"published", "blocked"}
    hotline = platform.catalog.get("hotline_12345")
    canary = pipeline.ingest_file(
        platform, hotline.name, write_hotline(home / "canary.csv", canary_rows(platform), hotline)
    )
    assert canary.status == "published" and canary.rows_published == CANARY_ROWS, canary
    build_views(platform)
    with serve(create_app(settings)) as server:
        world = World(platform, synth, server)
        for name, (role, department) in ROLES.items():
            world.client(name, role, department, rate_limit=100_000)  # the rate limit has its own test
        yield world
    platform.metadata.dispose()
