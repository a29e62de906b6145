"""The Dagster code location: assets, checks, sensors and schedules built from the data contracts."""
