"""What a run did, and the files that show it: the summary, the results workbook and
the failed-rows file, rebuilt from the journal (by a run, or by `bulk-loader results`).

The Summary sheet has one layout for a dry run and a real one (results.summary_sheet):
what was run where, the rows by status (with a chart), the problems and warnings with
their first rows and an example, then how the sending went and the notes.

A failed-rows file is a file to edit. Its SHA-256 is kept in the journal's meta when it
is written; the next run replaces it only if it is still that file, and otherwise
leaves it as it is and writes its own list beside it (`<sheet>.failed-2.csv`, ...):
results.failed_rows.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bulk_loader.errors import ConfigError, InputError, Interrupted, KartraFatalError
from bulk_loader.journal.files import JOURNAL_FOLDER, find_journals, journal_folder
from bulk_loader.journal.store import Journal, JournalRow
from bulk_loader.outcomes import ATTENTION, GOOD, WARNINGS, Problem, Report, RowStatus, problem_text
from bulk_loader.results.failed_rows import (
    Remembered,
    next_failed_file,
    remember,
    remember_later,
    remembered,
    why_kept,
)
from bulk_loader.results.files import (
    default_results_path,
    failed_rows_path,
    results_for_app,
    same_file,
)
from bulk_loader.results.summary_sheet import TopLine, summary_sheet
from bulk_loader.results.workbook import FailedRowsWriter, ResultsWriter, key_columns
from bulk_loader.sending.readback import ReadBack

__all__ = ["ACCOUNT_META", "LAST_RUN", "ImportSummary", "LastRun", "journal_account", "last_run",
           "rebuild_results", "write_run_files"]  # fmt: skip

KEEP_ROWS = 5  # first rows kept per code, as the dry run's Report keeps them
EX_TEMPFAIL = 75  # sysexits.h: a temporary failure; running again later may succeed

# The journal's meta entry keeping how the last run that sent went (JSON): its Sending
# block and notes, for results rebuilt later, and the rate it achieved, for the next
# run's estimate.
ACCOUNT_META = "account"  # the account_label of the last run (the profile with it)
LAST_RUN = "last_run"


@dataclass(frozen=True)
class LastRun:
    """How the last run that sent went, as its journal keeps it."""

    sending: tuple[tuple[str, object], ...] = ()
    notes: tuple[str, ...] = ()
    achieved: float = 0.0  # calls/s over its sending time (0: too short to tell)
    rate_limited: int = 0  # its 429 answers


def _journal_of(journals: list[Path], app_id: str, sheet: Path) -> Path:
    """The journal of the runs of `sheet` into `app_id` (ConfigError naming the others)."""
    accounts = []
    for path in journals:
        journal = Journal.open_readonly(path)
        try:
            meta = journal.meta()
        finally:
            journal.close()
        if meta.get("app_id") == app_id:
            return path
        accounts.append(journal_account(meta))
    raise ConfigError(
        f"{sheet}: no journal of a run into app {app_id}; its journals are of "
        + "; ".join(accounts)
    )


def journal_account(meta: dict[str, str]) -> str:
    """The account a journal was kept for, as account_label names it."""
    if meta.get(ACCOUNT_META):
        return meta[ACCOUNT_META]
    app = f"app {meta.get('app_id', '?')}"
    return f"{app} at {meta['api_host']}" if meta.get("api_host") else app


def last_run(meta: dict[str, str]) -> LastRun:
    """The record of the last run that sent, from a journal's meta (empty if none)."""
    try:
        record = json.loads(meta.get(LAST_RUN) or "{}")
        return LastRun(
            tuple((str(label), value) for label, value in record.get("sending", ())),
            tuple(str(note) for note in record.get("notes", ())),
            float(record.get("achieved", 0.0)),
            int(record.get("rate_limited", 0)),
        )
    except (ValueError, TypeError, AttributeError):
        return LastRun()


