"""Checks across rows: the same lead twice, and a new_email that clashes with another row.

What has been met so far is kept as 64-bit hashes in a private temporary SQLite file,
so memory stays flat however long the sheet. A new_email can clash with an email that
only appears further down: those late problems come from `late_problems()`.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulk_loader import scratch
from bulk_loader.outcomes import Problem, ProblemCode
from bulk_loader.sheets.sheet import Chunk
from bulk_loader.validation.binding import BoundColumn

__all__ = ["DuplicateCheck"]


@dataclass(frozen=True, slots=True)
class _Key:
    """An email, id or new_email of one row, as a 64-bit hash."""

    row: int
    column: BoundColumn
    kind: str
    hash: int
    value: str  # the cell as read

    def problem(self, code: ProblemCode, message: str) -> Problem:
        return Problem(self.row, self.column.header, self.value, code, message)


def _clash(row: int) -> str:
    return f"row {row} has this email: renaming onto it would clash"


def _hash(kind: str, key: str) -> int:
    digest = hashlib.blake2b(f"{kind}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class _SeenKeys:
    """Emails, ids and new emails met so far, as 64-bit hashes in a temporary SQLite file."""

    def __init__(self) -> None:
        # In the private temporary folder (emails are personal data), removed on close.
        self._path = Path(tempfile.mkdtemp(dir=scratch.folder())) / "seen.sqlite"
        self.db = sqlite3.connect(self._path)
        self.db.execute("PRAGMA journal_mode=OFF")  # scratch: nothing to recover
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE seen (h INTEGER PRIMARY KEY, row INTEGER NOT NULL)")
        self.db.execute(
            "CREATE TABLE renames (h INTEGER PRIMARY KEY, row INTEGER NOT NULL, value TEXT)"
        )

    def lookup(self, table: str, hashes: Sequence[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        for start in range(0, len(hashes), 500):
            part = hashes[start : start + 500]
            marks = ",".join("?" * len(part))
            sql = (
                f"SELECT h, row FROM {table} WHERE h IN ({marks})"  # table: one of two fixed names
            )
            found.update(self.db.execute(sql, part).fetchall())
        return found

    def add(self, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
        marks = "?, ?, ?" if table == "renames" else "?, ?"
        self.db.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", rows)

    def later_emails(self) -> list[tuple[int, str, int]]:
        """(row, new_email, later row whose email it is), for renames onto later rows."""
        sql = (
            "SELECT r.row, r.value, s.row FROM renames r JOIN seen s ON r.h = s.h "
            "WHERE s.row > r.row ORDER BY r.row"
        )
        return [(int(a), str(b), int(c)) for a, b, c in self.db.execute(sql)]

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self._path.parent, ignore_errors=True)


class DuplicateCheck:
    """The emails, ids and new emails of a sheet's rows, checked against each other."""

    def __init__(self, by_target: Mapping[str, BoundColumn]) -> None:
        self.by_target = by_target  # the sheet's lead fields by name
        self._seen = _SeenKeys()

    def _keys(self, chunk: Chunk, failed: set[tuple[int, str]]) -> list[_Key]:
        """Emails, ids and new emails of a chunk, in row order; malformed cells left out."""
        keys = []
        for row, cells in zip(chunk.row_numbers, chunk.rows, strict=True):
            for kind in ("email", "id", "new_email"):
                column = self.by_target.get(kind)
                value = cells[column.index].strip() if column else ""
                if column is None or not value or (row, column.header) in failed:
                    continue
                key = _hash("i", value) if kind == "id" else _hash("e", value.casefold())
                keys.append(_Key(row, column, kind, key, cells[column.index]))
        return keys

    def problems(self, chunk: Chunk, failed: set[tuple[int, str]]) -> list[Problem]:
        """The same lead twice; a new_email onto an earlier row's email or new_email."""
        keys = self._keys(chunk, failed)
        seen = self._seen.lookup("seen", [k.hash for k in keys])
        renamed = self._seen.lookup("renames", [k.hash for k in keys if k.kind == "new_email"])
        new_seen: dict[int, int] = {}
        new_renames: dict[int, tuple[int, str]] = {}
        problems = []
        for key in keys:
            earlier = seen.get(key.hash)
            if key.kind != "new_email":
                if earlier is None:
                    seen[key.hash] = new_seen[key.hash] = key.row
                elif earlier != key.row:
                    what = "email" if key.kind == "email" else "lead id"
                    problems.append(
                        key.problem(ProblemCode.DUPLICATE_LEAD, f"the same {what} as row {earlier}")
                    )
            elif earlier is not None and earlier != key.row:
                problems.append(key.problem(ProblemCode.NEW_EMAIL_CONFLICT, _clash(earlier)))
            elif key.hash in renamed:
                message = f"row {renamed[key.hash]} already changes an email to this one"
                problems.append(key.problem(ProblemCode.NEW_EMAIL_CONFLICT, message))
            else:
                renamed[key.hash] = key.row
                new_renames[key.hash] = (key.row, key.value.strip())
        self._seen.add("seen", new_seen.items())
        self._seen.add("renames", ((h, r, v) for h, (r, v) in new_renames.items()))
        return problems

    def late_problems(self) -> list[Problem]:
        """Problems only visible at the end: a new_email that a later row uses as email."""
        column = self.by_target.get("new_email")
        if column is None:
            return []
        return [
            Problem(row, column.header, value, ProblemCode.NEW_EMAIL_CONFLICT, _clash(later))
            for row, value, later in self._seen.later_emails()
        ]

    def close(self) -> None:
        self._seen.close()
