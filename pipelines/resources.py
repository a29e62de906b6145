"""The one Dagster resource: the platform, opened from settings (overridable per environment)."""

from __future__ import annotations

from functools import cached_property

from dagster import ConfigurableResource

from datahub.platform import Platform
from datahub.settings import Settings


class PlatformResource(ConfigurableResource):  # type: ignore[misc]
    """Opens the platform; ``home`` moves all state (tests point it at a temporary directory)."""

    home: str | None = None
    demo_mode: bool = False

    @cached_property
    def platform(self) -> Platform:
        overrides = {"home": self.home} if self.home else {}
        return Platform(Settings(demo_mode=self.demo_mode, **overrides))  # type: ignore[arg-type]
