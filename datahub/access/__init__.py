"""Access to the sharing API: clients and their keys, grants, and what a caller may read of a view."""

from datahub.access.clients import Clients, NewClient, Principal, Role
from datahub.access.grants import GrantRequest, Grants
from datahub.access.policy import Access, decide

__all__ = ["Access", "Clients", "GrantRequest", "Grants", "NewClient", "Principal", "Role", "decide"]
