"""One dataset's pipeline over its deliveries: landing → raw → conformed → checked → published.

Each stage takes every delivery of a dataset that is waiting for it, does its work from and to the
lake, and records the outcome in the metadata database, so any process (the CLI, a Dagster asset,
a retry after a crash) can pick up where the last one stopped. A stage holds the deliveries it works
on by a claim (:mod:`datahub.pipeline.claims`) that a later run takes over when its holder dies, and
each stage can be redone from its start. Rows are reconciled per delivery: rows in = rows published
+ rows quarantined. A delivery on which a blocking quality rule fails is ``blocked``: its rows join
the quarantine and the current snapshot stays as it was.
"""

from datahub.ingest.landing import discover, land_file, landing_dir, unregistered_files
from datahub.pipeline.deliveries import DeliveryRow, list_deliveries, retry
from datahub.pipeline.stages import (
    PII_LEAK_RULE,
    STAGES,
    DeliverySummary,
    StageFailed,
    ingest_file,
    process,
    quality_summary,
    run_stage,
    summary,
)

__all__ = [
    "PII_LEAK_RULE",
    "STAGES",
    "DeliveryRow",
    "DeliverySummary",
    "StageFailed",
    "discover",
    "ingest_file",
    "land_file",
    "landing_dir",
    "list_deliveries",
    "process",
    "quality_summary",
    "retry",
    "run_stage",
    "summary",
    "unregistered_files",
]
