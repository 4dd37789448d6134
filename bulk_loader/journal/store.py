"""The run journal: what each row asked of Kartra and what came of it, crash-safe.

One SQLite file (WAL) per input sheet, template and Kartra account. It holds:

- `rows`: the sheet as last read, every row in order (cells, problems, the lead it
  addresses), so results can be rebuilt at any time, even from another process;
- `leads`: per lead key (email or id), the payload's digest and its state.

The intent (`sending`) is committed, durably (fsync: a power loss too), before a row's
first call goes out, and the outcome after it comes back, so a crash leaves at most the
rows in flight in `sending`: a resumed run settles those first (search_lead for creates)
instead of sending blindly. Rows are identified by their lead key, not their row
number, so inserting or deleting rows in the sheet between runs does not resend anything.

A run's scan of the sheet is one transaction: a scan that fails or is stopped leaves
the journal exactly as it was. Where the files live, the run's lock and the tables
themselves: journal.files.

A reader in another process (`bulk-loader results`) reads one consistent view of it
(`reading`), and sees the rows a run still going has in flight as `sending`; once no
run holds the journal, such a row was left by a run that stopped, and is `unknown`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulk_loader.errors import ConfigError
from bulk_loader.journal.files import (
    open_database,
    open_database_readonly,
    release_run_lock,
    run_holder,
    take_run_lock,
)
from bulk_loader.outcomes import Problem, RowOutcome, RowStatus, Witness, blocking

__all__ = ["FINAL_STATES", "Journal", "JournalRow", "PendingLead", "WrittenLead"]

# A row in one of these states is settled: a resumed run does not send it again
# (unless it failed for a passing reason: RowOutcome.retryable).
FINAL_STATES = frozenset(
    {RowStatus.CREATED, RowStatus.UPDATED, RowStatus.PARTIAL, RowStatus.FAILED}
)
# The row's call may have reached Kartra: a resumed run settles it before sending.
UNSETTLED_STATES = frozenset({RowStatus.SENDING, RowStatus.UNKNOWN})
COMMIT_EVERY = 0.5  # seconds between outcome commits; a crash loses at most this much
TO_SEND_BATCH = 500  # leads read per query while sending: what the send phase holds


@dataclass(frozen=True, slots=True)
class WrittenLead:
    """A lead a run created or edited: what it sent, and (--backup) what it was before."""

    lead_key: str
    row: int
    payload: dict[str, Any]
    state: str
    lead_id: str
    before: str  # JSON before-image, "" without --backup
    undone: str  # what `undo` did: "" (nothing yet), restored, kept, failed, unknown


@dataclass(frozen=True, slots=True)
class PendingLead:
    """A lead still to send (`state` pending/not_sent) or to settle (sending/unknown)."""

    lead_key: str
    row: int
    payload: dict[str, Any]
    state: str
    written: bool  # an earlier run wrote this lead; the row has changed since
    sent_at: float  # when an earlier run marked it as being sent (0: never)

    @property
    def unsettled(self) -> bool:
        return self.state in UNSETTLED_STATES


@dataclass(frozen=True, slots=True)
class JournalRow:
    """One sheet row with what is known of it, in the results workbook's terms."""

    row: int
    cells: list[str]
    problems: list[Problem]
    status: str
    lead_id: str
    error_type: str
    message: str
    attempts: int
    # Failed for a passing reason (a server error, a rate limit: the server did not act,
    # or a fatal answer stopped the run): the next run sends it again.
    retried_later: bool = False