@dataclass
class ImportSummary:
    """What a run did, for the terminal and the Summary sheet."""

    sheet: Path
    mode: str
    template: str
    api_host: str
    report: Report
    journal: Path
    # The account written to: `app 4Zt8 (profile acme) at app.kartra.com` (account_label).
    account: str = ""
    output_dir: Path | None = None  # --output-dir: the results and failed rows go there
    results: Path | None = None
    failed: Path | None = None
    statuses: Counter[RowStatus] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)  # cells noted; rows still sent
    # Of each code in `errors` and `warnings`: its first rows and an example.
    first_rows: dict[str, list[int]] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)  # "row 9: Email: ..."
    # A failed-rows file left as it was (edited since the last run, or not one this
    # journal remembers writing), and why; this run's list went to `failed` instead.
    kept_failed: Path | None = None
    kept_why: str = ""
    # The record of the failed-rows file written, when the journal was read-only then.
    unrecorded: str | None = None
    sent: int = 0
    row_calls: int = 0  # calls made for rows, retries included (not the look-ups)
    retries: int = 0  # transient failures sent again
    rate_limited: int = 0  # 429 answers
    limit: float = 0.0  # --rate (0: no limit)
    final_rate: float = 0.0  # the pace the run ended at (calls/s)
    shared_with: int = 0  # other runs on this machine that used the same App meanwhile
    reconciliations: int = 0  # searches that settled a lost answer
    resumed: int = 0
    reconciled: int = 0
    calls: int = 0
    started: float = field(default_factory=time.time)
    ended: float = 0.0
    send_seconds: float = 0.0
    fatal: str | None = None
    # What stopped the run, as a code for programs (--json), never quoting a value:
    # kartra_error_<type>, read_back, test_mode ("" when `fatal` is None).
    stopped_kind: str = ""
    crash: str | None = None  # a bug stopped the sending (exit 70)
    interrupted: bool = False
    mode_lookup: bool = False  # a --dry-run --lookup: nothing was written
    journal_kept: bool = True  # False for a temporary journal (sandbox, --lookup)
    # Results rebuilt while a run holds the journal: its rows in flight are `sending`,
    # and running again would be refused. `run_pid`: that run's process id, if it said.
    run_in_progress: bool = False
    run_pid: str = ""
    # Results rebuilt from the journal: how the last run that sent went (LAST_RUN).
    earlier: LastRun = field(default_factory=LastRun)
    read_back: ReadBack | None = None  # the canary's reads (None: no read-back)
    backups: int = 0  # --backup: leads read before their edit this run
    retried_later: int = 0  # failed rows the next run sends again (passing failures)

    @property
    def exit_code(self) -> int:
        if self.crash:
            return 70
        if self.fatal:
            return KartraFatalError.exit_code
        if self.interrupted:
            return Interrupted.exit_code
        good = sum(self.statuses[status] for status in GOOD)
        if good == sum(self.statuses.values()):
            return 0
        # Every row done or invalid but some a later run will send (a server error, a
        # rate limit, a lost answer): EX_TEMPFAIL, for a scheduler to retry later.
        later = self.retried_later + self.statuses[RowStatus.UNKNOWN]
        later += self.statuses[RowStatus.NOT_SENT] + self.statuses[RowStatus.SENDING]
        settled = good + self.statuses[RowStatus.INVALID]
        if later and settled + later == sum(self.statuses.values()):
            return EX_TEMPFAIL
        return 1

    @property
    def retry_hint(self) -> str:
        """How to run the failed-rows file so that every row in it can finish.

        A partial row's lead exists (only an action failed): run again in create mode
        it could only fail 244, so such a file is run in upsert mode.
        """
        if self.failed is None:
            return ""
        if self.statuses[RowStatus.PARTIAL] and self.mode == "create":
            return (
                f"{self.statuses[RowStatus.PARTIAL]} of its rows were saved with an action refused "
                "(partial): fix the cause, then run it with --mode upsert (create mode "
                "would fail them 244)"
            )
        return "run it like the original sheet"

    @property
    def kept_note(self) -> str:
        """The line saying which failed-rows file was left as it was, and where this
        run's failed rows went instead ("" when none was)."""
        if self.kept_failed is None:
            return ""
        note = f"{self.kept_failed.name} {self.kept_why}: kept"
        if self.failed is not None:
            note += f"; this run's failed rows are in {self.failed.name}"
        return note

    def top(self, n: int = 10, *, warnings: bool = False) -> list[TopLine]:
        """The `n` most frequent problem codes (Kartra's error types among them) or,
        `warnings`, warning codes: rows, first rows and an example, as Report.top."""
        counts = self.warnings if warnings else self.errors
        lines: list[TopLine] = []
        for code, count in counts.most_common(n):
            rows = self.first_rows.get(code, [])
            more = len(rows) >= KEEP_ROWS and count > len(rows)
            lines.append((code, count, rows, more, self.examples.get(code, "")))
        return lines

    def tally(self, code: str, row: int, example: str) -> None:
        """One row with this problem code (or warning code, or Kartra error type)."""
        (self.warnings if code in WARNINGS else self.errors)[code] += 1
        rows = self.first_rows.setdefault(code, [])
        if len(rows) < KEEP_ROWS and (not rows or rows[-1] != row):
            rows.append(row)
        self.examples.setdefault(code, f"row {row}: {example}")

    @property
    def achieved(self) -> float:
        """Calls per second over the sending time; 0 when it was too short to tell (the
        first calls go at once)."""
        if self.send_seconds < 1:
            return 0.0
        return round(self.row_calls / self.send_seconds, 2)

    def run_record(self) -> str:
        """How this run went, for its journal's meta (LAST_RUN): never a cell value."""
        return json.dumps(
            {
                "sending": self.sending_rows(),
                "notes": self.report.notes,
                "achieved": self.achieved,
                "rate_limited": self.rate_limited,
            }
        )

    def sending_rows(self) -> list[tuple[str, object]]:
        """The Summary sheet's Sending block: this run's, or (results rebuilt from the
        journal) the last run's that sent."""
        if not self.started:
            return list(self.earlier.sending)
        rows_sent = max(self.sent, 1)  # calls per row: what sending the rows cost
        achieved = round(self.row_calls / max(self.send_seconds, 1e-9), 2)
        return [
            ("Started", _stamp(self.started)),
            ("Ended", _stamp(self.ended)),
            ("Rows looked up" if self.mode_lookup else "Rows sent this run", self.sent),
            ("Rows resumed from the journal", self.resumed),
            ("Rows settled by search first", self.reconciled),
            ("Calls made", self.calls),
            ("Calls per row", round(self.row_calls / rows_sent, 3)),
            ("Retries after transient failures", self.retries),
            ("429 answers", self.rate_limited),
            ("Rate limit (calls/s)", self.limit or "none"),
            ("Pace at the end (calls/s)", round(self.final_rate, 2)),
            ("Lost answers settled by search", self.reconciliations),
            ("Sending time (s)", round(self.send_seconds, 3)),
            ("Achieved rate (calls/s)", achieved),
            *self._read_back_rows(),
            *(
                [("Leads backed up before their edit (--backup)", self.backups)]
                if self.backups
                else []
            ),
        ]

    def _read_back_rows(self) -> list[tuple[str, object]]:
        seen = self.read_back
        if self.mode_lookup:
            return []
        if seen is None:
            return [("Leads read back (canary)", "none (--verify 0)")]
        verdict = "as sent" if seen.clean else "differences: see Stopped by and the notes"
        return [
            ("Leads read back (canary)", seen.rows),
            ("Read-back calls", seen.calls),
            ("Read-back verdict", verdict if seen.rows else "no lead written to read"),
        ]

    def _failed_rows_line(self) -> str:
        if self.failed:
            return str(self.failed)
        if self.run_in_progress:  # rebuilt while a run sends: that run writes them
            pid = f" (pid {self.run_pid})" if self.run_pid else ""
            return (
                f"none yet: a run is sending this sheet now{pid}; its rows in flight show "
                "as sending, and it writes the failed rows when it ends"
            )
        return "none"

    def as_rows(self) -> dict[str, object]:
        """The Summary sheet (never credentials): summary_sheet's layout."""
        sending = self.sending_rows()
        if self.mode_lookup:
            run = "dry run with look-ups (read-only: nothing written)"
        else:
            run = "import" if self.started else "import (results rebuilt from the journal)"
        files: list[tuple[str, object]] = [
            ("Failed rows", self._failed_rows_line()),
            *([("Failed rows kept", self.kept_note)] if self.kept_note else []),
            ("Journal", str(self.journal) if self.journal_kept else "temporary (deleted)"),
        ]
        return summary_sheet(
            run=run,
            sheet=self.sheet,
            template=self.template,
            mode=self.mode,
            host=self.api_host,
            account=f"{self.account or self.api_host}: checked custom fields, options, tags "
            "and lists",
            report=self.report,
            statuses={str(status): n for status, n in self.statuses.items()},
            problems=self.top(20),
            warnings=self.top(20, warnings=True),
            files=files,
            sending=sending,
            stopped=self.fatal or self.crash or "",
        )


