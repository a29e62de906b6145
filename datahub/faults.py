"""Named crash points for the fault-injection tests.

The pipeline and the lake call :func:`crash_point` at each stage boundary and in the middle of each
write. Nothing happens unless a test asks for a crash there:

- ``DATAHUB_CRASH_AT=<point>`` in the environment: the process kills itself with SIGKILL on reaching
  the point (no ``finally``, no ``atexit``: what a power cut or the OOM killer leaves behind);
- :func:`arm` in-process: reaching the point raises :class:`Crash`, a ``BaseException`` that the
  platform's error handling does not catch, so the claim and the files stay as a killed process left
  them (used by the property-based test, which crashes and recovers hundreds of times in one process).

``DATAHUB_DELAY_AT=<point>=<seconds>[,...]`` makes the process wait there instead (a slow disk, a busy
database), so that the tests of two processes at once can hold a race window open.

Points: ``landed``, ``registered``, ``claimed:<stage>``, ``written:<stage>`` (the stage's files are
written, its status is not), ``published:pointer`` (the lake's pointer switched, the metadata not),
``write:<layer>`` (a Parquet file half-written: its temporary file exists, it is not yet renamed),
``read:keys`` (a delivery's keys are about to be checked against the rows accepted before it),
``read:manifest`` (a publisher has read the current manifest and is about to write the next one).
"""

from __future__ import annotations

import os
import signal
import time

ENV = "DATAHUB_CRASH_AT"
DELAY_ENV = "DATAHUB_DELAY_AT"

_armed: set[str] = set()


class Crash(BaseException):
    """Raised at an armed crash point: stands for the process dying there."""


def arm(*points: str) -> None:
    _armed.update(points)


def disarm() -> None:
    _armed.clear()


def crash_point(name: str) -> None:
    if name in _armed:
        _armed.discard(name)
        raise Crash(name)
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    for delay in filter(None, os.environ.get(DELAY_ENV, "").split(",")):
        point, _, seconds = delay.rpartition("=")
        if point == name:
            time.sleep(float(seconds))
