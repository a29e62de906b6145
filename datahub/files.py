"""Small helpers for files: their hash, and writing them whole."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def file_sha256(path: Path) -> str:
    """The file's sha256, read in blocks (deliveries can be hundreds of megabytes)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def temporary_name(path: Path) -> Path:
    """Where a file is written before it is renamed into place: hidden, naming the writer's process."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit_file(tmp: Path, path: Path) -> None:
    """Flush a fully written temporary file to disk, rename it into place and flush the directory, so
    that after a crash ``path`` is either the old file or the whole new one."""
    _fsync(tmp)
    os.replace(tmp, path)
    _fsync(path.parent)


def write_whole(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as a whole: a crash or a full disk leaves the old file (or none) and
    no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        tmp.write_bytes(data)
        commit_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
