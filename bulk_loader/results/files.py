"""Where a run's files go, and whether they can be written there, asked before anything
is sent: finding an unwritable --results after 50,000 rows were sent would leave the
person with no results and a journal to dig through."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from bulk_loader.errors import InputError

__all__ = [
    "check_writable",
    "check_writable_folder",
    "default_results_path",
    "failed_rows_path",
    "file_digest",
    "numbered",
    "same_file",
]


def default_results_path(sheet_path: Path, results_path: Path | None = None) -> Path:
    """`--results` if given, else `<sheet>.results.xlsx` beside the input.

    Never the input itself: writing results over the sheet would destroy it.
    """
    sheet_path = Path(sheet_path)
    if results_path is None:
        return sheet_path.with_name(f"{sheet_path.stem}.results.xlsx")
    if same_file(Path(results_path), sheet_path):
        raise InputError(f"--results {results_path} is the input sheet; name another file")
    return Path(results_path)


def same_file(a: Path, b: Path) -> bool:
    """The same file however the two are spelled; False when either cannot be read."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and a.samefile(b))
    except OSError:
        return False


def failed_rows_path(sheet: Path) -> Path:
    """`<sheet>.failed.<ext>` beside the input, in the input's own format."""
    suffix = sheet.suffix.lower() if sheet.suffix.lower() in (".csv", ".xlsx") else ".csv"
    return sheet.with_name(f"{sheet.stem}.failed{suffix}")


def numbered(failed: Path, number: int) -> Path:
    """The failed-rows file's `number`th name: `<sheet>.failed.csv`, then
    `<sheet>.failed-2.csv`, `-3`, ... (where a file to keep stands in the way)."""
    return failed if number == 1 else failed.with_name(f"{failed.stem}-{number}{failed.suffix}")


def file_digest(path: Path) -> str | None:
    """The SHA-256 of a file's bytes; None when there is no such file to read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def check_writable(path: Path, what: str = "results") -> None:
    """InputError now, before anything is sent, if `path` could not be written later.

    Opens it as the writer will (without emptying a file that is there); a file this
    check created is removed again.
    """
    existed = os.path.lexists(path)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        raise InputError(f"cannot write the {what} to {path}: {exc.strerror or exc}") from exc
    if not existed:
        Path(path).unlink(missing_ok=True)


def check_writable_folder(folder: Path, what: str) -> None:
    """InputError now if no file could be made in `folder` (a file is made and removed
    there; the file the run will write is not touched)."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".bulk-loader-check-"):
            pass
    except OSError as exc:
        raise InputError(f"cannot write the {what} in {folder}: {exc.strerror or exc}") from exc
