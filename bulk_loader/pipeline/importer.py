"""A real import: preflight, validate every row, send, and write the results.

    run_import(options, client, progress)
      1. preflight: the account's custom fields, tags and lists (a fatal answer stops here)
      2. scan: every row read, validated and checked against the account, into the journal
      3. send: each valid row not yet settled, through `pool.send_all`
      4. results: the workbook and the failed-rows file (summary.py), from the journal

Nothing is sent before every row has been validated, so the person running it sees
every problem of the sheet first and the estimate counts only the rows that will go.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bulk_loader import scratch
from bulk_loader.errors import ConfigError, Interrupted
from bulk_loader.journal.store import (
    Journal,
    PendingLead,
    adopt_legacy,
    journal_path,
    legacy_journal_path,
)
from bulk_loader.kartra.client import CallResult, Credentials, KartraClient
from bulk_loader.outcomes import Problem, Report, RowOutcome, RowStatus, without_value
from bulk_loader.pipeline.scan import key_headers
from bulk_loader.results.files import (
    check_writable,
    check_writable_folder,
    default_results_path,
    failed_rows_path,
)
from bulk_loader.results.summary import ImportSummary, write_run_files
from bulk_loader.sending.budget import SharedPace
from bulk_loader.sending.known import KnownLeads, LeadMemory, read_known
from bulk_loader.sending.pacing import RateLimiter, RetryPolicy
from bulk_loader.sending.pool import Pending, send_all
from bulk_loader.sending.sender import EXISTS, SETTLE, RowSender
from bulk_loader.sheets.sheet import Sheet, open_sheet
from bulk_loader.template.mapping import Mode, Template, default_template, load_template
from bulk_loader.validation.account import AccountSnapshot, fetch_account
from bulk_loader.validation.validator import LeadRow, Validator

__all__ = ["ImportOptions", "Progress", "SilentProgress", "bundled_sandbox", "run_import"]

REPEAT_SIGNAL_GRACE = 1.0  # seconds within which a second signal is the first one again
BUILT_IN_TEMPLATE = "(built in: headers named like Kartra's fields)"
SAMPLE_ACCOUNT = Path(__file__).parent.parent / "data" / "sample_account.toml"


@dataclass(frozen=True)
class ImportOptions:
    sheet: Path
    sheet_name: str | None = None
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


class Progress(Protocol):
    """How the import reports to a person; the CLI renders it (tqdm, messages)."""

    def message(self, text: str) -> None: ...

    def start(self, total: int) -> None: ...

    def advance(self, outcome: RowOutcome) -> None: ...

    def pace(self, rate: float, rate_limited: int) -> None:
        """The App's pace now (calls/s; 0: no limit) and the 429s answered so far."""

    def close(self) -> None: ...


class SilentProgress:
    def message(self, text: str) -> None:
        pass

    def start(self, total: int) -> None:
        pass

    def advance(self, outcome: RowOutcome) -> None:
        pass

    def pace(self, rate: float, rate_limited: int) -> None:
        pass

    def close(self) -> None:
        pass


class _PacedProgress:
    """The caller's Progress, told the pace with each row, and once that the App is
    shared with other runs on this machine."""

    def __init__(self, progress: Progress, sender: RowSender, shared: SharedPace | None):
        self._progress, self._sender, self._shared = progress, sender, shared
        self.shared_with = 0
        self._said: set[str] = set()

    def message(self, text: str) -> None:
        self._progress.message(text)

    def start(self, total: int) -> None:
        self._progress.start(total)

    def advance(self, outcome: RowOutcome) -> None:
        self._progress.advance(outcome)
        self.pace(self._sender.limiter.rate, self._sender.stats.rate_limited)

    def pace(self, rate: float, rate_limited: int) -> None:
        self._progress.pace(rate, rate_limited)
        for why in (self._shared.alone if self._shared else "", _failed(self._sender.known)):
            if why and why not in self._said:
                self._said.add(why)
                self._progress.message(why)
        others = self._shared.others if self._shared is not None else 0
        if others > self.shared_with:
            self.shared_with = others
            self._progress.message(
                f"sharing this App's {self._sender.limiter.limit:g} calls/s with {others} "
                "other bulk-loader run(s) on this machine"
            )

    def close(self) -> None:
        self._progress.close()


