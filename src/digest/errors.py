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

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column}"
        if self.value is not None:
            return f"{where}: value {self.value!r}: expected {self.expected}"
        return f"{where}: {self.expected}"


class ValidationError(InputError):
    """A file breaks the data contract; carries every problem found (the first 20 are shown)."""

    MAX_SHOWN = 20

    def __init__(self, file: str, problems: list[Problem], total: int | None = None):
        self.file = file
        self.problems = problems[: self.MAX_SHOWN]
        self.total = total if total is not None else len(problems)
        lines = [f"{file} was rejected: {self.total} problem(s); nothing from this file was used."]
        lines += [f"  - {p}" for p in self.problems]
        if self.total > len(self.problems):
            lines.append(f"  … and {self.total - len(self.problems)} more (first {self.MAX_SHOWN} shown).")
        lines.append("  Fix the file (see docs/data-contract.md) and upload it again; the previous good snapshot stays in force.")
        super().__init__("\n".join(lines))


class ServiceError(DigestError):
    """An external service (Graph, the token authority, a database) failed or is unreachable."""

    exit_code = 3
