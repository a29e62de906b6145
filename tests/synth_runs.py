"""Landing a synthetic run's deliveries as departments would: each file delivered at 02:30 the day
after its period, so freshness is judged against the day it arrived."""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta

from datahub.pipeline import land_file
from datahub.platform import Platform
from datahub.synth import SynthResult


def land_synthetic(platform: Platform, result: SynthResult) -> None:
    for file in result.files:
        delivered = datetime.combine(file.period_end + timedelta(days=1), time(2, 30)).timestamp()
        os.utime(file.path, (delivered, delivered))
        land_file(platform, platform.catalog.get(file.dataset), file.path)