def rebuild_results(
    sheet: Path,
    results_path: Path | None = None,
    *,
    keys_only: bool = False,
    journal_dir: Path | None = None,
    app_id: str | None = None,
    output_dir: Path | None = None,
    results_suffix: str = ".xlsx",
) -> ImportSummary:
    """The results workbook and failed-rows file of `sheet`, rebuilt from its journal:
    the newest one, or the one of runs into `app_id` (a sheet run into two accounts
    has a journal for each).

    Works at any time, also while a run writes the journal from another process: the
    rows that run has in flight show as sending, those it has not reached as not_sent,
    and no failed-rows file is written (that run writes it when it ends; one written
    now would list rows it is about to send, and running that file would send them
    twice). A row a stopped run left in flight shows as unknown.
    """
    if not sheet.exists():
        raise ConfigError(f"{sheet}: no such file")
    journals = find_journals(sheet, journal_dir)
    if not journals:
        folder = journal_folder(sheet, journal_dir)
        where = "beside it" if folder == sheet.resolve().parent / JOURNAL_FOLDER else f"in {folder}"
        hint = "" if journal_dir is not None else " (a run given --journal-dir: give it here too)"
        raise ConfigError(
            f"{sheet}: no journal {where}; `bulk-loader run {sheet}` keeps one there{hint}"
        )
    chosen = _journal_of(journals, app_id, sheet) if app_id is not None else journals[0]
    journal = Journal.open_readonly(chosen)
    try:
        with journal.reading() as running:
            meta = journal.meta()
            summary = ImportSummary(
                sheet=sheet,
                mode=meta.get("mode", ""),
                template=meta.get("template_path", ""),
                api_host=meta.get("api_host", ""),
                account=journal_account(meta),
                report=Report(),
                journal=journal.path,
                started=0.0,
                run_in_progress=running is not None,
                run_pid=running or "",
            )
            if running is None:  # a run going now has its own, not yet the last one's
                summary.earlier = last_run(meta)
                summary.report.notes.extend(summary.earlier.notes)

            results = default_results_path(sheet, results_path, output_dir, results_suffix)
            if results_path is None and meta.get("app_id"):  # another App's: kept
                results, moved = results_for_app(results, meta["app_id"])
                if moved and moved not in summary.report.notes:  # the last run said it too
                    summary.report.notes.append(moved)
            summary.output_dir = output_dir
            # A keys-only run's journal holds no other cell: its results stay keys only.
            keys_only = keys_only or meta.get("results_columns") == "keys"
            write_run_files(
                results, journal, summary, failed_file=running is None, keys_only=keys_only
            )
    finally:
        journal.close()
    if summary.unrecorded is not None:
        remember_later(journals[0], summary.unrecorded)
    summary.report.rows_read = summary.statuses.total()
    summary.report.rows_invalid = summary.statuses[RowStatus.INVALID]
    return summary


