"""The user's own folders for bulk-loader, as each system places them.

The cache (lead memory, the App's shared pace: safe to lose), the data folder
(journals kept out of synced folders: not to lose) and the config folder (profiles,
bulk-loader.toml). Each has an environment variable
that overrides it, for tests and for teams that keep them elsewhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["cache_folder", "config_folder", "data_folder"]


def cache_folder() -> Path:
    """The user's cache folder for bulk-loader (BULK_LOADER_CACHE overrides it)."""
    return _folder("BULK_LOADER_CACHE", "Cache", Path("Library", "Caches"), "XDG_CACHE_HOME",
                   Path(".cache"))  # fmt: skip


def data_folder() -> Path:
    """The user's data folder for bulk-loader (BULK_LOADER_DATA overrides it)."""
    return _folder("BULK_LOADER_DATA", "Data", Path("Library", "Application Support"),
                   "XDG_DATA_HOME", Path(".local", "share"))  # fmt: skip


def config_folder() -> Path:
    """The user's config folder for bulk-loader: profiles and bulk-loader.toml
    (BULK_LOADER_CONFIG overrides it). Windows: %APPDATA%\\bulk-loader (it roams with
    the user); macOS: ~/Library/Application Support/bulk-loader; else
    $XDG_CONFIG_HOME (~/.config)/bulk-loader."""
    if os.environ.get("BULK_LOADER_CONFIG"):
        return Path(os.environ["BULK_LOADER_CONFIG"])
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
        return base / "bulk-loader"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "bulk-loader"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "bulk-loader"


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
