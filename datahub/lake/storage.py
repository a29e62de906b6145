"""Where the lake's files live: one filesystem for the Iceberg warehouse and the working layers, on
local disk or on S3-compatible object storage, chosen by one setting (``lake_warehouse``).

The lake is the warehouse's parent: with the default warehouse ``HOME/lake/warehouse`` it is
``HOME/lake``; with ``s3://city-lake/prod/warehouse`` it is ``s3://city-lake/prod``. The working layers
sit beside the warehouse, under keys such as ``raw/<dataset>/<delivery>.parquet``, and go through
:class:`LakeStorage` whatever the storage is; pyiceberg reaches the warehouse with the catalog
properties of :func:`pyiceberg_properties`.

A file is written whole or not at all: on local disk under a temporary name, flushed and renamed (the
rule of ``datahub.files``); on S3 as one upload of the finished bytes (an object appears only complete).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs
from pydantic import SecretStr

from datahub.errors import StorageUnavailable
from datahub.files import commit_file, temporary_name, write_whole

if TYPE_CHECKING:
    from datahub.settings import Settings

LAYERS = ("raw", "conformed", "quarantine")
"""The working layers, each a top-level prefix of the lake."""

CONNECT_TIMEOUT = 10.0  # seconds: an endpoint that cannot be reached fails instead of hanging
REQUEST_TIMEOUT = 120.0


@dataclass(frozen=True)
class LakeStorage:
    """The lake's files on one ``pyarrow.fs.FileSystem``. Keys are relative, ``/``-separated paths
    under the lake (``raw/hotline_12345/d-1.parquet``, ``warehouse/...``)."""

    filesystem: fs.FileSystem
    root: str  # the lake in the filesystem's own terms: /abs/path, or bucket/prefix on S3
    location: str  # the lake as a URL for people and messages: /abs/path or s3://bucket/prefix
    warehouse: str  # the Iceberg warehouse: file:///abs/path/warehouse or s3://bucket/prefix/warehouse

    @property
    def on_s3(self) -> bool:
        return isinstance(self.filesystem, fs.S3FileSystem)

    def path(self, key: str) -> str:
        """The filesystem path of a key; refuses keys that would leave the lake."""
        parts = key.split("/")
        if key.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"a lake key is a relative path without '.', '..' or '//': {key!r}")
        return f"{self.root}/{key}"

    def uri(self, key: str) -> str:
        """Where a key lives, as a URL (a local path on disk)."""
        self.path(key)
        return f"{self.location}/{key}"

    def write_bytes(self, key: str, data: bytes) -> None:
        with self._errors("write", key):
            if self.on_s3:
                self._upload(key, data)
            else:
                write_whole(Path(self.path(key)), data)

    def read_bytes(self, key: str) -> bytes:
        """FileNotFoundError when there is no such file."""
        with self._errors("read", key), self.filesystem.open_input_stream(self.path(key)) as stream:
            return stream.read()

    def write_parquet(self, key: str, table: pa.Table, *, compression: str = "zstd") -> None:
        with self._errors("write", key):
            if self.on_s3:
                buffer = pa.BufferOutputStream()
                pq.write_table(table, buffer, compression=compression)
                self._upload(key, buffer.getvalue())
                return
            path = Path(self.path(key))
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = temporary_name(path)
            try:
                pq.write_table(table, str(tmp), compression=compression)
                commit_file(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

    def read_parquet(self, key: str, columns: list[str] | None = None) -> pa.Table:
        """One Parquet file, or every Parquet file under a prefix as one table (names starting with ``.``
        or ``_``, such as a writer's temporary files, are left out). FileNotFoundError when there is
        none."""
        with self._errors("read", key):
            return pq.read_table(
                self.path(key), filesystem=self.filesystem, columns=columns, partitioning=None
            )

    def list(self, prefix: str = "") -> list[str]:
        """The keys of the files under a prefix (all of the lake when empty), sorted; temporary files
        (names starting with ``.``) are left out. A prefix with no files gives an empty list."""
        base = self.path(prefix) if prefix else self.root
        with self._errors("list", prefix or None):
            infos = self.filesystem.get_file_info(fs.FileSelector(base, recursive=True, allow_not_found=True))
        keys = (info.path.removeprefix(f"{self.root}/") for info in infos if info.type == fs.FileType.File)
        return sorted(key for key in keys if not posixpath.basename(key).startswith("."))

    def stamp(self, key: str) -> tuple[int, float] | None:
        """A file's size and last change (seconds since the epoch), None when there is none."""
        with self._errors("look up", key):
            info = self.filesystem.get_file_info(self.path(key))
        if info.type != fs.FileType.File or info.size is None or info.mtime is None:
            return None
        return info.size, info.mtime.timestamp()

    def exists(self, key: str) -> bool:
        """Whether a file is there (for a prefix, ask :meth:`list`: object storage may keep an empty
        folder after its files are deleted)."""
        with self._errors("look up", key):
            return self.filesystem.get_file_info(self.path(key)).type == fs.FileType.File

    def delete(self, key: str) -> None:
        """Delete a file, or every file under a prefix; nothing there is no error."""
        path = self.path(key)
        with self._errors("delete", key):
            kind = self.filesystem.get_file_info(path).type
            try:
                if kind == fs.FileType.File:
                    self.filesystem.delete_file(path)
                elif kind == fs.FileType.Directory:
                    self.filesystem.delete_dir(path)
            except FileNotFoundError:  # deleted meanwhile, or an empty folder the server let go
                pass

    def check(self) -> None:
        """StorageUnavailable unless the lake can be reached (the bucket exists, the keys are taken)."""
        if not self.on_s3:
            return
        bucket = self.root.split("/")[0]
        with self._errors("look up"):
            found = self.filesystem.get_file_info(bucket).type != fs.FileType.NotFound
        if not found:
            raise StorageUnavailable(f"the bucket {bucket} does not exist", path=self.location)

    def _upload(self, key: str, data: bytes | pa.Buffer) -> None:
        with self.filesystem.open_output_stream(self.path(key)) as out:
            out.write(data)

    @contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        """Object storage that fails is StorageUnavailable naming the endpoint, what was being done and
        where; a missing file stays FileNotFoundError, and local disks keep their OSError (a full disk
        is reported as such by the callers)."""
        try:
            yield
        except FileNotFoundError:
            raise
        except OSError as exc:
            if not self.on_s3:
                raise
            where = self.uri(key) if key else self.location
            raise StorageUnavailable(f"cannot {action} {where}: {exc}") from None


def lake_storage(settings: Settings) -> LakeStorage:
    """The lake's storage as the settings place it (``lake_warehouse`` and the ``s3_*`` settings)."""
    warehouse = _warehouse(settings)
    if not settings.lake_on_s3:
        return LakeStorage(
            filesystem=fs.LocalFileSystem(),
            root=str(Path(warehouse).parent),
            location=str(Path(warehouse).parent),
            warehouse=Path(warehouse).as_uri(),
        )
    endpoint = _s3_endpoint(settings)
    s3 = fs.S3FileSystem(
        access_key=_secret(settings.s3_access_key),
        secret_key=_secret(settings.s3_secret_key),
        region=settings.s3_region,
        scheme=urlsplit(endpoint).scheme,
        endpoint_override=endpoint,
        connect_timeout=CONNECT_TIMEOUT,
        request_timeout=REQUEST_TIMEOUT,
    )
    root = posixpath.dirname(warehouse.removeprefix("s3://"))
    return LakeStorage(filesystem=s3, root=root, location=f"s3://{root}", warehouse=warehouse)


def pyiceberg_properties(settings: Settings) -> dict[str, str]:
    """The catalog properties pyiceberg needs to reach the warehouse (``warehouse`` and, on S3, its
    ``s3.*`` FileIO properties; the names are those of ``pyiceberg.io``). They hold the secret key:
    never log them."""
    warehouse = _warehouse(settings)
    if not settings.lake_on_s3:
        return {"warehouse": Path(warehouse).as_uri()}
    return {
        "warehouse": warehouse,
        "s3.endpoint": _s3_endpoint(settings),
        "s3.access-key-id": _secret(settings.s3_access_key),
        "s3.secret-access-key": _secret(settings.s3_secret_key),
        "s3.region": settings.s3_region,
        # Path-style requests (http://host:port/bucket/key): a self-hosted endpoint has no DNS name per
        # bucket. With the region given, pyiceberg does not ask AWS where the bucket lives.
        "s3.force-virtual-addressing": "false",
        "s3.connect-timeout": str(CONNECT_TIMEOUT),
        "s3.request-timeout": str(REQUEST_TIMEOUT),
    }


def _warehouse(settings: Settings) -> str:
    assert settings.lake_warehouse is not None  # filled in by the settings
    return settings.lake_warehouse


def _s3_endpoint(settings: Settings) -> str:
    assert settings.s3_endpoint is not None  # required with an s3:// warehouse
    return settings.s3_endpoint


def _secret(value: SecretStr | None) -> str:
    assert value is not None  # required with an s3:// warehouse
    return value.get_secret_value()
