"""A real import: preflight, validate every row, send, and write the results.

    run_import(options, client, progress)
      1. preflight: the account's custom fields, tags and lists (a fatal answer stops here)
      2. scan: every row read, validated and checked against the account, into the journal
      3. send: each valid row not yet settled, through `sender.send_all`
      4. results: the workbook and the failed-rows file, rebuilt from the journal

Nothing is sent before every row has been validated, so the person running it sees
every problem of the sheet first and the estimate counts only the rows that will go.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bulk_loader.account import AccountSnapshot, fetch_account
from bulk_loader.errors import ConfigError, InputError, Interrupted, KartraFatalError
from bulk_loader.journal import Journal, PendingLead, find_journals, journal_path
from bulk_loader.kartra import CallResult, Credentials, KartraClient
from bulk_loader.pacing import RateLimiter, RetryPolicy
from bulk_loader.pool import send_all
from bulk_loader.report import Problem, Report
from bulk_loader.results import ResultsWriter, key_columns
from bulk_loader.runner import default_results_path, key_headers
from bulk_loader.sender import EXISTS, SETTLE, RowOutcome, RowSender
from bulk_loader.sheets import Sheet, open_sheet
from bulk_loader.template import Mode, Template, default_template, load_template
from bulk_loader.validation import LeadRow, Validator

__all__ = [
    "ImportOptions",
    "ImportSummary",
    "Progress",
    "bundled_sandbox",
    "failed_rows_path",
    "rebuild_results",
    "run_import",
]

REPEAT_SIGNAL_GRACE = 1.0  # seconds within which a second signal is the first one again
BUILT_IN_TEMPLATE = "(built in: headers named like Kartra's fields)"
SAMPLE_ACCOUNT = Path(__file__).with_name("data") / "sample_account.toml"
# Row statuses that end a row as the person wanted (would_*: a --lookup dry run).
GOOD_STATUSES = ("created", "updated", "would_create", "would_update")
# Row statuses that need a person: they go to the failed-rows file.
NEEDS_ATTENTION = ("invalid", "failed", "partial", "unknown", "not_sent")


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
    policy: RetryPolicy = field(default_factory=RetryPolicy)


class Progress(Protocol):
    """How the import reports to a person; the CLI renders it (tqdm, messages)."""

    def message(self, text: str) -> None: ...

    def start(self, total: int) -> None: ...

    def advance(self, outcome: RowOutcome) -> None: ...

    def close(self) -> None: ...


class SilentProgress:
    def message(self, text: str) -> None:
        pass

    def start(self, total: int) -> None:
        pass

    def advance(self, outcome: RowOutcome) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class ImportSummary:
    """What a run did, for the terminal and the Summary sheet."""

    sheet: Path
    mode: str
    template: str
    api_host: str
    report: Report
    journal: Path
    results: Path | None = None
    failed: Path | None = None
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    row_calls: int = 0  # calls made for rows, retries included (not the look-ups)
    retries: int = 0  # transient failures sent again
    rate_limited: int = 0  # 429 answers
    reconciliations: int = 0  # searches that settled a lost answer
    resumed: int = 0
    reconciled: int = 0
    calls: int = 0
    started: float = field(default_factory=time.time)
    ended: float = 0.0
    send_seconds: float = 0.0
    fatal: str | None = None
    interrupted: bool = False
    journal_kept: bool = True  # False for a temporary journal (sandbox, --lookup)

    @property
    def exit_code(self) -> int:
        if self.fatal:
            return KartraFatalError.exit_code
        if self.interrupted:
            return Interrupted.exit_code
        good = sum(self.statuses[status] for status in GOOD_STATUSES)
        return 0 if good == sum(self.statuses.values()) else 1

    def as_rows(self) -> dict[str, object]:
        """The Summary sheet's key/value lines (never credentials)."""
        rows_sent = max(self.sent, 1)  # calls per row: what sending the rows cost
        lines: dict[str, object] = {
            "mode": self.mode,
            "template": self.template,
            "api host": self.api_host,
            "started": _stamp(self.started),
            "ended": _stamp(self.ended),
            "rows read": self.report.rows_read,
            "rows sent this run": self.sent,
            "rows resumed from the journal": self.resumed,
            "rows reconciled": self.reconciled,
            "calls made": self.calls,
            "calls per row": round(self.row_calls / rows_sent, 3),
            "retries after transient failures": self.retries,
            "429 answers": self.rate_limited,
            "lost answers settled by search": self.reconciliations,
            "sending time (s)": round(self.send_seconds, 3),
            "achieved rate (calls/s)": round(self.row_calls / max(self.send_seconds, 1e-9), 2),
            "journal": str(self.journal) if self.journal_kept else "temporary (deleted)",
        }
        lines.update({f"status: {k}": v for k, v in sorted(self.statuses.items())})
        lines.update({f"error type: {k}": v for k, v in sorted(self.errors.items())})
        if self.fatal:
            lines["stopped by"] = self.fatal
        return lines


