"""How the CLI shows things: progress on stderr, summaries on stdout, template problems.

The command functions in cli.py parse options and call the library; this module
renders what comes back. Like cli.py, and unlike the library, it may use click.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from bulk_loader.cli.common import shell_join
from bulk_loader.errors import TemplateError
from bulk_loader.outcomes import RowStatus, problem_text

if TYPE_CHECKING:
    from bulk_loader import CheckSummary, ImportSummary, Problem, RowOutcome
    from bulk_loader.outcomes import Report

__all__ = ["ImportProgress", "dry_run_progress", "print_import_summary", "print_summary",
           "template_errors"]  # fmt: skip


@contextmanager
def template_errors() -> Iterator[None]:
    """Every template problem on its own line, then exit 3: fix them all in one go."""
    try:
        yield
    except TemplateError as exc:
        if click.get_current_context().find_root().params.get("debug"):
            raise
        count = len(exc.problems)
        name = str(exc.path) if exc.path else "template"
        click.echo(f"error: {name}: {count} problem{'s' if count != 1 else ''}", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        if exc.hint:
            click.echo(f"  ({exc.hint})", err=True)
        raise SystemExit(exc.exit_code) from exc  # the cause, for --json


@contextmanager
def dry_run_progress() -> Iterator[Callable[[int], None]]:
    """A row counter on stderr; tqdm turns itself off when stderr is not a terminal."""
    from tqdm import tqdm

    with tqdm(unit=" rows", disable=None, leave=False, file=sys.stderr) as bar:
        yield bar.update


def notice(text: str) -> None:
    """A line for the person on stderr, above any progress bar."""
    from tqdm import tqdm

    tqdm.write(text, file=sys.stderr)


def print_summary(summary: CheckSummary) -> None:
    report = summary.report
    click.echo(f"Account:   {summary.account}")
    click.echo(f"Rows read: {report.rows_read}")
    click.echo(f"Valid:     {report.rows_valid}")
    click.echo(f"Invalid:   {report.rows_invalid}")
    _print_top("Top problems:", _report_lines(report, report.top(10)))
    warned = report.top(10, warnings=True)
    _print_top("Warnings (sent as written):", _report_lines(report, warned))
    _print_notes(report.notes)
    click.echo(f"Results:   {summary.results_path}")


# A code with its count, first rows, whether there are more, and an example ("row 9: ...").
TopLine = tuple[str, int, list[int], bool, str]


def _report_lines(report: Report, top: list[tuple[str, int, list[int], Problem]]) -> list[TopLine]:
    """A dry run's Report.top as _print_top shows it (a run's ImportSummary.top already is)."""
    return [
        (code, count, rows, len(rows) >= report.keep_rows and count > len(rows),
         f"row {example.row}: {problem_text(example)}")
        for code, count, rows, example in top
    ]  # fmt: skip


def _print_top(title: str, top: list[TopLine]) -> None:
    """The most frequent codes, each with its first rows and an example: the dry run's
    problems, and a run's (Kartra's error types among them)."""
    if not top:
        return
    click.echo(title)
    width = max(len(code) for code, *_ in top)
    for code, count, rows, more, example in top:
        where = ", ".join(map(str, rows)) + (", ..." if more else "")
        label = "row" if len(rows) == 1 else "rows"
        click.echo(f"  {code:<{width}}  {count:>6}  {label} {where}")
        click.echo(f"  {'':<{width}}          e.g. {example}")


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        click.echo(f"Note:      {note}")


class ImportProgress:
    """The import's progress on stderr: messages, then a tqdm bar (off when not a terminal).

    Off a terminal (cron, CI, a log file) there is no bar; a heartbeat line says how far
    the run is every `every_seconds` (30) and every `every_rows` rows (1,000) instead, so
    a 42-minute run is never 42 minutes of silence.
    """

    def __init__(
        self,
        *,
        heartbeat: bool | None = None,
        every_seconds: float = 30.0,
        every_rows: int = 1000,
    ) -> None:
        self._bar: Any = None
        self._counts: Counter[str] = Counter()
        self._calls = 0  # row calls so far, retries included
        self._started = 0.0
        self._pace = ""
        self._total = 0
        self._done = 0
        self._heartbeat = not _stderr_is_terminal() if heartbeat is None else heartbeat
        self._every_seconds = every_seconds
        self._every_rows = every_rows
        self._lock = threading.Lock()
        self._ended = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> ImportProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def message(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            click.echo(text, err=True)

    def start(self, total: int) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=total, unit=" rows", disable=None, file=sys.stderr, dynamic_ncols=True
        )
        self._started = time.monotonic()
        self._total = total
        if self._heartbeat and total:
            self._ticker = threading.Thread(target=self._tick, name="heartbeat", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._ended.wait(self._every_seconds):
            self.beat()

    def beat(self) -> None:
        """One heartbeat line on stderr: rows done of the total, outcomes, pace, time."""
        with self._lock:
            seconds = time.monotonic() - self._started
            done, total = self._done, self._total
            share = f" ({100 * done // total}%)" if total else ""
            counts = progress_counts(self._counts, self._calls, seconds) + self._pace
        minutes, secs = divmod(int(seconds), 60)
        click.echo(
            f"progress: {done}/{total} rows{share}; {counts}; {minutes}:{secs:02d} elapsed",
            err=True,
        )

    def advance(self, outcome: RowOutcome) -> None:
        with self._lock:
            self._counts[outcome.status] += 1
            self._calls += outcome.calls
            self._done += 1
            done = self._done
        if self._heartbeat and done % self._every_rows == 0 and done < self._total:
            self.beat()
        if self._bar is None:
            return
        self._bar.update(1)
        # The counts cost ~7 us to draw: every row on small runs, every 50th on big ones.
        every = 1 if (self._bar.total or 0) <= 2000 else 50
        if self._bar.n % every == 0 or self._bar.n == self._bar.total:
            seconds = time.monotonic() - self._started
            self._bar.set_postfix_str(
                progress_counts(self._counts, self._calls, seconds) + self._pace, refresh=False
            )

    def pace(self, rate: float, rate_limited: int) -> None:
        """The App's pace now and the 429s so far, shown with the counts."""
        self._pace = progress_pace(rate, rate_limited)

    def close(self) -> None:
        self._ended.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (ValueError, AttributeError):  # closed, or replaced by something without it
        return False


