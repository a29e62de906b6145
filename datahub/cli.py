"""The `datahub` command line: thin commands over the library."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from datahub.contracts.registry import ContractRegistry
from datahub.display import MESSAGE_LIMIT, bounded, shown
from datahub.errors import DatabaseUnavailable, DatahubError, DiskFull, FileUnusable, NotFound
from datahub.metadata import ContractVersion, CorrectionStatus, DeliveryStatus, GrantStatus
from datahub.pipeline import DeliverySummary
from datahub.platform import Platform
from datahub.settings import Settings, unknown_variables

if TYPE_CHECKING:
    from datahub.status import DatasetStatus

app = typer.Typer(
    help="城市数据中台 · governed data hub for one-event-one-network city management.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
dictionary_app = typer.Typer(help="The unified data dictionary (统一数据字典).", no_args_is_help=True)
app.add_typer(dictionary_app, name="dictionary")
contract_app = typer.Typer(
    help="Data contracts (数据契约, ODCS v3): lint, diff, register, list, show.", no_args_is_help=True
)
app.add_typer(contract_app, name="contract")
quality_app = typer.Typer(help="Quality results (数据质量): scores, rules, history.", no_args_is_help=True)
app.add_typer(quality_app, name="quality")
quarantine_app = typer.Typer(
    help="Quarantined rows (隔离区): list, export for fixing, re-submit.", no_args_is_help=True
)
app.add_typer(quarantine_app, name="quarantine")
pii_app = typer.Typer(
    help="Personal data (个人信息): find it in texts, audit what is published.", no_args_is_help=True
)
app.add_typer(pii_app, name="pii")
lake_app = typer.Typer(
    help="The lake's Iceberg tables (数据湖): the catalog other engines attach to.", no_args_is_help=True
)
app.add_typer(lake_app, name="lake")
# Wide enough for the tables when output goes to a file or CI log rather than a terminal.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def _one_of(statuses: type) -> Callable[[str | None], str | None]:
    """An option's check that its value is one of the statuses a class of status constants declares."""
    allowed = [v for k, v in vars(statuses).items() if not k.startswith("_") and isinstance(v, str)]

    def check(value: str | None) -> str | None:
        if value is not None and value not in allowed:
            raise typer.BadParameter(f"'{shown(value)}' is none of {', '.join(allowed)}")
        return value

    return check


def _text(value: object, limit: int | None = None) -> str:
    """A value in rich text output: shortened and escaped (datahub.display.shown), and its square
    brackets taken as text, never as rich markup (``[/]`` in a cell made rich raise)."""
    return escape(shown(value) if limit is None else shown(value, limit))


def _fail(exc: DatahubError, as_json: bool = False) -> typer.Exit:
    if as_json:
        print(json.dumps({"error": bounded(exc.to_dict())}, ensure_ascii=False))
    else:
        err_console.print(
            f"[bold red]error[/] {escape(f'[{exc.code}]')} {_text(exc, MESSAGE_LIMIT)}",
            highlight=False,
            soft_wrap=True,
        )
    return typer.Exit(code=2)


DISK_FULL = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}
_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)$")  # polars and other Rust code: no errno attribute


def os_error(exc: OSError, path: Path | str | None = None) -> DatahubError | None:
    """The platform error for a failed file operation, naming ``path`` (default: the file the error
    names): ``disk_full`` for ENOSPC and EDQUOT, ``file_unusable`` for the rest (permission denied,
    read-only file system, no such file…); None for an OSError that is no file-system error."""
    number = exc.errno
    if number is None and (found := _RUST_OS_ERROR.search(str(exc))):
        number = int(found.group(1))
    if number is None:
        return None
    where = str(path or exc.filename or "") or None
    if number in DISK_FULL:
        return DiskFull(DISK_FULL[number] + (f" while writing {where}" if where else ""))
    return FileUnusable(os.strerror(number).lower(), file=where)


@contextmanager
def _written_whole(target: Path) -> Iterator[Path]:
    """A temporary sibling of ``target`` (a file or a directory) to write into, moved into place once
    complete, file by file: a command that fails (a full disk) leaves no half-written file behind, and
    removes its temporary one. A file-system error becomes a platform error naming ``target``."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        yield partial
        if partial.is_dir():
            for file in sorted(p for p in partial.rglob("*") if not p.is_dir()):
                (target / file.relative_to(partial)).parent.mkdir(parents=True, exist_ok=True)
                os.replace(file, target / file.relative_to(partial))
        else:
            os.replace(partial, target)
    except OSError as exc:
        raise os_error(exc, target) or exc from None
    finally:
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        elif partial.exists():
            partial.unlink()


def _delivery_id(text: str) -> str:
    """``text`` when it is a delivery id as the platform makes them (32 hexadecimal digits): anything
    else names no delivery, and is never made into a path."""
    if not re.fullmatch(r"[0-9a-f]{32}", text):
        raise NotFound(f"no delivery {text}; `datahub deliveries` lists them", path="delivery")
    return text


@dictionary_app.command("check")
def dictionary_check(
    path: Annotated[
        Path | None, typer.Argument(help="Dictionary directory (default: the project's).")
    ] = None,
) -> None:
    """Validate the dictionary: exit 0 when valid (warnings, such as a year missing from the holiday
    calendar, are listed and fail nothing), 1 listing every problem (file, entry, reason)."""
    from datahub.dictionary import calendar_warnings, check_dictionary

    target = path or Settings().dictionary_path
    if not target.is_dir():
        err_console.print(f"[red]✗[/] {_text(target)}: not a directory", highlight=False)
        raise typer.Exit(code=1)
    dictionary, problems = check_dictionary(target)
    if dictionary is not None:
        problems += calendar_warnings(dictionary)
    for problem in problems:
        mark = "[yellow]![/]" if problem.severity == "warning" else "[red]✗[/]"
        err_console.print(f"{mark} {_text(problem, MESSAGE_LIMIT)}", highlight=False)
    if dictionary is None:
        err_console.print(f"{len(problems)} problem(s) in {_text(target)}", highlight=False)
        raise typer.Exit(code=1)
    years = sorted(dictionary.calendar.years)
    console.print(
        f"[green]✓[/] {_text(target)}: {len(dictionary.elements)} data elements, "
        f"{len(dictionary.code_tables)} code tables, {len(dictionary.crosswalks)} crosswalks, "
        f"holiday calendar {', '.join(map(str, years)) or 'missing'}",
        highlight=False,
    )


@contract_app.command("lint")
def contract_lint(
    paths: Annotated[
        list[Path], typer.Argument(help="Contract files, or directories linted recursively (*.odcs.yaml).")
    ],
) -> None:
    """Exit 0 when every contract is valid, 1 otherwise; each problem names the file, the path and the
    reason. A path that is neither a contract nor a directory holding one is an error (exit 2)."""
    from datahub.contracts.lint import lint_file
    from datahub.contracts.loader import contract_files

    try:
        files = [file for path in paths for file in contract_files(path)]
    except DatahubError as exc:
        raise _fail(exc) from None
    dictionary = Platform().dictionary
    failed = 0
    for path in files:
        problems = lint_file(path, dictionary)
        for problem in problems:
            mark = "[yellow]![/]" if problem.severity == "warning" else "[red]✗[/]"
            err_console.print(f"{mark} {_text(problem, MESSAGE_LIMIT)}", highlight=False, soft_wrap=True)
        if any(problem.severity == "error" for problem in problems):
            failed += 1
        else:
            console.print(f"[green]✓[/] {escape(str(path))}", highlight=False)
    if failed:
        err_console.print(f"{failed} of {len(files)} contract(s) have problems", highlight=False)
        raise typer.Exit(code=1)
    console.print(f"{len(files)} contract(s), no errors", highlight=False)


@contract_app.command("diff")
def contract_diff(
    old: Annotated[Path, typer.Argument(help="The old version of the contract.")],
    new: Annotated[Path, typer.Argument(help="The new version.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every change with `breaking` and a reason; exit 1 when something is breaking."""
    from datahub.contracts.diff import diff_contracts

    try:
        result = diff_contracts(_contract_document(old), _contract_document(new))
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(bounded(result.to_dict()), ensure_ascii=False, indent=2, default=str))
    else:
        for change in result.changes:
            flag = (
                "[red]BREAKING[/]"
                if change.breaking
                else ("[yellow]tightening[/]" if change.tightening else "ok")
            )
            console.print(
                f"{flag:>10} {_text(change.path)}: {_text(change.reason, MESSAGE_LIMIT)}", highlight=False
            )
        console.print(f"{len(result.changes)} change(s); breaking: {result.breaking}")
    if result.breaking:
        raise typer.Exit(code=1)


