"""Serving published snapshots to the sharing API: the query language and consistent snapshot reads."""
