"""A real import: preflight, scan every row, send, and write the results.

    run_import(options, client, progress, stop=..., halt=...)
      1. preflight: every output writable, the account's custom fields, tags and lists
         (a fatal answer stops here)
      2. scan: every row read, validated and checked against the account, into the
         journal kept beside the sheet (scan.py: the dry run's scan too)
      3. send: each valid row not yet settled, through the pool (send.py)
      4. results: the workbook and the failed-rows file, from the journal

No signal handler is installed here: a caller stops a run with the `stop` event
(finish the calls in flight, start no new row) or `halt` (send nothing more at all);
the CLI sets them from Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bulk_loader import scratch
from bulk_loader.errors import (
    BulkLoaderError,
    ConfigError,
    EnvironmentFault,
    Interrupted,
    JournalBusy,
    TemplateError,
)
from bulk_loader.journal.files import (
    JOURNAL_FOLDER,
    SHEET_FOLDER,
    adopt_legacy,
    journal_path,
    legacy_journal_path,
    refuse_if_held,
)
from bulk_loader.journal.store import Journal
from bulk_loader.kartra.client import KartraApi, account_label
from bulk_loader.outcomes import Report
from bulk_loader.pipeline.accounts import RunPlan, refuse_other_account
from bulk_loader.pipeline.progress import Progress, RowCallback, SilentProgress, as_progress
from bulk_loader.pipeline.scan import open_template_sheet, open_validator, scan, unmapped_notes
from bulk_loader.pipeline.send import PacedProgress, send_rows
from bulk_loader.results.failed_rows import (
    FAILED_META,
    keep_without_journal,
    recall_without_journal,
)
from bulk_loader.results.files import (
    check_writable,
    check_writable_folder,
    default_results_path,
    failed_rows_path,
    make_output_dir,
    results_for_app,
)
from bulk_loader.results.summary import ACCOUNT_META, LAST_RUN, ImportSummary, write_run_files
from bulk_loader.sending.budget import SharedPace
from bulk_loader.sending.known import KnownLeads, LeadMemory, read_known
from bulk_loader.sending.pacing import RateLimiter, RetryPolicy
from bulk_loader.sending.sender import RowSender
from bulk_loader.sheets.sheet import Sheet
from bulk_loader.template.model import Mode
from bulk_loader.validation.account import fetch_account
from bulk_loader.validation.validator import Validator

__all__ = ["ImportOptions", "Progress", "SilentProgress", "run_import"]

BUILT_IN_TEMPLATE = "(built in: headers named like Kartra's fields)"


@dataclass(frozen=True)
class ImportOptions:
    sheet: Path
    sheet_name: str | None = None
    header_row: int | None = None  # as Excel numbers it; None: row 1, or found
    template_path: Path | None = None
    mode: Mode | None = None
    results_path: Path | None = None
    rate: float | None = 20.0
    workers: int = 8
    restart: bool = False
    # A journal in a temporary file, gone after the run: for a throw-away sandbox.
    ephemeral_journal: bool = False
    lookup: bool = False  # a dry run that asks search_lead what each row would do
    keys_only: bool = False  # results: row number, email/id and outcome columns only
    known_path: Path | None = None  # --known: a sheet listing leads that exist (upsert hints)
    memory: bool = False  # use and keep the account's memory of leads this tool wrote
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    # Read back this many of the first leads written before sending the rest (0: none).
    verify: int = 0
    backup: bool = False  # read each lead before editing it; `undo` puts it back
    journal_dir: Path | None = None  # None: beside the sheet (or the data folder if synced)
    wait: float = 0.0  # seconds to wait for another run holding the journal to let go
    output_dir: Path | None = None  # the results and failed rows: here, not beside the sheet
    results_suffix: str = ".xlsx"  # the default results file's format: .xlsx or .csv


def run_import(
    options: ImportOptions,
    client: KartraApi,
    progress: Progress | RowCallback | None = None,
    *,
    stop: threading.Event | None = None,
    halt: threading.Event | None = None,
    confirm: Callable[[RunPlan], bool] | None = None,
) -> ImportSummary:
    """Import `options.sheet` into Kartra through `client`; see the module docstring.

    `stop` set: finish the calls in flight and start no new row (the summary says
    `interrupted`; the same options carry on later). `halt` set: send nothing more.
    The run sets them itself when an answer from Kartra stops it. `confirm`: asked with
    the RunPlan once every row is checked, before the first is sent; False: nothing sent.
    """
    try:
        return _run_import(options, client, as_progress(progress), stop, halt, confirm)
    except KeyboardInterrupt:
        # Outside the sending (preflight, reading, writing results): the journal
        # holds whatever was done, and the same command carries on from it.
        raise Interrupted("stopped; the same command carries on where this run was") from None


def _run_import(
    options: ImportOptions,
    client: KartraApi,
    progress: Progress,
    stop: threading.Event | None,
    halt: threading.Event | None,
    confirm: Callable[[RunPlan], bool] | None = None,
) -> ImportSummary:
    make_output_dir(options.output_dir)
    results = default_results_path(
        options.sheet, options.results_path, options.output_dir, options.results_suffix
    )
    sheet = open_template_sheet(
        options.sheet, options.sheet_name, options.header_row, options.template_path
    )
    with sheet, ExitStack() as done:
        validator = open_validator(sheet, options.template_path, options.mode)
        done.callback(validator.close)  # a header missing: failed above, before any call
        refuse_other_account(validator.template, client)  # a pinned account: before any call
        identity = _identity(options, sheet, client)
        moved = ""
        if options.results_path is None and not options.lookup:  # another App's: kept
            results, moved = results_for_app(results, identity["app_id"])
        _check_outputs(options, results, identity)  # before any call: nothing sent
        known = _known_leads(options, client)  # a bad --known file: before any call
        if known is not None:
            done.callback(known.close)
        limiter, shared = _pacing(options, client, progress)
        if shared is not None:
            done.callback(shared.close)
        sender = RowSender(
            client,
            limiter,
            mode=validator.mode,
            policy=options.policy,
            lookup_only=options.lookup,
            known=known,
        )
        sender.backup = options.backup and not options.lookup
        sender.stop = stop or sender.stop
        sender.halt = halt or sender.halt
        sender.notice = progress.message  # a look-up retried: say so, not seconds of silence
        template = validator.template
        account = fetch_account(sender.lookup, client, sequences=template.sequence is not None)
        missing = account.template_problems(validator.template)  # names added to every row
        if missing:  # said once, before the scan: even a sheet of invalid rows hears it
            raise TemplateError(validator.template.path, missing)
        journal, summary = _open_journal(options, identity, client, validator)
        summary.report.notes[:0] = sheet.notes  # a header found below a title, say
        if moved:
            summary.report.notes.append(moved)
        done.callback(_close_journal, journal, options, summary)
        if summary.journal_kept:
            progress.message(f"journal: {journal.path}")
        scan(
            sheet, validator, journal, summary.report, account=account, keys_only=options.keys_only
        )
        if validator.template.path is None and validator.unmapped() and not options.lookup:
            raise ConfigError(
                f"{options.sheet}: nothing sent: {unmapped_notes(validator, options.sheet)[0]}"
            )
        paced = PacedProgress(progress, sender, shared)
        try:
            _send(journal, sender, options, summary, paced, confirm)
        except EnvironmentFault:
            # The results, where the machine still allows: the rows recorded so far.
            with contextlib.suppress(OSError, sqlite3.Error, BulkLoaderError):
                write_run_files(results, journal, summary, failed_file=False)
            raise
        summary.limit, summary.final_rate = limiter.limit, limiter.rate
        summary.shared_with = paced.shared_with
        summary.calls = client.calls_made
        summary.ended = time.time()
        if summary.journal_kept and not options.lookup and summary.sent:
            journal.set_meta(LAST_RUN, summary.run_record())  # for `results` and the estimate
        if options.ephemeral_journal:
            recall_without_journal(journal, options.sheet)
        write_run_files(
            results, journal, summary, failed_file=not options.lookup, keys_only=options.keys_only
        )
        if options.ephemeral_journal and not options.lookup:
            keep_without_journal(journal, options.sheet)
    return summary


def _close_journal(journal: Journal, options: ImportOptions, summary: ImportSummary) -> None:
    """Every way out releases the journal's lock; a temporary journal goes."""
    if summary.journal_kept:  # the values of settled leads are not needed now
        with contextlib.suppress(sqlite3.Error):
            journal.forget_values(all_settled=options.keys_only)
    journal.close()
    if options.ephemeral_journal:
        shutil.rmtree(journal.path.parent, ignore_errors=True)


