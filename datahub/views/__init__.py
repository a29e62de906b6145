"""Event-ready views across departments, derived from the published snapshots (docs/views.md).

- ``events_unified``: one row per real-world event, cross-channel duplicates linked (:mod:`.events`)
- ``event_kpis_daily``: closure, resolution, satisfaction, response time, repeats, cross-department
  handling and overdue counts per day × department × district × category (:mod:`.kpis`)
- ``resources_available``: the emergency stock per district × resource type × warehouse (:mod:`.resources`)
- ``sensor_alerts``: out-of-range and stuck sensor episodes (:mod:`.sensors`)

The frame functions take and return polars frames and do no I/O; :func:`build_views` reads the current
snapshots and publishes the views; :func:`view_contracts` loads their contracts (``contracts/views/``).
"""

from datahub.views.build import build_frames, build_views, load_view_contracts, read_sources, view_contracts
from datahub.views.codes import ViewCodes
from datahub.views.events import LinkScore, events_unified, link_reports, linked_pairs, score_links
from datahub.views.kpis import event_kpis_daily
from datahub.views.resources import resources_available
from datahub.views.schemas import VIEW_SCHEMAS, VIEWS
from datahub.views.sensors import sensor_alerts

__all__ = [
    "VIEWS",
    "VIEW_SCHEMAS",
    "LinkScore",
    "ViewCodes",
    "build_frames",
    "build_views",
    "event_kpis_daily",
    "events_unified",
    "link_reports",
    "linked_pairs",
    "load_view_contracts",
    "read_sources",
    "resources_available",
    "score_links",
    "sensor_alerts",
    "view_contracts",
]
