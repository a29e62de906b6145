"""Dependencies of the routes, as ``Annotated`` aliases: the platform, its services, the caller.

They are ``async`` because none of them blocks for long (a key is looked up in the database once per
process and then cached): FastAPI runs synchronous dependencies in its thread pool, a thread hop each.

``get_principal`` is the one place a request's identity comes from: an API key, sent as
``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` (``datahub client create`` makes one; only its hash
is stored). It also applies the client's rate limit (429 ``rate_limited`` with ``Retry-After``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from datahub.access import Clients, Grants, Principal, Role
from datahub.access.rate_limits import SharedRateLimiter
from datahub.contracts.registry import Caller, ContractRegistry
from datahub.errors import Forbidden, Unauthenticated
from datahub.platform import Platform
from datahub.serving.service import Service


async def get_platform(request: Request) -> Platform:
    """The app's one Platform, opened by ``create_app``."""
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_registry(platform: PlatformDep) -> ContractRegistry:
    return platform.registry


RegistryDep = Annotated[ContractRegistry, Depends(get_registry)]


_bearer = HTTPBearer(auto_error=False, description="An API key from `datahub client create`.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same API key, as a header.")


async def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Principal:
    key = bearer.credentials if bearer is not None else api_key
    if not key:
        raise Unauthenticated("send an API key: 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
    clients: Clients = request.app.state.clients
    principal = clients.authenticate(key)
    if principal is None:
        raise Unauthenticated("unknown or disabled API key")
    limiter: SharedRateLimiter = request.app.state.rate_limiter
    limiter.take(principal.client_id, principal.rate_limit)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_caller(principal: CurrentPrincipal) -> Caller:
    """The caller as the contract registry knows it."""
    return Caller(name=principal.name, role=principal.role.value, department=principal.department)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


def require_role(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only ``roles`` through (403 ``forbidden`` for the others)."""
    allowed = ", ".join(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"role '{principal.role}' may not do this (allowed: {allowed})")
        return principal

    return check


async def get_grants(service: ServiceDep) -> Grants:
    return service.grants


GrantsDep = Annotated[Grants, Depends(get_grants)]


async def _registrar(
    principal: Annotated[Principal, Depends(require_role(Role.steward, Role.department, Role.admin))],
) -> Caller:
    return Caller(name=principal.name, role=principal.role.value, department=principal.department)


# Departments may register only the contracts they own; ContractRegistry.register enforces that.
ContractRegistrar = Annotated[Caller, Depends(_registrar)]
Stewardship = Annotated[Principal, Depends(require_role(Role.steward, Role.admin))]
