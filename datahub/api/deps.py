"""Dependencies of the routes, as ``Annotated`` aliases: the platform, the contract registry, the caller.

``get_caller`` is the one place a request's identity comes from. Until key-based authentication
arrives (the API issue: ``datahub client create``, keys stored hashed, rate limits), it TRUSTS three
headers and is meant only for local development and tests:

- ``X-Datahub-Role`` (required): ``steward``, ``department``, ``consumer``, ``leader`` or ``admin``;
- ``X-Datahub-Department``: the caller's department code from the dictionary's ``department`` table,
  required for role ``department`` and ignored for the others;
- ``X-Datahub-Client``: the caller's name as the registry records it (defaults to the role).

The API issue replaces this function with key-based authentication; routes depend only on
``CurrentCaller`` and do not change.
"""

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Header, Request

from datahub.api.errors import Unauthenticated
from datahub.contracts.registry import Caller, ContractRegistry
from datahub.dictionary.loader import DEPARTMENT_TABLE
from datahub.errors import Forbidden
from datahub.platform import Platform


class Role(StrEnum):
    steward = "steward"
    department = "department"
    consumer = "consumer"
    leader = "leader"
    admin = "admin"


def get_platform(request: Request) -> Platform:
    """The app's one Platform, opened by ``create_app``."""
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_registry(platform: PlatformDep) -> ContractRegistry:
    return ContractRegistry(platform.metadata, platform.dictionary)


RegistryDep = Annotated[ContractRegistry, Depends(get_registry)]


def get_caller(
    platform: PlatformDep,
    x_datahub_role: Annotated[
        str | None, Header(description="Temporary: the caller's role, until API keys arrive.")
    ] = None,
    x_datahub_department: Annotated[
        str | None,
        Header(max_length=20, description="Temporary: the department code, required for role department."),
    ] = None,
    x_datahub_client: Annotated[
        str | None, Header(max_length=100, description="Temporary: the caller's name (default: the role).")
    ] = None,
) -> Caller:
    if not x_datahub_role:
        raise Unauthenticated("say who is calling: the X-Datahub-Role header is missing")
    try:
        role = Role(x_datahub_role)
    except ValueError:
        known = ", ".join(Role)
        raise Forbidden(f"unknown role '{x_datahub_role}' (roles: {known})") from None
    department = None
    if role is Role.department:
        if not x_datahub_department:
            raise Unauthenticated("role department needs the X-Datahub-Department header")
        if x_datahub_department not in platform.dictionary.codes(DEPARTMENT_TABLE):
            raise Forbidden(f"unknown department '{x_datahub_department}'")
        department = x_datahub_department
    return Caller(name=x_datahub_client or role.value, role=role.value, department=department)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


def require_role(*roles: Role) -> Callable[[Caller], Caller]:
    """A dependency that lets only ``roles`` through (403 ``forbidden`` for the others)."""
    allowed = ", ".join(roles)

    def check(caller: CurrentCaller) -> Caller:
        if caller.role not in roles:
            raise Forbidden(f"role '{caller.role}' may not do this (allowed: {allowed})")
        return caller

    return check


# Departments may register only the contracts they own; ContractRegistry.register enforces that.
ContractRegistrar = Annotated[Caller, Depends(require_role(Role.steward, Role.department, Role.admin))]
