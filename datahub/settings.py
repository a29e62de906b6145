"""The one settings object of the platform (environment prefix ``DATAHUB_``).

Everything runs from local files under ``home`` (``var/`` in the project) by default; every path
can be moved by its own variable, and ``metadata_url`` can point at Postgres.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from annotated_types import Ge, Le
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from datahub.display import shown
from datahub.errors import ConfigError

PLACEHOLDER_KEY = "demo-only-pseudonym-key-change-me"
ENV_PREFIX = "DATAHUB_"


def project_root() -> Path:
    """The checkout this package runs from, when it holds contracts/; otherwise the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "contracts").is_dir() else Path.cwd()


class Settings(BaseSettings):
    # An empty variable (`DATAHUB_HOME=`) is unset: its default applies (an empty home was the working
    # directory, and `datahub demo` empties its home).
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", env_ignore_empty=True
    )

    root: Path = Field(
        default_factory=project_root, description="Project root holding contracts/ and dictionary/."
    )
    home: Path | None = Field(None, description="Where all state lives; defaults to ROOT/var.")
    contracts_dir: Path | None = Field(
        None,
        description="Data contracts (ODCS v3) that seed the contract registry, the one source of what "
        "runs; defaults to ROOT/contracts.",
    )
    dictionary_dir: Path | None = Field(
        None, description="Unified data dictionary; defaults to ROOT/dictionary."
    )
    metadata_url: str | None = Field(None, description="SQLAlchemy URL of the metadata database.")
    pseudonym_key: SecretStr = Field(SecretStr(PLACEHOLDER_KEY), description="HMAC key for pseudonyms.")
    demo_mode: bool = Field(False, description="Allows the placeholder key; set by `datahub demo`.")
    api_host: str = Field("127.0.0.1", description="Where `datahub serve` listens.")
    api_port: int = Field(8000, ge=1, le=65535, description="The port `datahub serve` listens on.")
    api_workers: int = Field(
        1,
        ge=1,
        description="Server processes of `datahub serve` (set by --workers): each process allows a client "
        "its share of the client's rate limit, so together they never allow more.",
    )
    dagster_url: str = Field(
        "http://127.0.0.1:3000",
        description="The Dagster webserver the `contract_registry` sensor asks to reload the code location "
        "when the registry changes (what `dagster dev` serves by default).",
    )
    dagster_location: str = Field(
        "pipelines.definitions",
        description="The code location's name, when the sensor cannot tell (`dagster dev -m` names it so).",
    )
    report_font: Path | None = Field(
        None,
        description="A CJK font file (TTF/TTC) embedded in report PDFs; default: the first of "
        "datahub.reports.render.FONT_CANDIDATES that exists (Debian's fonts-wqy-microhei).",
    )
    reports_start: str = Field(
        "2026-01", description="First month (YYYY-MM) of the monthly report's Dagster partitions."
    )
    grant_answer_days: int = Field(
        5,
        ge=0,
        le=60,
        description="Working days (dictionary/calendar.yaml) a steward has to answer a grant request: it is "
        "due at the end of that working day after the day it was made (《政务数据共享条例》).",
    )
    correction_answer_days: int = Field(
        5,
        ge=0,
        le=60,
        description="Working days (dictionary/calendar.yaml) the owner department has to answer a 校核纠错 "
        "correction request, counted like grant_answer_days.",
    )

    lake_warehouse: str | None = Field(
        None,
        description="Where the lake's Iceberg warehouse lives: a local path (or file:// URL), or an S3 URL "
        "s3://BUCKET/PATH on S3-compatible object storage (then s3_endpoint, s3_access_key and "
        "s3_secret_key are required). The working layers (raw, conformed, quarantine) live beside it, in "
        "its parent. Defaults to HOME/lake/warehouse.",
    )
    s3_endpoint: str | None = Field(
        None,
        description="URL of the S3-compatible object storage holding an s3:// lake_warehouse, such as "
        "http://127.0.0.1:8333 (SeaweedFS) or https://s3.us-east-1.amazonaws.com.",
    )
    s3_access_key: SecretStr | None = Field(None, description="Access key id for s3_endpoint.")
    s3_secret_key: SecretStr | None = Field(None, description="Secret access key for s3_endpoint.")
    s3_region: str = Field(
        "us-east-1", description="Region for s3_endpoint (signed into every request; any for SeaweedFS)."
    )

    def __init__(self, **values: Any) -> None:
        """ConfigError naming each variable that cannot be used, what it should be and what it is."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise settings_error(exc) from None

    @field_validator("metadata_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                make_url(value)
            except ArgumentError:
                raise ValueError(
                    "a SQLAlchemy URL such as postgresql+psycopg://user@host/db or sqlite:///path"
                ) from None
        return value

    @field_validator("lake_warehouse")
    @classmethod
    def _warehouse_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = urlsplit(value)
        if url.scheme == "s3":
            if not url.netloc or url.path.strip("/") == "":
                raise ValueError("an S3 URL with a bucket and a path, such as s3://city-lake/warehouse")
            return f"s3://{url.netloc}/{url.path.strip('/')}"
        if url.scheme not in ("", "file") or (url.scheme == "file" and url.netloc):
            raise ValueError("a local path, a file:///PATH URL or an s3://BUCKET/PATH URL")
        return value

    @field_validator("s3_endpoint")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        expected = "an http:// or https:// URL of a host (and port), such as http://127.0.0.1:8333"
        url = urlsplit(value)
        try:
            url.port  # noqa: B018 (raises on a port that is no number)
        except ValueError:
            raise ValueError(expected) from None
        if url.scheme not in ("http", "https") or not url.hostname or url.path.strip("/"):
            raise ValueError(expected)
        return value.rstrip("/")

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        self.root = self.root.resolve()
        self.home = (self.home or self.root / "var").resolve()
        self.contracts_dir = (self.contracts_dir or self.root / "contracts").resolve()
        self.dictionary_dir = (self.dictionary_dir or self.root / "dictionary").resolve()
        if self.metadata_url is None:
            self.metadata_url = f"sqlite:///{self.home / 'metadata.db'}"
        if self.lake_warehouse is None:
            self.lake_warehouse = str(self.home / "lake" / "warehouse")
        elif not self.lake_on_s3:
            local = Path(self.lake_warehouse.removeprefix("file://"))
            self.lake_warehouse = str(local.expanduser().resolve())
        if self.lake_on_s3:
            missing = [
                variable(setting)
                for setting in ("s3_endpoint", "s3_access_key", "s3_secret_key")
                if not _given(getattr(self, setting))
            ]
            if missing:  # raised as it is (no ValueError): the variables to set are the missing ones
                raise ConfigError(
                    f"required when {variable('lake_warehouse')} is an s3:// URL ({self.lake_warehouse})",
                    path=", ".join(missing),
                )
        return self

    # Paths derived from home: declared once here.
    @property
    def var(self) -> Path:
        assert self.home is not None
        return self.home

    @property
    def landing_dir(self) -> Path:
        return self.var / "landing"

    def landing_zone(self, department: str | None, dataset: str) -> Path:
        """Where a department delivers a dataset's files."""
        return self.landing_dir / (department or "external") / dataset

    @property
    def lake_dir(self) -> Path:
        return self.var / "lake"

    @property
    def lake_on_s3(self) -> bool:
        """Whether the lake (warehouse and working layers) lives on S3-compatible object storage."""
        return self.lake_warehouse is not None and self.lake_warehouse.startswith("s3://")

    @property
    def dagster_home(self) -> Path:
        return self.var / "dagster"

    @property
    def grants_signal(self) -> Path:
        """Replaced on every grant decision, so API processes drop their cached grants at once."""
        return self.var / "grants.changed"

    @property
    def reports_dir(self) -> Path:
        """Where `datahub report` writes monthly reports unless told otherwise (and the API caches them)."""
        return self.var / "reports"

    @property
    def synth_dir(self) -> Path:
        return self.var / "synth"

    @property
    def contracts_path(self) -> Path:
        assert self.contracts_dir is not None
        return self.contracts_dir

    @property
    def dictionary_path(self) -> Path:
        assert self.dictionary_dir is not None
        return self.dictionary_dir

    @property
    def database_url(self) -> str:
        assert self.metadata_url is not None
        return self.metadata_url

    @cached_property
    def secret_key(self) -> bytes:
        """The pseudonym key, refused when left at the placeholder outside demo mode."""
        value = self.pseudonym_key.get_secret_value()
        if value == PLACEHOLDER_KEY and not self.demo_mode:
            raise ConfigError(
                "DATAHUB_PSEUDONYM_KEY is the demo placeholder; set a real secret outside the demo"
            )
        return value.encode()

    def ensure_dirs(self) -> None:
        for path in (self.var, self.landing_dir, self.lake_dir, self.dagster_home):
            path.mkdir(parents=True, exist_ok=True)