def _send(
    journal: Journal,
    sender: RowSender,
    options: ImportOptions,
    summary: ImportSummary,
    progress: Progress,
    confirm: Callable[[RunPlan], bool] | None = None,
) -> None:
    try:
        send_rows(
            journal,
            sender,
            summary,
            progress,
            rate=options.rate,
            workers=options.workers,
            lookup=options.lookup,
            verify=options.verify,
            confirm=confirm,
        )
    except KeyboardInterrupt:
        # Stopped at once (a second Ctrl-C): the rows in flight stay `sending` in the
        # journal and are settled by the next run; the results can be rebuilt.
        sender.halt.set()
        raise Interrupted(f"stopped at once; what was done is in {journal.path}") from None
    except (sqlite3.OperationalError, OSError) as exc:
        # The disk filled, a permission changed, the folder went: nothing more is sent.
        # What was recorded stays; rows in flight stay `sending`, settled by the next run.
        sender.halt.set()
        sender.stop.set()
        raise environment_fault(exc, journal.path) from exc


def environment_fault(exc: BaseException, journal: Path) -> EnvironmentFault:
    """One line naming the path and the cause of a fault of the machine, not of ours."""
    path = getattr(exc, "filename", None) or journal
    cause = getattr(exc, "strerror", None) or str(exc)
    if "disk is full" in str(exc) or getattr(exc, "errno", None) == errno.ENOSPC:
        cause = "the disk is full"
    return EnvironmentFault(
        f"{path}: {cause}; the run stopped, and what it sent is kept in the journal: "
        "free the space (or fix the folder), then run the same command again"
    )


