"""The dry run: the scan every run makes, into a temporary journal, and the results.

Nothing is sent and no account is asked. The results file says of each row `valid` or
`invalid` with its problems. While the sheet is read the rows go straight to the
results writer (an XLSX is rendered by a child process on another core); when a later
row can still make an earlier one invalid (a mapped new_email), they are written from
the journal once every row is known.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bulk_loader import scratch
from bulk_loader.errors import TemplateError
from bulk_loader.journal.store import Journal
from bulk_loader.kartra.client import KartraApi, account_label
from bulk_loader.outcomes import Problem, Report, RowStatus, blocking
from bulk_loader.pipeline.accounts import refuse_other_account
from bulk_loader.pipeline.scan import (
    key_headers,
    open_template_sheet,
    open_validator,
    scan,
    summary_table,
)
from bulk_loader.results.background import BackgroundResultsWriter, open_results
from bulk_loader.results.files import (
    default_results_path,
    dry_run_target,
    make_output_dir,
    results_for_app,
)
from bulk_loader.results.workbook import ResultsWriter, key_columns
from bulk_loader.sending.pacing import RateLimiter
from bulk_loader.sending.sender import RowSender
from bulk_loader.sheets.sheet import Chunk
from bulk_loader.template.model import Mode, Template
from bulk_loader.validation.account import AccountSnapshot, fetch_account

__all__ = ["CheckSummary", "check_sheet"]

KEEP_PROBLEMS = 1000  # problems a check hands back as data; the results file has them all
ACCOUNT_RATE = 20.0  # Kartra's limit per App: the look-ups never need more
NOT_CHECKED = (
    "none: not checked (no credentials): set KARTRA_APP_ID, KARTRA_API_KEY and "
    "KARTRA_API_PASSWORD (or use --sandbox) to check custom fields, options, tags and lists"
)


@dataclass(frozen=True)
class CheckSummary:
    """What a dry run found: the counts, the first problems, and where the results went."""

    sheet_path: Path
    results_path: Path
    template_path: Path | None
    mode: Mode
    report: Report
    # The first KEEP_PROBLEMS problems in sheet order (late ones last): rows and their
    # problems as data. Every problem of every row is in the results file.
    problems: list[Problem] = field(default_factory=list)
    # Whether the rows were checked against a Kartra account, said in one line.
    account: str = NOT_CHECKED

    @property
    def valid(self) -> bool:
        return self.report.rows_invalid == 0

    @property
    def exit_code(self) -> int:
        """0 when every row is valid, 1 otherwise (the CLI's exit code)."""
        return 0 if self.valid else 1


def check_sheet(
    sheet_path: Path,
    *,
    template_path: Path | None = None,
    sheet_name: str | None = None,
    header_row: int | None = None,
    mode: Mode | None = None,
    results_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
    keys_only: bool = False,
    client: KartraApi | None = None,
    notice: Callable[[str], None] | None = None,
    output_dir: Path | None = None,
    results_suffix: str = ".xlsx",
) -> CheckSummary:
    """Validate every row of a sheet and write the results file; sends nothing.

    `progress` is called with the number of rows just checked. `keys_only`: the results
    hold the row number, the email/id columns and the outcome, not whole rows.
    `client`: check the rows against its account too (custom fields, options, tags,
    lists), with a few read-only look-ups and no call per row; without one, the report
    says which checks were not made. `notice` is told, in a line for the person, when a
    look-up is retried (a server that cannot be reached).
    """
    sheet_path = Path(sheet_path)
    make_output_dir(output_dir)
    out = default_results_path(sheet_path, results_path, output_dir, results_suffix)
    report = Report()
    if results_path is None:  # a real run's results, or another App's: kept
        if client is not None:
            out, moved = results_for_app(out, client.account_identity()["app_id"])
            report.notes.extend([moved] if moved else [])
        out, moved = dry_run_target(out, sheet_path)
        report.notes.extend([moved] if moved else [])
    problems: list[Problem] = []
    with open_template_sheet(sheet_path, sheet_name, header_row, template_path) as sheet:
        validator = open_validator(sheet, template_path, mode)
        report.notes.extend([*sheet.notes, *validator.notes])
        try:
            if client is not None:
                refuse_other_account(validator.template, client)  # before any look-up
            account = _account(client, validator.template, notice) if client else None
            checked = _checked(client, validator.template) if client is not None else NOT_CHECKED
            keys = key_headers(validator)
            keep = key_columns(sheet.headers, keys) if keys_only else None
            late_possible = "new_email" in validator.by_target
            with (
                _temporary_journal() as journal,
                open_results(out, sheet.headers, keep=keep) as writer,
            ):

                def each_chunk(chunk: Chunk, found: list[Problem]) -> None:
                    problems.extend(found[: KEEP_PROBLEMS - len(problems)])
                    if not late_possible:
                        _write_chunk(writer, chunk, found)
                    if progress is not None:
                        progress(len(chunk.rows))

                scan(
                    sheet,
                    validator,
                    journal,
                    report,
                    account=account,
                    keys_only=keys_only,
                    leads=False,
                    each_chunk=each_chunk,
                )
                if late_possible:
                    problems[:] = _write_from_journal(writer, journal)
                host = client.api_host if client is not None else ""
                writer.close(
                    summary_table(
                        sheet_path,
                        template_path,
                        validator.mode,
                        report,
                        host=host,
                        account=checked,
                    )
                )
        finally:
            validator.close()
    return CheckSummary(sheet_path, out, template_path, validator.mode, report, problems, checked)


def _account(
    client: KartraApi, template: Template, notice: Callable[[str], None] | None
) -> AccountSnapshot:
    """The account's custom fields, tags and lists: three read-only look-ups, paced and
    retried as a run's are. A fatal answer (a wrong key) stops the check here."""
    sender = RowSender(client, RateLimiter(ACCOUNT_RATE), mode=template.mode)
    sender.notice = notice
    account = fetch_account(sender.lookup, client, sequences=template.sequence is not None)
    missing = account.template_problems(template)  # names added to every row
    if missing:
        raise TemplateError(template.path, missing)
    return account


def _checked(client: KartraApi, template: Template) -> str:
    what = "tags, lists and sequences" if template.sequence else "tags and lists"
    return f"{account_label(client)}: checked custom fields, options, {what}"


@contextmanager
def _temporary_journal() -> Iterator[Journal]:
    """A journal in the private temporary folder, gone when the check ends."""
    folder = Path(tempfile.mkdtemp(dir=scratch.folder()))
    try:
        journal = Journal.open(folder / "journal.sqlite", {"run": "dry run"})
        try:
            yield journal
        finally:
            journal.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _write_chunk(
    writer: ResultsWriter | BackgroundResultsWriter,
    chunk: Chunk,
    problems: Sequence[Problem],
) -> None:
    by_row: Mapping[int, list[Problem]] = _by_row(problems)
    for row, cells in zip(chunk.row_numbers, chunk.rows, strict=True):
        found = by_row.get(row, [])
        status = RowStatus.INVALID if blocking(found) else RowStatus.VALID
        writer.add(row, cells, status, problems=found)


def _write_from_journal(
    writer: ResultsWriter | BackgroundResultsWriter, journal: Journal
) -> list[Problem]:
    """Every row as the journal holds it once the late problems are in; the first
    KEEP_PROBLEMS problems."""
    problems: list[Problem] = []
    for row in journal.rows():
        status = RowStatus.INVALID if blocking(row.problems) else RowStatus.VALID
        writer.add(row.row, row.cells, status, problems=row.problems)
        problems.extend(row.problems[: KEEP_PROBLEMS - len(problems)])
    return problems


def _by_row(problems: Sequence[Problem]) -> dict[int, list[Problem]]:
    by_row: dict[int, list[Problem]] = {}
    for problem in problems:
        by_row.setdefault(problem.row, []).append(problem)
    return by_row
