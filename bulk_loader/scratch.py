"""One private folder for every temporary file of this process, removed on every way out.

Temporary files hold whole rows of personal data (the XLSX writer's spill files, the
dry run's spool, the journal of a throw-away run). They all live in one folder, made
readable by its owner only (mkdtemp's 0700), named with this process's id:

- `remove()` deletes it; it runs at exit (atexit: normal ends, errors, Ctrl-C), and the
  CLI turns SIGTERM into Ctrl-C so a kill ends the same way;
- a process killed outright (SIGKILL, power loss) cannot clean up: the next run removes
  folders left by processes of this user that no longer exist (POSIX; Windows keeps
  them until its own temp cleanup, since probing a process id there is not safe).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path

__all__ = ["PREFIX", "adopt", "folder", "remove", "temporary_file"]

PREFIX = "bulk-loader-"
_lock = threading.Lock()
_folder: Path | None = None
_owned = True  # False in a child process: the parent made the folder and removes it


def folder() -> Path:
    """This process's private temporary folder, made on first use."""
    global _folder
    with _lock:
        if _folder is None or not _folder.is_dir():
            _sweep_orphans()
            _folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        return _folder


def adopt(path: Path) -> None:
    """Use the parent process's folder (a child's temporary files go there too)."""
    global _folder, _owned
    with _lock:
        _folder, _owned = Path(path), False
    tempfile.tempdir = str(path)  # libraries that ask tempfile (xlsxwriter) land there


def temporary_file() -> tempfile._TemporaryFileWrapper[bytes]:
    """An anonymous temporary file inside the private folder (deleted when closed)."""
    return tempfile.NamedTemporaryFile(dir=folder(), delete=True)


def remove() -> None:
    """Delete the private folder and everything in it; safe to call again."""
    global _folder
    with _lock:
        if _folder is not None and _owned:
            shutil.rmtree(_folder, ignore_errors=True)
        _folder = None


atexit.register(remove)


def _sweep_orphans() -> None:
    """Remove the folders of this user's bulk-loader processes that are gone."""
    if os.name != "posix":
        return
    base = Path(tempfile.gettempdir())
    try:
        candidates = list(base.glob(f"{PREFIX}*-*"))
    except OSError:
        return
    for path in candidates:
        pid_text = path.name[len(PREFIX) :].split("-", 1)[0]
        try:
            info = path.lstat()
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if info.st_uid != os.getuid() or not path.is_dir() or path.is_symlink():
            continue
        if not _alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