def _contract_yaml(path: Path) -> Any:
    """What a contract file holds; a file that cannot be read (missing, a directory), is not UTF-8 or
    not YAML is a ContractError naming it."""
    from datahub.contracts.yaml_io import load_yaml
    from datahub.errors import ContractError

    try:
        return load_yaml(path)
    except OSError as exc:
        reason = exc.strerror.lower() if exc.strerror else str(exc)
        raise ContractError(f"cannot be read: {reason}", file=str(path)) from None


def _contract_document(path: Path) -> dict[str, Any]:
    """The YAML mapping in a contract file (see _contract_yaml); anything else is a ContractError."""
    from datahub.errors import ContractError

    document = _contract_yaml(path)
    if not isinstance(document, dict):
        raise ContractError("a contract must be a YAML mapping", file=str(path))
    return document


def _registry() -> ContractRegistry:
    return Platform().registry


@contract_app.command("register")
def contract_register(
    path: Annotated[Path, typer.Argument(help="The contract file.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Store a new version in the registry, or refuse (exit 1) with the reasons."""
    from datahub.errors import RegistrationRefused

    try:
        _contract_yaml(path)  # refuses, naming the file, what cannot be read (the registry lints the rest)
        result = _registry().register(path.read_text(encoding="utf-8"), source=str(path))
    except RegistrationRefused as exc:
        if as_json:
            print(json.dumps({"error": bounded(exc.to_dict())}, ensure_ascii=False))
        else:
            err_console.print(f"[bold red]refused[/] {_text(exc, MESSAGE_LIMIT)}", highlight=False)
            for problem in exc.problems:
                err_console.print(f"  - {_text(problem, MESSAGE_LIMIT)}", highlight=False)
        raise typer.Exit(code=1) from None
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        since = f" (after {result.previous_version})" if result.previous_version else ""
        console.print(
            f"{result.status}: {_text(result.contract_id)} {_text(result.version)}{_text(since)}",
            highlight=False,
        )
        if result.pending:
            console.print(
                f"  breaking: waits for a steward's approval (`datahub contract approve "
                f"{_text(result.contract_id)} {_text(result.version)} --effective YYYY-MM-DD`); "
                f"in force: {_text(result.in_force_version)}",
                highlight=False,
                soft_wrap=True,
            )
        else:
            console.print(f"  in force: {_text(result.in_force_version)}", highlight=False)


def _pending_text(version: ContractVersion | None) -> str | None:
    """A version to come as people read it: its number and when it takes effect (city time)."""
    from datahub.citytime import city_time
    from datahub.contracts.registry import effective_of

    if version is None:
        return None
    when = effective_of(version)
    return f"{version.version} ({f'from {city_time(when):%Y-%m-%d %H:%M}' if when else 'awaiting approval'})"


@contract_app.command("list")
def contract_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The registered contracts: the version in force, any version to come, the latest registered."""
    registry = _registry()
    rows = [
        {
            "contract_id": st.contract_id,
            "name": latest.name,
            "in_force": st.in_force.version if st.in_force else None,
            "pending": _pending_text(st.pending),
            "version": latest.version,
            "owner": latest.owner_department,
            "versions": len(versions),
            "registered_at": latest.registered_at.isoformat(),
        }
        for st in registry.standings()
        for versions in [registry.versions(st.contract_id)]
        for latest in [versions[-1]]
    ]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="已注册数据契约 registered contracts")
    for header in (
        "契约 id",
        "名称 name",
        "生效版本 in force",
        "待生效 pending",
        "最新版本 latest",
        "部门 owner",
        "版本数 versions",
    ):
        table.add_column(header)
    keys = ("contract_id", "name", "in_force", "pending", "version", "owner", "versions")
    for r in rows:
        table.add_row(*(_text(r[k] if r[k] is not None else "-") for k in keys))
    console.print(table)


def _city_moment(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (midnight) or ``YYYY-MM-DD HH:MM``, in city time, as naive UTC."""
    from datahub.citytime import recorded_time
    from datahub.errors import InputError

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"not a date: {text!r} (YYYY-MM-DD or 'YYYY-MM-DD HH:MM', city time)") from None
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return recorded_time(moment)


def _decide_version(
    contract_id: str, version: str, approve: bool, when: str | None, text: str | None
) -> None:
    from datahub.citytime import city_time
    from datahub.contracts.registry import Caller, effective_of

    service = _sharing()
    steward = _console_steward()
    caller = Caller(name=steward.name, role=steward.role.value)
    registry = service.platform.registry
    try:
        if approve:
            row = registry.approve(
                contract_id, version, caller=caller, effective_at=_city_moment(when), note=text
            )
        else:
            row = registry.reject(contract_id, version, caller=caller, reason=text or "")
        service.record_contract(
            steward,
            "contract.approve" if approve else "contract.reject",
            {"contract_id": contract_id, "version": version, "effective_at": str(effective_of(row))},
        )
    except DatahubError as exc:
        raise _fail(exc) from None
    finally:
        service.close()
    effective = effective_of(row)
    console.print(
        f"{_text(contract_id)} {_text(version)}: {row.state}"
        + (f", in force from {city_time(effective):%Y-%m-%d %H:%M} (city time)" if effective else ""),
        highlight=False,
    )


@contract_app.command("approve")
def contract_approve(
    contract_id: Annotated[str, typer.Argument(help="The contract's id.")],
    version: Annotated[str, typer.Argument(help="The pending (breaking) version.")],
    effective: Annotated[
        str | None,
        typer.Option(help="When it takes effect: YYYY-MM-DD or 'YYYY-MM-DD HH:MM', city time (default now)."),
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the decision.")] = None,
) -> None:
    """Approve a breaking version (stewards): it takes effect on its date; until then consumers are told."""
    _decide_version(contract_id, version, True, effective, note)


@contract_app.command("reject")
def contract_reject(
    contract_id: Annotated[str, typer.Argument(help="The contract's id.")],
    version: Annotated[str, typer.Argument(help="The pending (breaking) version.")],
    reason: Annotated[str, typer.Option(help="Why; the department sees it.")],
) -> None:
    """Reject a breaking version (stewards): it never takes effect."""
    _decide_version(contract_id, version, False, None, reason)


@contract_app.command("show")
def contract_show(
    contract_id: Annotated[str, typer.Argument(help="The contract's id.")],
    version: Annotated[str | None, typer.Option(help="A registered version (default: the latest).")] = None,
) -> None:
    """Print a registered version of a contract, verbatim."""
    try:
        row = _registry().get(contract_id, version)
    except DatahubError as exc:
        raise _fail(exc) from None
    print(row.content, end="" if row.content.endswith("\n") else "\n")


FINDINGS_SHOWN = 50  # findings `datahub check` prints in text unless told otherwise


@app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="The file to check before delivering it.")],
    contract: Annotated[Path, typer.Option("--contract", help="The contract to check it against.")],
    as_json: Annotated[bool, typer.Option("--json", help="Every finding, as JSON.")] = False,
    limit: Annotated[
        int, typer.Option(min=0, help="Findings printed in text (0: all); --json lists every one.")
    ] = FINDINGS_SHOWN,
) -> None:
    """Validate a file against a contract without publishing anything; lists every row that would fail."""
    from datahub.contracts import load_contract
    from datahub.precheck import check_file

    platform = Platform()
    try:
        datasets = load_contract(contract, platform.dictionary)
        result = check_file(file, datasets[0], platform.dictionary)
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(bounded(result.to_dict()), ensure_ascii=False, indent=2, default=str))
        return
    console.print(
        f"{_text(result.file)} as {result.dataset}: {result.rows_read:,} rows read, "
        f"{result.rows_valid:,} valid, {result.rows_invalid:,} would be quarantined",
        highlight=False,
        soft_wrap=True,
    )
    for note in result.notes:
        console.print(f"  note: {_text(note, MESSAGE_LIMIT)}", highlight=False, soft_wrap=True)
    for reason in result.reasons:
        console.print(
            f"  {reason['reason']:<18} {_text(reason['column']):<28} {reason['rows']:,}",
            highlight=False,
            soft_wrap=True,
        )
    shown_problems = result.problems[:limit] if limit else result.problems
    for problem in shown_problems:
        value = "no value" if problem["value"] is None else f"'{_text(problem['value'])}'"
        console.print(
            f"  row {problem['row']}: {_text(problem['column'])} {problem['reason']} ({value})",
            highlight=False,
            soft_wrap=True,
        )
    if len(result.problems) > len(shown_problems):
        console.print(
            f"  … and {len(result.problems) - len(shown_problems):,} more (--limit 0 or --json for all)",
            highlight=False,
            soft_wrap=True,
        )


