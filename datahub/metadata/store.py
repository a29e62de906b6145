"""The metadata database: SQLite (WAL, safe for several processes) by default, Postgres by URL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from datahub.metadata.models import Base


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


CREATE_ATTEMPTS = 10


class MetadataStore:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # The API reads grants from many request threads at once: a pool as large as its thread pool
        # keeps connections open instead of opening (and setting up) one per request.
        self.engine: Engine = create_engine(url, future=True, pool_size=20, max_overflow=40)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        for attempt in range(CREATE_ATTEMPTS):
            try:
                Base.metadata.create_all(self.engine)
                break
            except OperationalError:
                # Another process is creating the tables, one by one, between our checks and our
                # CREATEs: look again once it has gone further.
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        self._add_missing_columns()
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def _add_missing_columns(self) -> None:
        """A database made by an earlier release gets the nullable columns added since (the only kind
        of change made to existing tables so far)."""
        existing = inspect(self.engine)
        for table in Base.metadata.sorted_tables:
            if not existing.has_table(table.name):
                continue
            have = {c["name"] for c in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name in have or not column.nullable:
                    continue
                kind = column.type.compile(dialect=self.engine.dialect)
                statement = f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'
                try:
                    with self.engine.begin() as conn:
                        conn.execute(text(statement))
                except (OperationalError, ProgrammingError):  # another process added it first
                    pass

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