def run_import(
    options: ImportOptions, client: KartraClient, progress: Progress | None = None
) -> ImportSummary:
    """Import `options.sheet` into Kartra through `client`; see the module docstring."""
    with _sigterm_as_ctrl_c():
        try:
            return _run_import(options, client, progress or SilentProgress())
        except KeyboardInterrupt:
            # Outside the sending (preflight, reading, writing results): the journal
            # holds whatever was done, and the same command carries on from it.
            raise Interrupted("stopped; the same command carries on where this run was") from None


@contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (a service manager, `kill`) stops a run the way Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_import(options: ImportOptions, client: KartraClient, progress: Progress) -> ImportSummary:
    results = default_results_path(options.sheet, options.results_path)
    with open_sheet(options.sheet, options.sheet_name) as sheet:
        template = _template(options, sheet)
        mode: Mode = options.mode or template.mode
        validator = Validator(template, sheet, mode)  # a header missing: before any call
        shared: SharedPace | None = None
        known: KnownLeads | None = None
        try:
            identity = _identity(options, sheet, client)
            _check_outputs(options, results, identity)  # before any call: nothing sent
            known = _known_leads(options, client)  # a bad --known file: before any call
            limiter, shared = _pacing(options, client, progress)
            sender = RowSender(
                client,
                limiter,
                mode=mode,
                policy=options.policy,
                lookup_only=options.lookup,
                known=known,
            )
            paced = _PacedProgress(progress, sender, shared)
            account = fetch_account(sender.lookup, client)
            journal, summary = _open_journal(options, identity, client, template, mode)
            summary.report.notes.extend(validator.notes)
            try:
                _scan_and_send(sheet, validator, account, journal, sender, options, summary, paced)
                summary.limit = limiter.limit
                summary.final_rate = limiter.rate
                summary.shared_with = paced.shared_with
                summary.calls = client.calls_made
                summary.ended = time.time()
                write_run_files(
                    results,
                    journal,
                    summary,
                    failed_file=not options.lookup,
                    keys_only=options.keys_only,
                )
            finally:  # every way out releases the journal's lock; a temporary one goes
                if summary.journal_kept:  # the values of settled leads are not needed now
                    with contextlib.suppress(sqlite3.Error):
                        journal.forget_values(all_settled=options.keys_only)
                journal.close()
                if options.ephemeral_journal:
                    shutil.rmtree(journal.path.parent, ignore_errors=True)
        finally:
            validator.close()
            if shared is not None:
                shared.close()
            if known is not None:
                known.close()
    return summary


def _scan_and_send(
    sheet: Sheet,
    validator: Validator,
    account: AccountSnapshot,
    journal: Journal,
    sender: RowSender,
    options: ImportOptions,
    summary: ImportSummary,
    progress: Progress,
) -> None:
    if summary.journal_kept:
        progress.message(f"journal: {journal.path}")
    try:
        keep = key_headers(validator) if options.keys_only else None
        _scan(sheet, validator, validator.template, account, journal, summary.report, keep)
        _send(journal, sender, options, summary, progress)
    except KeyboardInterrupt:
        # A second Ctrl-C: stop at once. The rows in flight stay `sending` in the
        # journal and are settled by the next run; the results can be rebuilt.
        raise Interrupted(f"stopped at once; what was done is in {journal.path}") from None


def _failed(known: KnownLeads | None) -> str:
    return known.failed if known is not None else ""


def _known_leads(options: ImportOptions, client: KartraClient) -> KnownLeads | None:
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
    options: ImportOptions, client: KartraClient, progress: Progress
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
    """Every file the run will write, tried before anything is sent (InputError: exit 3).

    Finding an unwritable --results after 50,000 rows were sent would leave the person
    with no results and a journal to dig through.
    """
    check_writable(results, "results")
    if not options.lookup and not options.keys_only:
        check_writable(failed_rows_path(options.sheet), "failed-rows file")
    if not options.ephemeral_journal:  # its folder: the journal itself is another run's
        check_writable_folder(journal_path(options.sheet, identity).parent, "journal")