def write_run_files(
    results: Path,
    journal: Journal,
    summary: ImportSummary,
    *,
    failed_file: bool = True,
    keys_only: bool = False,
) -> None:
    """The results workbook and the failed-rows file, both rebuilt from the journal.

    With `keys_only` no file copies whole rows: the results keep the key columns, and
    there is no failed-rows file (it would be whole rows). A failed-rows file that
    changed since a run wrote it is never replaced nor removed (next_failed_file).
    """
    default = failed_rows_path(summary.sheet, summary.output_dir)
    written = remembered(journal)
    target, kept, ours = next_failed_file(default, written)
    failed_file = failed_file and not keys_only
    if failed_file and (same_file(default, results) or same_file(target, results)):
        raise InputError(f"--results {results} is where the failed rows go; name another file")
    headers = journal.headers()
    keep = key_columns(headers, journal.key_headers()) if keys_only else None
    with ExitStack() as files:
        out = files.enter_context(ResultsWriter(results, headers, attempts_column=True, keep=keep))
        failed_to = target if failed_file else None
        _write_rows(journal, headers, summary, files, out, failed_to)
        if failed_file or keys_only:
            _settle_failed_files(journal, summary, written, kept, ours)
        if not summary.report.rows_read:  # results rebuilt: the journal's rows are all
            summary.report.rows_read = summary.statuses.total()
            summary.report.rows_invalid = summary.statuses[RowStatus.INVALID]
        out.close(summary.as_rows())
    summary.results = results