def _known_leads(options: ImportOptions, client: KartraApi) -> KnownLeads | None:
    """Which leads exist, as a --known file and the account's memory say (hints)."""
    listed = read_known(options.known_path) if options.known_path is not None else None
    memory = None
    if options.memory and not options.ephemeral_journal:
        try:
            memory = LeadMemory(client.api_host, client.account_identity()["app_id"])
        except (OSError, sqlite3.Error, ConfigError):
            memory = None  # a hint only: the run goes on without it
    if listed is None and memory is None:
        return None
    return KnownLeads(listed, memory)


def _pacing(
    options: ImportOptions, client: KartraApi, progress: Progress
) -> tuple[RateLimiter, SharedPace | None]:
    """The App's rate limiter: shared with the other runs on this machine using the
    same App (budget.py), or this run's own if the shared file cannot be used."""
    if not options.rate or options.ephemeral_journal:  # no limit, or a throw-away sandbox
        return RateLimiter(options.rate), None
    try:
        shared = SharedPace(client.api_host, client.account_identity()["app_id"], options.rate)
    except (OSError, sqlite3.Error, ConfigError) as exc:
        progress.message(f"pacing this run alone: the shared budget file cannot be used ({exc})")
        return RateLimiter(options.rate), None
    return RateLimiter(options.rate, clock=time.time, store=shared), shared


def _check_outputs(options: ImportOptions, results: Path, identity: dict[str, str]) -> None:
    """Every file the run will write, tried before anything is sent (InputError: exit 3),
    and the journal no other run holds (JournalBusy: exit 75, before any call; `wait`
    seconds for it to be let go first).

    Finding an unwritable --results after 50,000 rows were sent would leave the person
    with no results and a journal to dig through.
    """
    check_writable(results, "results")
    if not options.lookup and not options.keys_only:
        check_writable(failed_rows_path(options.sheet, options.output_dir), "failed-rows file")
    if not options.ephemeral_journal:  # its folder: the journal itself is another run's
        journal = journal_path(options.sheet, identity, options.journal_dir)
        check_writable_folder(journal.parent, "journal")
        _wait_for(journal, options.wait)


