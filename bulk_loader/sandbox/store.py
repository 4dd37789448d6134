"""SQLite persistence for a standing sandbox (`sandbox serve --db FILE`)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from bulk_loader.sandbox.leads import Lead
from bulk_loader.sandbox.model import LeadStore

__all__ = ["SqliteLeadStore"]


class SqliteLeadStore(LeadStore):
    """Every lead as one JSON row, written through on each change so a restart keeps them."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        # WAL without fsync per call: a sandbox wants speed; a crash may lose the last calls.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE IF NOT EXISTS leads (id TEXT PRIMARY KEY, data TEXT)")

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
