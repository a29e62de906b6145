"""YAML reading that keeps dates as strings (the ODCS JSON Schema wants strings, not date objects)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class _StringDateLoader(yaml.SafeLoader):
    pass


_StringDateLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(path: Path) -> Any:
    with Path(path).open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_StringDateLoader)


def load_yaml_text(text: str) -> Any:
    return yaml.load(text, Loader=_StringDateLoader)