def _open_journal(
    options: ImportOptions,
    identity: dict[str, str],
    client: KartraClient,
    template: Template,
    mode: Mode,
) -> tuple[Journal, ImportSummary]:
    """The run's journal (kept beside the sheet, or a temporary one) and its summary."""
    template_name = str(template.path) if template.path else BUILT_IN_TEMPLATE
    journal = Journal.open(
        _journal_location(options, identity),
        {
            **identity,
            "template_path": template_name,
            "mode": mode,
            "results_columns": "keys" if options.keys_only else "all",
        },
        restart=options.restart,
    )
    summary = ImportSummary(
        sheet=options.sheet,
        mode=mode,
        template=template_name,
        api_host=client.api_host,
        report=Report(),
        journal=journal.path,
        journal_kept=not options.ephemeral_journal,
        mode_lookup=options.lookup,
    )
    return journal, summary


def _template(options: ImportOptions, sheet: Sheet) -> Template:
    if options.template_path is not None:
        return load_template(options.template_path)
    return default_template(sheet.headers)


def _identity(options: ImportOptions, sheet: Sheet, client: KartraClient) -> dict[str, str]:
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
    path = journal_path(options.sheet, identity)
    # bulk-loader 0.1 keyed the journal by the sheet's path and --sheet as typed.
    legacy = {
        **identity,
        "sheet": str(options.sheet.resolve()),
        "worksheet": options.sheet_name or "",
    }
    adopt_legacy(legacy_journal_path(options.sheet, legacy), path)
    return path


def _scan(
    sheet: Sheet,
    validator: Validator,
    template: Template,
    account: AccountSnapshot,
    journal: Journal,
    report: Report,
    keep: list[str] | None = None,
) -> None:
    """Read and validate every row into the journal before anything is sent.

    `keep`: the key headers of a keys-only run; the journal then holds no other cell
    value, in problems neither.

    One transaction: a scan that fails or is stopped leaves the journal as it was.
    """
    journal.begin_scan(sheet.headers, key_headers(validator))
    try:
        _scan_rows(sheet, validator, template, account, journal, report, keep)
    except BaseException:
        journal.abort_scan()  # a damaged row, Ctrl-C: the journal stays as it was
        raise
    journal.finish_scan()


def _scan_rows(
    sheet: Sheet,
    validator: Validator,
    template: Template,
    account: AccountSnapshot,
    journal: Journal,
    report: Report,
    keep: list[str] | None,
) -> None:
    mode = validator.mode
    kept = None if keep is None else {i for i, h in enumerate(sheet.headers) if h in keep}
    for chunk in sheet.chunks():
        valid, problems = validator.validate(chunk)
        checked = []
        for row in valid:
            row, account_problems = account.check(row, template)
            problems += account_problems
            checked.append(row)
        valid_rows = {row.row for row in valid}
        for number, cells in zip(chunk.row_numbers, chunk.rows, strict=True):
            if number not in valid_rows:  # every problem at once, the account's too
                problems += account.check_cells(number, cells, validator.columns)
        by_row = _group(problems)
        leads = {row.row: row for row in checked if row.row not in by_row}
        journal.add_rows(
            (number, *_kept(cells, by_row.get(number, ()), kept, keep), _key(leads.get(number)))
            for number, cells in zip(chunk.row_numbers, chunk.rows, strict=True)
        )
        journal.add_leads((row.key, _payload(row, mode)) for row in leads.values())
        report.add_rows(len(chunk.rows))
        report.add_problems(problems)
    late = validator.finish()
    already_invalid = journal.invalidate(_group(late))
    report.add_problems(late)
    report.rows_invalid -= already_invalid  # counted once per row, not twice


def _kept(
    cells: list[str], problems: Sequence[Problem], kept: set[int] | None, keep: list[str] | None
) -> tuple[list[str], Sequence[Problem]]:
    """What the journal keeps of a row: all of it, or (keys only) its key cells."""
    if kept is None or keep is None:
        return cells, problems
    return (
        [cell if i in kept else "" for i, cell in enumerate(cells)],
        [p if p.column in keep else without_value(p) for p in problems],
    )


def _group(problems: list[Problem]) -> dict[int, list[Problem]]:
    by_row: dict[int, list[Problem]] = {}
    for problem in problems:
        by_row.setdefault(problem.row, []).append(problem)
    return by_row


def _key(row: LeadRow | None) -> str | None:
    return row.key if row else None