class Journal:
    """A run's journal; single-threaded (the runner's main thread owns it)."""

    def __init__(self, path: Path, connection: sqlite3.Connection, lock: int | None = None) -> None:
        self.path = path
        self._db = connection
        self._lock = lock  # an fd holding the run's exclusive lock (None: read-only)
        self._last_commit = time.monotonic()
        self._identity: dict[str, str] = {}
        self._closed = False
        self._run_going = False  # `reading`: a run holds this journal now
        self.run = 0

    @classmethod
    def open(cls, path: Path, identity: Mapping[str, str], *, restart: bool = False) -> Journal:
        """Open or create the journal at `path`, readable by its owner only.

        One run at a time: two runs on one journal would both send every row. The lock
        is taken before --restart deletes anything.
        """
        lock = take_run_lock(path)
        try:
            db = open_database(path, restart=restart)
        except (OSError, sqlite3.Error) as exc:
            release_run_lock(path, lock)
            raise ConfigError(f"{path}: cannot open the journal: {exc}") from exc
        journal = cls(path, db, lock)
        journal._identity = dict(identity)
        meta = journal.meta()
        journal.run = int(meta.get("runs", "0")) + 1
        return journal

    @classmethod
    def open_readonly(cls, path: Path) -> Journal:
        """Open a journal to read, also while a run writes it from another process."""
        try:
            db = open_database_readonly(path)
        except sqlite3.Error as exc:
            raise ConfigError(f"{path}: cannot read the journal: {exc}") from exc
        return cls(path, db)

    @contextmanager
    def reading(self) -> Iterator[str | None]:
        """One consistent view of a journal a run may be writing from another process,
        and whether a run holds it: that run's process id ('' if it did not say), or None.

        Inside, `rows` shows the rows that run has in flight as `sending`. The view is
        taken first, the lock asked after: a row `sending` in the view is either that
        run's, in flight, or one it will settle before sending anything; and when no
        run holds the journal once the view is taken, a `sending` row in it was left
        by a run that stopped (`unknown`: the next run settles it).
        """
        self.flush()
        self._db.execute("BEGIN")
        try:
            self._db.execute("SELECT count(*) FROM leads").fetchone()  # the view starts
            holder = run_holder(self.path)
            self._run_going = holder is not None
            yield holder
        finally:
            self._run_going = False
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")  # nothing was written: the view ends

    @property
    def resumed(self) -> bool:
        """True when an earlier run left outcomes in this journal."""
        return self.run > 1

    # -- the scan: the sheet as read by this run -------------------------------------

    def begin_scan(self, headers: Sequence[str], key_headers: Sequence[str] = ()) -> None:
        """Start recording the sheet as this run reads it, replacing the last run's copy.

        One transaction until `finish_scan` (or `abort_scan`), this run's number and
        identity included. `key_headers`: the headers that identify a lead (for key-only
        results).
        """
        self.flush()
        self._db.execute("BEGIN")
        self._db.execute("DELETE FROM rows")
        meta = {
            **self._identity,
            "runs": str(self.run),
            "headers": json.dumps(list(headers)),
            "key_headers": json.dumps(list(key_headers)),
        }
        self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())

    def headers(self) -> list[str]:
        return self._meta_list("headers")

    def key_headers(self) -> list[str]:
        return self._meta_list("key_headers")

    def _meta_list(self, name: str) -> list[str]:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return list(json.loads(row[0])) if row else []

    def invalidate(self, problems: Mapping[int, Sequence[Problem]]) -> int:
        """Rows found invalid after they were recorded (a clash with a later row).

        Their problems join any they had; returns how many of them were invalid already.
        """
        already = 0
        for row, found in problems.items():
            (before,) = self._db.execute(
                "SELECT problems FROM rows WHERE row = ?", (row,)
            ).fetchone()
            earlier = _load_problems(row, before)
            already += bool(blocking(earlier))  # a row with warnings only was valid
            merged = earlier + list(found)
            self._db.execute(
                "UPDATE rows SET problems = ?, lead_key = NULL WHERE row = ?",
                (_dump_problems(merged), row),
            )
        return already

    def add_rows(
        self, rows: Iterable[tuple[int, Sequence[str], Sequence[Problem], str | None]]
    ) -> None:
        """Record sheet rows: (row, cells, problems, lead key of a valid row)."""
        self._db.executemany(
            "INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?)",
            (
                (row, json.dumps(list(cells)), _dump_problems(problems), key)
                for row, cells, problems, key in rows
            ),
        )

    def add_leads(self, leads: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Record what each valid row asks; a changed payload is sent again.

        The payload is stored again even when unchanged: a journal kept to keys only
        (`forget_values`) gets it back from the sheet for as long as this run needs it.
        """
        for key, payload in leads:
            text = json.dumps(payload, sort_keys=True)
            digest = hashlib.sha256(text.encode()).hexdigest()[:20]
            self._db.execute(
                "INSERT INTO leads (lead_key, digest, payload, state) VALUES (?, ?, ?, 'pending')"
                " ON CONFLICT (lead_key) DO UPDATE SET payload = excluded.payload,"
                " digest = excluded.digest,"
                " final = CASE WHEN leads.digest = excluded.digest THEN leads.final ELSE 0 END,"
                " state = CASE WHEN leads.digest = excluded.digest THEN leads.state"
                "   WHEN leads.state IN ('sending', 'unknown') THEN leads.state"
                "   ELSE 'pending' END,"
                " written = leads.written OR (leads.digest != excluded.digest"
                "   AND leads.state IN ('created', 'updated', 'partial'))",
                (key, digest, text),
            )

    def finish_scan(self) -> None:
        self._db.execute("COMMIT")
        self._last_commit = time.monotonic()

    def abort_scan(self) -> None:
        """The scan failed or was stopped: the journal stays exactly as it was."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    # -- sending ---------------------------------------------------------------------

    def to_send(self, batch: int | None = None) -> Iterator[PendingLead]:
        """Leads of this sheet not yet settled, in sheet order, read `batch` at a time
        (TO_SEND_BATCH unless given).

        Each batch is its own query, after the last row read (keyset pagination): no
        cursor stays open across the commits the caller makes meanwhile (mark_sending,
        record), and what is held is one batch, however long the sheet. Those commits
        only touch rows already read, so no row is read twice and none is skipped.
        """
        batch = batch or TO_SEND_BATCH
        last = 0  # sheet rows are numbered as in Excel: the header is 1, data from 2
        while True:
            found = self._db.execute(
                "SELECT leads.lead_key, rows.row, leads.payload, leads.state, leads.written,"
                " leads.sent_at"
                " FROM rows JOIN leads ON leads.lead_key = rows.lead_key"
                " WHERE leads.final = 0 AND rows.row > ?"
                " ORDER BY rows.row LIMIT ?",
                (last, batch),
            ).fetchall()
            for key, row, payload, state, written, sent_at in found:
                yield PendingLead(key, row, json.loads(payload), state, bool(written), sent_at)
            if len(found) < batch:
                return
            last = found[-1][1]

    def count_to_send(self) -> tuple[int, int]:
        """How many leads `to_send` would yield now, and how many of them are unsettled."""
        unsettled = ", ".join(f"'{state}'" for state in sorted(UNSETTLED_STATES))
        pending, settling = self._db.execute(
            f"SELECT count(*), coalesce(sum(leads.state IN ({unsettled})), 0)"
            " FROM rows JOIN leads ON leads.lead_key = rows.lead_key"
            " WHERE leads.final = 0"
        ).fetchone()
        return int(pending), int(settling)

    def count(self, where: str = "1") -> int:
        sql = f"SELECT count(*) FROM rows LEFT JOIN leads USING (lead_key) WHERE {where}"
        return int(self._db.execute(sql).fetchone()[0])

    def mark_sending(self, keys: Sequence[str]) -> None:
        """Commit the intent before the calls go out (with any outcomes still pending)."""
        now = time.time()
        self._begin()
        self._db.executemany(
            "UPDATE leads SET state = 'sending', run = ?, sent_at = ?"
            " WHERE lead_key = ? AND state NOT IN ('sending', 'unknown')",
            ((self.run, now, key) for key in keys),
        )
        self.flush()

    def record(self, key: str, outcome: RowOutcome) -> None:
        """Record one outcome; committed with the next batch (see COMMIT_EVERY).

        A row left unsettled by an earlier run and not reached by this one stays
        `unknown`: only a search can tell whether that earlier call landed.
        """
        self._begin()
        self._db.execute(
            "UPDATE leads SET state = CASE WHEN :status = 'not_sent'"
            "   AND state IN ('sending', 'unknown') AND run < :run THEN 'unknown'"
            "   ELSE :status END,"
            " final = :final, lead_id = :lead_id, error_type = :error_type,"
            " message = :message, attempts = attempts + :attempts, calls = calls + :calls,"
            " witness = CASE WHEN :witness = '' THEN witness ELSE :witness END,"
            # A before-image, when the run read one (the caller merged it with any
            # earlier run's: before_image); else the one kept stays.
            " before = CASE WHEN :before = '' THEN before ELSE :before END"
            " WHERE lead_key = :key",
            {
                "status": outcome.status,
                "run": self.run,
                "final": outcome.status in FINAL_STATES and not outcome.retryable,
                "lead_id": outcome.lead_id,
                "error_type": outcome.error_type,
                "message": outcome.message,
                "attempts": outcome.attempts,
                "calls": outcome.calls,
                "witness": _dump_witness(outcome.witness),
                "before": outcome.before,
                "key": key,
            },
        )
        if time.monotonic() - self._last_commit >= COMMIT_EVERY:
            self.flush()

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN")

    def flush(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._last_commit = time.monotonic()

    # -- retention -------------------------------------------------------------------

    def written_leads(self) -> Iterator[WrittenLead]:
        """Every lead the runs of this journal created or edited, in sheet order."""
        cursor = self._db.execute(
            "SELECT leads.lead_key, MIN(rows.row), leads.payload, leads.state,"
            " leads.lead_id, leads.before, leads.undone"
            " FROM leads JOIN rows ON rows.lead_key = leads.lead_key"
            " WHERE leads.state IN ('created', 'updated', 'partial')"
            " GROUP BY leads.lead_key ORDER BY MIN(rows.row)"
        )
        for key, row, payload, state, lead_id, before, undone in cursor.fetchall():
            yield WrittenLead(key, row, json.loads(payload), state, lead_id, before, undone)

    def before_image(self, key: str) -> str:
        """The before-image kept for this lead ("" when none)."""
        row = self._db.execute("SELECT before FROM leads WHERE lead_key = ?", (key,)).fetchone()
        return str(row[0]) if row else ""

    def mark_undone(self, key: str, what: str) -> None:
        """What `undo` did to this lead (committed now: an undo may stop at any row)."""
        self._begin()
        self._db.execute("UPDATE leads SET undone = ? WHERE lead_key = ?", (what, key))
        self.flush()

    def forget_values(self, *, all_settled: bool) -> int:
        """Drop the cell values of settled leads: their key, digest and outcome stay.

        Always for leads no longer in the sheet; with `all_settled` (keys-only runs) for
        every settled lead. What a later run needs comes back from the sheet. Returns
        how many leads lost their values (the file is then compacted: VACUUM).
        """
        where = "final = 1 AND payload != '{}' AND before = ''"  # undo needs what was sent
        if not all_settled:
            where += " AND lead_key NOT IN (SELECT lead_key FROM rows WHERE lead_key IS NOT NULL)"
        self._begin()
        changed = self._db.execute(f"UPDATE leads SET payload = '{{}}' WHERE {where}").rowcount
        self.flush()
        if changed:
            self._db.execute("VACUUM")
        return int(changed)

    # -- reading back ----------------------------------------------------------------

    def rows(self) -> Iterator[JournalRow]:
        """Every row of the sheet as last read, with its outcome, in sheet order."""
        cursor = self._db.execute(
            "SELECT rows.row, rows.cells, rows.problems, leads.state, leads.lead_id,"
            " leads.error_type, leads.message, leads.attempts, leads.final"
            " FROM rows LEFT JOIN leads ON leads.lead_key = rows.lead_key ORDER BY rows.row"
        )
        while batch := cursor.fetchmany(1000):
            for row, cells, problems, state, lead_id, error_type, message, attempts, final in batch:
                found = _load_problems(row, problems)
                status = RowStatus.INVALID if blocking(found) else _visible(state, self._run_going)
                if self._run_going and status in LIVE_MESSAGES:  # an earlier run's is stale
                    message, error_type = LIVE_MESSAGES[status], ""
                yield JournalRow(
                    row,
                    json.loads(cells),
                    found,
                    status,
                    lead_id or "",
                    error_type or "",
                    message or "",
                    attempts or 0,
                    status == RowStatus.FAILED and final == 0,
                )

    def witnesses(self, limit: int = 8) -> list[Witness]:
        """Leads created by this tool whose answers arrived, the freshest first."""
        cursor = self._db.execute(
            "SELECT witness FROM leads WHERE witness != '' AND state = 'created'"
            " ORDER BY run DESC, sent_at DESC LIMIT ?",
            (limit,),
        )
        return [Witness(*json.loads(text)) for (text,) in cursor.fetchall()]

    def meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT name, value FROM meta").fetchall())

    def set_meta(self, name: str, value: str) -> None:
        """Keep one value in the meta table (committed now), as a run's files note what
        they wrote; a read-only journal raises sqlite3.Error."""
        self._begin()
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))
        self.flush()

    def close(self) -> None:
        """Commit what is pending and release the run's lock; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.flush()
        self._db.close()
        if self._lock is not None:
            release_run_lock(self.path, self._lock)  # and removes the lock file
            self._lock = None


def _dump_witness(witness: Witness | None) -> str:
    if witness is None:
        return ""
    return json.dumps([witness.email, witness.sent, witness.answered, witness.lead_id])


# What a row of a run still going says, in results rebuilt meanwhile.
LIVE_MESSAGES: dict[str, str] = {
    RowStatus.SENDING: "in flight: the run going now is sending it",
    RowStatus.NOT_SENT: "not sent yet: the run going now has not reached it",
}


def _visible(state: str | None, run_going: bool = False) -> str:
    """What a results reader sees for a journal state (`run_going`: a run holds the
    journal, so its `sending` rows are in flight, not lost)."""
    if state in (None, "pending"):
        return RowStatus.NOT_SENT
    if state == RowStatus.SENDING:
        return RowStatus.SENDING if run_going else RowStatus.UNKNOWN
    return state


def _dump_problems(problems: Sequence[Problem]) -> str | None:
    if not problems:
        return None
    return json.dumps([[p.column, p.value, p.code, p.message] for p in problems])


def _load_problems(row: int, text: str | None) -> list[Problem]:
    if not text:
        return []
    return [Problem(row, *fields) for fields in json.loads(text)]
