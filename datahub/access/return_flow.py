"""回流 (return flow): data returned to the districts and streets it concerns.

《政务数据共享条例》 (State Council Decree No. 809, 2025) asks that shared data be returned to the lower
levels it concerns. A standing grant gives one district's (or street's) platform its own area's rows of
every served dataset and view that carries the area, and is kept current without anyone acting:

- it names an area (a code of the dictionary's ``district`` or ``street`` code table), not views;
- on each request it acts on a view as an approved grant with every column, no legal basis (personal
  columns stay masked as published) and the row filter ``<column> = '<code>'`` over the view's columns
  of the area's element (``district_code``, ``street_code``); a district also covers a view that has only
  a street column, by the street code's district prefix;
- a view without such a column is not covered; a 不予共享 view is never returned (datahub.access.policy);
- revocation, like a grant's, counts from the next request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select

from datahub.access.clients import Clients, NewClient, Role
from datahub.access.grants import PURPOSE_MAX, now_utc, replace_signal, signal_stamp
from datahub.contracts import Dataset
from datahub.dictionary import Dictionary
from datahub.errors import Conflict, InputError, NotFound
from datahub.metadata import Client, MetadataStore, StandingGrant


class AreaLevel(StrEnum):
    district = "district"
    street = "street"


ELEMENT = {AreaLevel.district: "district_code", AreaLevel.street: "street_code"}
"""The dictionary element whose columns carry an area of each level."""


@dataclass(frozen=True)
class Standing:
    """An active standing grant, as read for requests."""

    id: int
    level: AreaLevel
    code: str
    purpose: str


@dataclass(frozen=True)
class StandingAccess:
    """A standing grant resolved on one view: the rows of its area."""

    id: int
    row_filter: str
    purpose: str


@dataclass(frozen=True)
class ReturnFlowGrant:
    standing: dict[str, Any]
    client: NewClient | None  # the district platform's client, when made now (its key is shown once)


def _columns(view: Dataset, element: str) -> list[str]:
    return [c.name for c in view.columns if c.element is not None and c.element.id == element]


def _quoted(code: str) -> str:
    return "'" + code.replace("'", "''") + "'"


def area_filter(view: Dataset, level: AreaLevel, code: str) -> str | None:
    """The row filter that keeps ``view``'s rows of the area, or None when ``view`` carries no such area."""
    columns = _columns(view, ELEMENT[level])
    if columns:
        return " or ".join(f"{c} = {_quoted(code)}" for c in columns)
    if level is AreaLevel.district:  # a street code starts with its district's code (GB/T 10114)
        streets = _columns(view, ELEMENT[AreaLevel.street])
        if streets:
            pattern = _quoted(code.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
            return " or ".join(f"{c} like {pattern}" for c in streets)
    return None


def standing_dict(g: StandingGrant) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() + "Z" if value else None

    return {
        "standing_grant_id": g.id,
        "client_id": g.client_id,
        "area_level": g.area_level,
        "area_code": g.area_code,
        "purpose": g.purpose,
        "created_by": g.created_by,
        "created_at": iso(g.created_at),
        "revoked_at": iso(g.revoked_at),
        "revoked_by": g.revoked_by,
        "active": g.revoked_at is None,
    }


class ReturnFlow:
    """Standing grants over the metadata database: made, listed and revoked from the console, read on
    every request (cached until the grants' signal file is replaced, as grants are)."""

    def __init__(self, store: MetadataStore, dictionary: Dictionary, signal: Path | None = None) -> None:
        self.store = store
        self.dictionary = dictionary
        self.signal = signal
        self._cache: dict[str, tuple[tuple[int, int], list[Standing]]] = {}
        self._lock = threading.Lock()

    def area(self, level: str, code: str) -> tuple[AreaLevel, str]:
        """The area ``code`` names at ``level``, refused with the code table to look in when unknown."""
        try:
            parsed = AreaLevel(level)
        except ValueError:
            raise InputError(
                f"unknown area level '{level}' (levels: {', '.join(AreaLevel)})", path="area_level"
            ) from None
        table = self.dictionary.code_tables[str(self.dictionary.element(ELEMENT[parsed]).code_table)]
        code = code.strip()
        if code not in table.codes:
            known = list(table.codes.values())
            shown = ", ".join(f"{c.code} {c.name_zh}" for c in known[:10])
            more = f", … ({len(known)} codes)" if len(known) > 10 else ""
            raise InputError(
                f"unknown {parsed} code '{code}': valid codes are those of the code table "
                f"'{table.id}' (dictionary/{table.spec.file}): {shown}{more}",
                path=parsed.value,
            )
        return parsed, code

    def open(
        self,
        level: str,
        code: str,
        *,
        clients: Clients,
        created_by: str,
        client_name: str | None = None,
        purpose: str | None = None,
    ) -> ReturnFlowGrant:
        """The area platform's standing grant, with its client: both made unless they exist already.

        The client is ``client_name`` (default ``<level>-platform-<code>``): an existing consumer is
        reused, a new one is made with role consumer; an active standing grant of that client on the
        same area is reused rather than doubled."""
        parsed, code = self.area(level, code)
        name = (client_name or f"{parsed}-platform-{code}").strip()
        area = self.dictionary.codes(str(self.dictionary.element(ELEMENT[parsed]).code_table))[code]
        text = (purpose or f"回流：{area.name_zh}（{code}）的本地数据").strip()
        if not text or len(text) > PURPOSE_MAX:
            raise InputError(f"state the purpose in 1 to {PURPOSE_MAX} characters", path="purpose")
        with self.store.session() as s:
            existing = s.scalars(select(Client).where(Client.name == name)).first()
            if existing is not None and (existing.role != Role.consumer or existing.disabled_at is not None):
                state = "disabled" if existing.disabled_at is not None else f"role {existing.role}"
                raise Conflict(
                    f"client '{name}' exists ({state}); an area platform is an enabled consumer: "
                    "name another with --client",
                    path="client",
                )
            client_id = existing.id if existing is not None else None
        made = None
        if client_id is None:
            made = clients.create(name, Role.consumer.value)
            client_id = made.client_id
        with self.store.session() as s:
            standing = s.scalars(
                select(StandingGrant).where(
                    StandingGrant.client_id == client_id,
                    StandingGrant.area_level == parsed.value,
                    StandingGrant.area_code == code,
                    StandingGrant.revoked_at.is_(None),
                )
            ).first()
            if standing is None:
                standing = StandingGrant(
                    client_id=client_id,
                    area_level=parsed.value,
                    area_code=code,
                    purpose=text,
                    created_by=created_by,
                    created_at=now_utc(),
                )
                s.add(standing)
                s.flush()
            out = standing_dict(standing)
        replace_signal(self.signal)
        return ReturnFlowGrant(out, made)

    def revoke(self, standing_id: int, revoked_by: str) -> dict[str, Any]:
        with self.store.session() as s:
            standing = s.get(StandingGrant, standing_id)
            if standing is None:
                raise NotFound(f"unknown standing grant {standing_id}")
            if standing.revoked_at is not None:
                raise Conflict(f"standing grant {standing_id} is revoked already")
            standing.revoked_at = now_utc()
            standing.revoked_by = revoked_by
            out = standing_dict(standing)
        replace_signal(self.signal)
        return out

    def find(self) -> list[dict[str, Any]]:
        """Every standing grant, newest first."""
        with self.store.session() as s:
            rows = s.scalars(select(StandingGrant).order_by(StandingGrant.id.desc())).all()
            return [standing_dict(g) for g in rows]

    def active(self, client_id: str) -> list[Standing]:
        """The client's standing grants not revoked, read again whenever the signal file changed."""
        stamp = signal_stamp(self.signal)
        with self._lock:
            cached = self._cache.get(client_id)
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1]
        with self.store.session() as s:
            rows = s.scalars(
                select(StandingGrant)
                .where(StandingGrant.client_id == client_id, StandingGrant.revoked_at.is_(None))
                .order_by(StandingGrant.id)
            ).all()
            found = [Standing(g.id, AreaLevel(g.area_level), g.area_code, g.purpose) for g in rows]
        if stamp is not None:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[client_id] = (stamp, found)
        return found

    def on_view(self, client_id: str, view: Dataset) -> list[StandingAccess]:
        """The client's standing grants that cover ``view``, each with its row filter there."""
        out = []
        for standing in self.active(client_id):
            row_filter = area_filter(view, standing.level, standing.code)
            if row_filter is not None:
                out.append(StandingAccess(standing.id, row_filter, standing.purpose))
        return out
