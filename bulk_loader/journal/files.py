"""The journal's files: where they live, the lock that lets one run at a time hold them,
the SQLite database inside and its tables, and their upkeep (adopt, find, forget).

A journal is `<sheet>.<digest>.journal.sqlite` beside the sheet, with SQLite's
companions (SIDE_FILES) and our own `<journal>.lock`. What is recorded in it, and how,
is the Journal's business (journal.store).
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path

from bulk_loader.errors import ConfigError
from bulk_loader.private_files import make_private, open_private

__all__ = [
    "SIDE_FILES",
    "adopt_legacy",
    "find_journals",
    "forget",
    "journal_path",
    "legacy_journal_path",
    "open_database",
    "open_database_readonly",
    "stale_journals",
    "take_run_lock",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    row INTEGER PRIMARY KEY,
    cells TEXT NOT NULL,
    problems TEXT,
    lead_key TEXT
);
CREATE TABLE IF NOT EXISTS leads (
    lead_key TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    final INTEGER NOT NULL DEFAULT 0,
    written INTEGER NOT NULL DEFAULT 0,
    sent_at REAL NOT NULL DEFAULT 0,
    lead_id TEXT NOT NULL DEFAULT '',
    error_type TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    run INTEGER NOT NULL DEFAULT 0,
    witness TEXT NOT NULL DEFAULT ''
);
"""
# Columns added since the first journals: (table, column, declaration).
ADDED_COLUMNS = (("leads", "witness", "TEXT NOT NULL DEFAULT ''"),)

# SQLite's companions of a WAL database (the lock file is our own).
SIDE_FILES = ("-wal", "-shm")


def journal_path(sheet: Path, identity: Mapping[str, str]) -> Path:
    """Where the journal of this sheet and account lives: beside the sheet's file.

    `identity` names the work (the sheet's file name, its worksheet, the account), not
    the path: a moved folder, or the sheet named another way, finds the same journal.
    """
    digest = hashlib.sha256(json.dumps(dict(identity), sort_keys=True).encode()).hexdigest()
    real = sheet.resolve()
    return real.with_name(f"{real.name}.{digest[:10]}.journal.sqlite")


def forget(journal: Path) -> None:
    """Delete a journal and its companions, once no run holds it (ConfigError if one does)."""
    lock = take_run_lock(journal)
    try:
        for suffix in ("", *SIDE_FILES):
            Path(f"{journal}{suffix}").unlink(missing_ok=True)
    finally:
        os.close(lock)
        Path(f"{journal}.lock").unlink(missing_ok=True)


def stale_journals(folder: Path, days: float, now: float | None = None) -> list[Path]:
    """The journals in `folder` (and below) not written for `days` days."""
    limit = (time.time() if now is None else now) - days * 86400
    found = []
    for path in sorted(folder.rglob("*.journal.sqlite")):
        try:
            if path.stat().st_mtime < limit:
                found.append(path)
        except OSError:
            continue
    return found


def legacy_journal_path(sheet: Path, identity: Mapping[str, str]) -> Path:
    """Where bulk-loader 0.1 kept the journal: keyed by the sheet's path as typed."""
    digest = hashlib.sha256(json.dumps(dict(identity), sort_keys=True).encode()).hexdigest()
    return sheet.with_name(f"{sheet.name}.{digest[:10]}.journal.sqlite")


def adopt_legacy(old: Path, new: Path) -> bool:
    """Rename a journal kept under an earlier version's name to today's, if there is
    one and none under today's name: an upgrade must not send every row again.

    Its lock is taken first: a run of the earlier version still going is said so.
    """
    if new.exists() or not old.exists() or old == new:
        return False
    lock = take_run_lock(old)
    try:
        for suffix in ("", *SIDE_FILES):
            source = Path(f"{old}{suffix}")
            if source.exists():
                os.replace(source, f"{new}{suffix}")
    finally:
        os.close(lock)
        Path(f"{old}.lock").unlink(missing_ok=True)
    return True


def find_journals(sheet: Path) -> list[Path]:
    """The journals kept for `sheet` (one per template and account), newest first."""
    found = sheet.parent.glob(f"{glob.escape(sheet.name)}.*.journal.sqlite")
    return sorted(found, key=lambda path: path.stat().st_mtime, reverse=True)


def take_run_lock(path: Path) -> int:
    """Take `<journal>.lock` exclusively, or say which run holds it."""
    lock_path = Path(f"{path}.lock")
    try:
        opened = open_private(lock_path, create=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open the journal: {exc.strerror or exc}") from exc
    assert opened is not None  # created
    fd = opened
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise ConfigError(
            f"{path}: another bulk-loader run (pid {holder}) is importing this sheet into "
            "this account; wait for it to finish, or stop it first"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def open_database(path: Path, *, restart: bool = False) -> sqlite3.Connection:
    """Open or create the journal's database at `path`, readable by its owner only, with
    today's tables; `restart` deletes it first. The caller holds the run's lock.

    Raises OSError or sqlite3.Error: the caller says which journal could not be opened.
    """
    if restart:
        for suffix in ("", *SIDE_FILES):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    make_private(path, create=True)
    for suffix in SIDE_FILES:  # SQLite would follow a link, or keep a 644 file
        make_private(Path(f"{path}{suffix}"), create=False)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    # FULL: every commit reaches the disk (an fsync of the WAL), so the intents
    # committed before the calls survive a power loss, not only a killed process.
    # A handful of commits a second at Kartra's 20 calls/s: nothing to measure.
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(SCHEMA)
    # Not a file of SQLite's is opened from here on: closing any descriptor of a
    # file drops this process's locks on it (POSIX), and a reader of the -shm
    # file would then truncate what this run has mapped (SIGBUS). SQLite makes
    # -wal and -shm with the journal's own mode, 600 since make_private.
    _add_columns(db)
    return db


def open_database_readonly(path: Path) -> sqlite3.Connection:
    """Open the journal's database to read, also while a run writes it from another
    process (sqlite3.Error if it is not a journal)."""
    db = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro",
        uri=True,
        isolation_level=None,
        check_same_thread=False,
    )
    db.execute("SELECT count(*) FROM leads").fetchone()
    return db


def _add_columns(db: sqlite3.Connection) -> None:
    """Bring a journal written by an earlier version up to today's columns."""
    for table, column, declaration in ADDED_COLUMNS:
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
