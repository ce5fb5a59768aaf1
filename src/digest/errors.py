"""The one small exception family of the library.

Every message says what is wrong *and* how to fix it; the CLI maps the classes to exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass


class DigestError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = 1


class ConfigError(DigestError):
    """A setting is missing, unknown or has a bad value (names the setting and the fix)."""

    exit_code = 2


class InputError(DigestError):
    """An input (file, folder, argument) is not usable; the message names it and the fix."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One validation problem in an input file: where it is and what was expected."""

    file: str
    row: int | None  # 1-based data row number as a spreadsheet shows it (header is row 1), None for file-level
    column: str | None
    value: str | None
    expected: str
    line: int | None = None  # 1-based line as an editor shows it (header is line 1): CSV reader problems

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.line is not None:
            where += f", line {self.line}"
        if self.column is not None:
            where += f", column {self.column}"
        if self.value is not None:
            return f"{where}: value {self.value!r}: expected {self.expected}"
        return f"{where}: {self.expected}"


FIX_LINE = "  Fix the file (see docs/data-contract.md) and upload it again; the previous good snapshot stays in force."


class ValidationError(InputError):
    """A file breaks the data contract; carries every problem found (the first 20 are shown)."""

    MAX_SHOWN = 20

    def __init__(self, file: str, problems: list[Problem], total: int | None = None):
        self.file = file
        self.problems = problems[: self.MAX_SHOWN]
        self.total = total if total is not None else len(problems)
        lines = self._lines() + [FIX_LINE]
        super().__init__("\n".join(lines))

    def _lines(self) -> list[str]:
        lines = [f"{self.file} was rejected: {self.total} problem(s); nothing from this file was used."]
        lines += [f"  - {p}" for p in self.problems]
        if self.total > len(self.problems):
            lines.append(f"  … and {self.total - len(self.problems)} more (first {self.MAX_SHOWN} shown).")
        return lines


class FilesRejected(ValidationError):
    """Several files broke the contract together (an upload, a data folder): each file's first 20 problems."""

    def __init__(self, errors: list[ValidationError]):
        self.errors = [e for err in errors for e in getattr(err, "errors", [err])]
        self.file = ", ".join(e.file for e in self.errors)
        self.problems = [p for e in self.errors for p in e.problems]
        self.total = sum(e.total for e in self.errors)
        lines = [f"{len(self.errors)} files were rejected ({self.total} problem(s) in all):"] if len(self.errors) > 1 else []
        lines += [line for e in self.errors for line in e._lines()]
        InputError.__init__(self, "\n".join(lines + [FIX_LINE]))


def rejected(errors: list[ValidationError]) -> ValidationError:
    """One error for every rejected file: the error itself when there is one, else FilesRejected."""
    return errors[0] if len(errors) == 1 and not isinstance(errors[0], FilesRejected) else FilesRejected(errors)


class ServiceError(DigestError):
    """An external service (Graph, the token authority, a database) failed or is unreachable."""

    exit_code = 3
