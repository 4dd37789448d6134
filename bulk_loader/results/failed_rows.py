"""The failed-rows file's bookkeeping: which name this run's list goes to, and which
file a person edited and is kept.

A failed-rows file is a file to edit. Its SHA-256 is kept in the journal's meta when it
is written; the next run replaces it only if it is still that file, and otherwise
leaves it as it is and writes its own list beside it (`<sheet>.failed-2.csv`, ...).
A run that keeps no journal (--sandbox) keeps the same record in a small file of its
own in the journals' hidden folder (recall_without_journal, keep_without_journal), so
that running it again replaces its own untouched list instead of piling up copies.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bulk_loader.errors import ConfigError
from bulk_loader.journal.files import JOURNAL_FOLDER
from bulk_loader.journal.store import Journal
from bulk_loader.private_files import open_private, private_folder
from bulk_loader.results.files import file_digest, numbered

__all__ = [
    "FAILED_META",
    "Remembered",
    "keep_without_journal",
    "next_failed_file",
    "recall_without_journal",
    "remember",
    "remember_later",
    "remembered",
    "why_kept",
]

# The journal's meta entry naming the failed-rows file a run last wrote and its SHA-256,
# and the files found edited since (JSON: {"name": ..., "sha256": ..., "edited": [...]}).
FAILED_META = "failed_rows_file"


@dataclass(frozen=True)
class Remembered:
    """What the journal remembers of the failed-rows files its runs wrote: the last one
    (name and SHA-256; "" when the last run wrote none), and those found edited since."""

    name: str = ""
    sha256: str = ""
    edited: tuple[str, ...] = ()


def remembered(journal: Journal) -> Remembered:
    try:
        record = json.loads(journal.meta().get(FAILED_META) or "{}")
        edited = tuple(str(name) for name in record.get("edited", ()))
        return Remembered(str(record.get("name", "")), str(record.get("sha256", "")), edited)
    except (ValueError, TypeError, AttributeError):
        return Remembered()


def next_failed_file(default: Path, written: Remembered) -> tuple[Path, Path | None, Path | None]:
    """Where this run's failed rows go, the first file left as it is on the way, and the
    file the journal remembers writing if it is still that file.

    `<sheet>.failed.csv`, unless a file is there that is not the one the journal
    remembers writing, byte for byte (edited since, or never written by a run of this
    journal): then `<sheet>.failed-2.csv`, `-3`, ..., the first name free or ours.
    """
    ours = None
    if written.name:
        path = default.with_name(written.name)
        if path.parent == default.parent and file_digest(path) == written.sha256:
            ours = path
    kept = None
    number = 1
    while True:
        target = numbered(default, number)
        if target == ours or not os.path.lexists(target):
            return target, kept, ours
        kept = kept or target
        number += 1


def why_kept(kept: Path, written: Remembered, journal_kept: bool) -> str:
    if kept.name == written.name:
        return "was edited since the last run"
    if kept.name in written.edited:
        return "was edited since an earlier run wrote it"
    if not journal_kept:  # --sandbox: its record said another file, or nothing
        return "was not written by the last run of this sheet that kept no journal"
    return "was not written by a run this journal remembers"


def remember(
    journal: Journal, folder: Path, failed: Path | None, written: Remembered
) -> str | None:
    """Keep the failed-rows file just written (its name and SHA-256) in the journal's
    meta, and the files found edited that are still there. A journal opened read-only
    (`bulk-loader results`) is written after (rebuild_results): the record is returned
    then, None once it is kept."""
    edited = [name for name in written.edited if (folder / name).exists()]
    last = failed.name if failed is not None else ""
    if written.name and written.name != last and (folder / written.name).exists():
        edited.append(written.name)  # ours once, and not removed: edited since, kept
    digest = file_digest(failed) if failed is not None else None
    record = {
        "name": failed.name if failed is not None and digest else "",
        "sha256": digest or "",
        "edited": sorted(set(edited)),
    }
    try:
        journal.set_meta(FAILED_META, json.dumps(record))
    except sqlite3.OperationalError:  # read-only
        return json.dumps(record)
    return None


def remember_later(path: Path, record: str) -> None:
    """What a read-only journal could not take, kept now; not if a run holds the
    journal meanwhile (it writes its own list, and keeps it, when it ends)."""
    try:
        journal = Journal.open(path, {})
    except ConfigError:
        return
    try:
        journal.set_meta(FAILED_META, record)
    finally:
        journal.close()


def _record_without_journal(sheet: Path) -> Path:
    return sheet.parent / JOURNAL_FOLDER / f"{sheet.name}.failed-rows.json"


def recall_without_journal(journal: Journal, sheet: Path) -> None:
    """A temporary journal told what the last run of `sheet` that kept no journal wrote
    (nothing when no such record can be read: every file there is then kept)."""
    try:
        record = _record_without_journal(sheet).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    journal.set_meta(FAILED_META, record)


def keep_without_journal(journal: Journal, sheet: Path) -> None:
    """What a temporary journal remembered of its failed-rows file, kept for the next
    run that keeps no journal; a folder that takes no file only loses the record."""
    record = journal.meta().get(FAILED_META)
    if record is None:
        return
    path = _record_without_journal(sheet)
    try:
        private_folder(path.parent)
        fd = open_private(path, create=True)
        assert fd is not None  # created
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.truncate()
            out.write(record)
    except (OSError, ConfigError):
        pass
