"""The one error hierarchy of the platform.

Each error has a stable ``code`` (for JSON error bodies and scripts) and the HTTP status an API
would answer with. Quality failures are results, not exceptions: these are for work that could not run.
"""

from __future__ import annotations


class DatahubError(Exception):
    code = "datahub_error"
    http_status = 500

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None) -> None:
        self.message = message
        self.file = file
        self.path = path
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.path) if p)
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "file": self.file, "path": self.path}


class ConfigError(DatahubError):
    """Settings that cannot be used (a placeholder secret outside demo mode, a missing directory)."""

    code = "config_error"


class DictionaryError(DatahubError):
    """The data dictionary is broken: names the file, the entry and the reason."""

    code = "dictionary_invalid"
    http_status = 422


class ContractError(DatahubError):
    """A data contract cannot be used: names the file, the path inside it and the reason."""

    code = "contract_invalid"
    http_status = 422


class NotFound(DatahubError):
    code = "not_found"
    http_status = 404


class UnreadableDelivery(DatahubError):
    """A delivered file cannot be read as the dataset it was delivered for."""

    code = "delivery_unreadable"
    http_status = 422

    def __init__(self, message: str, *, file: str, line: int | None = None, path: str | None = None):
        self.line = line
        super().__init__(message, file=file, path=path if path else (f"line {line}" if line else None))


class InputError(DatahubError):
    """Input given to a command that cannot be used; names the file, line and field when there are any."""

    code = "invalid_input"
    http_status = 422


class Forbidden(DatahubError):
    """The caller may not do this (e.g. register a contract owned by another department)."""

    code = "forbidden"
    http_status = 403


class RegistrationRefused(DatahubError):
    """A contract version the registry will not store; ``problems`` lists every reason."""

    code = "contract_refused"
    http_status = 409

    def __init__(self, message: str, *, file: str | None = None, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message, file=file)

    def to_dict(self) -> dict[str, object]:  # type: ignore[override]
        return {**super().to_dict(), "problems": self.problems}


class Conflict(DatahubError):
    """The request clashes with what exists (a client name taken, a grant already decided)."""

    code = "conflict"
    http_status = 409


class Unauthenticated(DatahubError):
    """No credentials, or credentials the platform does not know."""

    code = "unauthenticated"
    http_status = 401


class RateLimited(DatahubError):
    """The client sent more requests than its rate limit allows; ``retry_after`` in seconds."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class FontMissing(ConfigError):
    """No CJK font to embed in a report PDF: the PDF would show boxes instead of Chinese characters."""

    code = "font_missing"


class DiskFull(DatahubError):
    """No space left on the device (or the disk quota exceeded) while writing: nothing was half-written."""

    code = "disk_full"
    http_status = 507


class FileUnusable(DatahubError):
    """A file or directory a command needs cannot be used: permission denied, read-only, not there."""

    code = "file_unusable"


class DatabaseUnavailable(DatahubError):
    """The metadata database cannot be reached or used (a server down, a locked or broken file)."""

    code = "database_unavailable"
    http_status = 503


class StorageUnavailable(DatahubError):
    """The lake's object storage cannot be reached or used (endpoint down, keys refused, no bucket)."""

    code = "storage_unavailable"
    http_status = 503