def progress_counts(counts: Counter[str], calls: int, seconds: float) -> str:
    """The progress line's counts, and the calls per second achieved so far (once a
    second has passed: the first calls go at once)."""
    failed = counts["failed"] + counts["partial"] + counts["unknown"]
    line = f"created {counts['created']}, updated {counts['updated']}, failed {failed}"
    if seconds >= 1:
        line += f"; {calls / seconds:.1f} calls/s achieved"
    return line


def progress_pace(rate: float, rate_limited: int) -> str:
    """The progress line's pace: the App's pace now (the limiter's), and the 429s."""
    pace = f"pace {rate:.1f} calls/s" if rate else "no limit"
    return f"; {pace}, {rate_limited} answered 429"


# The outcomes in the order a person reads them.
SHOWN_STATUSES = (
    RowStatus.CREATED,
    RowStatus.UPDATED,
    RowStatus.WOULD_CREATE,
    RowStatus.WOULD_UPDATE,
    RowStatus.WOULD_FAIL,
    RowStatus.PARTIAL,
    RowStatus.FAILED,
    RowStatus.UNKNOWN,
    RowStatus.SENDING,
    RowStatus.NOT_SENT,
)


def print_import_summary(summary: ImportSummary) -> None:
    """What happened, in the order a person checks it: rows, outcomes, files."""
    report = summary.report
    if summary.account:
        click.echo(f"Account:   {summary.account}")
    click.echo(f"Rows read: {report.rows_read}")
    click.echo(f"Valid:     {report.rows_valid}")
    click.echo(f"Invalid:   {report.rows_invalid}")
    for status in SHOWN_STATUSES:
        if summary.statuses[status]:
            label = status.replace("_", " ").capitalize() + ":"
            click.echo(f"{label:<10} {summary.statuses[status]}")
    _print_sending(summary)
    _print_files(summary)