def run_import(
    options: ImportOptions, client: KartraClient, progress: Progress | None = None
) -> ImportSummary:
    """Import `options.sheet` into Kartra through `client`; see the module docstring."""
    progress = progress or SilentProgress()
    results = default_results_path(options.sheet, options.results_path)
    with open_sheet(options.sheet, options.sheet_name) as sheet:
        template = _template(options, sheet)
        mode: Mode = options.mode or template.mode
        validator = Validator(template, sheet, mode)  # a header missing: before any call
        try:
            sender = RowSender(
                client,
                RateLimiter(options.rate),
                mode=mode,
                policy=options.policy,
                lookup_only=options.lookup,
            )
            account = fetch_account(sender.lookup, client)
            journal, summary = _open_journal(options, client, template, mode)
            if summary.journal_kept:
                progress.message(f"journal: {journal.path}")
            try:
                _scan(sheet, validator, template, account, journal, summary.report)
                _send(journal, sender, options, summary, progress)
            except KeyboardInterrupt:
                # A second Ctrl-C: stop at once. The rows in flight stay `sending` in the
                # journal and are settled by the next run; the results can be rebuilt.
                journal.close()
                raise Interrupted(f"stopped at once; what was done is in {journal.path}") from None
        finally:
            validator.close()
        summary.calls = client.calls_made
        summary.ended = time.time()
        _write_results(
            results, journal, summary, failed_file=not options.lookup, keys_only=options.keys_only
        )
        journal.close()
    if options.ephemeral_journal:
        shutil.rmtree(journal.path.parent, ignore_errors=True)
    return summary


def _open_journal(
    options: ImportOptions, client: KartraClient, template: Template, mode: Mode
) -> tuple[Journal, ImportSummary]:
    """The run's journal (kept beside the sheet, or a temporary one) and its summary."""
    identity = _identity(options, client)
    template_name = str(template.path) if template.path else BUILT_IN_TEMPLATE
    journal = Journal.open(
        _journal_location(options, identity),
        {**identity, "template_path": template_name, "mode": mode},
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
    )
    return journal, summary


def _template(options: ImportOptions, sheet: Sheet) -> Template:
    if options.template_path is not None:
        return load_template(options.template_path)
    return default_template(sheet.headers)


def _identity(options: ImportOptions, client: KartraClient) -> dict[str, str]:
    """Which journal is this run's: the sheet and the Kartra account (never the secrets).

    Not the template nor the mode: a run after fixing the template, or switching from
    create to upsert, must still know what earlier runs wrote. Those go into each row's
    digest instead, so the rows they change are sent again.
    """
    return {
        "sheet": str(options.sheet.resolve()),
        "worksheet": options.sheet_name or "",
        **client.account_identity(),
    }


def _journal_location(options: ImportOptions, identity: dict[str, str]) -> Path:
    if options.ephemeral_journal:
        folder = Path(tempfile.mkdtemp(prefix="bulk-loader-"))
        return folder / "journal.sqlite"
    return journal_path(options.sheet, identity)


def _scan(
    sheet: Sheet,
    validator: Validator,
    template: Template,
    account: AccountSnapshot,
    journal: Journal,
    report: Report,
) -> None:
    """Read and validate every row into the journal before anything is sent."""
    mode = validator.mode
    journal.begin_scan(sheet.headers, key_headers(validator))
    try:
        for chunk in sheet.chunks():
            valid, problems = validator.validate(chunk)
            checked = []
            for row in valid:
                row, account_problems = account.check(row, template)
                problems += account_problems
                checked.append(row)
            by_row = _group(problems)
            leads = {row.row: row for row in checked if row.row not in by_row}
            journal.add_rows(
                (number, cells, by_row.get(number, ()), _key(leads.get(number)))
                for number, cells in zip(chunk.row_numbers, chunk.rows, strict=True)
            )
            journal.add_leads((row.key, _payload(row, mode)) for row in leads.values())
            report.add_rows(len(chunk.rows))
            report.add_problems(problems)
        late = validator.finish()
        already_invalid = journal.invalidate(_group(late))
        report.add_problems(late)
        report.rows_invalid -= already_invalid  # counted once per row, not twice
    finally:
        journal.finish_scan()


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
    pending = list(journal.to_send())
    total_valid = journal.count("rows.lead_key IS NOT NULL")
    summary.resumed = total_valid - len(pending)
    summary.reconciled = sum(1 for lead in pending if lead.unsettled)
    progress.message(_estimate(len(pending), options.rate))
    progress.start(len(pending))
    started = time.monotonic()
    rows = (_lead_row(lead) for lead in pending)
    history = {lead.row: _history(lead) for lead in pending if lead.unsettled or lead.written}
    with _stop_on_signals(sender, progress):
        for row, outcome in send_all(
            rows,
            sender,
            workers=options.workers,
            before_send=journal.mark_sending,
            history=history,
        ):
            journal.record(row.key, outcome)
            summary.sent += outcome.status != "not_sent"
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
    summary.interrupted = sender.stop.is_set() and summary.fatal is None