def _given(value: str | SecretStr | None) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return bool(value)


def derive_key(secret: bytes, context: bytes) -> bytes:
    """A key for one purpose derived from the platform secret (``Settings.secret_key``):
    ``HMAC-SHA256(secret, context)``. The audit chain, the dashboard's sessions and the API's cursors each
    use their own ``context``, so none shares raw key material with the pseudonyms or with another."""
    if not secret:
        raise ValueError("a derived key needs a non-empty secret")
    return hmac.new(secret, context, hashlib.sha256).digest()


def variable(setting: str) -> str:
    """The environment variable of a setting: ``api_port`` → ``DATAHUB_API_PORT``."""
    return f"{ENV_PREFIX}{setting.upper()}"


def _expected(error: Any, setting: str) -> str:
    """What a setting should be, in words, for one pydantic error."""
    kind = error["type"]
    if kind in ("greater_than_equal", "less_than_equal"):
        metadata = Settings.model_fields[setting].metadata
        low = next((m.ge for m in metadata if isinstance(m, Ge)), None)
        high = next((m.le for m in metadata if isinstance(m, Le)), None)
        if low is None or high is None:
            return f"at least {low}" if high is None else f"at most {high}"
        return f"{low} to {high}"
    words = {
        "int_parsing": "an integer",
        "int_from_float": "an integer",
        "bool_parsing": "true or false",
        "path_type": "a path",
        "string_type": "text",
    }
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return words.get(kind) or str(error["msg"]).removeprefix("Input should be ")