WORKER_HEALTHCHECK_S = 300
DEMO_MONTHS = 2  # the monthly report compares a month with the one before


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: DATAHUB_API_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default: DATAHUB_API_PORT).")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes (each holds the snapshots it serves).")
    ] = 1,
    access_log: Annotated[
        bool, typer.Option(help="uvicorn's line per request (every data read is in the audit log anyway).")
    ] = False,
) -> None:
    """Serve the sharing API (FastAPI, OpenAPI at /openapi.json) with uvicorn."""
    import uvicorn

    settings = Settings()
    host, port = host or settings.api_host, port or settings.api_port
    try:
        _ = settings.secret_key  # the audit chain and cursors are keyed: refuse a placeholder at once
    except DatahubError as exc:
        raise _fail(exc) from None
    if workers > 1:  # each worker process builds its own app from the same environment
        os.environ["DATAHUB_API_WORKERS"] = str(workers)  # each allows its share of a rate limit
        uvicorn.run(
            "datahub.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=access_log,
            # A worker reading a large version into memory holds the GIL for seconds; uvicorn's
            # default 5 s health check would kill it in the middle of that request.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        )
        return
    from datahub.api.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, access_log=access_log)


def _print_summary_table(summaries: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title, show_lines=True)
    table.add_column("数据集 dataset", no_wrap=True)
    for header in ("交付 files", "输入 in", "发布 published", "隔离 quarantined"):
        table.add_column(header, justify="right")
    table.add_column("对账 reconciled", justify="center")
    table.add_column("主要隔离原因 top reasons")
    table.add_column("合格率 pass rate", justify="right")
    table.add_column("未通过规则 failed rules")
    for row in summaries:
        table.add_row(
            str(row["dataset"]),
            *(f"{row[k]:,}" for k in ("deliveries", "rows_in", "rows_published", "rows_quarantined")),
            ("✓" if row["reconciled"] else "✗") if row["deliveries"] else "-",
            str(row["top_reasons"]),
            "-" if row["pass_rate"] is None else f"{row['pass_rate']:.2f}%",
            str(row["failed_rules"]),
        )
    console.print(table)


