"""`resources_available`: the current emergency stock per district × resource type × warehouse.

From the published ``emergency_resources`` (a replace-mode dataset: its current snapshot is the whole
stock), with district and resource names from the dictionary and ``district_quantity``, the stock of that
type over all the district's warehouses, so a command centre sees at once what a district holds and
relief is not dispatched twice from two lists.
"""

from __future__ import annotations

import polars as pl

from datahub.views.codes import ViewCodes
from datahub.views.schemas import RESOURCES_AVAILABLE, SOURCE_SCHEMAS, conform


def resources_available(stock: pl.DataFrame | pl.LazyFrame | None, codes: ViewCodes) -> pl.DataFrame:
    """One row per warehouse and resource type (schema :data:`~datahub.views.schemas.RESOURCES_AVAILABLE`)."""
    s = conform(stock, SOURCE_SCHEMAS["emergency_resources"]).drop_nulls(["warehouse_id", "resource_type"])
    key = ["district_code", "resource_type", "warehouse_id"]
    s = s.group_by(key).agg(
        pl.col("warehouse_name").drop_nulls().first(),
        pl.col("quantity").sum().cast(pl.Int64),
        pl.col("unit").drop_nulls().first(),
        pl.col("update_time").max(),
    )
    s = (
        s.join(codes.districts, on="district_code", how="left")
        .join(codes.resource_types, on="resource_type", how="left")
        .with_columns(
            pl.coalesce("unit", "resource_unit").alias("unit"),
            pl.col("quantity")
            .sum()
            .over("district_code", "resource_type")
            .cast(pl.Int64)
            .alias("district_quantity"),
        )
    )
    return conform(s.sort(key, nulls_last=True), RESOURCES_AVAILABLE)
