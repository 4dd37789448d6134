"""The journal's files: where they live, the lock that lets one run at a time hold them,
the SQLite database inside and its tables, and their upkeep (adopt, find, forget).

A journal is `<sheet>.<digest>.journal.sqlite` in the hidden, owner-only folder
`.bulk-loader` beside the sheet (JOURNAL_FOLDER), with SQLite's companions (SIDE_FILES)
and, while a run holds it, our own `<journal>.lock`: the sheet's folder shows the sheet,
its results and its failed rows, nothing else. Earlier versions kept the journal beside
the sheet itself; a run moves it here (adopt_legacy). What is recorded in it, and how,
is the Journal's business (journal.store).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from bulk_loader.errors import ConfigError, InputError, JournalBusy
from bulk_loader.private_files import make_private, open_private, private_folder
from bulk_loader.user_folders import data_folder

# The run's lock: flock on POSIX (held by the open file, not the process: another
# descriptor of the same file, opened and closed in this process, neither takes nor
# drops it), a byte-range lock on Windows (msvcrt). Both modules are imported where the
# lock is taken, never when the package is: a system without fcntl falls back on
# os.lockf (a POSIX record lock: the process's, which this process never probes).

__all__ = [
    "JOURNAL_FOLDER",
    "SHEET_FOLDER",
    "SIDE_FILES",
    "adopt_legacy",
    "find_journals",
    "forget",
    "journal_folder",
    "journal_path",
    "legacy_journal_path",
    "open_database",
    "open_database_readonly",
    "refuse_if_held",
    "release_run_lock",
    "run_holder",
    "stale_journals",
    "synced_folder",
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
ADDED_COLUMNS = (
    ("leads", "witness", "TEXT NOT NULL DEFAULT ''"),
    # --backup: the lead before this tool first edited it (JSON), and what undo did.
    ("leads", "before", "TEXT NOT NULL DEFAULT ''"),
    ("leads", "undone", "TEXT NOT NULL DEFAULT ''"),
)

# SQLite's companions of a WAL database (the lock file is our own).
SIDE_FILES = ("-wal", "-shm")
# The folder beside the sheet that holds its journals: hidden, owner-only (700).
JOURNAL_FOLDER = ".bulk-loader"
# A journal's name after the sheet's: the digest of its identity, 10 hex digits.
_JOURNAL_NAME = ".[0-9a-f]" + "[0-9a-f]" * 9 + ".journal.sqlite"

# A lock found taken is tried again this many times, BUSY_WAIT seconds apart, before
# the run is refused: `run_holder` (a `bulk-loader results` asking whether a run is
# going) may hold it for an instant when no run does.
BUSY_TRIES = 5
BUSY_WAIT = 0.02
# Windows locks bytes, and a locked byte cannot be read by another process: the lock
# is on a byte past the process id that the lock file holds, so the id stays readable.
_LOCKED_BYTE = 1024

# The run locks this process holds, by lock file: asked before any descriptor is
# opened, so a second Journal in this process is refused, and `run_holder` answers for
# this process's own runs, however the system implements the lock.
_HELD: dict[str, int] = {}
_HELD_GUARD = threading.Lock()


# Path parts that mark a synced or network folder (casefolded; "onedrive" also begins
# "OneDrive - Contoso"). SQLite warns against WAL databases on such file systems, and a
# sync client may copy one laptop's journal over another's: journals go elsewhere.
_SYNCED_PARTS = ("dropbox", "google drive", "googledrive", "my drive", "icloud drive",
                 "mobile documents", "cloudstorage", "box", "box sync", "nextcloud",
                 "owncloud", "sharepoint")  # fmt: skip
# The journal's meta entry naming the folder of the sheet it was last run from.
SHEET_FOLDER = "sheet_folder"


def synced_folder(folder: Path) -> bool:
    """Whether `folder` looks synced (OneDrive, Dropbox, Google Drive, iCloud, Box...)
    or is a network share (\\\\server\\share): judged by its path alone, cheaply."""
    text = str(folder)
    if text.startswith(("\\\\", "//")):
        return True
    parts = [part.casefold() for part in folder.parts]
    return any(part.startswith("onedrive") or part in _SYNCED_PARTS for part in parts)


def journal_folder(sheet: Path, journal_dir: Path | None = None) -> Path:
    """Where the journals of `sheet` are kept: `journal_dir` when given; else the hidden
    folder beside the sheet (JOURNAL_FOLDER), unless that folder is synced or on a
    network share: then the user's data folder."""
    if journal_dir is not None:  # its own private folder: DIR may be shared, left as it is
        return journal_dir.resolve() / JOURNAL_FOLDER
    real = sheet.resolve()
    if synced_folder(real.parent):
        return data_folder() / "journals"
    return real.parent / JOURNAL_FOLDER