@app.command()
def ingest(
    dataset: Annotated[str, typer.Argument(help="A registered dataset, e.g. hotline_12345.")],
    file: Annotated[Path, typer.Argument(help="The delivered file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Land one file for a dataset and run its pipeline; prints rows in / published / quarantined."""
    from datahub.pipeline import ingest_file

    platform = Platform()
    try:
        summary = ingest_file(platform, dataset, file)
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(bounded(asdict(summary)), ensure_ascii=False, indent=2))
    elif summary.status == "rejected":
        err_console.print(f"[bold red]rejected[/] {_text(summary.error, MESSAGE_LIMIT)}", highlight=False)
    else:
        _print_delivery(summary)
    if summary.status in ("rejected", "failed"):
        raise typer.Exit(code=2)


def _print_delivery(summary: DeliverySummary) -> None:
    if summary.status == "duplicate":
        console.print(
            f"{_text(summary.source_file)}: already delivered (delivery {summary.duplicate_of}); "
            "nothing published",
            highlight=False,
        )
        return
    if summary.earlier:
        console.print(
            f"{_text(summary.source_file)}: already delivered (delivery {summary.delivery_id}); "
            "nothing done twice. What became of it:",
            highlight=False,
        )
    if summary.status == "failed":
        err_console.print(
            f"[bold red]failed[/] {_text(summary.error, MESSAGE_LIMIT)}; "
            f"`datahub deliveries retry {summary.delivery_id}` restarts it",
            highlight=False,
        )
        return
    console.print(
        f"{summary.dataset} ← {_text(summary.source_file)}: {summary.status}; "
        f"输入 in {summary.rows_in or 0:,}, "
        f"发布 published {summary.rows_published or 0:,}, "
        f"隔离 quarantined {summary.rows_quarantined or 0:,}, "
        f"对账 reconciled {'✓' if summary.reconciled else '✗'}; version {summary.snapshot_version}",
        highlight=False,
    )
    if summary.corrects:
        console.print(
            f"  整改 a fix of delivery {summary.corrects}: its rows count for that delivery", highlight=False
        )
    if summary.rows_withheld:
        console.print(
            f"  暂扣 withheld for k-anonymity: {summary.rows_withheld:,} rows (in quarantine)"
            + ("; nothing published" if summary.status == "withheld" else ""),
            highlight=False,
        )
    for note in summary.notes:
        console.print(f"  note: {_text(note, MESSAGE_LIMIT)}", highlight=False)
    for r in summary.reasons:
        console.print(f"  {r['reason']:<18} {_text(r['column']):<32} {r['rows']:>9,}", highlight=False)
    if summary.quality:
        q = summary.quality
        console.print(
            f"  质量 quality: pass rate {q['pass_rate']:.2f}%, overall score {q['overall_score']:.1f}"
            + (" — BLOCKED" if q["blocked"] else ""),
            highlight=False,
        )
        for r in q["failed_rules"]:
            level = "blocking" if r["blocking"] else "warning"
            console.print(
                f"  rule failed ({level}): {_text(r['rule'])} {_text(r['column'])} {r['failed']:,}"
                + (f" — {_text(r['detail'], MESSAGE_LIMIT)}" if r.get("detail") else ""),
                highlight=False,
            )


def _status_unfinished(counts: dict[str, int]) -> str:
    """Unfinished deliveries of a dataset for the status table: ``2 (failed 1, publishing 1)``."""
    if not counts:
        return "0"
    return f"{sum(counts.values())} ({', '.join(f'{k} {n}' for k, n in sorted(counts.items()))})"


def _status_pending(s: DatasetStatus) -> str:
    """A dataset's version to come, beside the one in force (city time)."""
    from datahub.citytime import city_time

    if s.pending_effective_at is None:
        when = "awaiting a steward's approval (待审批)"
    else:
        at = city_time(datetime.fromisoformat(s.pending_effective_at))
        when = f"approved, in force from {at:%Y-%m-%d %H:%M} city time (将于该时生效)"
    return f"{_text(s.contract_version or '-')} in force; {_text(s.pending_version or '-')} {when}"


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Per dataset: current published version, last delivery's rows, unfinished deliveries, and whether
    every delivery reconciled (an unfinished delivery — waiting, claimed or failed — does not)."""
    from datahub.status import dataset_status

    statuses = dataset_status(Platform())
    if as_json:
        print(json.dumps(bounded([asdict(s) for s in statuses]), ensure_ascii=False, indent=2))
        return
    table = Table(title="数据集状态 dataset status")
    for header in (
        "数据集",
        "名称",
        "部门",
        "契约版本 contract",
        "当前版本",
        "当前行数",
        "最近交付",
        "输入",
        "发布",
        "隔离",
        "未完成 unfinished",
        "对账",
    ):
        table.add_column(header, overflow="fold")
    for s in statuses:
        table.add_row(
            s.dataset,
            _text(s.title),
            s.owner_department or "-",
            _text(s.contract_version or "-")
            + (f" → {_text(s.pending_version)}" if s.pending_version else ""),
            s.current_version or "-",
            str(s.rows_current),
            _text(s.last_delivery or "-"),
            str(s.last_rows_in or 0),
            str(s.last_rows_published or 0),
            str(s.last_rows_quarantined or 0),
            _status_unfinished(s.unfinished_statuses),
            "✓" if s.all_reconciled else "✗",
        )
    console.print(table)
    coming = [s for s in statuses if s.pending_version]
    if coming:
        console.print(f"{len(coming)} contract versions to come (datahub contract list):", highlight=False)
        for s in coming:
            console.print(f"  {s.dataset}: {_status_pending(s)}", highlight=False)
    unfinished = [(s.dataset, d) for s in statuses for d in s.unfinished_deliveries]
    if unfinished:
        console.print(
            f"{len(unfinished)} unfinished deliveries (not reconciled until they finish):", highlight=False
        )
        for dataset, d in unfinished:
            error = f" — {_text(d['error'], MESSAGE_LIMIT)}" if d["error"] else ""
            delivery = escape(f"[{d['delivery_id']}]")
            console.print(
                f"  {dataset} ← {_text(d['source_file'])}: {d['status']} {delivery}{error}", highlight=False
            )


@app.command()
def report(
    month: Annotated[str, typer.Option("--month", help="The month to report, YYYY-MM.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Directory for the files (default: var/reports).")
    ] = None,
) -> None:
    """Write the monthly leadership report (月通报) as report-YYYY-MM.pdf and .html."""
    from datahub.reports.render import write_report

    try:
        files = write_report(Platform(), month, out)
    except DatahubError as exc:
        raise _fail(exc) from None
    print(files.pdf)
    print(files.html)


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Where to write the files.")],
    start: Annotated[
        str | None, typer.Option(help="First day, YYYY-MM-DD (default: first day of last month).")
    ] = None,
    days: Annotated[
        int | None, typer.Option(min=1, help="Days of data (default: to the end of the month).")
    ] = None,
    rows_per_day: Annotated[
        int, typer.Option(min=1, max=999_999, help="Hotline rows per day; other datasets scale from it.")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20261001,
) -> None:
    """Generate synthetic department deliveries with injected defects and their ground truth."""
    from datahub.errors import InputError
    from datahub.synth import SynthConfig, generate

    platform = Platform()
    first = _start_date(start)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is not a directory", path="--out")
    config = SynthConfig(
        start=first, days=days or _days_to_month_end(first), rows_per_day=rows_per_day, seed=seed
    )
    with _written_whole(out) as partial:
        result = generate(config, platform.dictionary, platform.catalog, partial)
    ground_truth = out / result.ground_truth.relative_to(partial.resolve())
    console.print(f"{len(result.files)} files, ground truth at {_text(ground_truth)}", highlight=False)


def _days_to_month_end(first: date, months: int = 1) -> int:
    """Days from ``first`` to the end of its month, or of the month ``months - 1`` after it."""
    end = first
    for _ in range(months):
        end = (end.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (end - first).days


def _start_date(text: str | None, months: int = 1) -> date:
    """The given day, or the first day of the month ``months`` months before this one."""
    from datahub.errors import InputError

    if text:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise InputError(f"expected YYYY-MM-DD, got '{text}'", path="--start") from None
    first = date.today().replace(day=1)
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def prepare_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME under var/, holding the project's dagster.yaml."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    template = settings.root / "dagster.yaml"
    if template.is_file():
        shutil.copyfile(template, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@app.command()
def demo(
    rows_per_day: Annotated[
        int, typer.Option(min=1, max=999_999, help="Hotline rows per day (other datasets scale from it).")
    ] = 5000,
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Days of synthetic data (default: to the end of last month)."),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(help="First day, YYYY-MM-DD (default: first day of the month before last)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20261001,
) -> None:
    """The whole platform on two months of synthetic department data, end to end, under var/ (two
    months, so the monthly report has a month to compare with)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from datahub.demo import run_demo

    first = _start_date(start, DEMO_MONTHS)  # a malformed day is an error before anything is reset
    settings = Settings(demo_mode=True)
    if settings.var.exists():
        console.print(
            f"[yellow]resetting[/] {_text(settings.var)} (the demo starts from an empty platform)",
            highlight=False,
        )
        shutil.rmtree(settings.var)
    dagster_home = prepare_dagster_home(settings)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[str, object] = {}

        def report(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(step, total=total)
            progress.update(tasks[step], completed=done, total=total)  # type: ignore[arg-type]

        try:
            rows = run_demo(
                settings,
                start=first,
                days=days or _days_to_month_end(first, DEMO_MONTHS),
                rows_per_day=rows_per_day,
                seed=seed,
                progress=report,
            )
        except DatahubError as exc:
            raise _fail(exc) from None
    _print_summary_table(rows, "演示结果 demo summary (per dataset, all deliveries)")
    from datahub.access.corrections import seed_correction
    from datahub.demo import seed_sharing

    steward, consumer = seed_sharing(Platform(settings))
    correction = seed_correction(Platform(settings))
    reports = sorted(settings.reports_dir.glob("report-*.pdf"))
    base = f"http://{settings.api_host}:{settings.api_port}"
    console.print(
        "\n[bold]Next[/]\n"
        f"  Dagster UI:  DAGSTER_HOME={dagster_home} .venv/bin/dagster dev -m pipelines.definitions\n"
        "  Status:      .venv/bin/datahub status\n"
        f"  API:         DATAHUB_DEMO_MODE=true .venv/bin/datahub serve, then {base}/docs\n"
        f"               steward key   {steward}\n"
        f"               consumer key  {consumer}   (demo-ops-centre: one grant waits for approval;\n"
        f"               its correction request #{correction} waits in 生态环境局's inbox: .venv/bin/datahub "
        "correction list)\n"
        f"               curl -H 'Authorization: Bearer {steward}' "
        f"'{base}/api/v1/views/events_unified/rows?limit=5'\n"
        f"  Dashboard:   {base}/dashboard  (sign in with the steward key)\n"
        + "".join(f"  Report:      {pdf} and .html  (月通报)\n" for pdf in reports)
        + "  Contracts:   .venv/bin/datahub contract list   (construction_hotline_12319 was registered over "
        "HTTP\n               while the API ran; its breaking 2.0.0 awaits a steward: .venv/bin/datahub "
        "contract approve\n               urn:datahub:contract:construction_hotline_12319 2.0.0 --effective "
        "YYYY-MM-DD)\n"
        "  Published:   Iceberg tables published.<dataset> and views.<view>: .venv/bin/datahub lake info\n"
        "               (to attach Spark, Trino, Flink, StarRocks or Doris: docs/lake.md)\n"
        f"  Quarantine:  {settings.lake_dir / 'quarantine'}/<dataset>/\n"
    )
    if not all(r["reconciled"] for r in rows):
        raise typer.Exit(code=1)


@quality_app.command("show")
def quality_show(
    dataset: Annotated[str, typer.Argument(help="A registered dataset, e.g. hotline_12345.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    history: Annotated[int, typer.Option(help="How many runs of history to show.")] = 12,
) -> None:
    """Latest GB/T 36344 scores, pass rate against the 98.7% target, failing rules, and the history."""
    from datahub.quality.history import quality_report

    platform = Platform()
    try:
        report = quality_report(platform, platform.catalog.get(dataset), history)
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(bounded(report), ensure_ascii=False, indent=2, default=str))
        return
    latest, names = report["latest"], report["dimension_names"]
    target = report["pass_rate_target"]
    mark = "✓" if latest["pass_rate"] >= target else "✗"
    console.print(
        f"[bold]{_text(report['title'])}[/] ({dataset}) ← {_text(latest['source_file'])} "
        f"at {latest['validated_at']}" + (" [bold red]BLOCKED[/]" if latest["blocked"] else ""),
        highlight=False,
    )
    console.print(
        f"合格率 pass rate {latest['pass_rate']:.2f}% {mark} target {target}% · "
        f"综合得分 overall {latest['overall_score']:.1f}",
        highlight=False,
    )
    scores = Table(title="维度得分 GB/T 36344 scores")
    for d in names:
        scores.add_column(f"{names[d]} {d}", justify="right")
    scores.add_row(*(f"{latest['scores'][d]:.1f}" if d in latest["scores"] else "-" for d in names))
    console.print(scores)
    rules = Table(title="规则 rules")
    for header in ("rule", "dimension", "level", "column", "result", "failed / evaluated", "sample"):
        rules.add_column(header)
    for r in sorted(latest["rules"], key=lambda r: (r["success"], not r["blocking"])):
        rules.add_row(
            _text(r["rule"]),
            names.get(r["dimension"], r["dimension"]),
            "blocking" if r["blocking"] else "warning",
            _text(r["column"]),
            "[green]pass[/]" if r["success"] else "[red]FAIL[/]",
            f"{r['failed']:,} / {r['evaluated']:,}",
            ", ".join(_text(x.get("key") or x) for x in r["sample"][:3])
            or _text(r.get("detail"), MESSAGE_LIMIT),
        )
    console.print(rules)
    trend = Table(title="历史 history")
    for header in ("validated", "file", "pass rate", "overall", *names):
        trend.add_column(header, justify="right")
    for run in report["history"]:
        trend.add_row(
            run["validated_at"],
            _text(run["source_file"]),
            f"{run['pass_rate']:.2f}%",
            f"{run['overall_score']:.1f}",
            *(f"{run['scores'][d]:.1f}" if d in run["scores"] else "-" for d in names),
        )
    console.print(trend)


deliveries_app = typer.Typer(
    help="Deliveries (交付): every delivered file, its id and where it stands; retry one.",
    invoke_without_command=True,
)
app.add_typer(deliveries_app, name="deliveries")


@deliveries_app.callback()
def deliveries_list(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(callback=_one_of(DeliveryStatus), help="Only deliveries in this status (e.g. failed)."),
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset's deliveries.")] = None,
    unfinished: Annotated[
        bool, typer.Option("--unfinished", help="Only deliveries not finished (not reconciled yet).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per delivery.")] = False,
) -> None:
    """List deliveries, newest first: id, dataset, file, status, rows, attempts; exit 1 when any
    listed delivery is unfinished (waiting, being processed, or failed)."""
    if ctx.invoked_subcommand is not None:
        return
    from datahub.pipeline import list_deliveries

    rows = list_deliveries(Platform(), status=status, dataset=dataset, unfinished=unfinished)
    if as_json:
        for row in rows:
            print(json.dumps(bounded(asdict(row)), ensure_ascii=False, default=str))
    else:
        table = Table(box=None)
        for header in (
            "id",
            "数据集 dataset",
            "文件 file",
            "状态 status",
            "in",
            "published",
            "quarantined",
            "tries",
        ):
            table.add_column(header)
        for row in rows:
            state = row.status
            if row.holder is not None:
                state += " (running)" if row.holder_alive else " (holder gone: will be taken over)"
            if row.error and not row.finished:
                state += f": {_text(row.error, MESSAGE_LIMIT)}"
            table.add_row(
                row.delivery_id,
                row.dataset,
                _text(row.source_file),
                state,
                *(
                    "-" if n is None else f"{n:,}"
                    for n in (row.rows_in, row.rows_published, row.rows_quarantined)
                ),
                str(row.attempts),
            )
        console.print(table)
        open_ = sum(not row.finished for row in rows)
        console.print(f"{len(rows)} deliveries, {open_} unfinished", highlight=False)
    if any(not row.finished for row in rows):
        raise typer.Exit(code=1)


@deliveries_app.command("retry")
def deliveries_retry(
    delivery: Annotated[str, typer.Argument(help="The delivery id (see `datahub deliveries`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Restart a failed delivery (or one whose process died) and run it to its end."""
    from datahub.pipeline import retry

    try:
        summary = retry(Platform(), delivery)
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(bounded(asdict(summary)), ensure_ascii=False, indent=2))
    else:
        _print_delivery(summary)
    if summary.status in ("rejected", "failed"):
        raise typer.Exit(code=2)


@quarantine_app.command("list")
def quarantine_list(
    dataset: Annotated[str, typer.Argument(help="A registered dataset.")],
    delivery: Annotated[str | None, typer.Option(help="Only this delivery's rows.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per row.")] = False,
    limit: Annotated[
        int, typer.Option(min=0, help="Rows printed in text (0: all); --json lists every one.")
    ] = FINDINGS_SHOWN,
) -> None:
    """Quarantined rows with their reasons (personal values masked), each with its delivery's id."""
    from datahub.quality.history import DELIVERY_COLUMN, quarantined_rows

    platform = Platform()
    try:
        rows = quarantined_rows(platform, platform.catalog.get(dataset), delivery and _delivery_id(delivery))
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    listed = rows.select(DELIVERY_COLUMN, "_source_file", "_row_number", "_reasons")
    if as_json:
        for row in listed.iter_rows(named=True):
            print(json.dumps(bounded(row), ensure_ascii=False, default=str))
        return
    for row in (listed.head(limit) if limit else listed).iter_rows(named=True):
        reasons = "; ".join(
            f"{r['reason']}:{_text(r['column'])}={_text(r['value'])}" for r in row["_reasons"]
        )
        console.print(
            f"{row[DELIVERY_COLUMN]}  {_text(row['_source_file'])}:{row['_row_number']}  {reasons}",
            highlight=False,
            soft_wrap=True,
        )
    if limit and listed.height > limit:
        console.print(
            f"  … and {listed.height - limit:,} more (--limit 0 or --json for all)", highlight=False
        )


@quarantine_app.command("export")
def quarantine_export(
    dataset: Annotated[str, typer.Argument(help="A registered dataset.")],
    delivery: Annotated[
        str, typer.Argument(help="The delivery id (the first column of `datahub quarantine list`).")
    ],
    out: Annotated[Path, typer.Option(help="CSV file to write.")],
) -> None:
    """Write a delivery's quarantined rows, as delivered plus their reasons and their delivery's id, to
    a CSV to fix; the export (values unmasked) is recorded in the audit log under your user name."""
    from datahub.quality.history import audit_quarantine_export, export_quarantine

    platform = Platform()
    try:
        found = platform.catalog.get(dataset)
        delivery_id = _delivery_id(delivery)
        with _written_whole(out) as partial:
            n = export_quarantine(platform, found, delivery_id, partial)
            audit_quarantine_export(platform, found, delivery_id, n, _os_user())
    except DatahubError as exc:
        raise _fail(exc) from None
    console.print(f"{n:,} rows → {_text(out)}", highlight=False)


def _os_user() -> str:
    """Who runs the command, as the audit log records a command-line user."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        return f"cli:uid {os.getuid()}"


@quarantine_app.command("deliveries")
def quarantine_deliveries(
    dataset: Annotated[str, typer.Argument(help="A registered dataset.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per delivery.")] = False,
) -> None:
    """Deliveries that quarantined rows, newest first: id (what export takes), file, rows quarantined,
    fixed by resubmissions, still waiting, and the fixes (resubmissions) linked to each."""
    from datahub.quality.resubmissions import dataset_fixes

    platform = Platform()
    try:
        rows = dataset_fixes(platform, platform.catalog.get(dataset))
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        for row in rows:
            print(json.dumps(bounded(asdict(row)), ensure_ascii=False, default=str))
        return
    table = Table(box=None)
    for header in ("id", "文件 file", "交付 delivered", "隔离 quarantined", "已整改 fixed", "待整改 waiting"):
        table.add_column(header)
    for row in rows:
        table.add_row(
            row.delivery_id,
            _text(row.source_file),
            f"{row.delivered_at:%Y-%m-%d %H:%M}",
            f"{row.rows_quarantined:,}",
            f"{row.rows_fixed:,}",
            f"{row.rows_waiting:,}",
        )
        for fix in row.fixes:
            table.add_row(f"  ↳ fix {fix}", "", "", "", "", "")
    console.print(table)
    console.print(
        f"{len(rows)} deliveries with quarantined rows, {sum(r.rows_waiting for r in rows):,} rows waiting; "
        "rows still waiting are in the quarantine of the delivery or of its last fix "
        "(`datahub quarantine export DATASET ID`)",
        highlight=False,
    )


@quarantine_app.command("resubmit")
def quarantine_resubmit(
    dataset: Annotated[str, typer.Argument(help="A registered dataset.")],
    fixed: Annotated[Path, typer.Argument(help="The exported CSV after fixing.")],
    fixes: Annotated[
        str | None,
        typer.Option(help="The delivery the rows fix, for a file without the export's _delivery column."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Land fixed rows as a fix of the delivery they came from (the export's _delivery column, or
    --fixes) and run the pipeline on them: they count for that delivery, never as a new one."""
    from datahub.pipeline import ingest_file
    from datahub.pipeline.stages import preflight
    from datahub.quality.history import land_resubmission

    platform = Platform()
    try:
        preflight(platform)  # a settings error before anything lands
        landed = land_resubmission(platform, platform.catalog.get(dataset), fixed, fixes)
        summary = ingest_file(platform, dataset, landed)
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(bounded(asdict(summary)), ensure_ascii=False, indent=2, default=str))
    else:
        _print_delivery(summary)


def _jsonl_texts(path: Path) -> list[tuple[Any, str]]:
    """(id, text) of every line of a JSON-lines file; a bad line is an error naming file, line and field."""
    from datahub.errors import InputError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot be read: {exc}", file=str(path)) from None
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not JSON: {exc.msg}", file=str(path), path=f"line {number}") from None
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise InputError('needs a string field "text"', file=str(path), path=f"line {number}.text")
        items.append((item.get("id"), item["text"]))
    return items


@pii_app.command("scan")
def pii_scan(
    text: Annotated[str | None, typer.Option("--text", help="One text to scan.")] = None,
    jsonl: Annotated[
        Path | None, typer.Option("--jsonl", help='A file of JSON lines {"id": ..., "text": ...}.')
    ] = None,
    min_score: Annotated[float, typer.Option("--min-score", help="Only entities scored this or more.")] = 0.0,
    entity: Annotated[
        list[str] | None, typer.Option("--entity", help="Only these entity types (repeat the option).")
    ] = None,
) -> None:
    """Print {"id", "entities": [{"type", "start", "end", "text", "score"}]} per text (offsets: Python
    string positions, end exclusive)."""
    import polars as pl

    from datahub.errors import InputError
    from datahub.privacy.scanner import scan_texts

    try:
        if (text is None) == (jsonl is None):
            raise InputError("give exactly one of --text and --jsonl")
        items = [(None, text)] if text is not None else _jsonl_texts(jsonl)  # type: ignore[arg-type]
        found = scan_texts(pl.Series([t for _, t in items], dtype=pl.String), entity)
    except (DatahubError, ValueError) as exc:
        raise _fail(exc if isinstance(exc, DatahubError) else InputError(str(exc))) from None
    for item_id, item_text in items:
        entities = [f.as_dict(item_text) for f in found.get(item_text, []) if f.score >= min_score]
        print(json.dumps({"id": item_id, "entities": entities}, ensure_ascii=False))


@pii_app.command("audit")
def pii_audit(
    dataset: Annotated[str | None, typer.Argument(help="One dataset (default: every dataset).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Scan the published snapshots for direct identifiers: exit 0 when there are none, 1 on a finding."""
    from datahub.privacy.leaks import audit_published

    platform = Platform()
    try:
        datasets = [platform.catalog.get(dataset)] if dataset else list(platform.catalog)
        audits = audit_published(platform, datasets)
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    leaking = [a for a in audits if a.leaks]
    if as_json:
        print(json.dumps([a.as_dict() for a in audits], ensure_ascii=False, indent=2))
    else:
        table = Table(title="个人信息泄露审计 PII audit of published snapshots")
        for name in ("dataset", "version", "rows", "finding"):
            table.add_column(name)
        for a in audits:
            findings = "; ".join(
                f"{_text(x.column)}: {x.rows:,} {x.entity} e.g. {_text(x.sample)}" for x in a.leaks
            )
            table.add_row(a.dataset, a.version or "-", f"{a.rows:,}", findings or ("none" if a.rows else "-"))
        console.print(table)
    if leaking:
        raise typer.Exit(code=1)


client_app = typer.Typer(
    help="API clients (接入方): create with a key, list, disable, sign out of the dashboard.",
    no_args_is_help=True,
)
app.add_typer(client_app, name="client")
grant_app = typer.Typer(
    help="Sharing grants (共享授权): list, approve, refuse, revoke; standing grants (回流) to areas.",
    no_args_is_help=True,
)
app.add_typer(grant_app, name="grant")
audit_app = typer.Typer(help="The tamper-evident audit log (审计日志).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _sharing() -> Any:
    from datahub.serving.service import Service

    return Service(Platform())


@client_app.command("create")
def client_create(
    name: Annotated[str, typer.Argument(help="A name for the calling system, e.g. district-platform-dh.")],
    role: Annotated[str, typer.Option(help="steward, department, consumer, leader or admin.")],
    department: Annotated[str | None, typer.Option(help="The department code, for role department.")] = None,
    rate_limit: Annotated[int, typer.Option(help="Requests per second (and burst).")] = 200,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a client and print its API key, once: only its hash is kept."""
    from datahub.access import Clients

    platform = Platform()
    try:
        made = Clients(platform.metadata, platform.dictionary).create(
            name, role, department, rate_limit=rate_limit
        )
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps({"client_id": made.client_id, "api_key": made.api_key}))
        return
    console.print(f"client [bold]{_text(made.name)}[/] ({made.role}) id {made.client_id}", highlight=False)
    console.print(f"API key (shown once, keep it safe): {made.api_key}", highlight=False, soft_wrap=True)


@client_app.command("list")
def client_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every client (never their keys)."""
    from datahub.access import Clients

    platform = Platform()
    rows = Clients(platform.metadata, platform.dictionary).find()
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title="API clients")
    for header in ("client_id", "name", "role", "department", "rate/s", "created", "disabled"):
        table.add_column(header)
    for r in rows:
        table.add_row(
            *(
                _text(r[k])
                for k in ("client_id", "name", "role", "department", "rate_limit", "created_at", "disabled")
            )
        )
    console.print(table)


@client_app.command("disable")
def client_disable(client_id: Annotated[str, typer.Argument(help="The client's id.")]) -> None:
    """Refuse the client's key from now on."""
    from datahub.access import Clients

    platform = Platform()
    try:
        Clients(platform.metadata, platform.dictionary).disable(client_id)
    except DatahubError as exc:
        raise _fail(exc) from None
    console.print(f"disabled {_text(client_id)}", highlight=False)


@client_app.command("sign-out")
def client_sign_out(client_id: Annotated[str, typer.Argument(help="The client's id.")]) -> None:
    """End every dashboard session of the client (its key keeps working; `disable` refuses it)."""
    from datahub.dashboard.session import revoke_all

    platform = Platform()
    try:
        ended = revoke_all(platform.metadata, client_id)
    except DatahubError as exc:
        raise _fail(exc) from None
    console.print(f"ended {ended} dashboard session(s) of {_text(client_id)}", highlight=False)


def _console_steward() -> Any:
    from datahub.access import Principal, Role

    user = os.environ.get("USER") or "console"
    return Principal("console", f"console:{user}", Role.steward, None, 1)


@grant_app.command("list")
def grant_list(
    status: Annotated[
        str | None, typer.Option(callback=_one_of(GrantStatus), help="The grant's status.")
    ] = None,
    standing: Annotated[bool, typer.Option("--standing", help="Only the standing grants (回流).")] = False,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only requests waiting past their due time or answered late.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every grant, newest first, with the day its answer is due (city time) and whether it is overdue;
    then the standing grants (回流)."""
    from datahub.access.grants import answer_state, last_answer_day

    service = _sharing()
    try:
        grants = [] if standing else service.grants.find(_console_steward(), status=status)
        standings = service.return_flow.find()
    finally:
        service.close()
    if overdue:
        grants = [g for g in grants if g["overdue"]]
    if as_json:
        print(json.dumps(bounded(standings if standing else grants), ensure_ascii=False))
        return
    if standings:
        _standing_table(standings)
    if standing:
        return
    table = Table(title="grants")
    headers = (
        "id",
        "client",
        "view",
        "status",
        "due by",
        "overdue",
        "active",
        "purpose",
        "columns",
        "row filter",
    )
    for header in (*headers, "expires"):
        table.add_column(header)
    for g in grants:
        due = g["due_at"]
        table.add_row(
            str(g["grant_id"]),
            _text(g["client_id"]),
            _text(g["view"]),
            str(g["status"]),
            str(last_answer_day(datetime.fromisoformat(due.removesuffix("Z")))) if due else "-",
            f"[red]{answer_state(g)}[/]" if g["overdue"] else "",
            str(g["active"]),
            _text(g["purpose"]),
            _text(", ".join(g["columns"] or ["(all)"]), MESSAGE_LIMIT),
            _text(g["row_filter"], MESSAGE_LIMIT),
            _text(g["expires_at"]),
        )
    console.print(table)


def _standing_table(standings: list[dict[str, Any]]) -> None:
    table = Table(title="standing grants (回流)")
    for header in ("id", "client", "area", "purpose", "created", "by", "active"):
        table.add_column(header)
    for g in standings:
        table.add_row(
            str(g["standing_grant_id"]),
            _text(g["client_id"]),
            _text(f"{g['area_level']} {g['area_code']}"),
            _text(g["purpose"]),
            _text(g["created_at"]),
            _text(g["created_by"]),
            str(g["active"]) if g["active"] else f"revoked {g['revoked_at']}",
        )
    console.print(table)


@grant_app.command("return-flow")
def grant_return_flow(
    district: Annotated[str | None, typer.Option(help="The district's code (code table district).")] = None,
    street: Annotated[str | None, typer.Option(help="The street's code (code table street).")] = None,
    client: Annotated[
        str | None, typer.Option(help="The area platform's client name (default LEVEL-platform-CODE).")
    ] = None,
    purpose: Annotated[str | None, typer.Option(help="Recorded with every read it allows.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """回流: a standing grant giving a district's (or street's) platform its own area's rows of every
    conditional dataset and view that carries the area, datasets added later included. Makes the
    platform's client (role consumer, its key printed once) unless it exists."""
    from datahub.errors import InputError

    service = _sharing()
    steward = _console_steward()
    try:
        if (district is None) == (street is None):
            raise InputError("give exactly one of --district CODE and --street CODE")
        level, code = ("district", district) if district is not None else ("street", street)
        made = service.return_flow.open(
            level,
            str(code),
            clients=service.clients,
            created_by=steward.name,
            client_name=client,
            purpose=purpose,
        )
        service.record_standing(steward, "grant.return_flow", made.standing)
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    finally:
        service.close()
    out = made.standing
    if as_json:
        key = {"api_key": made.client.api_key} if made.client else {}
        print(json.dumps({**out, **key}, ensure_ascii=False))
        return
    console.print(
        f"standing grant {out['standing_grant_id']}: {out['area_level']} {out['area_code']} "
        f"for client {_text(out['client_id'])}",
        highlight=False,
    )
    if made.client is not None:
        console.print(
            f"client [bold]{_text(made.client.name)}[/] (consumer) id {made.client.client_id}",
            highlight=False,
        )
        console.print(
            f"API key (shown once, keep it safe): {made.client.api_key}", highlight=False, soft_wrap=True
        )


@grant_app.command("revoke-standing")
def grant_revoke_standing(standing_id: Annotated[int, typer.Argument()]) -> None:
    """Revoke a standing grant (回流); it stops counting on the next request."""
    service = _sharing()
    steward = _console_steward()
    try:
        out = service.return_flow.revoke(standing_id, steward.name)
        service.record_standing(steward, "grant.return_flow.revoke", out)
    except DatahubError as exc:
        raise _fail(exc) from None
    finally:
        service.close()
    console.print(f"standing grant {standing_id}: revoked")


def _decide(action: str, grant_id: int, note: str | None) -> None:
    service = _sharing()
    steward = _console_steward()
    try:
        if action == "approve":
            grant = service.grants.approve(grant_id, steward, note)
        elif action == "refuse":
            grant = service.grants.refuse(grant_id, steward, note)
        else:
            grant = service.grants.revoke(grant_id, steward)
        service.record_grant(steward, f"grant.{action}", grant)
    except DatahubError as exc:
        raise _fail(exc) from None
    finally:
        service.close()
    console.print(f"grant {grant_id}: {grant['status']}")


@grant_app.command("approve")
def grant_approve(
    grant_id: Annotated[int, typer.Argument()], note: Annotated[str | None, typer.Option()] = None
) -> None:
    """Approve a requested grant."""
    _decide("approve", grant_id, note)


@grant_app.command("refuse")
def grant_refuse(
    grant_id: Annotated[int, typer.Argument()], note: Annotated[str | None, typer.Option()] = None
) -> None:
    """Refuse a requested grant."""
    _decide("refuse", grant_id, note)


@grant_app.command("revoke")
def grant_revoke(grant_id: Annotated[int, typer.Argument()]) -> None:
    """Revoke a grant; it stops counting on the next request."""
    _decide("revoke", grant_id, None)


correction_app = typer.Typer(
    help="Correction requests (校核纠错): list the inbox, show, accept, reject, link the correcting "
    "delivery.",
    no_args_is_help=True,
)
app.add_typer(correction_app, name="correction")


def _corrections() -> Any:
    from datahub.access.corrections import Corrections

    return Corrections(_sharing())


def _print_correction(c: dict[str, Any]) -> None:
    overdue = " [bold red]overdue[/]" if c["overdue"] else ""
    console.print(
        f"correction {c['correction_id']}: [bold]{c['status']}[/]{overdue} · due {c['due_at']} · "
        f"answered by department {_text(c['owner_department'])}",
        highlight=False,
    )
    keys = "; ".join(", ".join(f"{k}={v}" for k, v in key.items()) for key in c["keys"])
    for name, value in (
        ("view", c["view"]),
        ("rows", keys),
        ("field", c["field"]),
        ("problem", c["problem"]),
        ("evidence", c["evidence"]),
        ("from", f"{c['client_name']} ({c['client_id']}) at {c['requested_at']}"),
        ("source dataset", c["source_dataset"]),
        ("answered", f"{c['answered_at']} by {c['answered_by']}" if c["answered_at"] else None),
        ("answer", c["answer"]),
        ("delivery", c["delivery_id"]),
    ):
        if value:
            console.print(f"  {name}: {_text(value, MESSAGE_LIMIT)}", highlight=False, soft_wrap=True)


@correction_app.command("list")
def correction_list(
    status: Annotated[
        str | None, typer.Option(callback=_one_of(CorrectionStatus), help="The request's status.")
    ] = None,
    department: Annotated[str | None, typer.Option(help="The answering department's code.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open past due, or answered late.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Correction requests, newest first (a department's inbox with --department CODE --status open)."""
    corrections = _corrections()
    try:
        found = corrections.find(
            _console_steward(), status=status, department=department, overdue=True if overdue else None
        )
    finally:
        corrections.service.close()
    if as_json:
        print(json.dumps(bounded(found), ensure_ascii=False))
        return
    table = Table(title="correction requests")
    headers = ("id", "view", "field", "rows", "department", "status", "due", "overdue", "from", "problem")
    for header in headers:
        table.add_column(header)
    for c in found:
        table.add_row(
            str(c["correction_id"]),
            _text(c["view"]),
            _text(c["field"]),
            str(len(c["keys"])),
            _text(c["owner_department"]),
            str(c["status"]),
            _text(c["due_at"]),
            "yes" if c["overdue"] else "",
            _text(c["client_name"]),
            _text(c["problem"], MESSAGE_LIMIT),
        )
    console.print(table)


@correction_app.command("show")
def correction_show(
    correction_id: Annotated[int, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One request with its answer."""
    corrections = _corrections()
    try:
        found = corrections.get(correction_id, _console_steward())
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    finally:
        corrections.service.close()
    if as_json:
        print(json.dumps(bounded(found), ensure_ascii=False))
        return
    _print_correction(found)


def _answer_correction(step: str, correction_id: int, text: str | None, delivery: str | None) -> None:
    corrections = _corrections()
    steward = _console_steward()
    try:
        if step == "accept":
            found = corrections.accept(correction_id, steward, text, delivery)
        elif step == "reject":
            found = corrections.reject(correction_id, steward, text)
        else:
            found = corrections.corrected(correction_id, steward, delivery or "")
    except DatahubError as exc:
        raise _fail(exc) from None
    finally:
        corrections.service.close()
    _print_correction(found)


@correction_app.command("accept")
def correction_accept(
    correction_id: Annotated[int, typer.Argument()],
    note: Annotated[str | None, typer.Option(help="A note for the requester.")] = None,
    delivery: Annotated[
        str | None, typer.Option(help="The published delivery that already corrects it.")
    ] = None,
) -> None:
    """The data is wrong: accept (and, with --delivery, mark it corrected)."""
    _answer_correction("accept", correction_id, note, delivery)


@correction_app.command("reject")
def correction_reject(
    correction_id: Annotated[int, typer.Argument()],
    reason: Annotated[str, typer.Option(help="What the check found: why the data is right.")],
) -> None:
    """The data is right: reject, with the reason."""
    _answer_correction("reject", correction_id, reason, None)


@correction_app.command("corrected")
def correction_corrected(
    correction_id: Annotated[int, typer.Argument()],
    delivery: Annotated[str, typer.Option(help="The published delivery that corrected it.")],
) -> None:
    """Link an accepted request to the delivery that corrected the data."""
    _answer_correction("corrected", correction_id, None, delivery)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the whole chain: exit 0 when intact, 1 naming the first bad record."""
    from datahub.audit.cli import verify_log

    code, message = verify_log(Platform())
    (console if code == 0 else err_console).print(_text(message, MESSAGE_LIMIT), highlight=False)
    raise typer.Exit(code=code)


@audit_app.command("reanchor")
def audit_reanchor() -> None:
    """After a lost or broken anchor: verify the chain and anchor its current end (an operator's act,
    once the log has been checked by other means; see docs/audit.md)."""
    from datahub.audit.cli import reanchor_log

    code, message = reanchor_log(Platform())
    (console if code == 0 else err_console).print(_text(message, MESSAGE_LIMIT), highlight=False)
    raise typer.Exit(code=code)


@audit_app.command("list")
def audit_list(
    client: Annotated[str | None, typer.Option(help="A client id.")] = None,
    view: Annotated[str | None, typer.Option(help="A view or dataset.")] = None,
    action: Annotated[str | None, typer.Option(help="read, export, open311, grant.approve, …")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Records, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Audit records, newest first: who read what, when, why, and how many rows."""
    from datahub.audit.cli import list_log

    records = list_log(Platform(), client_id=client, view=view, action=action, limit=limit)
    if as_json:
        print(json.dumps(bounded(records), ensure_ascii=False, default=str))
        return
    table = Table(title="audit log")
    for header in ("seq", "at", "client", "action", "view", "columns", "filter", "rows", "purpose"):
        table.add_column(header)
    for r in records:
        table.add_row(
            str(r["seq"]),
            str(r["at"]),
            _text(r.get("client_name")),
            _text(r["action"]),
            _text(r.get("view")),
            _text(", ".join(r.get("columns") or []), MESSAGE_LIMIT),
            _text(r.get("filter"), MESSAGE_LIMIT),
            _text(r.get("rows") or ""),
            _text(r.get("purpose")),
        )
    console.print(table)


@lake_app.command("info")
def lake_info(as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False) -> None:
    """The Iceberg catalog (type, name, URI without its password, warehouse, S3 endpoint) and every
    table with its current snapshot and rows: what Spark, Trino or Flink attach to (docs/lake.md)."""
    from datahub.lake.info import lake_info as info_of

    try:
        info = info_of(Settings())
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return
    catalog = info["catalog"]
    for label, key in (
        ("catalog", "name"),
        ("type", "type"),
        ("uri", "uri"),
        ("jdbc uri", "jdbc_uri"),
        ("jdbc user", "jdbc_user"),
        ("warehouse", "warehouse"),
        ("s3 endpoint", "s3_endpoint"),
        ("s3 region", "s3_region"),
    ):
        if catalog[key] is not None:
            console.print(f"{label + ':':<12} {_text(catalog[key])}", highlight=False)
    count = len(info["tables"])
    table = Table(title=f"{count} table{'' if count == 1 else 's'} (湖表)")
    for header in (
        "table",
        "snapshot",
        "committed (UTC)",
        "rows",
        "delivery",
        "contract",
        "snapshots",
        "partitioned by",
        "location",
    ):
        table.add_column(header, overflow="fold")
    for t in info["tables"]:
        table.add_row(
            t["table"],
            str(t["snapshot_id"] or "-"),
            (t["committed_at"] or "-")[:19].replace("T", " "),
            f"{t['rows']:,}",
            _text(t["delivery_id"] or "-"),
            _text(t["contract_version"] or "-"),
            str(t["snapshots"]),
            ", ".join(t["partition_spec"]) or "-",
            _text(t["location"]),
        )
    console.print(table)


@lake_app.command("migrate")
def lake_migrate(as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False) -> None:
    """Turn the home's published snapshots in the earlier layout (parts, manifests, CURRENT) into
    Iceberg tables, one snapshot per delivery, checked row for row and key for key; again is a no-op."""
    from datahub.lake.migrate import migrate_platform

    try:
        done = migrate_platform(Platform())
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps([asdict(m) for m in done], ensure_ascii=False, indent=2))
        return
    table = Table(title="迁移为 Iceberg 表 migrated to Iceberg tables")
    for header in ("table", "deliveries", "committed now", "rows", "restricted rows"):
        table.add_column(header)
    for m in done:
        table.add_row(
            f"{m.namespace}.{m.name}",
            str(m.deliveries),
            str(m.committed),
            f"{m.rows:,}",
            "-" if m.restricted_rows is None else f"{m.restricted_rows:,}",
        )
    console.print(table)
    console.print(f"{len(done)} tables checked: rows and keys equal the published parts", highlight=False)


@lake_app.command("maintain")
def lake_maintain(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be done; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Expire snapshots beyond each contract's retention, remove orphan files, compact small files
    (docs/lake.md, "Maintenance"). Exit 1 when a table could not be maintained."""
    from datahub.lake.maintenance import maintain_platform

    try:
        report = maintain_platform(Platform(Settings()), dry_run=dry_run)
    except DatahubError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        title = "Lake maintenance" + (" (dry run: nothing was changed)" if dry_run else "")
        table = Table(title=title)
        for header in ("table", "retention", "snapshots", "expired", "orphans", "orphan bytes", "files"):
            table.add_column(header, overflow="fold")
        for t in report.tables:
            kept = f"{t.retention.days:,} d" if t.retention is not None else "all"
            files = f"{t.files_before} → {t.files_after}"
            table.add_row(
                t.table,
                kept,
                str(t.snapshots_before),
                str(t.snapshots_expired),
                str(t.orphan_files_removed),
                f"{t.orphan_bytes_removed:,}",
                files if t.error is None else f"error: {_text(t.error)}",
            )
        console.print(table)
    if report.failed:
        raise typer.Exit(code=1)


def _database_error(exc: OperationalError) -> DatahubError:
    """The metadata database failed: DiskFull when it is SQLite on a full disk (SQLite says "database
    or disk is full", or only "disk I/O error" when it cannot even open its journal), otherwise
    DatabaseUnavailable naming the database (never its password) and the driver's reason."""
    url = make_url(Settings().database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        database = Path(url.database)
        if "full" in str(exc.orig) or shutil.disk_usage(database.parent).free < ALMOST_FULL_BYTES:
            return DiskFull(f"no space left on device while writing {database}")
    reason = " ".join(str(exc.orig).split())
    return DatabaseUnavailable(
        f"the metadata database {url.render_as_string(hide_password=True)} cannot be used: {reason}"
    )


ALMOST_FULL_BYTES = 1 << 20  # less than this free and SQLite cannot write its pages and journal


def main() -> None:
    """The console entry point. It warns of ``DATAHUB_*`` variables that are no setting. A platform
    error no command handled (a settings error such as the placeholder key outside the demo or a
    malformed variable, an unknown dataset), a file-system error (a full disk, a permission denied) and
    a full disk under the metadata database are printed as ``error [code] message`` with exit 2, never
    as a traceback."""
    for warning in unknown_variables(os.environ):
        err_console.print(f"[yellow]warning[/]: {escape(warning)}", highlight=False, soft_wrap=True)
    error: DatahubError | None
    try:
        app()
        return
    except DatahubError as exc:
        error = exc
    except OSError as exc:
        if (error := os_error(exc)) is None:
            raise
    except OperationalError as exc:
        error = _database_error(exc)
    raise SystemExit(_fail(error).exit_code) from None


if __name__ == "__main__":
    main()
