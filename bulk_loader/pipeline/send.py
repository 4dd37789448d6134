"""The sending phase: each valid row not yet settled, from the journal through the pool.

Counted, not listed: the rows stream from the journal a batch at a time as the pool
asks for them, each with what earlier runs left of it, so memory stays flat. Each
outcome goes back to the journal as it arrives.
"""

from __future__ import annotations

import time

from bulk_loader.journal.store import Journal, PendingLead
from bulk_loader.kartra.client import CallResult
from bulk_loader.outcomes import RowOutcome, RowStatus
from bulk_loader.pipeline.progress import Progress
from bulk_loader.results.summary import ImportSummary, last_run
from bulk_loader.sending.budget import SharedPace
from bulk_loader.sending.pool import Pending, send_all
from bulk_loader.sending.sender import EXISTS, SETTLE, RowSender
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
) -> None:
    """Send every row the journal has still to send or settle; count it all in `summary`."""
    pending, summary.reconciled = journal.count_to_send()
    total_valid = journal.count("rows.lead_key IS NOT NULL")
    summary.resumed = total_valid - pending
    earlier = last_run(journal.meta())
    progress.message(estimate(pending, rate, lookup, earlier.achieved, earlier.rate_limited))
    progress.start(pending)
    started = time.monotonic()
    rows = (Pending(_lead_row(lead), *_history(lead)) for lead in journal.to_send())
    # Kartra's clock, for settling lost answers: this run's creates teach it first,
    # earlier runs' creates (recorded with their send and answer times) meanwhile.
    sender.clock.remember(journal.witnesses(), time.time())
    for row, outcome in send_all(
        rows, sender, workers=workers, before_send=journal.mark_sending, idle=journal.flush
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
    sequence = payload.get("sequence")
    return LeadRow(
        lead.row,
        (),
        payload["lead"],
        tuple(payload["tags"]),
        tuple(payload["lists"]),
        lead.lead_key,
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
