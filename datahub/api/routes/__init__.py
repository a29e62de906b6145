"""One router per resource; ``api_router`` gathers them under the version prefix set by the app."""

from fastapi import APIRouter

from datahub.api.routes import audit, contracts, corrections, grants, notices, reference, reports, views

api_router = APIRouter()
api_router.include_router(views.router)
api_router.include_router(grants.router)
api_router.include_router(corrections.router)
api_router.include_router(reference.router)
api_router.include_router(contracts.router)
api_router.include_router(notices.router)
api_router.include_router(audit.router)
api_router.include_router(reports.router)
