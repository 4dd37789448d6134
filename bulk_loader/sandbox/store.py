"""SQLite persistence for a standing sandbox (`sandbox serve --db FILE`).

The file holds every lead's personal data, so it and SQLite's -wal, -shm and -journal
files beside it are owner-only (600), whether new or left by an older version.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from pathlib import Path

from bulk_loader.sandbox.leads import Lead
from bulk_loader.sandbox.model import LeadStore

__all__ = ["SqliteLeadStore"]

_SIDE_FILES = ("-wal", "-shm", "-journal")


class SqliteLeadStore(LeadStore):
    """Every lead as one JSON row, written through on each change so a restart keeps them."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        _create_owner_only(self.path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        # WAL without fsync per call: a sandbox wants speed; a crash may lose the last calls.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE IF NOT EXISTS leads (id TEXT PRIMARY KEY, data TEXT)")
        # SQLite gives the files it creates the database's mode; these are leftovers.
        _side_files_owner_only(self.path)

    def load(self) -> list[Lead]:
        with self._lock:
            rows = self._db.execute("SELECT data FROM leads ORDER BY CAST(id AS INTEGER)")
            return [Lead.from_dict(json.loads(data)) for (data,) in rows]

    def save(self, lead: Lead) -> None:
        data = json.dumps(lead.to_dict())
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO leads VALUES (?, ?)", (lead.id, data))

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM leads")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _create_owner_only(path: Path) -> None:
    """Create the file as 600 before SQLite does (it would use 644), or make it 600."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.name == "posix":  # Windows has no owner/group/other bits to take away
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    _side_files_owner_only(path)


def _side_files_owner_only(path: Path) -> None:
    if os.name != "posix":
        return
    for suffix in _SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", 0o600)
