"""Runs over a whole sheet: read -> validate -> results, chunk by chunk.

`validated_chunks` is the shared pipeline (sending will consume its valid rows);
`dry_run` drives it to a results file and a report without touching Kartra.
Results are written once every row is validated only when late problems are possible
(a mapped new_email): then the chunks wait in a temporary spool file, so memory stays
flat either way.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bulk_loader import scratch
from bulk_loader.outcomes import Problem, Report, RowStatus, without_value
from bulk_loader.results.files import default_results_path
from bulk_loader.results.workbook import (
    BackgroundResultsWriter,
    ResultsWriter,
    key_columns,
    open_results,
)
from bulk_loader.sheets.sheet import Chunk, Sheet, open_sheet
from bulk_loader.template.mapping import Mode, Template, default_template, load_template
from bulk_loader.validation.validator import LeadRow, Validator

__all__ = [
    "Progress",
    "RunSummary",
    "dry_run",
    "prepare",
    "summary_table",
    "validated_chunks",
]

Progress = Callable[[int], None]  # called with the number of rows just processed


@dataclass(frozen=True)
class RunSummary:
    """What a run did: the counts and where the results went."""

    sheet_path: Path
    results_path: Path
    template_path: Path | None
    mode: Mode
    report: Report

    @property
    def exit_code(self) -> int:
        """0 when every row is valid, 1 otherwise (the CLI's exit code)."""
        return 0 if self.report.rows_invalid == 0 else 1


def prepare(sheet: Sheet, template_path: Path | None, mode: Mode | None) -> Validator:
    """Load the template (or the built-in default) and bind it to the sheet."""
    template: Template = (
        load_template(template_path) if template_path else default_template(sheet.headers)
    )
    return Validator(template, sheet, mode or template.mode)


def validated_chunks(
    sheet: Sheet, validator: Validator, progress: Progress | None = None
) -> Iterator[tuple[Chunk, list[LeadRow], list[Problem]]]:
    """(chunk, its valid rows, its problems) for each chunk of the sheet, in order.

    Call `validator.finish()` afterwards: it gives the problems only the end reveals.
    """
    for chunk in sheet.chunks():
        leads, problems = validator.validate(chunk)
        yield chunk, leads, problems
        if progress is not None:
            progress(len(chunk.rows))


def dry_run(
    sheet_path: Path,
    *,
    template_path: Path | None = None,
    sheet_name: str | None = None,
    mode: Mode | None = None,
    results_path: Path | None = None,
    progress: Progress | None = None,
    keys_only: bool = False,
) -> RunSummary:
    """Validate every row of a sheet and write the results file; sends nothing.

    `keys_only`: the results hold the row number, the email/id columns and the outcome,
    not whole rows.
    """
    out = default_results_path(sheet_path, results_path)
    report = Report()
    with open_sheet(Path(sheet_path), sheet_name) as sheet:
        validator = prepare(sheet, template_path, mode)
        report.notes.extend(validator.notes)
        try:
            spool = _Spool() if "new_email" in validator.by_target else None
            keys = key_headers(validator)
            keep = key_columns(sheet.headers, keys) if keys_only else None
            with open_results(out, sheet.headers, keep=keep) as writer:
                for chunk, _leads, problems in validated_chunks(sheet, validator, progress):
                    report.add_rows(len(chunk.rows))
                    # Keys only: the terminal's examples show no other cell's value either.
                    report.add_problems(
                        [p if p.column in keys else without_value(p) for p in problems]
                        if keys_only
                        else problems
                    )
                    if spool is not None:
                        spool.add(chunk, problems)
                    else:
                        _write_chunk(writer, chunk, problems)
                late = validator.finish()
                if spool is not None:
                    already_invalid = spool.replay(writer, late)
                    report.add_problems(late)
                    report.rows_invalid -= len(already_invalid)  # counted once, not twice
                writer.close(summary_table(Path(sheet_path), template_path, validator, report))
        finally:
            validator.close()
    return RunSummary(Path(sheet_path), out, template_path, validator.mode, report)


def key_headers(validator: Validator) -> list[str]:
    """The sheet headers that identify a lead: those mapped to email, id and new_email."""
    targets = ("email", "id", "new_email")
    return [validator.by_target[t].header for t in targets if t in validator.by_target]


def summary_table(
    sheet_path: Path, template_path: Path | None, validator: Validator, report: Report
) -> dict[str, object]:
    """The Summary sheet of the results workbook."""
    top: list[tuple[object, ...]] = [("problem", "count", "first rows", "example")]
    for code, count, rows, example in report.top(20):
        top.append((code, count, ", ".join(map(str, rows)), example.message))
    return {
        "Sheet": str(sheet_path),
        "Template": str(template_path) if template_path else "built-in default",
        "Mode": validator.mode,
        "Rows read": report.rows_read,
        "Valid": report.rows_valid,
        "Invalid": report.rows_invalid,
        "Top problems": top if len(top) > 1 else "none",
        **{f"Note {n}": note for n, note in enumerate(report.notes, start=1)},
    }


def _write_chunk(
    writer: ResultsWriter | BackgroundResultsWriter,
    chunk: Chunk,
    problems: Sequence[Problem],
    late: Mapping[int, list[Problem]] | None = None,
) -> None:
    by_row: dict[int, list[Problem]] = {}
    for problem in problems:
        by_row.setdefault(problem.row, []).append(problem)
    for row, cells in zip(chunk.row_numbers, chunk.rows, strict=True):
        found = by_row.get(row, []) + (late.get(row, []) if late else [])
        writer.add(row, cells, RowStatus.INVALID if found else RowStatus.VALID, problems=found)


class _Spool:
    """Validated chunks parked in a temporary file until the late problems are known."""

    def __init__(self) -> None:
        self._file: IO[bytes] = scratch.temporary_file()  # closed in replay

    def add(self, chunk: Chunk, problems: list[Problem]) -> None:
        pickle.dump((chunk, problems), self._file, protocol=pickle.HIGHEST_PROTOCOL)

    def replay(
        self, writer: ResultsWriter | BackgroundResultsWriter, late: list[Problem]
    ) -> set[int]:
        """Write every parked row with its late problems; the late rows already invalid."""
        already_invalid: set[int] = set()
        by_row: dict[int, list[Problem]] = {}
        for problem in late:
            by_row.setdefault(problem.row, []).append(problem)
        self._file.seek(0)
        try:
            while True:
                try:
                    chunk, problems = pickle.load(self._file)  # our own file, just written
                except EOFError:
                    break
                _write_chunk(writer, chunk, problems, by_row)
                already_invalid.update(p.row for p in problems if p.row in by_row)
        finally:
            self._file.close()
        return already_invalid
