"""The sharing API in a process of its own, for tests that kill it (SIGKILL) in the middle of its work.

``start(home)`` binds a free loopback port here, hands the listening socket to a child process
(``python -m tests.api.server_process FD``, started as ``setsid env --default-signal=INT,TERM …`` so it
is not left ignoring them like this machine's background processes) that serves ``create_app()`` from
``DATAHUB_HOME`` in demo mode. Binding before the child starts leaves no gap for another process to
take the port, and requests sent before the server is up wait in the socket's backlog.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BATCH_ROWS_ENV = "DATAHUB_TEST_EXPORT_BATCH_ROWS"


@dataclass(frozen=True)
class ServerProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def kill(self) -> None:
        """SIGKILL, by the server's own pid; waits until it is gone."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@contextmanager
def start(
    home: Path, key: str, *, export_batch_rows: int | None = None, send_buffer: int | None = None
) -> Iterator[ServerProcess]:
    """A server over ``home`` (the platform's ``var``), up and answering ``key`` when the block starts;
    killed at its end if the test has not done it. ``send_buffer`` caps the kernel's send buffer of
    its connections (SO_SNDBUF, inherited from the listening socket)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if send_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    env = {**os.environ, "DATAHUB_HOME": str(home), "DATAHUB_DEMO_MODE": "true"}
    if export_batch_rows is not None:
        env[BATCH_ROWS_ENV] = str(export_batch_rows)
    log = home.parent / f"server-{port}.log"
    command = [
        "setsid",
        "env",
        "--default-signal=INT,TERM",
        sys.executable,
        "-m",
        __name__,
        str(sock.fileno()),
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, pass_fds=(sock.fileno(),), stdout=out, stderr=subprocess.STDOUT
        )
    sock.close()  # the child has its own copy
    server = ServerProcess(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_until_up(server, key)
        yield server
    finally:
        if process.poll() is None:
            server.kill()


def _wait_until_up(server: ServerProcess, key: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            answer = httpx.get(
                f"{server.url}/api/v1/views", headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
        except httpx.HTTPError:
            answer = None
        if answer is not None and answer.status_code == 200:
            return
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the API server did not start:\n{server.log.read_text(errors='replace')}")
        time.sleep(0.05)


def main() -> None:  # pragma: no cover - runs in the child
    import uvicorn

    from datahub.api import create_app

    listening = socket.socket(fileno=int(sys.argv[1]))
    app = create_app()
    if BATCH_ROWS_ENV in os.environ:
        app.state.service.export_batch_rows = int(os.environ[BATCH_ROWS_ENV])
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listening])


if __name__ == "__main__":
    main()
