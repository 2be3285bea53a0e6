"""Expected outcomes of the conference services, mapped to responses once in web/."""

from __future__ import annotations

from dataclasses import dataclass


class ConferenceError(Exception):
    """Base of every refusal the conference services raise."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticated(ConferenceError):
    code = "not_authenticated"


class Forbidden(ConferenceError):
    """The actor is signed in but the resource is outside their role or unit scope."""

    code = "forbidden"


class NotFound(ConferenceError):
    code = "not_found"


class Invalid(ConferenceError):
    """Input breaks a rule of the model; `field` names the offending field when there is one."""

    code = "invalid"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(ConferenceError):
    code = "conflict"


@dataclass(frozen=True)
class RowProblem:
    """One bad cell of an import file: 1-based row as the spreadsheet shows it, and the column."""

    sheet: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.sheet} dòng {self.row}, cột {self.column}: {self.message}"


class ImportRefused(ConferenceError):
    """A roster file with bad rows: refused whole, every problem listed."""

    code = "import_refused"

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"Tệp bị từ chối: {len(problems)} lỗi")
        self.problems = problems
