"""One App, one budget: the pace shared by every run on this machine that uses the App.

Kartra's 20 calls per second are per App, not per run: two `bulk-loader run`s with
the same App, each pacing itself to the full rate, draw 429s from each other. Runs
share the pace instead (pacing.Pace: the next free slot, the rate, pauses) through a
small SQLite file in the user's cache folder, named by a digest of the API host and
the App id (never the id itself, never a secret). Each reservation is one short
write transaction (`BEGIN IMMEDIATE`): SQLite does the locking on every system.

The file also lists the runs using it, with a heartbeat, so that a run can say that
it shares the App.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bulk_loader.private_files import make_private, private_folder
from bulk_loader.sending.pacing import LocalPace, Pace, RateLimiter
from bulk_loader.user_folders import cache_folder

__all__ = ["SharedPace"]

T = TypeVar("T")
HEARTBEAT = 1.0  # seconds between a run's "still here"
LOCK_WAIT = 2.0  # seconds to wait for the file before pacing alone
CLOCK_STEP = 60.0  # no slot or pause is ever planned this far ahead
GONE = 5.0  # a run silent this long has ended

SCHEMA = """
CREATE TABLE IF NOT EXISTS pace (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    rate REAL NOT NULL, next_slot REAL NOT NULL, resume REAL NOT NULL,
    last_cut REAL NOT NULL, in_a_row INTEGER NOT NULL, limit_ REAL NOT NULL,
    unanswered INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS runs (pid INTEGER PRIMARY KEY, seen REAL NOT NULL);
"""


class SharedPace:
    """A pacing.PaceStore kept in a file that every run of the same App uses.

    Times are wall-clock (time.time): the runs are different processes. Raises
    OSError, sqlite3.Error or ConfigError if the file cannot be used; the caller then
    paces alone. If the file fails later (locked for long, disk full), this run goes on
    with the last pace it saw, alone (`alone` says so): a budget is never worth a run.
    """

    def __init__(self, api_host: str, app_id: str, limit: float, folder: Path | None = None):
        folder = private_folder(folder or cache_folder())
        name = hashlib.sha256(f"bulk-loader budget:{api_host}:{app_id}".encode()).hexdigest()
        self.path = folder / f"budget-{name[:16]}.sqlite"
        make_private(self.path, create=True)
        for suffix in ("-journal",):
            make_private(Path(f"{self.path}{suffix}"), create=False)
        # Transactions last microseconds: a wait of seconds means something is wrong.
        self._db = sqlite3.connect(self.path, timeout=LOCK_WAIT, isolation_level=None,
                                   check_same_thread=False)  # fmt: skip
        self._local: LocalPace | None = None  # set when the file failed mid-run
        self.alone = ""  # why this run stopped sharing, if it did
        # Rollback journal, not WAL: switching a new file to WAL fails while another
        # run opens it, and these transactions are a few hundred bytes.
        self._db.execute("PRAGMA synchronous=OFF")  # a crash loses a slot, not a lead
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._limit = limit
        self._last = Pace(rate=limit * RateLimiter.START)
        self._pid = os.getpid()
        self._seen = 0.0
        self.others = 0  # other runs using this App right now
        self._transact(self._join)

    def _join(self, db: sqlite3.Connection) -> None:
        now = time.time()
        self._heartbeat(db, now)
        columns = {row[1] for row in db.execute("PRAGMA table_info(pace)")}
        if "unanswered" not in columns:  # a file written by an earlier version
            db.execute("ALTER TABLE pace ADD COLUMN unanswered INTEGER NOT NULL DEFAULT 0")
        db.execute("INSERT OR IGNORE INTO pace VALUES (1, 0, 0, 0, -1e18, 0, 0, 0)")
        (limit,) = db.execute("SELECT limit_ FROM pace WHERE id = 1").fetchone()
        if limit != self._limit or not self.others:
            # Alone (or another --rate): the rate starts afresh; a pace that runs going
            # on have learned is kept. Slots already handed out are never given again.
            db.execute(
                "UPDATE pace SET rate = ?, last_cut = -1e18, in_a_row = 0, unanswered = 0,"
                " limit_ = ? WHERE id = 1",
                (self._limit * RateLimiter.START, self._limit),
            )

    def update(self, change: Callable[[Pace], T]) -> T:
        if self._local is not None:
            return self._local.update(change)
        try:
            return self._shared_update(change)
        except sqlite3.Error as exc:
            self.alone = f"the shared budget file failed ({exc}): pacing this run alone"
            self._local = LocalPace(self._last)
            return self._local.update(change)

    def _shared_update(self, change: Callable[[Pace], T]) -> T:
        def run(db: sqlite3.Connection) -> T:
            row = db.execute(
                "SELECT rate, next_slot, resume, last_cut, in_a_row, unanswered"
                " FROM pace WHERE id = 1"
            ).fetchone()
            pace = Pace(*row)
            now = time.time()
            # A slot or pause far ahead is a wall clock set back, not a plan: clamp it.
            pace.next_slot = min(pace.next_slot, now + CLOCK_STEP)
            pace.resume = min(pace.resume, now + CLOCK_STEP)
            result = change(pace)
            self._last = Pace(**vars(pace))
            db.execute(
                "UPDATE pace SET rate = ?, next_slot = ?, resume = ?, last_cut = ?,"
                " in_a_row = ?, unanswered = ? WHERE id = 1",
                (
                    pace.rate,
                    pace.next_slot,
                    pace.resume,
                    pace.last_cut,
                    pace.in_a_row,
                    pace.unanswered,
                ),
            )
            if now - self._seen >= HEARTBEAT:
                self._heartbeat(db, now)
            return result

        return self._transact(run)

    def _heartbeat(self, db: sqlite3.Connection, now: float) -> None:
        self._seen = now
        db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?)", (self._pid, now))
        db.execute("DELETE FROM runs WHERE seen < ?", (now - GONE,))
        (count,) = db.execute("SELECT count(*) FROM runs WHERE pid != ?", (self._pid,)).fetchone()
        self.others = int(count)

    def _transact(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    def close(self) -> None:
        """Leave the App's list of runs; the pace stays for the others."""
        with contextlib.suppress(sqlite3.Error):
            self._transact(lambda db: db.execute("DELETE FROM runs WHERE pid = ?", (self._pid,)))
        self._db.close()
