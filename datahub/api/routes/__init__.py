"""One router per resource; ``api_router`` gathers them under the version prefix set by the app."""

from fastapi import APIRouter

from datahub.api.routes import contracts

api_router = APIRouter()
api_router.include_router(contracts.router)