def _wait_for(journal: Path, seconds: float) -> None:
    """Until no other run holds `journal`, `seconds` at most (JournalBusy: exit 75)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            refuse_if_held(journal)
            return
        except JournalBusy:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            time.sleep(min(1.0, left))


def _open_journal(
    options: ImportOptions,
    identity: dict[str, str],
    client: KartraApi,
    validator: Validator,
) -> tuple[Journal, ImportSummary]:
    """The run's journal (kept beside the sheet, or a temporary one) and its summary."""
    template, mode = validator.template, validator.mode
    template_name = str(template.path) if template.path else BUILT_IN_TEMPLATE
    location = _journal_location(options, identity)
    kept = _kept_over_restart(location) if options.restart else {}
    journal = Journal.open(
        location,
        {
            **identity,
            "template_path": template_name,
            "mode": mode,
            "results_columns": "keys" if options.keys_only else "all",
            SHEET_FOLDER: str(options.sheet.resolve().parent),  # one name, two sheets
        },
        restart=options.restart,
    )
    for name, value in kept.items():
        journal.set_meta(name, value)
    account = account_label(client)
    if not options.lookup:  # the account this sheet's rows were last written to
        journal.set_meta(ACCOUNT_META, account)
    summary = ImportSummary(
        sheet=options.sheet,
        mode=mode,
        template=template_name,
        api_host=client.api_host,
        account=account,
        report=Report(),
        journal=journal.path,
        journal_kept=not options.ephemeral_journal,
        mode_lookup=options.lookup,
        output_dir=options.output_dir,
    )
    summary.report.notes.extend(validator.notes)
    return journal, summary


def _kept_over_restart(path: Path) -> dict[str, str]:
    """What --restart keeps of the journal it forgets: which failed-rows file it wrote
    (so that the next list replaces it instead of piling up copies) and how fast the
    last run went (for the estimate); never what was sent."""
    if not path.exists():
        return {}
    try:
        journal = Journal.open_readonly(path)
    except ConfigError:
        return {}
    try:
        meta = journal.meta()
    except sqlite3.Error:
        return {}
    finally:
        journal.close()
    return {name: meta[name] for name in (FAILED_META, LAST_RUN) if name in meta}


def _identity(options: ImportOptions, sheet: Sheet, client: KartraApi) -> dict[str, str]:
    """Which journal is this run's: the work, never where it lies or how it was named.

    The sheet's file name, the worksheet it resolved to (`--sheet Leads` and the default
    that picks Leads are one journal), and the Kartra account (never the secrets). Not
    the folder: a moved folder carries its journal along and resumes. Not the template
    nor the mode: a run after fixing the template, or switching from create to upsert,
    must still know what earlier runs wrote; those go into each row's digest instead,
    so the rows they change are sent again.
    """
    return {
        "sheet": options.sheet.resolve().name,
        "worksheet": sheet.worksheet,
        **client.account_identity(),
    }


def _journal_location(options: ImportOptions, identity: dict[str, str]) -> Path:
    if options.ephemeral_journal:
        folder = Path(tempfile.mkdtemp(dir=scratch.folder()))  # private, removed at exit
        return folder / "journal.sqlite"
    path = journal_path(options.sheet, identity, options.journal_dir)
    # bulk-loader 0.1 keyed the journal by the sheet's path and --sheet as typed.
    legacy = {
        **identity,
        "sheet": str(options.sheet.resolve()),
        "worksheet": options.sheet_name or "",
    }
    adopt_legacy(legacy_journal_path(options.sheet, legacy), path)
    beside = options.sheet.resolve().parent / JOURNAL_FOLDER / path.name
    if beside != path:  # kept elsewhere now (a synced folder, --journal-dir): move it
        adopt_legacy(beside, path)
    return path
