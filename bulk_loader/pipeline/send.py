"""The sending phase: each valid row not yet settled, from the journal through the pool.

Counted, not listed: the rows stream from the journal a batch at a time as the pool
asks for them, each with what earlier runs left of it, so memory stays flat. Each
outcome goes back to the journal as it arrives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from itertools import islice
from typing import Any

from bulk_loader.errors import Interrupted
from bulk_loader.journal.store import Journal, PendingLead
from bulk_loader.kartra.client import CallResult
from bulk_loader.outcomes import RowOutcome, RowStatus
from bulk_loader.pipeline.accounts import RunPlan
from bulk_loader.pipeline.progress import Progress
from bulk_loader.results.summary import ImportSummary, last_run
from bulk_loader.sending.budget import SharedPace
from bulk_loader.sending.pool import Pending, send_all
from bulk_loader.sending.readback import TEST_MODE_DOMAIN, ReadBack, read_back
from bulk_loader.sending.sender import EXISTS, SETTLE, RowSender
from bulk_loader.sending.undo import merge_images
from bulk_loader.validation.validator import LeadRow

__all__ = ["PacedProgress", "send_rows"]


class PacedProgress:
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
        known = self._sender.known
        for why in (self._shared.alone if self._shared else "", known.failed if known else ""):
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


def send_rows(
    journal: Journal,
    sender: RowSender,
    summary: ImportSummary,
    progress: Progress,
    *,
    rate: float | None,
    workers: int,
    lookup: bool = False,
    verify: int = 0,
    confirm: Callable[[RunPlan], bool] | None = None,
) -> None:
    """Send every row the journal has still to send or settle; count it all in `summary`.

    `verify`: read back the first this many leads written before sending the rest (the
    canary, readback.py); a difference stops the run (exit 3). `confirm`: asked with the
    plan before the first row goes; False sends nothing (Interrupted)."""
    pending, summary.reconciled = journal.count_to_send()
    total_valid = journal.count("rows.lead_key IS NOT NULL")
    summary.resumed = total_valid - pending
    earlier = last_run(journal.meta())
    line = estimate(pending, rate, lookup, earlier.achieved, earlier.rate_limited)
    if not pending and not total_valid and not lookup:
        line = "nothing to send: no row is valid (the problems are listed below)"
    if sender.backup and pending:
        line += "; --backup reads each lead before its edit (one more call per edited row)"
    progress.message(line)
    if confirm is not None and pending and not lookup:
        plan = RunPlan(
            summary.account,
            summary.sheet,
            summary.mode,
            summary.report.rows_read,
            summary.report.rows_valid,
            pending,
        )
        if not confirm(plan):
            raise Interrupted("nothing sent: the run was not confirmed")
    progress.start(pending)
    started = time.monotonic()
    rows = (Pending(_lead_row(lead), *_history(lead)) for lead in journal.to_send())
    # Kartra's clock, for settling lost answers: this run's creates teach it first,
    # earlier runs' creates (recorded with their send and answer times) meanwhile.
    sender.clock.remember(journal.witnesses(), time.time())

    created = False

    def send(batch: Iterable[Pending]) -> list[tuple[LeadRow, RowOutcome]]:
        nonlocal created
        done = []
        for row, outcome in send_all(
            batch, sender, workers=workers, before_send=journal.mark_sending, idle=journal.flush
        ):
            if outcome.before:  # --backup: the lead before any run, what later rows add
                merged = merge_images(journal.before_image(row.key), outcome.before)
                outcome = replace(outcome, before=merged)
            journal.record(row.key, outcome)
            summary.sent += outcome.status != RowStatus.NOT_SENT
            summary.row_calls += outcome.calls
            progress.advance(outcome)
            done.append((row, outcome))
            summary.backups += bool(outcome.before)
            created = created or outcome.status == RowStatus.CREATED
        return done

    if verify and not lookup:
        # After a stop for Test Mode, one lead first: each made while it lasts is wrong.
        careful = bool(journal.meta().get(TEST_MODE_SEEN))
        _canary(rows, send, sender, summary, verify, first=1 if careful else verify)
        seen = summary.read_back
        if seen is not None and (seen.test_mode or (careful and seen.clean and seen.rows)):
            journal.set_meta(TEST_MODE_SEEN, "1" if seen.test_mode else "")
    if summary.read_back is None or summary.read_back.clean:
        send(rows)
    journal.flush()
    progress.close()
    summary.send_seconds = time.monotonic() - started
    summary.retries = sender.stats.retries
    summary.rate_limited = sender.stats.rate_limited
    summary.reconciliations = sender.stats.reconciliations
    if sender.fatal is not None:
        summary.fatal = _fatal_text(sender.fatal)
        summary.stopped_kind = f"kartra_error_{sender.fatal.kartra_type or 'unknown'}"
    elif summary.read_back is not None and not summary.read_back.clean:
        summary.fatal = _differences_text(summary.read_back)
        summary.stopped_kind = "test_mode" if summary.read_back.test_mode else "read_back"
    summary.report.notes += _read_back_notes(summary.read_back, created)
    summary.crash = sender.crash
    summary.interrupted = sender.stop.is_set() and not (summary.fatal or summary.crash)


def _canary(
    rows: Iterator[Pending],
    send: Callable[[Iterable[Pending]], list[tuple[LeadRow, RowOutcome]]],
    sender: RowSender,
    summary: ImportSummary,
    verify: int,
    first: int,
) -> None:
    """Send rows a few at a time (`first` of them, then up to `verify`) until `verify`
    leads were written and read back (or the rows run out, or the run stops); the rest
    is sent only if Kartra kept them as sent (readback.py)."""
    seen = summary.read_back = ReadBack()
    for _ in range(4):  # rows that fail are not read: a few more, a few times at most
        want = (first if seen.rows == 0 and seen.calls == 0 else verify) - seen.rows
        batch = list(islice(rows, want))
        if not batch or want <= 0 or sender.stop.is_set():
            break
        written = send(batch)
        read_back(written, sender.client, sender.lookup, sender.stop, seen)
        if not seen.clean:
            sender.stop.set()  # the rest of the rows: not sent
            break


# The journal's meta entry saying the last read-back met Test Mode (its next run sends
# one lead first, not a handful: each made while the App is in Test Mode is wrong).
TEST_MODE_SEEN = "test_mode_seen"


def _read_back_notes(seen: ReadBack | None, created: bool) -> list[str]:
    """The read-back's differences, one note each; and, once for a run that created
    leads, that Kartra gives them no GDPR consent (with what the read-back saw)."""
    notes = [f"read back: {difference.line()}" for difference in (seen.differences if seen else ())]
    if created:
        saw = ""
        if seen is not None and seen.consent:
            shown = "; ".join(
                f"gdpr_lead_status {key.split('/')[0]} and blacklisted {key.split('/')[1]}: "
                + ("row " if len(rows) == 1 else "rows ")
                + ", ".join(map(str, rows))
                for key, rows in sorted(seen.consent.items())
            )
            saw = f" (read back: {shown})"
        notes.append(
            "leads created through the API carry no GDPR consent in Kartra: on an account "
            "with GDPR on, they may get no email until they fill in a Kartra form" + saw
        )
    return notes


def _differences_text(seen: ReadBack) -> str:
    """Why the read-back stopped the run (its differences are listed one per line)."""
    if seen.test_mode:
        return (
            f"the App is in Test Mode: {seen.test_mode}. A new App stores every new lead "
            f"at @{TEST_MODE_DOMAIN} and sends no email until Kartra reviews it; ask "
            "Kartra to take the App live, then run again (the leads created so far "
            "carry @kartra.com addresses: fix or delete them in Kartra)"
        )
    return (
        f"the read-back found {len(seen.differences)} value(s) Kartra did not keep as "
        "sent (listed above); the rest of the rows was not sent. Fix the template or the "
        "account, then run again (--verify 0 skips this check)"
    )


def _history(lead: PendingLead) -> tuple[str, float]:
    """What an earlier run left of this lead, for RowSender.send: (history, since)."""
    if lead.unsettled:
        return SETTLE, lead.sent_at
    if lead.written:
        return EXISTS, lead.sent_at
    return "", 0.0


def _lead_row(lead: PendingLead) -> LeadRow:
    return lead_row(lead.row, lead.lead_key, lead.payload)


def lead_row(row: int, key: str, payload: dict[str, Any]) -> LeadRow:
    """The LeadRow a journal's payload (scan.py) stands for."""
    sequence = payload.get("sequence")
    return LeadRow(
        row,
        (),
        payload["lead"],
        tuple(payload["tags"]),
        tuple(payload["lists"]),
        key,
        remove_tags=tuple(payload.get("remove_tags", ())),
        remove_lists=tuple(payload.get("remove_lists", ())),
        points=int(payload.get("points", 0)),
        expiration_days=payload.get("expiration_days"),
        sequence=(str(sequence[0]), int(sequence[1])) if sequence else None,
    )


def _fatal_text(result: CallResult) -> str:
    return f"Kartra error {result.kartra_type}: {result.message}"


def estimate(
    rows: int,
    rate: float | None,
    lookup: bool = False,
    achieved: float = 0.0,
    rate_limited: int = 0,
) -> str:
    """The line that says how much there is to send and how long it will take; with
    what the last run of this journal achieved (calls/s, 429s), when it can tell, and
    the time at that pace when it was slower than the limit."""
    if not rows:
        if lookup:
            return "nothing to look up: no valid row"
        return "nothing to send: every valid row is done (see the journal)"
    line = f"{rows:,} rows to send, no rate limit"
    if rate:
        line = f"{rows:,} rows at {rate:g} calls/s: {_span(rows / rate)}"
    if achieved:
        line += f"; the last run achieved {achieved:.1f} calls/s ({rate_limited} answered 429)"
        if not rate or achieved < 0.9 * rate:
            line += f": {_span(rows / achieved)} at that pace"
    return line


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"