def _payload(row: LeadRow, mode: Mode) -> dict[str, Any]:
    """What the row asks of Kartra; its digest decides whether a re-run sends it again."""
    return {"lead": row.lead, "tags": list(row.tags), "lists": list(row.lists), "mode": mode}


def _send(
    journal: Journal,
    sender: RowSender,
    options: ImportOptions,
    summary: ImportSummary,
    progress: Progress,
) -> None:
    # Counted, not listed: the rows themselves stream from the journal a batch at a
    # time as the pool asks for them, each with its history, so memory stays flat.
    pending, summary.reconciled = journal.count_to_send()
    total_valid = journal.count("rows.lead_key IS NOT NULL")
    summary.resumed = total_valid - pending
    progress.message(_estimate(pending, options.rate, options.lookup))
    progress.start(pending)
    started = time.monotonic()
    rows = (Pending(_lead_row(lead), *_history(lead)) for lead in journal.to_send())
    # Kartra's clock, for settling lost answers: this run's creates teach it first,
    # earlier runs' creates (recorded with their send and answer times) meanwhile.
    sender.clock.remember(journal.witnesses(), time.time())
    with _stop_on_signals(sender, progress):
        for row, outcome in send_all(
            rows,
            sender,
            workers=options.workers,
            before_send=journal.mark_sending,
            idle=journal.flush,
        ):
            journal.record(row.key, outcome)
            summary.sent += outcome.status != RowStatus.NOT_SENT
            summary.row_calls += outcome.calls
            progress.advance(outcome)
    journal.flush()
    progress.close()
    summary.send_seconds = time.monotonic() - started
    summary.retries = sender.stats.retries
    summary.rate_limited = sender.stats.rate_limited
    summary.reconciliations = sender.stats.reconciliations
    if sender.fatal is not None:
        summary.fatal = _fatal_text(sender.fatal)
    summary.crash = sender.crash
    summary.interrupted = sender.stop.is_set() and not (summary.fatal or summary.crash)


def _history(lead: PendingLead) -> tuple[str, float]:
    """What an earlier run left of this lead, for RowSender.send: (history, since)."""
    if lead.unsettled:
        return SETTLE, lead.sent_at
    if lead.written:
        return EXISTS, lead.sent_at
    return "", 0.0


def _lead_row(lead: PendingLead) -> LeadRow:
    payload = lead.payload
    return LeadRow(
        lead.row,
        (),
        payload["lead"],
        tuple(payload["tags"]),
        tuple(payload["lists"]),
        lead.lead_key,
    )


def _fatal_text(result: CallResult) -> str:
    return f"Kartra error {result.kartra_type}: {result.message}"


def _estimate(rows: int, rate: float | None, lookup: bool = False) -> str:
    if not rows:
        if lookup:
            return "nothing to look up: no valid row"
        return "nothing to send: every valid row is done (see the journal)"
    if not rate:
        return f"{rows:,} rows to send, no rate limit"
    seconds = rows / rate
    if seconds < 90:
        span = f"about {max(1, round(seconds))} s"
    elif seconds < 5400:
        span = f"about {round(seconds / 60)} min"
    else:
        span = f"about {seconds / 3600:.1f} h"
    return f"{rows:,} rows at {rate:g} calls/s: {span}"


@contextmanager
def _stop_on_signals(sender: RowSender, progress: Progress) -> Iterator[None]:
    """First Ctrl-C or SIGTERM: start no new row; another one: send nothing more at all.

    A repeat within a second is the same request (`timeout` and shells may deliver one
    signal to the process and its group): only a later one means "stop at once".
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    first: list[float] = []

    def handler(signum: int, frame: object) -> None:
        now = time.monotonic()
        if not first:
            first.append(now)
            sender.stop.set()
            progress.message("stopping: finishing the calls in flight (Ctrl-C again to stop now)")
        elif now - first[0] >= REPEAT_SIGNAL_GRACE:
            sender.halt.set()
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def bundled_sandbox(account: Path | None = None) -> Iterator[tuple[str, Credentials]]:
    """A sandbox with the sample account on 127.0.0.1, for this run only: (URL, credentials)."""
    from bulk_loader.sandbox import load_account, serve_in_thread

    loaded = load_account(account or SAMPLE_ACCOUNT)
    with serve_in_thread(loaded) as running:
        yield running.url, Credentials(loaded.app_id, loaded.api_key, loaded.api_password)
