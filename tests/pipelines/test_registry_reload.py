"""The code location follows the registry (issue 17): a real Dagster webserver serves the location; a
contract registered afterwards makes the `contract_registry` sensor ask it to reload, and the new
dataset's job, assets and landing sensor appear without a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from dagster import DagsterInstance, SkipReason, build_sensor_context

from datahub.platform import Platform
from datahub.settings import Settings
from pipelines.definitions import build_definitions
from pipelines.registry import SENSOR, changes
from pipelines.resources import PlatformResource

ROOT = Path(__file__).resolve().parents[2]
QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  location { name } jobs { name } sensors { name } } } } }"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _names(url: str) -> tuple[str, set[str], set[str]]:
    answer = httpx.post(f"{url}/graphql", json={"query": QUERY}, timeout=60).json()
    node = answer["data"]["repositoriesOrError"]["nodes"][0]
    return node["location"]["name"], {j["name"] for j in node["jobs"]}, {s["name"] for s in node["sensors"]}


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    home = tmp_path / "var"
    settings = Settings(home=home, demo_mode=True)
    assert "hotline_12345" in Platform(settings).catalog.names  # seeds the registry from contracts/
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DATAHUB_")},
        "DAGSTER_HOME": str(dagster_home),
        "DATAHUB_HOME": str(home),
        "DATAHUB_DEMO_MODE": "1",
    }
    log = (tmp_path / "webserver.log").open("wb")
    process = subprocess.Popen(
        [
            "setsid",
            "env",
            "--default-signal=INT,TERM",
            sys.executable,
            "-m",
            "dagster_webserver",
            "-m",
            "pipelines.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/server_info", timeout=5).status_code == 200:
                    _names(url)
                    break
            except (httpx.HTTPError, KeyError, TypeError, IndexError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "webserver.log").read_text(errors="replace"))
            time.sleep(0.5)
        yield url, settings
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()


def test_a_registered_contract_appears_in_the_running_code_location(
    webserver: tuple[str, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, settings = webserver
    location, jobs, sensors = _names(url)
    assert location == settings.dagster_location
    assert "hotline_12345_pipeline" in jobs and SENSOR in sensors and "newds_pipeline" not in jobs

    defs = build_definitions(settings)  # as the running location was built: before the registration
    doc = yaml.safe_load((ROOT / "contracts" / "hotline_12345.odcs.yaml").read_text(encoding="utf-8"))
    doc["id"], doc["schema"][0]["name"] = "urn:datahub:contract:newds", "newds"
    platform = Platform(settings)
    platform.registry.register(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))

    monkeypatch.setenv("DATAHUB_HOME", str(settings.var))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "1")
    monkeypatch.setenv("DATAHUB_DAGSTER_URL", url)
    sensor = defs.get_sensor_def(SENSOR)
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(
            instance=instance,
            resources={"platform": PlatformResource(home=str(settings.var), demo_mode=True)},
        )
        result = sensor(context)
    assert isinstance(result, SkipReason)
    assert "+urn:datahub:contract:newds@1.0.0" in (result.skip_message or "")
    deadline = time.monotonic() + 180
    while "newds_pipeline" not in (seen := _names(url))[1]:
        assert time.monotonic() < deadline, f"the location was not reloaded: {seen}"
        time.sleep(1)
    assert "newds_landing" in seen[2]

    # Built again (as the reload did), the definitions match the registry: the sensor rests.
    rebuilt = build_definitions(settings).get_sensor_def(SENSOR)
    with DagsterInstance.ephemeral() as instance:
        again = rebuilt(
            build_sensor_context(
                instance=instance,
                resources={"platform": PlatformResource(home=str(settings.var), demo_mode=True)},
            )
        )
    assert isinstance(again, SkipReason) and again.skip_message == "the definitions match the registry"


def test_changes_read_as_added_and_gone() -> None:
    assert changes((("a", "1.0.0", 1),), (("a", "2.0.0", 2), ("b", "1.0.0", 3))) == (
        "+a@2.0.0 +b@1.0.0 -a@1.0.0"
    )
