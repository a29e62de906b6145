"""Data contracts (ODCS v3) and the datasets they declare."""

from datahub.contracts.loader import Catalog, load_contract
from datahub.contracts.model import (
    Column,
    Dataset,
    Delivery,
    DeliveryFormat,
    Desensitise,
    PublishMode,
    SharingClass,
)

__all__ = [
    "Catalog",
    "Column",
    "Dataset",
    "Delivery",
    "DeliveryFormat",
    "Desensitise",
    "PublishMode",
    "SharingClass",
    "load_contract",
]
