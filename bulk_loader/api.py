"""bulk_loader from Python: a sheet and its template, checked, then loaded into Kartra.

    import bulk_loader

    loader = bulk_loader.Loader("leads.csv", template="templates/example.toml")
    checked = loader.check()            # every row validated; leads.results.xlsx written
    for problem in checked.problems:    # rows and their problems, as data
        print(problem.row, problem.column, problem.code, problem.message)
    with bulk_loader.KartraClient(bulk_loader.Credentials.from_env()) as client:
        summary = loader.run(client, progress=print)   # called with each RowOutcome

`run` keeps its journal beside the sheet, as the CLI does: running it again carries on
where the last run stopped and never sends a done row twice. Nothing here installs a
signal handler or prints: pass `stop` (a threading.Event) to end a run early.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from bulk_loader.journal.files import find_journals, forget, stale_journals
from bulk_loader.kartra.client import KartraApi
from bulk_loader.pipeline.accounts import RunPlan
from bulk_loader.pipeline.check import CheckSummary, check_sheet
from bulk_loader.pipeline.importer import ImportOptions, run_import
from bulk_loader.pipeline.progress import Progress, RowCallback
from bulk_loader.pipeline.scan import EMAIL_COLUMN
from bulk_loader.pipeline.undo import UndoSummary, undo_run
from bulk_loader.results.summary import ImportSummary, rebuild_results
from bulk_loader.sending.known import memory_files
from bulk_loader.sending.pacing import RetryPolicy
from bulk_loader.sheets.opening import open_sheet
from bulk_loader.template.model import Mode
from bulk_loader.template.starter import starter_template
from bulk_loader.validation.checks import time_zones

__all__ = [
    "Loader",
    "Mode",
    "forget_journal",
    "kartra_time_zones",
    "lead_memory_files",
    "stale_journals",
]

StrPath = str | PathLike[str]
RowsChecked = Callable[[int], None]  # called with the number of rows just checked


class Loader:
    """A sheet (CSV or XLSX) with the template that maps its columns to Kartra's fields.

    `template`: a TOML mapping; without one, headers named like Kartra's fields are
    used as they are. `worksheet`: an XLSX worksheet, by name or by position among the
    visible ones ("2"); default: the first visible one, or the only one holding the
    template's columns. `header_row`: the row holding the headers, as Excel numbers it
    (default: row 1, or the first of the first 20 rows holding the template's columns,
    the rows above skipped). `mode`: create, edit or upsert (default: the template's).
    `journal_dir`: keep the journals there (default: beside the sheet). `output_dir`:
    write the results and failed rows there (default: beside the sheet).
    `results_format`: the default results file's, xlsx or csv (`leads.csv.results.csv`).
    """

    def __init__(
        self,
        sheet: StrPath,
        *,
        template: StrPath | None = None,
        worksheet: str | None = None,
        mode: Mode | None = None,
        header_row: int | None = None,
        journal_dir: StrPath | None = None,
        output_dir: StrPath | None = None,
        results_format: Literal["xlsx", "csv"] = "xlsx",
    ) -> None:
        self.sheet = Path(sheet)
        # Where the results and failed rows go: None, beside the sheet; else this folder.
        self.output_dir = Path(output_dir) if output_dir is not None else None
        if results_format not in ("xlsx", "csv"):
            raise ValueError(f"results_format: xlsx or csv, not {results_format!r}")
        self.results_suffix = f".{results_format}"
        # Where the journals are kept: None, beside the sheet (its synced folder: the
        # user's data folder instead); else this folder.
        self.journal_dir = Path(journal_dir) if journal_dir is not None else None
        if not self.sheet.name:  # ".", "..": named by its folder, so it is said to be one
            self.sheet = self.sheet.resolve()
        self.template = Path(template) if template is not None else None
        self.worksheet = worksheet
        self.header_row = header_row
        self.mode: Mode | None = mode

    def __repr__(self) -> str:
        return f"Loader({str(self.sheet)!r}, template={self.template and str(self.template)!r})"

    def check(
        self,
        *,
        results: StrPath | None = None,
        keys_only: bool = False,
        progress: RowsChecked | None = None,
        client: KartraApi | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> CheckSummary:
        """Validate every row and write the results file; nothing is sent.

        Returns the counts, the first problems as `Problem` values (row, column, value,
        code, message) and the results file's path (default: `<sheet>.results.xlsx`).
        `progress` is called with the number of rows just checked. `client`: also check
        the rows against its account (custom fields, options, tags, lists) with three
        read-only look-ups; without one, a note says these checks were not made. Raises a
        `BulkLoaderError` (TemplateError, SheetError, ...) when the sheet or the template
        cannot be used at all. `notice` is told, in a line for the person, when a look-up
        is retried (a server that cannot be reached answers only after several tries).
        """
        return check_sheet(
            self.sheet,
            template_path=self.template,
            sheet_name=self.worksheet,
            header_row=self.header_row,
            mode=self.mode,
            results_path=Path(results) if results is not None else None,
            progress=progress,
            keys_only=keys_only,
            client=client,
            notice=notice,
            output_dir=self.output_dir,
            results_suffix=self.results_suffix,
        )

    def run(
        self,
        client: KartraApi,
        *,
        results: StrPath | None = None,
        rate: float | None = 20.0,
        workers: int = 8,
        lookup: bool = False,
        restart: bool = False,
        keys_only: bool = False,
        known: StrPath | None = None,
        memory: bool = True,
        temporary_journal: bool = False,
        progress: Progress | RowCallback | None = None,
        stop: threading.Event | None = None,
        halt: threading.Event | None = None,
        policy: RetryPolicy | None = None,
        verify: int = 5,
        backup: bool = False,
        wait: float = 0.0,
        confirm: Callable[[RunPlan], bool] | None = None,
    ) -> ImportSummary:
        """Check every row, then send each valid one to Kartra through `client`.

        `client`: a `KartraClient`, or any object with its lead and account methods.
        `rate`: calls per second for the App (Kartra allows 20; None: no limit).
        `lookup`: send nothing; ask Kartra which rows would be created or updated.
        `restart`: forget what earlier runs of this sheet did. `known`: a sheet listing
        leads that exist (upsert edits those first). `memory`: use and keep the memory
        of the leads this tool wrote in this account. `temporary_journal`: keep no
        journal beside the sheet (a throw-away sandbox). `progress`: a `Progress`, or a
        function called with each row's `RowOutcome`. `stop`: set it to finish the calls
        in flight and start no new row (`summary.interrupted`; run again to carry on);
        `halt`: send nothing more at all, not even a retry. The run sets both itself
        when an answer from Kartra stops it (a wrong password, say). `verify`: read the
        first this many leads written back from Kartra and compare them with what was
        sent before sending the rest; a difference stops the run (exit 3). 0: no check.
        `backup`: read each lead before editing it and keep its before-image, so that
        `undo` can put it back (one more call per edited row). `wait`: seconds to wait
        for another run holding this sheet's journal to finish (else JournalBusy).
        `confirm`: called with a `RunPlan` (account, sheet, mode, rows to send) once every
        row is checked, before the first is sent; False sends nothing (Interrupted).

        Returns the summary: counts by status, where the results and the failed rows
        went, and `exit_code` as the CLI would exit.
        """
        options = ImportOptions(
            sheet=self.sheet,
            sheet_name=self.worksheet,
            header_row=self.header_row,
            template_path=self.template,
            mode=self.mode,
            results_path=Path(results) if results is not None else None,
            rate=rate or None,
            workers=workers,
            restart=restart,
            ephemeral_journal=temporary_journal,
            lookup=lookup,
            keys_only=keys_only,
            known_path=Path(known) if known is not None else None,
            memory=memory and not temporary_journal,
            policy=policy or RetryPolicy(),
            verify=verify,
            backup=backup,
            journal_dir=self.journal_dir,
            wait=wait,
            output_dir=self.output_dir,
            results_suffix=self.results_suffix,
        )
        return run_import(options, client, progress, stop=stop, halt=halt, confirm=confirm)

    def results(
        self,
        *,
        results: StrPath | None = None,
        keys_only: bool = False,
        app_id: str | None = None,
    ) -> ImportSummary:
        """Rebuild the results and failed-rows files from this sheet's journal, at any
        time, also while a run writes it: its rows in flight show as sending, rows not
        sent yet as not_sent. A keys-only run's journal gives keys-only results. The
        newest journal, or that of the runs into `app_id` (one per account)."""
        path = Path(results) if results is not None else None
        return rebuild_results(
            self.sheet,
            path,
            keys_only=keys_only,
            journal_dir=self.journal_dir,
            app_id=app_id,
            output_dir=self.output_dir,
            results_suffix=self.results_suffix,
        )

    def undo(
        self,
        client: KartraApi,
        *,
        force: bool = False,
        results: StrPath | None = None,
        rate: float | None = 20.0,
        policy: RetryPolicy | None = None,
        each: Callable[[str, int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> UndoSummary:
        """Put back every lead the --backup runs of this sheet edited in `client`'s
        account, from the before-images their journal keeps: fields, tags and lists the
        run changed, points reversed. A lead changed since the run is left alone (`kept`)
        unless `force`; leads the run created are listed (Kartra cannot delete a lead).
        Writes `<sheet>.undo.xlsx` (or `results`); run again, it carries on. `each` is
        told of every lead's undo status and row."""
        return undo_run(
            self.sheet,
            client,
            force=force,
            template_path=self.template,
            results_path=Path(results) if results is not None else None,
            rate=rate or None,
            policy=policy,
            each=each,
            stop=stop,
            journal_dir=self.journal_dir,
        )

    def journals(self) -> list[Path]:
        """The journals kept for this sheet, in `.bulk-loader/` beside it (one per account
        it was run against)."""
        return find_journals(self.sheet, self.journal_dir)

    def starter_template(self) -> str:
        """A first template for this sheet: its headers mapped to Kartra's fields by name,
        as TOML with a comment for every choice left to make."""
        with open_sheet(self.sheet, self.worksheet, self.header_row, EMAIL_COLUMN) as opened:
            headers, notes = list(opened.headers), opened.notes
            first = next(opened.chunks(200), None)  # a look at the cells: tags separators
        shown = ("".join(c if c.isprintable() else "?" for c in note) for note in notes)
        rows = first.rows if first is not None else []
        return "".join(f"# Note: {note}\n" for note in shown) + starter_template(
            headers, self.sheet.name, rows
        )


def forget_journal(journal: StrPath) -> None:
    """Delete a journal (and its side files): later runs of its sheet start afresh."""
    forget(Path(journal))


def lead_memory_files() -> list[Path]:
    """The memory of the leads this tool wrote, one file per account, in the cache folder."""
    return memory_files()


def kartra_time_zones() -> list[tuple[str, str]]:
    """Kartra's 76 values for lead_preferred_time_zone, each with its UTC offset now
    (`+01:00`), in Kartra's order."""
    now = datetime.now(UTC)
    shown = []
    for name in time_zones():
        offset = now.astimezone(ZoneInfo(name)).strftime("%z")
        shown.append((name, f"{offset[:3]}:{offset[3:]}"))
    return shown
