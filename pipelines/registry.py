"""The code location follows the contract registry: when the versions in force differ from those the
definitions were built from (a dataset registered, a breaking version come into force), the
``contract_registry`` sensor asks the Dagster webserver to reload the location, which builds the
definitions again from the registry: the new dataset's assets, checks, job and landing sensor appear
with no restart."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from dagster import DefaultSensorStatus, SensorDefinition, SensorEvaluationContext, SkipReason, sensor

from pipelines.resources import PlatformResource

Keys = tuple[tuple[str, str, int], ...]
SENSOR = "contract_registry"


def changes(built: Keys, now: Keys) -> str:
    """What differs, as people read it: ``+id@version``, ``-id@version``."""
    before = {(cid, version) for cid, version, _ in built}
    after = {(cid, version) for cid, version, _ in now}
    added = [f"+{cid}@{v}" for cid, v in sorted(after - before)]
    gone = [f"-{cid}@{v}" for cid, v in sorted(before - after)]
    return " ".join(added + gone)


def reload_location(url: str, location: str) -> str:
    """Ask the webserver at ``url`` to reload ``location``; the outcome as text (never raises)."""
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    parts = urlsplit(url)
    try:
        client = DagsterGraphQLClient(
            parts.hostname or "127.0.0.1",
            port_number=parts.port,
            use_https=parts.scheme == "https",
            timeout=120,
        )
        info = client.reload_repository_location(location)
    except (DagsterGraphQLClientError, OSError, ValueError) as exc:
        return f"could not reload {location} through {url}: {exc}"
    except Exception as exc:  # the GraphQL transport's own errors (connection refused, timeouts)
        return f"could not reload {location} through {url}: {type(exc).__name__}: {exc}"
    return f"reloaded {location}" if info.status.value == "SUCCESS" else f"{location}: {info.message}"


def registry_sensor(built: Keys) -> SensorDefinition:
    @sensor(
        name=SENSOR,
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description="Reloads the code location when the contract registry's versions in force change "
        "(a dataset registered, a breaking version come into force), so its pipeline and landing sensor run.",
    )
    def _sensor(context: SensorEvaluationContext, platform: PlatformResource) -> SkipReason:
        now = platform.platform.registry.in_force_keys()
        if now == built:
            return SkipReason("the definitions match the registry")
        settings = platform.platform.settings
        origin = context.code_location_origin
        location = origin.location_name if origin is not None else settings.dagster_location
        # The reload replaces the server this tick runs in: ask from a thread and return at once.
        threading.Thread(target=reload_location, args=(settings.dagster_url, location), daemon=True).start()
        return SkipReason(f"registry changed ({changes(built, now)}): reloading {location}")

    return _sensor
