"""The results file: every input row with its outcome, as .xlsx or .csv; and the
failed-rows file: the rows to fix, in the input's columns, with why, to run again.

The result columns come first (status, lead id, error type, message, attempts), then
the sheet's columns, in XLSX and CSV alike: the outcome is where the eye lands, and the
XLSX freezes it with the header row. Each row lands on the same row number as in the
input sheet (skipped blank rows stay blank), so "row 7" means the same line everywhere.
The sheet's cells are written as text: in XLSX nothing of theirs is ever a formula,
number or link (only the lead id and attempts, which this tool writes, are numbers);
in CSV a value that a spreadsheet would run as a formula is prefixed with `'` (OWASP),
plain numbers excepted. Every string written, in both, is cleaned first
(sheets.clean_text): control characters but TAB, LF and CR are dropped, a lone
surrogate shows as U+FFFD.
Results hold personal data, so the file is created readable by its owner only.
How a row lands in each format, and the rules for a cell: results.sinks.
XLSX is rendered in a child process while the run goes on: results.background.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from bulk_loader.outcomes import Problem, RowStatus, blocking, problem_text, without_value
from bulk_loader.results.sinks import HIGHLIGHTED, CsvSink, XlsxSink

__all__ = [
    "NOTE_COLUMNS",
    "RESULT_COLUMNS",
    "FailedRowsWriter",
    "ResultsWriter",
    "is_note_column",
    "key_columns",
]

RESULT_COLUMNS = (
    "result_status",
    "result_lead_id",
    "result_error_type",
    "result_message",
    "result_attempts",
)

# The failed-rows file's last two columns: the row's number in the sheet it came from,
# and what to fix. Their headers start with the tool's own name and a colon, which no
# Kartra field, no export and no `template init` guess is spelled like; a run of the
# file leaves every column so marked alone (`is_note_column`): the built-in template
# maps only headers spelled exactly like Kartra's fields, and the next failed-rows
# file drops them before adding its own.
NOTE_MARK = "bulk-loader:"
NOTE_COLUMNS = ("bulk-loader: row", "bulk-loader: problem")


def is_note_column(header: str) -> bool:
    """A column the failed-rows file adds (NOTE_COLUMNS): never mapped, never sent."""
    return header.strip().casefold().startswith(NOTE_MARK)


def key_columns(headers: Sequence[str], key_headers: Sequence[str]) -> list[int]:
    """Indexes of the headers that identify a lead (email, id, new_email), in sheet order."""
    wanted = {header.strip().casefold() for header in key_headers}
    return [i for i, header in enumerate(headers) if header.strip().casefold() in wanted]


class ResultsWriter:
    """Writes result rows in row order, then a summary; .csv by suffix, else .xlsx.

    The result columns come first, then the sheet's (see the module docstring).
    """

    def __init__(
        self,
        path: Path,
        headers: Sequence[str],
        *,
        attempts_column: bool = False,
        keep: Sequence[int] | None = None,
    ) -> None:
        """`keep`: write only these input columns (by index), after a `row` column,
        for teams that must not copy whole rows around (`--results-columns keys`)."""
        self.path = Path(path)
        self.headers = list(headers)
        self._keep = None if keep is None else list(keep)
        self._key_headers = {self.headers[i] for i in self._keep or ()}
        shown = (
            self.headers if self._keep is None else ["row", *(self.headers[i] for i in self._keep)]
        )
        names = RESULT_COLUMNS if attempts_column else RESULT_COLUMNS[:4]
        self.columns = [*names, *shown]
        self.attempts_column = attempts_column
        self._position: dict[str, int] = {}
        for index, header in enumerate(shown):
            if self._keep is None or index > 0:
                self._position.setdefault(header.strip().casefold(), len(names) + index)
        self._sink: CsvSink | XlsxSink
        if self.path.suffix.lower() == ".csv":
            self._sink = CsvSink(self.path)
        else:
            row_column = (len(names),) if keep is not None else ()  # keys only: `row`
            numbers = {1, *((4,) if attempts_column else ()), *row_column}  # lead id, attempts
            self._sink = XlsxSink(self.path, "Results", frozen=len(names), numbers=numbers)
        self._sink.header(self.columns)
        self._closed = False

    def add(
        self,
        row: int,
        cells: Sequence[str],
        status: str,
        lead_id: str = "",
        error_type: str = "",
        message: str = "",
        problems: Sequence[Problem] = (),
        attempts: int | None = None,
    ) -> None:
        """One input row and its outcome; rows must come in increasing row order."""
        if self._keep is not None:  # keys only: no other cell's value, in messages either
            problems = [p if p.column in self._key_headers else without_value(p) for p in problems]
        if problems:
            error_type = error_type or ", ".join(dict.fromkeys(p.code for p in problems))
            message = message or "; ".join(problem_text(p) for p in problems)
        if self._keep is not None:
            cells = [str(row), *(cells[i] if i < len(cells) else "" for i in self._keep)]
        values = [status, lead_id, error_type, message]
        if self.attempts_column:
            values.append("" if attempts is None else str(attempts))
        values += cells
        values = values[: len(self.columns)]
        notes: dict[int, list[str]] = {}
        for problem in problems:
            index = self._position.get(problem.column.strip().casefold())
            if problem.column and index is not None:
                notes.setdefault(index, []).append(f"{problem.code}: {problem.message}")
        if problems or status in HIGHLIGHTED:
            notes.setdefault(0, [])  # highlight result_status too
        self._sink.row(row, values, notes)

    def close(self, summary: Mapping[str, object] | None = None) -> None:
        """Finish the file; `summary` becomes the Summary sheet (XLSX only): each key a
        bold label with its value beside it, or above a SummaryTable."""
        if not self._closed:
            self._closed = True
            self._sink.close(summary or {})

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class FailedRowsWriter:
    """The failed-rows file: the rows to fix, in the input's own columns, fit to run
    again; then NOTE_COLUMNS: each row's number in the sheet and what to fix.

    Columns an earlier failed-rows file added (a run of that file) are left out, so
    the notes are always this run's, once; but the row number it carried is kept: a
    row that fails again still names its row in the first sheet it came from.
    """

    def __init__(self, path: Path, headers: Sequence[str]) -> None:
        self.path = Path(path)
        self._kept = [i for i, header in enumerate(headers) if not is_note_column(header)]
        self._first_row = _column(headers, NOTE_COLUMNS[0])
        columns = [*(headers[i] for i in self._kept), *NOTE_COLUMNS]
        self._sink: CsvSink | XlsxSink
        if self.path.suffix.lower() == ".csv":
            self._sink = CsvSink(self.path)
        else:  # a sheet of rows to run again: no results sheet name, no Summary
            first = len(columns) - len(NOTE_COLUMNS)
            notes = set(range(first, len(columns)))
            self._sink = XlsxSink(self.path, "Rows", quiet=notes, numbers={first})
        self._sink.header(columns)
        self._next = 2  # the file's own row numbers: header, then 2, 3, ...
        self._closed = False

    def add(
        self,
        row: int,
        cells: Sequence[str],
        status: str,
        error_type: str = "",
        message: str = "",
        problems: Sequence[Problem] = (),
    ) -> None:
        """One row to fix, `row` being its number in the sheet it came from (or the
        number an earlier failed-rows file gave it, when the sheet is one)."""
        values = [cells[i] if i < len(cells) else "" for i in self._kept]
        first = self._first_row
        carried = cells[first].strip() if first is not None and first < len(cells) else ""
        number = carried if carried.isdigit() else str(row)
        values += [number, why(status, error_type, message, problems)]
        self._sink.row(self._next, values, {})
        self._next += 1

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sink.close({})

    def __enter__(self) -> FailedRowsWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _column(headers: Sequence[str], name: str) -> int | None:
    wanted = name.casefold()
    found = [i for i, header in enumerate(headers) if header.strip().casefold() == wanted]
    return found[0] if found else None


def why(status: str, error_type: str, message: str, problems: Sequence[Problem]) -> str:
    """What to fix in one row, in one cell: an invalid row's problems (code, column and
    cause each), else its status with Kartra's error type and message."""
    found = blocking(problems)
    if status == RowStatus.INVALID and found:
        return "; ".join(f"{p.code}: {problem_text(p)}" for p in found)
    head = status.replace("_", " ") + (f" {error_type}" if error_type else "")
    if status == RowStatus.NOT_SENT and not message:
        message = "the run stopped before this row; run again to send it"
    return f"{head}: {message}" if message else head
