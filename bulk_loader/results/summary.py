"""What a run did, and the files that show it: the summary, the results workbook and
the failed-rows file, rebuilt from the journal (by a run, or by `bulk-loader results`).
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bulk_loader.errors import ConfigError, InputError, Interrupted, KartraFatalError
from bulk_loader.journal.files import find_journals
from bulk_loader.journal.store import Journal
from bulk_loader.outcomes import ATTENTION, GOOD, WARNINGS, Report, RowStatus
from bulk_loader.results.files import default_results_path, failed_rows_path, same_file
from bulk_loader.results.workbook import ResultsWriter, key_columns

__all__ = ["ImportSummary", "rebuild_results", "write_run_files"]


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
    statuses: Counter[RowStatus] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)  # cells noted; rows still sent
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
    crash: str | None = None  # a bug stopped the sending (exit 70)
    interrupted: bool = False
    mode_lookup: bool = False  # a --dry-run --lookup: nothing was written
    journal_kept: bool = True  # False for a temporary journal (sandbox, --lookup)
    # Results rebuilt while a run holds the journal: its rows in flight are `sending`,
    # and running again would be refused. `run_pid`: that run's process id, if it said.
    run_in_progress: bool = False
    run_pid: str = ""

    @property
    def exit_code(self) -> int:
        if self.crash:
            return 70
        if self.fatal:
            return KartraFatalError.exit_code
        if self.interrupted:
            return Interrupted.exit_code
        good = sum(self.statuses[status] for status in GOOD)
        return 0 if good == sum(self.statuses.values()) else 1

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
            "pace at the end (calls/s)": round(self.final_rate, 2),
            "lost answers settled by search": self.reconciliations,
            "sending time (s)": round(self.send_seconds, 3),
            "achieved rate (calls/s)": round(self.row_calls / max(self.send_seconds, 1e-9), 2),
            "journal": str(self.journal) if self.journal_kept else "temporary (deleted)",
        }
        lines.update({f"status: {k}": v for k, v in sorted(self.statuses.items())})
        lines.update({f"error type: {k}": v for k, v in sorted(self.errors.items())})
        lines.update({f"warning: {k}": v for k, v in sorted(self.warnings.items())})
        if self.fatal:
            lines["stopped by"] = self.fatal
        lines.update({f"note {n}": note for n, note in enumerate(self.report.notes, start=1)})
        return lines


def rebuild_results(
    sheet: Path, results_path: Path | None = None, *, keys_only: bool = False
) -> ImportSummary:
    """The results workbook and failed-rows file of `sheet`, rebuilt from its journal.

    Works at any time, also while a run writes the journal from another process: the
    rows that run has in flight show as sending, those it has not reached as not_sent,
    and no failed-rows file is written (that run writes it when it ends; one written
    now would list rows it is about to send, and running that file would send them
    twice). A row a stopped run left in flight shows as unknown.
    """
    if not sheet.exists():
        raise ConfigError(f"{sheet}: no such file")
    journals = find_journals(sheet)
    if not journals:
        raise ConfigError(
            f"{sheet}: no journal beside it; `bulk-loader run {sheet}` keeps one there"
        )
    journal = Journal.open_readonly(journals[0])
    try:
        with journal.reading() as running:
            meta = journal.meta()
            summary = ImportSummary(
                sheet=sheet,
                mode=meta.get("mode", ""),
                template=meta.get("template_path", ""),
                api_host=meta.get("api_host", ""),
                report=Report(),
                journal=journal.path,
                started=0.0,
                run_in_progress=running is not None,
                run_pid=running or "",
            )
            results = default_results_path(sheet, results_path)
            # A keys-only run's journal holds no other cell: its results stay keys only.
            keys_only = keys_only or meta.get("results_columns") == "keys"
            write_run_files(
                results, journal, summary, failed_file=running is None, keys_only=keys_only
            )
    finally:
        journal.close()
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
    there is no failed-rows file (it would be whole rows).
    """
    if keys_only:  # a full-row file left by an earlier run would defeat the purpose
        failed_rows_path(summary.sheet).unlink(missing_ok=True)
    failed_file = failed_file and not keys_only
    failed = failed_rows_path(summary.sheet)
    if failed_file and same_file(failed, results):
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
            summary.statuses[RowStatus(row.status)] += 1
            for code in [row.error_type] if row.error_type else {p.code for p in row.problems}:
                (summary.warnings if code in WARNINGS else summary.errors)[code] += 1
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
            if row.status in ATTENTION and failed_file:
                if retry is None:
                    retry = files.enter_context(
                        ResultsWriter(failed, headers, result_columns=False)
                    )
                    summary.failed = failed
                retry_rows += 1
                retry.add(retry_rows, row.cells, row.status)
        out.close(summary.as_rows())
    summary.results = results


def _stamp(seconds: float) -> str:
    if not seconds:
        return ""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