def _write_rows(
    journal: Journal,
    headers: list[str],
    summary: ImportSummary,
    files: ExitStack,
    out: ResultsWriter,
    failed_to: Path | None,
) -> None:
    """Every row of the journal into the results, counted in `summary`; the rows to fix
    also into the failed-rows file `failed_to` (None: none), opened at the first."""
    retry: FailedRowsWriter | None = None
    for row in journal.rows():
        _count(summary, row)
        out.add(
            row.row,
            row.cells,
            row.status,
            row.lead_id,
            row.error_type,
            row.message,
            row.problems,
            row.attempts,
        )
        if row.status in ATTENTION and failed_to is not None:
            if retry is None:
                retry = files.enter_context(FailedRowsWriter(failed_to, headers))
                summary.failed = failed_to
            retry.add(row.row, row.cells, row.status, row.error_type, row.message, row.problems)
    if retry is not None:
        retry.close()


# Rows that failed with no Kartra error type, and the code the summary counts them by.
_NO_TYPE = {"failed": "failed", "partial": "partial", "unknown": "answer_lost"}


def _count(summary: ImportSummary, row: JournalRow) -> None:
    """One row's status, and its problem codes (or Kartra's error type), in `summary`."""
    summary.statuses[RowStatus(row.status)] += 1
    summary.retried_later += row.retried_later
    if row.error_type:
        summary.tally(row.error_type, row.row, row.message or row.error_type)
    elif not row.problems and row.status in _NO_TYPE:
        # No Kartra type to name it (a 503, a lost answer): the cause still shows, so
        # 'Failed: 12' is never the whole story.
        code = _NO_TYPE[row.status] if not row.retried_later else "server_error"
        summary.tally(code, row.row, row.message or code)
    else:
        first: dict[str, Problem] = {}
        for problem in row.problems:
            first.setdefault(problem.code, problem)
        for code, problem in first.items():
            summary.tally(code, row.row, problem_text(problem))


def _settle_failed_files(
    journal: Journal,
    summary: ImportSummary,
    written: Remembered,
    kept: Path | None,
    ours: Path | None,
) -> None:
    """The last run's list removed if this run replaces it (it is still that file: not
    edited), the file kept noted, and this run's list remembered in the journal."""
    if ours is not None and ours != summary.failed:
        ours.unlink(missing_ok=True)
    if kept is not None:
        summary.kept_failed = kept
        summary.kept_why = why_kept(kept, written, summary.journal_kept)
    unrecorded = remember(journal, summary.sheet.parent, summary.failed, written)
    if unrecorded is not None:
        summary.unrecorded = unrecorded


def _stamp(seconds: float) -> str:
    if not seconds:
        return ""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