def journal_path(sheet: Path, identity: Mapping[str, str], journal_dir: Path | None = None) -> Path:
    """Where the journal of this sheet and account lives (journal_folder), the folder
    made owner-only here if it is not there yet.

    `identity` names the work (the sheet's file name, its worksheet, the account), not
    the path: a moved folder, or the sheet named another way, finds the same journal.
    Outside the sheet's folder one name may stand for two sheets: a journal there
    records its sheet's folder, and a sheet of that name in another folder, while the
    first is still there, gets its own journal (a sheet moved here finds its journal).
    InputError when the folder cannot be made (the run is asked before it sends).
    """
    digest = _digest(identity)
    real = sheet.resolve()
    folder = journal_folder(sheet, journal_dir)
    _make_folder(folder)
    path = folder / f"{real.name}.{digest[:10]}.journal.sqlite"
    if folder == real.parent / JOURNAL_FOLDER:
        return path
    other = _digest({**identity, SHEET_FOLDER: str(real.parent)})
    own = folder / f"{real.name}.{other[:10]}.journal.sqlite"
    if own.exists():  # made when `path` was another folder's sheet: this sheet's own
        return own
    kept = _recorded_folder(path)
    if kept is None or kept == str(real.parent) or not Path(kept, real.name).exists():
        return path  # a new journal, this sheet's, or the sheet moved here from `kept`
    return own


def _this_sheets(paths: list[Path], sheet: Path) -> list[Path]:
    """Of the journals named like `sheet` outside its folder, those of this sheet: the
    ones recording its folder; failing any, the ones recording none, or a folder the
    sheet has left (it moved here)."""
    recorded = {path: _recorded_folder(path) for path in paths}
    here = [path for path, kept in recorded.items() if kept == str(sheet.parent)]
    if here:
        return here
    return [
        path
        for path, kept in recorded.items()
        if kept is None or not Path(kept, sheet.name).exists()
    ]


def _digest(identity: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(identity), sort_keys=True).encode()).hexdigest()


def _recorded_folder(journal: Path) -> str | None:
    """The sheet folder a journal recorded (None: no journal, or none recorded)."""
    if not journal.exists():
        return None
    try:
        if Path(f"{journal}-wal").exists():  # in use (or left so): read it as a reader
            db = open_database_readonly(journal)
        else:  # at rest: read the file as it is, leaving no -shm or -wal behind
            uri = f"{journal.resolve().as_uri()}?mode=ro&immutable=1"
            db = sqlite3.connect(uri, uri=True, isolation_level=None)
    except (OSError, sqlite3.Error):
        return None
    try:
        row = db.execute("SELECT value FROM meta WHERE name = ?", (SHEET_FOLDER,)).fetchone()
    except sqlite3.Error:
        return None
    finally:
        db.close()
    return str(row[0]) if row else None


def _make_folder(folder: Path) -> None:
    try:
        private_folder(folder)
    except OSError as exc:
        raise InputError(f"cannot write the journal in {folder}: {exc.strerror or exc}") from exc


def _earlier_place(journal: Path) -> Path | None:
    """Where versions before the hidden folder kept this journal: beside the sheet."""
    if journal.parent.name != JOURNAL_FOLDER:
        return None
    return journal.parent.parent / journal.name


def forget(journal: Path) -> None:
    """Delete a journal and its companions, once no run holds it (ConfigError if one does);
    the hidden folder goes too once it holds nothing more."""
    lock = take_run_lock(journal)
    try:
        for suffix in ("", *SIDE_FILES):
            Path(f"{journal}{suffix}").unlink(missing_ok=True)
    finally:
        release_run_lock(journal, lock)
    if journal.parent.name == JOURNAL_FOLDER:
        # Only if empty (rmdir refuses otherwise). A run making its lock file there at
        # this instant finds the folder gone and makes it again (take_run_lock).
        with contextlib.suppress(OSError):
            journal.parent.rmdir()


