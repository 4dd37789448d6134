"""The user's own folders for bulk-loader, as each system places them.

The cache (lead memory, the App's shared pace: safe to lose) and the data folder
(journals kept out of synced folders: not to lose). Each has an environment variable
that overrides it, for tests and for teams that keep them elsewhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["cache_folder", "data_folder"]


def cache_folder() -> Path:
    """The user's cache folder for bulk-loader (BULK_LOADER_CACHE overrides it)."""
    return _folder("BULK_LOADER_CACHE", "Cache", Path("Library", "Caches"), "XDG_CACHE_HOME",
                   Path(".cache"))  # fmt: skip


def data_folder() -> Path:
    """The user's data folder for bulk-loader (BULK_LOADER_DATA overrides it)."""
    return _folder("BULK_LOADER_DATA", "Data", Path("Library", "Application Support"),
                   "XDG_DATA_HOME", Path(".local", "share"))  # fmt: skip


def _folder(override: str, windows: str, macos: Path, xdg: str, home: Path) -> Path:
    """`override` if set; else %LOCALAPPDATA%\\bulk-loader\\<windows>, ~/<macos>/bulk-loader,
    or $<xdg> (else ~/<home>)/bulk-loader."""
    if os.environ.get(override):
        return Path(os.environ[override])
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "bulk-loader" / windows
    if sys.platform == "darwin":
        return Path.home() / macos / "bulk-loader"
    return Path(os.environ.get(xdg) or Path.home() / home) / "bulk-loader"
