"""The worker pool: a fixed number of threads sending rows, fed from the caller's thread.

Hand-written, not a `concurrent.futures.ThreadPoolExecutor`: an executor queues without
bound, so the window below would stay as it is, and it would bring what this pool must
not have: threads that the interpreter waits for at exit (a worker may still be in a
slow call after a halt), a shutdown that runs or waits for the rows already queued
unless told otherwise, and outcomes handed back as sets rather than as they arrive.
"""

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
    past = history or {}
    source = (_with_history(item, past) for item in rows)  # lazy: a batch at a time
    pool = _Workers(sender, workers)
    later: list[Pending] = []  # deferred rows (lost answers only), to settle at the end
    try:
        while True:
            # Refill only once half the window is free: fewer, larger batches, so the
            # journal commits its intents a handful of times per second, not per row.
            if not sender.stop.is_set() and pool.in_flight <= workers:
                batch = list(islice(source, 2 * workers - pool.in_flight))
                if batch:
                    if before_send is not None:
                        before_send([pending.row.key for pending in batch])
                    pool.put(batch, may_defer=True)
                elif pool.in_flight == 0 and later:
                    pool.put(later, may_defer=False)  # already `sending` in the journal
                    later = []
            if pool.in_flight == 0:
                break
            answer = pool.next_outcome(idle_every)
            if answer is None:
                if idle is not None:
                    idle()
                continue
            pending, outcome = answer
            if outcome.status == RowStatus.DEFERRED:
                later.append(Pending(pending.row, SETTLE, outcome.since))
                continue
            yield pending.row, outcome
        for pending in later:  # stopped before they were settled
            yield pending.row, _unsettled(pending.row)
        for pending in source:  # stopped: the rest were never sent
            yield pending.row, _not_sent(pending.row)
    finally:
        pool.close()


class _Workers:
    """Threads sending the rows put in, one at a time each; outcomes come out in the
    order they arrive. Daemon threads: a halted run never waits for a slow call."""

    def __init__(self, sender: RowSender, count: int) -> None:
        self.sender = sender
        self.in_flight = 0  # rows put in whose outcome has not come out yet
        self._todo: queue.Queue[tuple[Pending, bool] | None] = queue.Queue()
        self._done: queue.Queue[tuple[Pending, RowOutcome]] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._work, name=f"bulk-loader-worker-{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def put(self, rows: list[Pending], *, may_defer: bool) -> None:
        for pending in rows:
            self._todo.put((pending, may_defer))
        self.in_flight += len(rows)

    def next_outcome(self, timeout: float) -> tuple[Pending, RowOutcome] | None:
        """The next row's outcome; None when none came within `timeout` seconds."""
        try:
            answer = self._done.get(timeout=timeout)
        except queue.Empty:
            return None
        self.in_flight -= 1
        return answer

    def close(self) -> None:
        """Each thread ends once the rows already put in are done."""
        for _ in self._threads:
            self._todo.put(None)

    def _work(self) -> None:
        while (item := self._todo.get()) is not None:
            pending, may_defer = item
            self._done.put((pending, _send_one(self.sender, pending, may_defer)))


def _send_one(sender: RowSender, pending: Pending, may_defer: bool) -> RowOutcome:
    """The row's outcome; a row not started before the run stopped is not_sent."""
    row = pending.row
    if sender.stop.is_set():
        return _not_sent(row)
    try:
        since = pending.since or None
        return sender.send(row, history=pending.history, since=since, may_defer=may_defer)
    except Exception as exc:  # a bug: stop the run, never hang waiting for this row
        sender.crash = sender.crash or f"{type(exc).__name__}: {exc}"
        sender.halt.set()
        sender.stop.set()
        return RowOutcome(row.row, RowStatus.UNKNOWN, message=f"internal error: {exc}")


def _with_history(item: LeadRow | Pending, past: Mapping[int, tuple[str, float]]) -> Pending:
    if isinstance(item, Pending):
        return item
    return Pending(item, *past.get(item.row, ("", 0.0)))


def _not_sent(row: LeadRow) -> RowOutcome:
    return RowOutcome(row.row, RowStatus.NOT_SENT, message="not sent: the run was stopped")


def _unsettled(row: LeadRow) -> RowOutcome:
    message = "the run was stopped before this row was settled"
    return RowOutcome(row.row, RowStatus.UNKNOWN, message=message)
