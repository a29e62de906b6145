"""The governed HTTP API (FastAPI): versioned JSON under ``/api/v1``, errors as JSON with a stable code.

``create_app(settings)`` builds the application; ``datahub serve`` runs it with uvicorn.
"""

from datahub.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
