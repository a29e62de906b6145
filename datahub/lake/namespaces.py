"""The namespaces of the lake's Iceberg catalog (kept apart from ``tables`` so that naming them imports
no table code)."""

PUBLISHED, VIEWS, RESTRICTED = "published", "views", "restricted"
NAMESPACES = (PUBLISHED, VIEWS, RESTRICTED)