def _print_sending(summary: ImportSummary) -> None:
    """Resumed rows, calls made, the pace and the problems met."""
    if summary.resumed or summary.reconciled:
        click.echo(
            f"Resumed:   {summary.resumed} rows done by an earlier run; "
            f"{summary.reconciled} settled by search first"
        )
    if summary.calls:
        # A rate over less than a second says nothing (the first calls go at once).
        rate = (
            f", {summary.sent / summary.send_seconds:.1f} rows/s"
            if (summary.send_seconds >= 1)
            else ""
        )
        verb = "Looked up:" if summary.mode_lookup else "Sent:     "
        done = "rows (read-only)" if summary.mode_lookup else "rows this run"
        click.echo(
            f"{verb} {summary.sent} {done}{rate}; {summary.calls} calls to {summary.api_host}"
        )
    if summary.limit:
        click.echo(
            f"Pace:      {summary.final_rate:.1f} calls/s at the end (limit {summary.limit:g}); "
            f"{summary.rate_limited} calls answered 429 (sent again)"
            + (
                f"; shared the App with {summary.shared_with} other run(s)"
                if summary.shared_with
                else ""
            )
        )
    elif summary.calls:  # --rate 0: Kartra's own limit still answers 429, say how often
        click.echo(
            f"Pace:      no limit (--rate 0); {summary.rate_limited} calls answered 429 "
            "(sent again)"
        )
    if summary.backups:
        click.echo(
            f"Backup:    {summary.backups} leads read before their edit "
            f"(`{shell_join(['bulk-loader', 'undo', str(summary.sheet)])}` puts them back)"
        )
    seen = summary.read_back
    if seen is not None and seen.rows:
        verdict = "as sent" if seen.clean else "NOT as sent (see the notes)"
        leads = f"{seen.rows} lead" + ("s" if seen.rows != 1 else "")
        calls = f"{seen.calls} call" + ("s" if seen.calls != 1 else "")
        click.echo(f"Read back: {leads}, {verdict}; {calls} (--verify)")


def _print_files(summary: ImportSummary) -> None:
    """The problems, the notes, the files to open next, and how the run ended."""
    _print_top("Top problems:", summary.top(10))
    _print_top("Warnings (sent as written):", summary.top(10, warnings=True))
    _print_notes(summary.report.notes)
    click.echo(f"Results:   {summary.results}")
    if summary.kept_note:  # an edited failed-rows file: left as it is
        click.echo(f"Note:      {summary.kept_note}")
    if summary.failed and not summary.interrupted:  # stopped: the resume line says what to do
        click.echo(f"To fix or retry: {summary.failed} ({summary.retry_hint})")
    if summary.run_in_progress:  # running again now would be refused: no such advice
        pid = f" (pid {summary.run_pid})" if summary.run_pid else ""
        click.echo(
            f"Note:      a run is sending this sheet now{pid}: "
            f"{summary.statuses[RowStatus.SENDING]} rows in flight show as sending; "
            "run `bulk-loader results` again when it ends"
        )
    elif summary.statuses[RowStatus.UNKNOWN] and summary.journal_kept:
        unknown = summary.statuses[RowStatus.UNKNOWN]
        click.echo(
            f"Note:      {unknown} rows are unknown (an answer was lost): "
            "run the same command again first; it asks Kartra before sending anything"
        )
    if summary.journal_kept:
        click.echo(f"Journal:   {summary.journal}")
        sheet = shell_join([str(summary.sheet)])
        click.echo(f"           (kept until `bulk-loader forget {sheet}` deletes it)")
    if summary.fatal:
        click.echo(f"error: stopped: {summary.fatal}", err=True)
    if summary.crash:
        click.echo(
            f"internal error: {summary.crash} (a bug in bulk-loader; the journal keeps what "
            "was done, and running the same command again settles the rest)",
            err=True,
        )