def settings_error(exc: ValidationError) -> ConfigError:
    """Each setting that cannot be used: ``DATAHUB_API_PORT: expected an integer, got 'abc'``; a secret's
    value is never repeated."""
    problems = []
    for error in exc.errors():
        setting = str(error["loc"][0]) if error["loc"] else ""
        field = Settings.model_fields.get(setting)
        secret = field is not None and (field.annotation is SecretStr or setting in HOLD_SECRETS)
        got = "a value that is not shown (it may hold a secret)" if secret else f"'{shown(error['input'])}'"
        problems.append(
            (variable(setting) if field else None, f"expected {_expected(error, setting)}, got {got}")
        )
    if len(problems) == 1:
        where, message = problems[0]
        return ConfigError(message, path=where)
    return ConfigError("; ".join(f"{where}: {message}" if where else message for where, message in problems))


HOLD_SECRETS = frozenset({"metadata_url", "s3_access_key", "s3_secret_key"})
"""Settings whose value is never repeated besides the plain SecretStr ones: a database URL (it may hold a
password) and the optional S3 keys."""

NOT_SETTINGS = frozenset({"DATAHUB_CRASH_AT", "DATAHUB_DELAY_AT"})
"""Variables of the prefix that are not settings: the fault injection of datahub.faults."""


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each ``DATAHUB_*`` variable that is no setting, naming the nearest one: a typo such as
    ``DATAHUB_HOMEE`` would otherwise be ignored without a word."""
    known = sorted(variable(name) for name in Settings.model_fields)
    warnings = []
    for name in sorted(environ):
        upper = name.upper()  # as pydantic-settings reads them
        if not upper.startswith(ENV_PREFIX) or upper in known or upper in NOT_SETTINGS:
            continue
        # Compared without the prefix, which every name shares.
        nearest = difflib.get_close_matches(
            upper.removeprefix(ENV_PREFIX), [k.removeprefix(ENV_PREFIX) for k in known], n=1
        )
        hint = f"; did you mean {ENV_PREFIX}{nearest[0]}?" if nearest else f" (settings: {', '.join(known)})"
        warnings.append(f"{shown(name)} is not a setting and is ignored{hint}")
    return warnings