def stale_journals(folder: Path, days: float, now: float | None = None) -> list[Path]:
    """The journals in `folder` (and below, hidden folders included) not written for
    `days` days."""
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
    """Move a journal an earlier version kept elsewhere to `new`, if there is one and none
    at `new` yet: an upgrade must not send every row again.

    The earlier places, the latest first: beside the sheet under today's name (before
    the hidden folder), and `old` (0.1's name, also beside the sheet). Both locks are
    held while the files move: the earlier one, so that a run of the earlier version
    still going is said so; `new`'s, so that no run opens a journal half moved. The
    database moves last: `new` exists only once its WAL is beside it.
    """
    if new.exists():
        return False
    earlier = [path for path in (_earlier_place(new), old) if path is not None and path != new]
    source = next((path for path in earlier if path.exists()), None)
    if source is None:
        return False
    held = take_run_lock(new)
    try:
        moving = take_run_lock(source)
        try:
            if new.exists() or not source.exists():  # another run moved it meanwhile
                return False
            for suffix in (*SIDE_FILES, ""):
                target = Path(f"{new}{suffix}")
                if Path(f"{source}{suffix}").exists():
                    os.replace(f"{source}{suffix}", target)
                else:  # a stray WAL would be replayed into the journal moved in
                    target.unlink(missing_ok=True)
        finally:
            release_run_lock(source, moving)
    finally:
        release_run_lock(new, held)
    return True


