"""Files that hold personal data: owner-only, never through a link, never another's.

Used for the journal (and its companions) and the files in the user's cache folder.
A file left wider by an earlier version or a copy is made 600; a link, or a file
another user owns (a shared folder), is refused with one line (ConfigError).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from bulk_loader.errors import ConfigError

__all__ = ["make_private", "open_private", "private_folder"]


def make_private(path: Path, *, create: bool) -> None:
    """Make `path` owner-only (600), creating it if asked; see `open_private`."""
    fd = open_private(path, create=create)
    if fd is not None:
        os.close(fd)


def open_private(path: Path, *, create: bool) -> int | None:
    """`path` opened read-write and made owner-only; None if it is absent and not
    `create`d. ConfigError for a link or another user's file."""
    if path.is_symlink():  # O_NOFOLLOW below is the race-free check where it exists
        raise ConfigError(f"{path}: is a link; refusing to write personal data through it")
    flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        if create:
            raise
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise ConfigError(
                f"{path}: is a link; refusing to write personal data through it"
            ) from exc
        raise
    try:
        info = os.fstat(fd)
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise ConfigError(
                f"{path}: belongs to another user; refusing to use it (move or delete it)"
            )
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path}: is not a regular file")
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def private_folder(folder: Path) -> Path:
    """`folder`, made if needed, owner-only (700) when it is this user's; a link or
    another user's folder is refused."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.is_symlink():
        raise ConfigError(f"{folder}: is a link; refusing to keep private files there")
    info = folder.stat()
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ConfigError(f"{folder}: belongs to another user; refusing to use it")
    if hasattr(os, "chmod") and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)
    return folder
