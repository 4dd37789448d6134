"""The worker pool: a fixed number of threads sending rows, fed from the caller's thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import NamedTuple

from bulk_loader.outcomes import RowOutcome, RowStatus
from bulk_loader.sending.sender import SETTLE, RowSender
from bulk_loader.validation.validator import LeadRow

__all__ = ["Pending", "send_all"]


class Pending(NamedTuple):
    """A row to send with what an earlier run left of it (see RowSender.send)."""

    row: LeadRow
    history: str = ""  # SETTLE, EXISTS, or "" for a row no earlier run touched
    since: float = 0.0  # when an earlier run marked it as being sent (0: never)


def send_all(
    rows: Iterable[LeadRow | Pending],
    sender: RowSender,
    *,
    workers: int,
    before_send: Callable[[list[str]], None] | None = None,
    history: Mapping[int, tuple[str, float]] | None = None,
    idle: Callable[[], None] | None = None,
    idle_every: float = 0.5,
) -> Iterator[tuple[LeadRow, RowOutcome]]:
    """Send `rows` with a fixed pool of `workers` threads; yield outcomes as they arrive.

    The caller's thread feeds the pool and consumes outcomes, so the journal is only
    ever touched from that thread: `rows` is read there, and `before_send(keys)` runs
    there for each batch just before it is queued (the journal commits the intent). At
    most 2 x `workers` rows are queued or in flight, so rows are read no faster than
    they are sent and the pool holds no more than that (plus the deferred rows), however
    many `rows` yields. A `Pending` row carries what an earlier run left of it; a bare
    LeadRow has none, unless its number is in `history` (for a caller with a few rows).
    Once `sender.stop` is set, rows not yet started come back as not_sent.

    A row the sender defers (a lead found after a lost answer, before this run knows
    Kartra's clock well enough to tell whose it is) is sent again, to be settled, once
    every other row is done; then it is settled or `unknown`. `idle()` runs on the
    caller's thread whenever no outcome came for `idle_every` seconds (the journal
    commits what it holds, so a slow call never holds back outcomes already in).
    """
    window = 2 * workers
    past = history or {}
    todo: queue.Queue[tuple[Pending, bool] | None] = queue.Queue()
    done: queue.Queue[tuple[Pending, RowOutcome]] = queue.Queue()

    def work() -> None:
        while (item := todo.get()) is not None:
            pending, may_defer = item
            row = pending.row
            if sender.stop.is_set():
                done.put((pending, _not_sent(row)))
                continue
            try:
                outcome = sender.send(
                    row,
                    history=pending.history,
                    since=pending.since or None,
                    may_defer=may_defer,
                )
            except Exception as exc:  # a bug: stop the run, never hang waiting for this row
                sender.crash = sender.crash or f"{type(exc).__name__}: {exc}"
                sender.halt.set()
                sender.stop.set()
                outcome = RowOutcome(row.row, RowStatus.UNKNOWN, message=f"internal error: {exc}")
            done.put((pending, outcome))

    def with_history(item: LeadRow | Pending) -> Pending:
        if isinstance(item, Pending):
            return item
        return Pending(item, *past.get(item.row, ("", 0.0)))

    threads = [
        threading.Thread(target=work, name=f"bulk-loader-worker-{n}", daemon=True)
        for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    source = map(with_history, rows)  # lazy: pulled a batch at a time below
    later: list[Pending] = []  # deferred rows (lost answers only), to settle at the end
    in_flight = 0
    try:
        while True:
            # Refill only once half the window is free: fewer, larger batches, so the
            # journal commits its intents a handful of times per second, not per row.
            if not sender.stop.is_set() and in_flight <= workers:
                batch = list(islice(source, window - in_flight))
                if batch:
                    if before_send is not None:
                        before_send([pending.row.key for pending in batch])
                    for pending in batch:
                        todo.put((pending, True))
                    in_flight += len(batch)
                elif in_flight == 0 and later:
                    for pending in later:  # already `sending` in the journal
                        todo.put((pending, False))
                    in_flight, later = len(later), []
            if in_flight == 0:
                break
            try:
                pending, outcome = done.get(timeout=idle_every)
            except queue.Empty:
                if idle is not None:
                    idle()
                continue
            in_flight -= 1
            if outcome.status == RowStatus.DEFERRED:
                later.append(Pending(pending.row, SETTLE, outcome.since))
                continue
            yield pending.row, outcome
        for pending in later:  # stopped before they were settled
            yield pending.row, _unsettled(pending.row)
        for pending in source:  # stopped: the rest were never sent
            yield pending.row, _not_sent(pending.row)
    finally:
        for _ in threads:
            todo.put(None)


def _not_sent(row: LeadRow) -> RowOutcome:
    return RowOutcome(row.row, RowStatus.NOT_SENT, message="not sent: the run was stopped")


def _unsettled(row: LeadRow) -> RowOutcome:
    message = "the run was stopped before this row was settled"
    return RowOutcome(row.row, RowStatus.UNKNOWN, message=message)
