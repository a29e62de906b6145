"""Run many `datahub` commands in one process, each as the console entry point runs it, and record
what each one printed, its exit code, its time and the memory it took.

Starting `datahub` costs seconds of imports, so the corpus runs its commands in batches:
``python -m tests.hostile.cli_batch JOBS RESULTS`` runs the jobs of the JSON file ``JOBS`` in order,
each with its own environment, and appends one JSON line per job to ``RESULTS`` (a ``start`` line
before it runs, a result line after). A job that outlives its timeout ends the process (exit 124)
after recording that it timed out; :func:`run_batch` (in the test process) starts a new batch after
any job that ended its process, so one hostile input costs only its own result.

A job's ``argv`` may hold ``{delivery}``: the ``delivery_id`` printed (as JSON) by an earlier job of
the same case.
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEEP_CHARS = 64 * 1024  # of each output, kept for the assertions (all of it is counted)
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Job:
    case: str
    step: str
    argv: list[str]
    env: dict[str, str]
    timeout: float = 60.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "step": self.step,
            "argv": self.argv,
            "env": self.env,
            "timeout": self.timeout,
        }


@dataclass(frozen=True)
class Result:
    case: str
    step: str
    code: int | None  # None: the process ended during the job (see ``err``)
    out: str  # the first KEEP_CHARS characters
    err: str
    out_chars: int  # everything printed, counted
    err_chars: int
    seconds: float
    peak_mib: float  # the process's peak resident memory after the job
    grew: bool  # the job raised that peak
    timed_out: bool = False

    @property
    def text(self) -> str:
        return self.out + self.err


class _Bounded(io.TextIOBase):
    """A text stream that counts everything written to it and keeps the beginning."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.chars = 0

    def write(self, s: str) -> int:
        room = KEEP_CHARS - min(self.chars, KEEP_CHARS)
        if room > 0:
            self.kept.append(s[:room])
        self.chars += len(s)
        return len(s)

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def value(self) -> str:
        return "".join(self.kept)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(job: Job, delivery: str | None, log: Any) -> dict[str, Any]:
    from datahub.cli import main

    argv = [a.replace("{delivery}", delivery or "") for a in job.argv]
    for name in [n for n in os.environ if n.startswith("DATAHUB_")]:
        del os.environ[name]
    os.environ.update(job.env)
    sys.argv = ["datahub", *argv]
    out, err = _Bounded(), _Bounded()
    before, started = _peak_mib(), time.monotonic()

    def overdue() -> None:
        record = _record(job, None, out, err, started, before) | {"timed_out": True}
        log.write(json.dumps(record, ensure_ascii=False) + "\n")
        log.flush()
        os._exit(124)

    watchdog = threading.Timer(job.timeout, overdue)
    watchdog.start()
    real = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    code: int | None
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # what the interpreter would print, had the process ended here
        err.write(traceback.format_exc())
        code = 1
    finally:
        sys.stdout, sys.stderr = real
        watchdog.cancel()
    return _record(job, code, out, err, started, before)


def _record(
    job: Job, code: int | None, out: _Bounded, err: _Bounded, started: float, before: float
) -> dict[str, Any]:
    after = _peak_mib()
    return {
        "case": job.case,
        "step": job.step,
        "code": code,
        "out": out.value(),
        "err": err.value(),
        "out_chars": out.chars,
        "err_chars": err.chars,
        "seconds": round(time.monotonic() - started, 3),
        "peak_mib": round(after, 1),
        "grew": after > before,
    }


def main(jobs_file: str, results_file: str) -> None:
    jobs = [
        Job(**j) for j in json.loads(Path(jobs_file).read_text(encoding="utf-8", errors="surrogateescape"))
    ]
    delivery: dict[str, str] = {}
    with open(results_file, "a", encoding="utf-8", errors="surrogateescape") as log:
        for job in jobs:
            log.write(json.dumps({"start": [job.case, job.step]}) + "\n")
            log.flush()
            record = _run(job, delivery.get(job.case), log)
            try:
                printed = json.loads(record["out"])
            except ValueError:
                printed = None
            if isinstance(printed, dict) and printed.get("delivery_id"):
                delivery[job.case] = str(printed["delivery_id"])
            log.write(json.dumps(record, ensure_ascii=False) + "\n")
            log.flush()


# --- in the test process -----------------------------------------------------------------------------


def limited(memory_bytes: int) -> Any:
    """A ``preexec_fn`` capping the child's address space (RLIMIT_AS)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    return apply


def read_results(results: Path) -> dict[tuple[str, str], Result]:
    """The results recorded in ``results``, by (case, step)."""
    return _read(results)[0]


def _read(results: Path) -> tuple[dict[tuple[str, str], Result], tuple[str, str] | None]:
    done: dict[tuple[str, str], Result] = {}
    started: tuple[str, str] | None = None
    if not results.exists():
        return done, None
    for line in results.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short when the process died
        if "start" in record:
            started = (record["start"][0], record["start"][1])
            continue
        done[(record["case"], record["step"])] = Result(**record)
    return done, started


def run_batch(
    jobs: Sequence[Job], work: Path, *, memory_bytes: int, timeout: float
) -> dict[tuple[str, str], Result]:
    """Every job's result, by (case, step): in as few processes as the jobs allow, each under
    ``memory_bytes`` of address space; a batch process is killed after ``timeout`` seconds."""
    work.mkdir(parents=True, exist_ok=True)
    results = work / "results.jsonl"
    remaining = list(jobs)
    attempt = 0
    while remaining:
        attempt += 1
        jobs_file = work / f"jobs-{attempt}.json"
        jobs_file.write_text(
            json.dumps([j.to_dict() for j in remaining], ensure_ascii=False),
            encoding="utf-8",
            errors="surrogateescape",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATAHUB_")}
        with open(work / f"batch-{attempt}.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.hostile.cli_batch", str(jobs_file), str(results)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=limited(memory_bytes),
            )
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        done, started = _read(results)
        left = [j for j in remaining if (j.case, j.step) not in done]
        if left and started is not None and started not in done:  # the process ended during this job
            tail = (work / f"batch-{attempt}.log").read_text(errors="replace")[-4000:]
            done[started] = Result(
                case=started[0],
                step=started[1],
                code=None,
                out="",
                err=f"the process ended during this job (exit {process.returncode}):\n{tail}",
                out_chars=0,
                err_chars=0,
                seconds=timeout,
                peak_mib=0.0,
                grew=True,
            )
            with results.open("a", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write(json.dumps(done[started].__dict__, ensure_ascii=False) + "\n")
            left = [j for j in left if (j.case, j.step) != started]
        elif left and len(left) == len(remaining):
            raise RuntimeError(f"the batch made no progress:\n{(work / f'batch-{attempt}.log').read_text()}")
        remaining = left
    return read_results(results)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
