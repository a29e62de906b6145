"""The landing zone: where delivered files arrive, and their registration as deliveries.

A file is copied in under a temporary name, flushed and renamed, so a file in the zone is always
whole; discovery registers each file once (the same bytes a second time are a ``duplicate``).

The zone holds files, never links: a linked source is landed as a copy of its content, and a link
found in the zone is registered as ``rejected`` without being followed. So is a file whose name is
not UTF-8 or holds control characters (it blocks no other file); names starting with ``.`` are
hidden or temporary files, which discovery leaves alone (docs/hostile-input.md, "Delivered files").
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from datahub.contracts import Dataset
from datahub.errors import UnreadableDelivery
from datahub.files import commit_file, file_sha256, temporary_name
from datahub.lake.store import sweep_temporary
from datahub.metadata import Delivery, DeliveryStatus
from datahub.platform import Platform


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def landing_dir(platform: Platform, dataset: Dataset) -> Path:
    return platform.settings.landing_zone(dataset.owner_department, dataset.name)


LINK_REFUSED = "a symbolic link: the landing zone takes files, never links (not followed)"


def _control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf")


def name_problem(name: str) -> str | None:
    """Why a file name cannot name a delivery, or None. A name the file system holds as bytes that
    are not UTF-8 arrives with surrogate escapes (``os.fsdecode``)."""
    raw = os.fsencode(name)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            f"the file name is not valid UTF-8 (byte \\x{raw[exc.start]:02x}): "
            "rename the file and deliver it again"
        )
    if name in ("", ".", "..") or "/" in name or "\\" in name:
        return f"not a file name: {name!r}"
    controls = dict.fromkeys(f"U+{ord(ch):04X}" for ch in name if _control(ch))
    if controls:
        return (
            f"the file name holds a control or format character ({', '.join(controls)}): "
            "rename the file and deliver it again"
        )
    if name.startswith("."):
        return (
            "the file name starts with '.': hidden and temporary files are not deliveries "
            "(the landing zone ignores them); rename the file"
        )
    return None


def recorded(path: Path | str) -> str:
    """The path as the metadata database records (and screens show) it: bytes that are not UTF-8 and
    control characters written as escapes (``\\xff``, ``\\n``, ``\\u202e``)."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(ch.encode("unicode_escape").decode("ascii") if _control(ch) else ch for ch in text)


def _copy_content(source: Path, tmp: Path) -> None:
    """The source's bytes and times into a new file ``tmp``, never written through a link put there."""
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
    shutil.copystat(source, tmp)


def _regular(path: Path) -> bool:
    """A regular file, not a link to one."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def land_file(platform: Platform, dataset: Dataset, source: Path) -> Path:
    """Copy a file's content into the dataset's landing zone (keeping its delivery time), unless it is
    there. A name :func:`name_problem` refuses, and a link inside the zone, are refused."""
    source = Path(source)
    if problem := name_problem(source.name):
        raise UnreadableDelivery(problem, file=recorded(source))
    target_dir = landing_dir(platform, dataset)
    target = target_dir / source.name
    if source.parent.resolve() == target_dir.resolve():
        if source.is_symlink():
            raise UnreadableDelivery(LINK_REFUSED, file=recorded(source))
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(target):
        digest = file_sha256(source)
        if not _regular(target) or file_sha256(target) != digest:  # a new file under an old name keeps both
            target = target_dir / f"{source.stem}.{digest[:8]}{source.suffix}"
    if not _regular(target):  # not there, or a link: the rename replaces it, never follows it
        tmp = temporary_name(target)
        try:
            _copy_content(source, tmp)
            commit_file(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return target


def sweep_landing(platform: Platform, dataset: Dataset) -> list[Path]:
    """Remove the half-copied files killed copies left in the dataset's landing zone."""
    return sweep_temporary(landing_dir(platform, dataset))


def _landed_files(platform: Platform, dataset: Dataset) -> list[Path]:
    """Everything in the zone but directories and hidden files (temporary copies among them), links
    included (discovery refuses them), oldest first."""
    directory = landing_dir(platform, dataset)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        if path.name.startswith("."):
            continue
        try:
            info = path.lstat()
        except FileNotFoundError:  # gone since it was listed
            continue
        if not stat.S_ISDIR(info.st_mode):
            found.append((info.st_mtime, path.name, path))
    return [path for _, _, path in sorted(found)]


def unregistered_files(platform: Platform, dataset: Dataset) -> list[Path]:
    """Files in the landing zone that no run has registered yet (what the landing sensor looks for)."""
    with platform.metadata.session() as s:
        known = set(s.scalars(select(Delivery.landed_path).where(Delivery.dataset == dataset.name)))
    return [p for p in _landed_files(platform, dataset) if recorded(p) not in known]


def refusal(path: Path) -> str | None:
    """Why a file in the landing zone is refused without being read, or None."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return LINK_REFUSED
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a pipe, socket or device): never read"
    return name_problem(path.name)


def discover(platform: Platform, dataset: Dataset) -> list[Delivery]:
    """Register every file in the landing zone not seen before; the same bytes twice are duplicates.
    A file :func:`refusal` refuses is registered ``rejected`` with the reason, its content unread."""
    found = []
    for path in unregistered_files(platform, dataset):
        try:
            refused = refusal(path)
        except FileNotFoundError:
            continue
        info = path.lstat()
        # A refused file's content is never read: its "hash" is its name's, so the same bytes
        # delivered again under a good name are a new delivery, not a duplicate of the refusal.
        digest = hashlib.sha256(b"refused:" + os.fsencode(path)).hexdigest() if refused else file_sha256(path)
        landed = recorded(path)
        try:
            with platform.metadata.session() as s:
                first = s.scalars(
                    select(Delivery).where(
                        Delivery.dataset == dataset.name,
                        Delivery.file_hash == digest,
                        Delivery.status != DeliveryStatus.duplicate,
                    )
                ).first()
                status = DeliveryStatus.rejected if refused else DeliveryStatus.landed
                if first and not refused:
                    status = DeliveryStatus.duplicate
                finished = status != DeliveryStatus.landed
                delivery = Delivery(
                    id=hashlib.sha256(f"{dataset.name}:{digest}:{landed}".encode()).hexdigest()[:32],
                    dataset=dataset.name,
                    source_file=recorded(path.name),
                    landed_path=landed,
                    file_hash=digest,
                    size_bytes=info.st_size,
                    contract_version=dataset.version,
                    status=status,
                    error=refused,
                    duplicate_of=first.id if first and not refused else None,
                    delivered_at=datetime.fromtimestamp(info.st_mtime, UTC).replace(tzinfo=None),
                    landed_at=_now(),
                    finished_at=_now() if finished else None,
                    rows_in=0 if finished else None,
                    rows_published=0 if finished else None,
                    rows_quarantined=0 if finished else None,
                    reconciled=True if finished else None,
                )
                s.add(delivery)
        except IntegrityError:  # another process registered this file a moment ago
            continue
        found.append(delivery)
    return found
