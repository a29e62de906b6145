"""Shared fixtures: the project's dictionary and contracts, a platform on a temporary home, and a
throwaway PostgreSQL server for the tests of the Postgres configuration."""

from __future__ import annotations

import errno
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from datahub.contracts import Catalog
from datahub.dictionary import Dictionary, load_dictionary
from datahub.platform import Platform
from datahub.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def dictionary() -> Dictionary:
    return load_dictionary(ROOT / "dictionary")


@pytest.fixture(scope="session")
def catalog(dictionary: Dictionary) -> Catalog:
    return Catalog.load(ROOT / "contracts", dictionary)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "var", demo_mode=True)


@pytest.fixture
def platform(settings: Settings) -> Platform:
    p = Platform(settings)
    yield p
    p.metadata.dispose()


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found and shutil.which("pg_ctl"):
        found = [str(shutil.which("pg_ctl"))]
    if not found:
        pytest.fail("PostgreSQL is not installed: scripts/system-packages installs it (Debian: postgresql)")
    return Path(found[-1]).parent


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server of its own on a Unix socket, for this test session: a SQLAlchemy URL
    template ``postgresql+psycopg://postgres@/{db}?host=…&port=…`` (databases are made by
    :func:`postgres_database`). As root, the server runs as the ``postgres`` user, as it must."""
    bin_dir = _postgres_bin()
    # Not under pytest's temporary root: that is private to the user running the tests.
    base = Path(tempfile.mkdtemp(prefix="datahub-pg-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], capture_output=True, text=True, cwd=base)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr or done.stdout}")

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
    options = f"-k {sockets} -p {port} -c listen_addresses='' -c fsync=off -c max_connections=200"
    run(
        str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "server.log"), "-w", "start"
    )
    try:
        yield f"postgresql+psycopg://postgres@/{{db}}?host={sockets}&port={port}"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_server: str, request: pytest.FixtureRequest) -> str:
    """A new, empty database on the session's server: its SQLAlchemy URL."""
    import psycopg

    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    admin = postgres_server.format(db="postgres").replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return postgres_server.format(db=name)


@contextmanager
def tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """A filesystem of ``size`` (``4m``) made for a test (tmpfs, as root), mounted at ``mount``."""
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem is full; returns it."""
    filler = directory / "filler"
    block = b"\0" * (1 << 16)
    with filler.open("wb", buffering=0) as out:  # unbuffered: closing has nothing left to write
        try:
            while True:
                out.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler
