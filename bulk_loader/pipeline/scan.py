"""The one scan every run makes: read -> template -> validate -> account check, into the journal.

A dry run and a real run scan a sheet alike, chunk by chunk, into a journal (the real
run's beside the sheet, the dry run's a temporary one); a real run then sends
(send.py), and both end with the results. Nothing is sent before every row has been
validated, so the person running it sees every problem of the sheet first.

The scan is one transaction: a scan that fails or is stopped leaves the journal as it
was before.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bulk_loader.errors import TemplateError, TemplateProblem, WrittenByUs
from bulk_loader.journal.store import Journal
from bulk_loader.outcomes import Problem, Report, blocking, without_value
from bulk_loader.results.summary_sheet import report_lines, summary_sheet
from bulk_loader.results.workbook import RESULT_COLUMNS
from bulk_loader.sheets.opening import open_sheet
from bulk_loader.sheets.sheet import Chunk, HeaderSearch, Sheet, holds_headers
from bulk_loader.template.mapping import default_template, read_template
from bulk_loader.template.model import Mode, Template
from bulk_loader.template.starter import guess_field
from bulk_loader.validation.account import AccountSnapshot
from bulk_loader.validation.validator import LeadRow, Validator

__all__ = ["EMAIL_COLUMN", "ChunkScanned", "key_headers", "open_template_sheet", "open_validator",
           "scan", "summary_table", "unmapped_notes"]  # fmt: skip

# Told of each chunk as it is scanned: the chunk and its problems (before late ones).
ChunkScanned = Callable[[Chunk, list[Problem]], None]


def _holds_an_email_column(cells: Sequence[str]) -> bool:
    return any("mail" in cell.casefold() and guess_field(cell) == "email" for cell in cells)


# Without a template the header row is the one naming an email column ("Email",
# "E-mail Address"): the built-in template and `template init` both need one.
EMAIL_COLUMN = HeaderSearch(_holds_an_email_column, "an email column")


def open_template_sheet(
    path: Path, worksheet: str | None, header_row: int | None, template_path: Path | None
) -> Sheet:
    """Open the sheet with its header row where the template's columns are: row 1, or
    `header_row`, or the first row (of the first 20) holding them all, on the worksheet
    holding them. A template that does not load is reported by open_validator."""
    search: HeaderSearch | None = EMAIL_COLUMN
    if template_path is not None:
        try:  # a template with problems still names the columns it means
            names = [header for _, header in read_template(template_path)[0].columns()]
        except TemplateError:
            names = []
        search = holds_headers(names, "the template's columns") if names else None
    sheet = open_sheet(path, worksheet, header_row, search)
    first = sheet.headers[0].strip() if sheet.headers else ""
    if first in (RESULT_COLUMNS[0], "undo_status"):  # a file this tool wrote, not a sheet
        what = f"a results file bulk-loader wrote (its first column is {first})"
    elif first == "Sheet" and path.name.endswith(".summary.csv"):
        what = "the Summary bulk-loader wrote beside CSV results"
    else:
        return sheet
    sheet.close()
    raise WrittenByUs(
        f"this is {what}, not a sheet to import: run the sheet it came from, or its "
        "failed-rows file",
        path,
    )


def open_validator(sheet: Sheet, template_path: Path | None, mode: Mode | None) -> Validator:
    """Load the template (or the built-in one: headers named like Kartra's fields) and
    bind it to the sheet; a header the template names that is missing fails here,
    in one TemplateError with the template's own problems (all said at once)."""
    template: Template = default_template(sheet.headers)
    problems: list[TemplateProblem] = []
    if template_path is not None:
        template, problems = read_template(template_path)
    try:
        validator = Validator(template, sheet, mode or template.mode)
    except TemplateError as exc:  # columns missing
        if template_path is None and sheet.header_row == 1:
            raise  # the built-in template: the fix is an email column, as its hint says
        hint = _header_hint(sheet, template_path)
        raise TemplateError(exc.path, [*problems, *exc.problems], hint=hint) from exc
    if problems:
        validator.close()
        raise TemplateError(template_path, problems)
    return validator


def _header_hint(sheet: Sheet, template_path: Path | None) -> str:
    """Which row was read as the headers, and with a template, how to name another."""
    shown = ", ".join(repr(h) for h in sheet.headers if h)  # all: the one meant may be last
    where = f"{sheet.path.name}" + (f" worksheet {sheet.worksheet!r}" if sheet.worksheet else "")
    hint = f"{where} row {sheet.header_row} holds the headers: {shown}"
    if template_path is not None:
        hint += "; if the headers are on another row, add --header-row N, N as Excel numbers it"
    return hint


def key_headers(validator: Validator) -> list[str]:
    """The sheet headers that identify a lead: those mapped to email, id and new_email."""
    targets = ("email", "id", "new_email")
    return [validator.by_target[t].header for t in targets if t in validator.by_target]


def scan(
    sheet: Sheet,
    validator: Validator,
    journal: Journal,
    report: Report,
    *,
    account: AccountSnapshot | None = None,
    keys_only: bool = False,
    leads: bool = True,
    each_chunk: ChunkScanned | None = None,
) -> None:
    """Read and validate every row into the journal, and count its problems in `report`.

    `account`: check each row against the account too (custom fields, tags, lists).
    `keys_only`: the journal and the report keep no cell value but the key columns'.
    `leads`: record what each valid row asks of Kartra (a run that sends needs it).
    `each_chunk`: told of each chunk and its problems as it is scanned (the dry run
    writes its results meanwhile).
    """
    keys = key_headers(validator)
    keep = _Keep(sheet.headers, keys) if keys_only else None
    if account is not None:  # said once here; each row holding such a value points to it
        report.notes.extend(account.mapping_notes(validator.template))
    journal.begin_scan(sheet.headers, keys)
    try:
        for chunk in sheet.chunks():
            problems = _scan_chunk(chunk, validator, journal, account, keep, leads)
            report.add_rows(len(chunk.rows))
            report.add_problems(problems if keep is None else keep.problems(problems))
            if each_chunk is not None:
                each_chunk(chunk, problems)
        late = validator.finish()
        already_invalid = journal.invalidate(_by_row(late))
        report.add_problems(late if keep is None else keep.problems(late))
        report.rows_invalid -= already_invalid  # counted once per row, not twice
        report.notes.extend(validator.time_zone_notes())  # their row counts are known now
        report.notes.extend(unmapped_notes(validator, sheet.path))
    except BaseException:
        journal.abort_scan()  # a damaged row, Ctrl-C: the journal stays as it was
        raise
    journal.finish_scan()


def unmapped_notes(validator: Validator, sheet: Path) -> list[str]:
    """The note naming the columns no mapping uses that hold values (never dropped
    without a word); without a template, what to do, since a real run then stops."""
    unmapped = validator.unmapped()
    if not unmapped:
        return []
    shown = ", ".join(
        f"{header} ({rows} row{'s' if rows != 1 else ''} with values)" for header, rows in unmapped
    )
    note = f"not imported: {shown}: no mapping uses these columns"
    if validator.template.path is None:
        note += (
            f"; without --template a real run stops here: `bulk-loader template init "
            f"{shlex.quote(str(sheet))} > template.toml` maps them (or leaves them out, "
            "said so), then run with --template template.toml"
        )
    return [note]


def _scan_chunk(
    chunk: Chunk,
    validator: Validator,
    journal: Journal,
    account: AccountSnapshot | None,
    keep: _Keep | None,
    leads: bool,
) -> list[Problem]:
    """One chunk into the journal; its problems, the account's included, all at once."""
    valid, problems = validator.validate(chunk)
    checked = valid
    if account is not None:
        checked = []
        for row in valid:
            row, account_problems = account.check(row, validator.template)
            problems += account_problems
            checked.append(row)
        valid_rows = {row.row for row in valid}
        for number, cells in zip(chunk.row_numbers, chunk.rows, strict=True):
            if number not in valid_rows:  # every problem at once, the account's too
                problems += account.check_cells(number, cells, validator.columns)
    by_row = _by_row(problems)
    stopped = {problem.row for problem in blocking(problems)}  # warnings stop no row
    good = {row.row: row for row in checked if row.row not in stopped}
    journal.add_rows(
        (
            number,
            keep.cells(cells) if keep else cells,
            keep.problems(by_row.get(number, [])) if keep else by_row.get(number, []),
            good[number].key if number in good else None,
        )
        for number, cells in zip(chunk.row_numbers, chunk.rows, strict=True)
    )
    if leads:
        journal.add_leads((row.key, _payload(row, validator.mode)) for row in good.values())
    return problems


class _Keep:
    """What a keys-only run keeps of a row: its key cells, and problems that quote no
    other cell's value."""

    def __init__(self, headers: Sequence[str], keys: Sequence[str]) -> None:
        self._keys = set(keys)
        self._kept = {i for i, header in enumerate(headers) if header in self._keys}

    def cells(self, cells: Sequence[str]) -> list[str]:
        return [cell if i in self._kept else "" for i, cell in enumerate(cells)]

    def problems(self, problems: Sequence[Problem]) -> list[Problem]:
        return [p if p.column in self._keys else without_value(p) for p in problems]


def _by_row(problems: Sequence[Problem]) -> dict[int, list[Problem]]:
    by_row: dict[int, list[Problem]] = {}
    for problem in problems:
        by_row.setdefault(problem.row, []).append(problem)
    return by_row


def _payload(row: LeadRow, mode: Mode) -> dict[str, Any]:
    """What the row asks of Kartra; its digest decides whether a re-run sends it again."""
    payload = {"lead": row.lead, "tags": list(row.tags), "lists": list(row.lists), "mode": mode}
    return {**payload, **row.actions()}  # removals, points, a sequence: only when set


def summary_table(
    sheet_path: Path,
    template_path: Path | None,
    mode: Mode,
    report: Report,
    *,
    host: str = "",
    account: str = "",
) -> dict[str, object]:
    """The Summary sheet of a dry run's results workbook: the real run's layout
    (results.summary_sheet). `host`: the account's API host ("": no account)."""
    return summary_sheet(
        run="dry run (nothing sent)",
        sheet=sheet_path,
        template=str(template_path) if template_path else "built-in default",
        mode=mode,
        host=host,
        account=account,
        report=report,
        statuses={"valid": report.rows_valid, "invalid": report.rows_invalid},
        problems=report_lines(report),
        warnings=report_lines(report, warnings=True),
        files=[("Failed rows", "none (a dry run writes none)"), ("Journal", "temporary (deleted)")],
    )
