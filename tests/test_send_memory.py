"""Flat memory while sending (issue 10, item 3): what is held is bounded by work, not rows.

The send phase streams its rows from the journal a batch at a time (keyset pagination,
one query per batch), each row with its own history, and the pool pulls no more than
its window ahead of the outcomes. These tests count rows, never seconds or bytes:
bench/bench_send_memory.py measures the RSS.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulk_loader.journal import store as journal_module
from bulk_loader.journal.store import Journal
from bulk_loader.kartra.client import Credentials, KartraClient
from bulk_loader.outcomes import RowOutcome
from bulk_loader.pipeline.importer import ImportOptions, run_import
from bulk_loader.sandbox import serve_in_thread
from bulk_loader.sending.pacing import RateLimiter, RetryPolicy
from bulk_loader.sending.pool import Pending, send_all
from bulk_loader.sending.sender import EXISTS, SETTLE, RowSender
from bulk_loader.validation.validator import LeadRow

ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")


def lead_row(n: int) -> LeadRow:
    return LeadRow(n, (), {"email": f"u{n}@example.com"}, (), (), f"u{n}@example.com")


class CountingDb:
    """A journal's connection, noting how many rows each `to_send` query handed over."""

    def __init__(self, db: sqlite3.Connection, log: list[tuple[str, int]]) -> None:
        self._db = db
        self.log = log

    def execute(self, sql: str, *args: Any) -> Any:
        cursor = self._db.execute(sql, *args)
        if "leads.payload" in sql and "leads.final = 0" in sql:  # to_send's query
            return CountingCursor(cursor, self.log)
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


class CountingCursor:
    def __init__(self, cursor: sqlite3.Cursor, log: list[tuple[str, int]]) -> None:
        self._cursor = cursor
        self._entry = len(log)
        self.log = log
        log.append(("select", 0))

    def _note(self, rows: list[Any]) -> list[Any]:
        kind, count = self.log[self._entry]
        self.log[self._entry] = (kind, count + len(rows))
        return rows

    def fetchall(self) -> list[Any]:
        return self._note(self._cursor.fetchall())

    def fetchmany(self, size: int = 1) -> list[Any]:
        return self._note(self._cursor.fetchmany(size))

    def fetchone(self) -> Any:
        row = self._cursor.fetchone()
        self._note([] if row is None else [row])
        return row

    def __iter__(self) -> Iterator[Any]:
        while (row := self.fetchone()) is not None:
            yield row


def selects(log: list[tuple[str, int]]) -> list[int]:
    return [count for kind, count in log if kind == "select"]


# -- the pool ----------------------------------------------------------------------


def test_the_pool_pulls_at_most_its_window_ahead_and_each_row_brings_its_history() -> None:
    """However long the source, the pool holds at most 2 x workers rows not yet answered
    (plus the deferred ones), and each row's history comes with it, not from a map of
    every pending row; a deferred row is sent again with the history it was deferred with.
    """
    workers, deferred_row, deferred_since = 3, 50, 1234.5
    pulled = answered = 0
    held: list[int] = []  # rows pulled and not yet answered, at each pull
    kinds = {0: "", 1: SETTLE, 2: EXISTS}
    expected = {n: (kinds[n % 3], float(n) if kinds[n % 3] else None, True) for n in range(2, 402)}

    def source() -> Iterator[Pending]:
        nonlocal pulled
        for n in range(2, 402):
            pulled += 1
            held.append(pulled - answered)
            yield Pending(lead_row(n), kinds[n % 3], float(n) if kinds[n % 3] else 0.0)

    seen: dict[int, list[tuple[str, float | None, bool]]] = {}

    class Recording(RowSender):
        def send(
            self,
            row: LeadRow,
            *,
            history: str = "",
            since: float | None = None,
            may_defer: bool = False,
        ) -> RowOutcome:
            seen.setdefault(row.row, []).append((history, since, may_defer))
            if row.row == deferred_row and may_defer:
                return RowOutcome(row.row, "deferred", since=deferred_since)
            return RowOutcome(row.row, "created")

    sender = Recording(None, RateLimiter(None), mode="create")  # type: ignore[arg-type]
    for _row, _outcome in send_all(source(), sender, workers=workers):
        answered += 1
    assert answered == 400
    assert max(held) <= 2 * workers + 1  # the window, and the one deferred row
    first = {row: calls[0] for row, calls in seen.items()}
    assert first == expected
    assert seen[deferred_row][1] == (SETTLE, deferred_since, False)


def test_a_bare_lead_row_still_takes_its_history_from_the_mapping() -> None:
    """Callers with a few rows may still pass LeadRows and a `history` mapping."""
    seen: dict[int, tuple[str, float | None]] = {}

    class Recording(RowSender):
        def send(self, row: LeadRow, **kw: Any) -> RowOutcome:
            seen[row.row] = (kw["history"], kw["since"])
            return RowOutcome(row.row, "created")

    sender = Recording(None, RateLimiter(None), mode="create")  # type: ignore[arg-type]
    rows = [lead_row(2), lead_row(3)]
    list(send_all(rows, sender, workers=1, history={3: (SETTLE, 9.0)}))
    assert seen == {2: ("", None), 3: (SETTLE, 9.0)}