def find_journals(sheet: Path, journal_dir: Path | None = None) -> list[Path]:
    """The journals kept for `sheet` (one per worksheet and account), newest first: where
    journal_folder says, in the hidden folder beside it, and any an earlier version left
    beside it (moved by the sheet's next run). Outside the sheet's folder, only those
    whose recorded sheet folder is this one (or none, or one the sheet has left)."""
    found: dict[Path, Path] = {}
    real = sheet.resolve()
    outside = journal_folder(sheet, journal_dir)
    for named in dict.fromkeys((sheet, real)):  # the sheet, and a link's target
        pattern = glob.escape(named.name) + _JOURNAL_NAME
        for folder in dict.fromkeys((outside, named.parent / JOURNAL_FOLDER, named.parent)):
            paths = list(folder.glob(pattern))
            if folder == outside and folder != real.parent / JOURNAL_FOLDER:
                paths = _this_sheets(paths, real)
            for path in paths:
                found.setdefault(path.resolve(), path)

    def written(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    return sorted(found.values(), key=written, reverse=True)


# -- the run's lock --------------------------------------------------------------------
#
# `<journal>.lock` exists while a run holds it, and is removed when the run lets go, so
# no lock file stays after a run. Removing a lock file safely takes two rules:
#
# 1. Only the holder removes it, and on POSIX while still holding the lock: unlink,
#    then close. (Close then unlink would be the race: in between, a new run locks the
#    file, the unlink takes it from under that run, and a third run makes a new file
#    and locks it too: two runs sending the same sheet.)
# 2. Whoever gets the lock checks that the path still names the file it locked. A run
#    that opened the file just before the holder unlinked it gets the lock on a file
#    no longer there: it sees so (another file, or none, at the path) and starts over
#    on the path's file. So every lock that counts is on the file the path names.
#
# Windows will not delete a file that any process has open: the holder closes first,
# then deletes the file, which fails (and the file stays) exactly when another run has
# it open, about to lock it; that run removes it in turn. The journal itself could not
# serve as the lock: --restart and `forget` delete it while holding the lock, SQLite
# takes its own locks on it, and on Windows a locked byte cannot be read by SQLite.


def take_run_lock(path: Path) -> int:
    """Take `<journal>.lock` exclusively, or say which run holds it (ConfigError).

    The descriptor returned is given back with `release_run_lock`, which removes the file.
    """
    lock_path = Path(f"{path}.lock")
    key = os.path.realpath(lock_path)
    busy = 0
    for _ in range(100):  # each turn: a file made, or removed, by another run meanwhile
        with _HELD_GUARD:
            if key in _HELD:
                raise _taken(path, str(os.getpid()))
            if lock_path.parent.name == JOURNAL_FOLDER:
                _make_folder(lock_path.parent)  # a `forget` may just have removed it
            try:
                fd = open_private(lock_path, create=True)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ConfigError(
                    f"{path}: cannot open the journal: {exc.strerror or exc}"
                ) from exc
            assert fd is not None  # created
            try:
                got = _try_lock(fd)
                if got and _names(lock_path, fd):
                    os.ftruncate(fd, 0)
                    os.lseek(fd, 0, os.SEEK_SET)
                    os.write(fd, str(os.getpid()).encode())
                    _HELD[key] = fd
                    return fd
                holder = "" if got else _read_pid(fd)
            except OSError as exc:
                os.close(fd)
                raise ConfigError(
                    f"{path}: cannot lock the journal: {exc.strerror or exc}"
                ) from exc
            os.close(fd)
            if got:  # its holder removed the file as we locked it: lock the path's file
                continue
            busy += 1
            if busy >= BUSY_TRIES:
                raise _taken(path, holder or "another process")
        time.sleep(BUSY_WAIT)
    raise ConfigError(f"{path}: cannot take the journal's lock: its file keeps changing")


def release_run_lock(path: Path, fd: int) -> None:
    """Let go of the lock `take_run_lock` gave, and remove its file (see the rules above)."""
    lock_path = Path(f"{path}.lock")
    with _HELD_GUARD:
        for key in [key for key, held in _HELD.items() if held == fd]:
            del _HELD[key]
        if sys.platform == "win32":
            os.close(fd)
            with contextlib.suppress(OSError):  # open in another run, which holds it next
                lock_path.unlink()
            return
        try:
            if _names(lock_path, fd):  # never another run's file
                lock_path.unlink()
        except OSError:
            pass
        finally:
            os.close(fd)  # the lock goes with the last descriptor of the file


def run_holder(journal: Path) -> str | None:
    """Whether a run holds `journal` now: that run's process id ('' if it did not say),
    or None.

    Asked without disturbing it: no file is made (a run's lock file is there for as long
    as it holds it); the lock is tried shared, without waiting, on a descriptor of our
    own, which this process's own runs never are (they are answered from _HELD). When
    no run holds it, that try holds it for an instant; a run starting then tries again
    (BUSY_TRIES) instead of being refused.
    """
    lock_path = Path(f"{journal}.lock")
    with _HELD_GUARD:
        if os.path.realpath(lock_path) in _HELD:
            return str(os.getpid())
        try:  # os.lockf (no fcntl module) locks only what it may write to
            mode = os.O_RDONLY if sys.platform == "win32" or _has_fcntl() else os.O_RDWR
            fd = os.open(lock_path, mode | getattr(os, "O_NOFOLLOW", 0))
        except OSError:  # no lock file (or a link planted there): no run holds it
            return None
        try:
            if _try_lock(fd, shared=True):
                _unlock(fd)
                return None
            return _read_pid(fd)
        except OSError:  # no lock to be had here at all: as when no run holds it
            return None
        finally:
            os.close(fd)


def refuse_if_held(journal: Path) -> None:
    """The refusal `take_run_lock` would give, said before anything else is done: a run
    that will be refused makes no call and takes no share of the App's rate."""
    holder = run_holder(journal)
    if holder is not None:
        raise _taken(journal, holder or "another process")


def _taken(path: Path, holder: str) -> JournalBusy:
    return JournalBusy(
        f"{path}: another bulk-loader run (pid {holder}) is importing this sheet into "
        "this account; wait for it to finish (or run with --wait SECONDS), or stop it first"
    )


def _names(lock_path: Path, fd: int) -> bool:
    """True when `lock_path` is the file open on `fd` (not a newer one, nor none)."""
    try:
        named = os.lstat(lock_path)
    except OSError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _read_pid(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 32).decode(errors="replace").strip()
    except OSError:
        return ""


def _has_fcntl() -> bool:
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return False
    return True


def _try_lock(fd: int, *, shared: bool = False) -> bool:
    """Lock the open lock file without waiting; False when another holds it."""
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBRLCK if shared else msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        try:
            import fcntl
        except ImportError:  # POSIX without the fcntl module: a record lock, exclusive
            os.lseek(fd, 0, os.SEEK_SET)
            os.lockf(fd, os.F_TLOCK, 1)
        else:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    try:
        import fcntl
    except ImportError:
        os.lseek(fd, 0, os.SEEK_SET)
        os.lockf(fd, os.F_ULOCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)


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