def _history(lead: PendingLead) -> str:
    return SETTLE if lead.unsettled else EXISTS


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


def _estimate(rows: int, rate: float | None) -> str:
    if not rows:
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


def rebuild_results(
    sheet: Path, results_path: Path | None = None, *, keys_only: bool = False
) -> ImportSummary:
    """The results workbook and failed-rows file of `sheet`, rebuilt from its journal.

    Works at any time, also while a run writes the journal from another process: the
    rows that run has not settled yet show as not_sent or unknown.
    """
    journals = find_journals(sheet)
    if not journals:
        raise ConfigError(
            f"{sheet}: no journal beside it; `bulk-loader run {sheet}` keeps one there"
        )
    journal = Journal.open_readonly(journals[0])
    try:
        meta = journal.meta()
        summary = ImportSummary(
            sheet=sheet,
            mode=meta.get("mode", ""),
            template=meta.get("template_path", ""),
            api_host=meta.get("api_host", ""),
            report=Report(),
            journal=journal.path,
            started=0.0,
        )
        results = default_results_path(sheet, results_path)
        _write_results(results, journal, summary, keys_only=keys_only)
    finally:
        journal.close()
    summary.report.rows_read = summary.statuses.total()
    summary.report.rows_invalid = summary.statuses["invalid"]
    return summary


def _write_results(
    results: Path,
    journal: Journal,
    summary: ImportSummary,
    *,
    failed_file: bool = True,
    keys_only: bool = False,
) -> None:
    """The results workbook and the failed-rows file, both rebuilt from the journal.

    With `keys_only` no file copies whole rows: the results keep the key columns, and
    there is no failed-rows file (it would be whole rows).
    """
    failed_file = failed_file and not keys_only
    failed = failed_rows_path(summary.sheet)
    if failed_file and _same(failed, results):
        raise InputError(f"--results {results} is where the failed rows go; name another file")
    if failed_file:
        failed.unlink(missing_ok=True)  # an earlier run's list no longer holds
    headers = journal.headers()
    keep = key_columns(headers, journal.key_headers()) if keys_only else None
    retry: ResultsWriter | None = None
    retry_rows = 1  # the failed-rows file's own row numbers: header, then 2, 3, ...
    with ExitStack() as files:
        out = files.enter_context(ResultsWriter(results, headers, attempts_column=True, keep=keep))
        for row in journal.rows():
            summary.statuses[row.status] += 1
            for code in [row.error_type] if row.error_type else {p.code for p in row.problems}:
                summary.errors[code] += 1
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
            if row.status in NEEDS_ATTENTION and failed_file:
                if retry is None:
                    retry = files.enter_context(
                        ResultsWriter(failed, headers, result_columns=False)
                    )
                    summary.failed = failed
                retry_rows += 1
                retry.add(retry_rows, row.cells, row.status)
        out.close(summary.as_rows())
    summary.results = results


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def failed_rows_path(sheet: Path) -> Path:
    """`<sheet>.failed.<ext>` beside the input, in the input's own format."""
    suffix = sheet.suffix.lower() if sheet.suffix.lower() in (".csv", ".xlsx") else ".csv"
    return sheet.with_name(f"{sheet.stem}.failed{suffix}")


@contextmanager
def bundled_sandbox(account: Path | None = None) -> Iterator[tuple[str, Credentials]]:
    """A sandbox with the sample account on 127.0.0.1, for this run only: (URL, credentials)."""
    from bulk_loader.sandbox import load_account, serve_in_thread

    loaded = load_account(account or SAMPLE_ACCOUNT)
    with serve_in_thread(loaded) as running:
        yield running.url, Credentials(loaded.app_id, loaded.api_key, loaded.api_password)


def _stamp(seconds: float) -> str:
    if not seconds:
        return ""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
