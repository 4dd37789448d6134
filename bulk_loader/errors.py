"""Every exception bulk_loader raises on purpose.

    BulkLoaderError                 base; `exit_code` is what the CLI exits with
    ├── InputError                  a file the user handed us is unusable (exit 3)
    │   ├── SheetError              the sheet: file, row, column where known
    │   └── TemplateError           the template: every problem found, with its key
    ├── ConfigError                 flags, environment, credentials, URL (exit 3)
    │   └── JournalBusy             another run holds the sheet's journal (exit 75)
    ├── EnvironmentFault            disk full, permission denied mid-run (exit 3, resumable)
    ├── KartraFatalError            Kartra said every row would fail the same way (exit 3)
    └── Interrupted                 the user stopped the run (exit 4)

Exceptions carry context as attributes; the CLI formats them. Validation problems in
rows are not exceptions: they are `report.Problem` values gathered into a report.
Foreign errors (httpx, openpyxl, zipfile, tomllib) are translated into these at one seam
per module and chained with `from exc`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BulkLoaderError",
    "ConfigError",
    "EnvironmentFault",
    "InputError",
    "Interrupted",
    "JournalBusy",
    "KartraFatalError",
    "KartraUnavailable",
    "SheetError",
    "TemplateError",
    "TemplateProblem",
    "WrittenByUs",
]


class BulkLoaderError(Exception):
    """Base of every error bulk_loader raises deliberately."""

    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(BulkLoaderError):
    """A file the user gave us cannot be used."""


class SheetError(InputError):
    """The sheet cannot be read; names the file and, where known, the row and column."""

    def __init__(
        self,
        message: str,
        path: Path | str,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = Path(path)
        self.row = row
        self.column = column

    def __str__(self) -> str:
        # A file name may hold a newline: keep the message on one line all the same.
        where = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(self.path))
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column!r}"
        return f"{where}: {self.message}"


class WrittenByUs(SheetError):
    """The file given as a sheet is one bulk-loader wrote (results, a Summary): never
    read as leads. Several sheets at once leave it out; one named alone is exit 3."""


@dataclass(frozen=True)
class TemplateProblem:
    """One thing wrong in a template: the dotted key it concerns and what is wrong."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


class TemplateError(InputError):
    """The template is unusable; `problems` lists everything found, not just the first."""

    def __init__(
        self,
        path: Path | str | None,
        problems: Sequence[TemplateProblem],
        hint: str | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.problems = tuple(problems)
        self.hint = hint  # what would help fix them, e.g. the headers the sheet has
        name = str(self.path) if self.path else "template"
        first = str(self.problems[0]) if self.problems else "invalid"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{name}: {first}{more}")


class ConfigError(BulkLoaderError):
    """Options, environment or credentials are wrong; the message says how to fix it."""


class EnvironmentFault(BulkLoaderError):
    """The machine refused mid-run (disk full, permission denied, a folder gone): not a
    bug. What was sent is in the journal; the same command resumes once it is fixed."""

    resumable = True


class JournalBusy(ConfigError):
    """Another run holds this sheet's journal: try again later (EX_TEMPFAIL), or --wait."""

    exit_code = 75


class KartraUnavailable(ConfigError):
    """Kartra (or the server named) answered server errors or rate limits to a look-up
    until the retries ran out: nothing was sent; try again later (EX_TEMPFAIL)."""

    exit_code = 75


class KartraFatalError(BulkLoaderError):
    """Kartra answered with an error that every row would repeat (bad key, inactive App...)."""

    def __init__(self, message: str, kartra_type: str | None = None) -> None:
        super().__init__(message)
        self.kartra_type = kartra_type


class Interrupted(BulkLoaderError):
    """The user stopped the run (Ctrl-C or SIGTERM); what was done is kept."""

    exit_code = 4