# -- the journal -----------------------------------------------------------------------


def scanned_journal(path: Path, count: int) -> Journal:
    journal = Journal.open(path, {"sheet": "s.csv"})
    journal.begin_scan(["email"])
    journal.add_rows(
        (n, [f"u{n}@example.com"], [], f"u{n}@example.com") for n in range(2, 2 + count)
    )
    journal.add_leads(
        (f"u{n}@example.com", {"lead": {}, "tags": [], "lists": []}) for n in range(2, 2 + count)
    )
    journal.finish_scan()
    return journal


def test_to_send_reads_the_journal_one_batch_per_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No query hands over more than a batch, and the next one runs only when needed;
    outcomes recorded (and committed) meanwhile neither repeat nor skip a row."""
    monkeypatch.setattr(journal_module, "TO_SEND_BATCH", 7, raising=False)
    journal = scanned_journal(tmp_path / "j.sqlite", 50)
    log: list[tuple[str, int]] = []
    journal._db = CountingDb(journal._db, log)  # type: ignore[assignment]
    try:
        leads = journal.to_send()
        first = [next(leads) for _ in range(7)]
        assert selects(log) == [7]  # the first batch only, not the sheet
        got = [lead.row for lead in first]
        outcomes = ["created", "failed", "not_sent", "partial"]
        for n, lead in enumerate([*first, *leads]):
            if n >= 7:
                got.append(lead.row)
            journal.mark_sending([lead.lead_key])  # commits, between two batch queries
            status = outcomes[n % 4]
            journal.record(lead.lead_key, RowOutcome(lead.row, status, retryable=n % 8 == 1))
        journal.flush()
        assert got == list(range(2, 52))  # each row once, in sheet order
        assert max(selects(log)) <= 7 and len(selects(log)) == 8  # 50 rows, 7 a query
        # Left to send: not_sent (every 4th) and failed-but-retryable (every 8th from 1).
        assert journal.count_to_send() == (12 + 7, 0)
    finally:
        journal.close()


def test_pending_and_unsettled_rows_are_counted_by_the_journal(tmp_path: Path) -> None:
    """The summary's counts come from COUNT queries, not from a list of the rows."""
    journal = scanned_journal(tmp_path / "j.sqlite", 10)
    try:
        journal.mark_sending(["u2@example.com", "u3@example.com", "u4@example.com"])
        journal.record("u4@example.com", RowOutcome(4, "created"))
        journal.record("u5@example.com", RowOutcome(5, "created"))
        journal.flush()
        assert journal.count_to_send() == (8, 2)
        assert [lead.row for lead in journal.to_send()] == [2, 3, 6, 7, 8, 9, 10, 11]
    finally:
        journal.close()


# -- a whole send phase --------------------------------------------------------------------


@pytest.fixture
def client() -> Iterator[KartraClient]:
    with (
        serve_in_thread(ROOT / "samples" / "account.toml", rate=None) as running,
        KartraClient(CREDENTIALS, api_url=running.url, timeout=5) as kartra,
    ):
        yield kartra


def test_the_send_phase_streams_rows_from_the_journal_as_it_sends(
    tmp_path: Path, client: KartraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real import reads its pending rows a batch per query, interleaved with the
    intents it commits: the pending list is never built."""
    monkeypatch.setattr(journal_module, "TO_SEND_BATCH", 10, raising=False)
    log: list[tuple[str, int]] = []
    opened = Journal.open.__func__  # type: ignore[attr-defined]

    def counting_open(cls: type[Journal], *args: Any, **kwargs: Any) -> Journal:
        journal: Journal = opened(cls, *args, **kwargs)
        journal._db = CountingDb(journal._db, log)  # type: ignore[assignment]
        return journal

    marked = Journal.mark_sending

    def logging_mark(self: Journal, keys: list[str]) -> None:
        log.append(("mark", len(keys)))
        marked(self, keys)

    monkeypatch.setattr(Journal, "open", classmethod(counting_open))
    monkeypatch.setattr(Journal, "mark_sending", logging_mark)
    sheet = tmp_path / "s.csv"
    with sheet.open("w", newline="") as out:
        csv.writer(out).writerows(
            [("email", "first_name"), *((f"s{n}@x.co", "S") for n in range(120))]
        )
    options = ImportOptions(
        sheet=sheet, mode="create", rate=None, workers=2, policy=RetryPolicy.instant()
    )
    summary = run_import(options, client)
    assert summary.statuses["created"] == 120 and summary.sent == 120
    assert max(selects(log)) <= 10 and sum(selects(log)) == 120
    kinds = [kind for kind, _ in log]
    assert kinds.index("mark") < kinds.index("select", 1)  # sending began after one batch
