"""The one Dagster resource: the platform, opened from settings (overridable per environment)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from dagster import ConfigurableResource

from datahub.platform import Platform
from datahub.settings import Settings


class PlatformResource(ConfigurableResource):
    """Opens the platform; ``home`` moves all state (tests point it at a temporary directory)."""

    home: str | None = None
    demo_mode: bool = False

    @cached_property
    def platform(self) -> Platform:
        settings = Settings(demo_mode=self.demo_mode)
        if self.home:
            settings = Settings(demo_mode=self.demo_mode, home=Path(self.home))
        return Platform(settings)
