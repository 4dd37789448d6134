"""The sheets of a folder (`bulk-loader run FOLDER`), never a file this tool wrote.

A nightly drop folder holds the exports to import and, after the first night, the
results, summaries, failed-rows and undo files bulk-loader wrote beside them. A folder
run takes the sheets and leaves those out by name (their contents are refused as
sheets anyway: opening a results file says so); Excel's `~$` lock files and hidden
files are left out too.
"""

from __future__ import annotations

import re
from pathlib import Path

from bulk_loader.errors import ConfigError

__all__ = ["SHEET_SUFFIXES", "failed_rows_origin", "sheets_in", "written_by_us"]

SHEET_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")
# results (`leads.results.xlsx`, `leads.csv.results.xlsx`, `.app-<id>.xlsx`), a CSV
# results' summary, undo results, failed rows (`leads.failed.csv`, `leads.failed-2.xlsx`).
_OURS = re.compile(
    r"\.results(\.app-[\w-]+)?\.(xlsx|csv)$|\.summary\.csv$|\.(undo|dry-run)\.(xlsx|csv)$"
    r"|\.failed(-\d+)?\.(csv|xlsx)$",
    re.IGNORECASE,
)


def written_by_us(path: Path) -> bool:
    """Whether the name is one bulk-loader gives its own files."""
    return bool(_OURS.search(path.name))


def failed_rows_origin(path: Path) -> str:
    """The sheet a failed-rows file came from, by name (`leads` for leads.failed-2.xlsx,
    `leads.tsv` for leads.tsv.failed.csv); "" for any other file. Given among several
    sheets with its own sheet, it is left out: running the sheet retries those rows."""
    found = re.match(r"(.+)\.failed(-\d+)?\.(csv|xlsx)$", path.name, re.IGNORECASE)
    return found.group(1) if found else ""


def sheets_in(folder: Path) -> tuple[list[Path], list[Path]]:
    """The sheets directly in `folder`, by name, and the files left out as this tool's."""
    try:
        entries = sorted(entry for entry in folder.iterdir() if entry.is_file())
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot be read: {exc.strerror or exc}") from exc
    sheets: list[Path] = []
    ours: list[Path] = []
    for entry in entries:
        if entry.name.startswith((".", "~$")) or entry.suffix.lower() not in SHEET_SUFFIXES:
            continue
        (ours if written_by_us(entry) else sheets).append(entry)
    return sheets, ours
