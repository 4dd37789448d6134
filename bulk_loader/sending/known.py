"""Which leads already exist: hints that let an upsert edit first and spend one call.

Kartra has no upsert, so a row whose lead's existence is not known costs two calls
whenever the first guess is wrong. Two sources of knowledge, both hints only (a wrong
hint costs the usual fallback call, never a wrong write):

- `--known FILE`: a CSV or XLSX listing leads that exist (Kartra's own contacts export,
  or any sheet with an email column, optionally a lead id column);
- the lead memory: per Kartra account, every lead this tool has created, updated or
  found, kept in the user's cache folder across runs and sheets. It holds keyed
  hashes (a random salt per file), not the addresses themselves; `bulk-loader forget
  --memory` deletes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from bulk_loader.errors import InputError, SheetError
from bulk_loader.private_files import make_private, private_folder
from bulk_loader.sheets.opening import open_sheet
from bulk_loader.user_folders import cache_folder

__all__ = ["KnownLeads", "LeadMemory", "lead_keys", "memory_files", "read_known"]

EMAIL_HEADERS = ("email", "e-mail", "email address", "e-mail address", "emailaddress")
ID_HEADERS = ("id", "lead id", "lead_id", "leadid", "kartra id", "contact id")


def lead_keys(lead: Mapping[str, Any]) -> list[str]:
    """How a lead is known: its email (any case) and its id, as `e:...` / `i:...`."""
    keys = []
    if lead.get("email"):
        keys.append("e:" + str(lead["email"]).strip().casefold())
    if lead.get("id"):
        keys.append("i:" + str(lead["id"]).strip())
    return keys


def read_known(path: Path) -> set[str]:
    """The lead keys a --known file lists; InputError (one line) if it cannot be used."""
    try:
        with open_sheet(path) as sheet:
            names = [header.strip().casefold() for header in sheet.headers]
            email = _pick(names, EMAIL_HEADERS, "email")
            lead_id = _pick(names, ID_HEADERS, None)
            if email is None and lead_id is None:
                shown = ", ".join(repr(h) for h in sheet.headers[:8])
                raise InputError(
                    f"{path}: --known needs an email column (or a lead id column); "
                    f"its headers are {shown}"
                )
            known: set[str] = set()
            for chunk in sheet.chunks():
                for cells in chunk.rows:
                    lead = {
                        "email": cells[email] if email is not None else "",
                        "id": cells[lead_id] if lead_id is not None else "",
                    }
                    known.update(lead_keys(lead))
            return known
    except SheetError as exc:
        raise InputError(f"--known {exc}") from exc


def _pick(names: list[str], exact: tuple[str, ...], part: str | None) -> int | None:
    for wanted in exact:
        if wanted in names:
            return names.index(wanted)
    if part is not None:
        for index, name in enumerate(names):
            if part in name:
                return index
    return None


class LeadMemory:
    """Leads this tool wrote or found in one account, as salted hashes; thread-safe."""

    def __init__(self, api_host: str, app_id: str, folder: Path | None = None) -> None:
        folder = private_folder(folder or cache_folder())
        name = hashlib.sha256(f"bulk-loader memory:{api_host}:{app_id}".encode()).hexdigest()
        self.path = folder / f"memory-{name[:16]}.sqlite"
        make_private(self.path, create=True)
        make_private(Path(f"{self.path}-journal"), create=False)
        # Autocommit: each write is its own short transaction, so that runs of the same
        # account at once never wait on each other (a run-long one did: "locked").
        self._db = sqlite3.connect(
            self.path, timeout=2.0, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS salt (value BLOB NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS leads (h INTEGER PRIMARY KEY)")
        row = self._db.execute("SELECT value FROM salt").fetchone()
        if row is None:
            self._db.execute("BEGIN IMMEDIATE")
            if self._db.execute("SELECT value FROM salt").fetchone() is None:
                self._db.execute("INSERT INTO salt VALUES (?)", (secrets.token_bytes(16),))
            self._db.execute("COMMIT")
            row = self._db.execute("SELECT value FROM salt").fetchone()
        self._salt = bytes(row[0])
        self._lock = threading.Lock()

    def _hash(self, key: str) -> int:
        digest = hashlib.blake2b(key.encode(), digest_size=8, key=self._salt).digest()
        return int.from_bytes(digest, "big", signed=True)

    def knows(self, keys: Iterable[str]) -> bool:
        hashes = [self._hash(key) for key in keys]
        if not hashes:
            return False
        marks = ",".join("?" * len(hashes))
        with self._lock:
            found = self._db.execute(f"SELECT 1 FROM leads WHERE h IN ({marks})", hashes)
            return found.fetchone() is not None

    def remember(self, keys: Iterable[str]) -> None:
        """Add keys (each call one short transaction)."""
        rows = [(self._hash(key),) for key in keys]
        with self._lock:
            self._db.executemany("INSERT OR IGNORE INTO leads VALUES (?)", rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def memory_files(folder: Path | None = None) -> list[Path]:
    """Every lead memory kept in the cache folder (one per account)."""
    folder = folder or cache_folder()
    return sorted(folder.glob("memory-*.sqlite")) if folder.is_dir() else []


class KnownLeads:
    """What the sender asks: does this row's lead exist? True, False, or None (unknown).

    With a --known file, a lead it does not list is taken as new (False); without one,
    a lead the memory does not know is simply unknown (the sender's own guess decides).
    """

    def __init__(self, listed: set[str] | None, memory: LeadMemory | None) -> None:
        self._listed = listed
        self._memory = memory
        self.failed = ""  # why the memory was dropped mid-run, if it was

    def exists(self, lead: Mapping[str, Any]) -> bool | None:
        keys = lead_keys(lead)
        if self._listed is not None and any(key in self._listed for key in keys):
            return True
        if self._memory is not None and self._guarded(lambda m: m.knows(keys)):
            return True
        return False if self._listed is not None else None

    def remember(self, lead: Mapping[str, Any]) -> None:
        """This lead exists now (created, updated or found): remembered for later runs."""
        if self._memory is not None:
            if lead.get("new_email"):  # renamed: the old address is gone
                lead = {"email": lead["new_email"], "id": lead.get("id")}
            keys = lead_keys(lead)
            self._guarded(lambda m: m.remember(keys))

    def _guarded(self, use: Callable[[LeadMemory], Any]) -> Any:
        """A hint is never worth a run: a memory that fails (locked, disk full) is
        dropped for the rest of the run, and `failed` says why."""
        memory = self._memory
        if memory is None:
            return None
        try:
            return use(memory)
        except sqlite3.Error as exc:
            self._memory = None
            self.failed = f"the lead memory failed ({exc}): this run goes on without it"
            with contextlib.suppress(sqlite3.Error):
                memory.close()
            return None

    def close(self) -> None:
        """Keep what was learned (the memory is committed and closed)."""
        if self._memory is not None:
            self._memory.close()
