"""Where a run's files go, and whether they can be written there, asked before anything
is sent: finding an unwritable --results after 50,000 rows were sent would leave the
person with no results and a journal to dig through."""

from __future__ import annotations

import csv
import hashlib
import html
import os
import re
import tempfile
import zipfile
from pathlib import Path

from bulk_loader.errors import InputError

__all__ = [
    "check_writable",
    "check_writable_folder",
    "default_results_path",
    "dry_run_target",
    "failed_rows_path",
    "file_digest",
    "make_output_dir",
    "numbered",
    "output_name",
    "results_app",
    "results_for_app",
    "results_owner",
    "same_file",
]


def output_name(sheet: Path, what: str, suffix: str) -> str:
    """The name of a file this tool writes for `sheet`: `leads.results.xlsx` for
    `leads.xlsx`, and the input's extension kept for any other (`leads.csv.results.xlsx`),
    so that leads.csv and leads.xlsx in one folder never write the same file."""
    base = sheet.stem if sheet.suffix.lower() == ".xlsx" else sheet.name
    return f"{base}.{what}{suffix}"


def default_results_path(
    sheet_path: Path,
    results_path: Path | None = None,
    output_dir: Path | None = None,
    suffix: str = ".xlsx",
) -> Path:
    """`--results` if given, else `<sheet>.results.xlsx` (output_name) beside the input
    or in `output_dir`.

    Never the input itself: writing results over the sheet would destroy it.
    """
    sheet_path = Path(sheet_path)
    if results_path is None:
        folder = output_dir if output_dir is not None else sheet_path.parent
        return folder / output_name(sheet_path, "results", suffix)
    if same_file(Path(results_path), sheet_path):
        raise InputError(f"--results {results_path} is the input sheet; name another file")
    return Path(results_path)


def same_file(a: Path, b: Path) -> bool:
    """The same file however the two are spelled; False when either cannot be read."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and a.samefile(b))
    except OSError:
        return False


def make_output_dir(folder: Path | None) -> None:
    """--output-dir, made if it is not there yet (InputError naming it if it cannot be)."""
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--output-dir {folder}: {exc.strerror or exc}") from exc
    if not folder.is_dir():
        raise InputError(f"--output-dir {folder}: not a folder")


def failed_rows_path(sheet: Path, output_dir: Path | None = None) -> Path:
    """`<sheet>.failed.<ext>` beside the input (or in `output_dir`), in the input's own
    format: leads.csv and leads.xlsx already differ by it. Another text sheet keeps its
    extension in the name (`leads.tsv.failed.csv`), apart from leads.csv's."""
    folder = output_dir if output_dir is not None else sheet.parent
    suffix = sheet.suffix.lower()
    if suffix in (".csv", ".xlsx"):
        return folder / f"{sheet.stem}.failed{suffix}"
    return folder / f"{sheet.name}.failed.csv"


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


def results_for_app(path: Path, app_id: str) -> tuple[Path, str]:
    """The default results path for a run into `app_id`, and a note when it moved.

    When `path` holds the results of a run into another App (its Summary says which),
    this run's go beside it as `<name>.app-<id>.xlsx`: one sheet run for two clients
    leaves both clients' results, never one overwritten by the other.
    """
    owner = results_app(path)
    if owner is None or owner == app_id:
        return path, ""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in app_id)[:64]
    moved = path.with_name(f"{path.stem}.app-{safe}{path.suffix}")
    return moved, (
        f"{path.name} holds the results of app {owner}: this run's (app {app_id}) are in "
        f"{moved.name}"
    )


def results_app(path: Path) -> str | None:
    """The App id a results file this tool wrote names (None: no file, not one of ours,
    a dry run without an account, or unreadable)."""
    owner = re.match(r"app (\S+)", results_owner(path)[0])
    return owner.group(1) if owner else None


def results_owner(path: Path) -> tuple[str, str]:
    """(account, run) a results file this tool wrote names in its Summary ("" where it
    does not say). XLSX: its document properties, a few hundred bytes whatever the
    workbook's size (Excel keeps them when it saves the file again); CSV: the summary
    file beside it."""
    try:
        if path.suffix.lower() == ".csv":
            summary = path.with_name(f"{path.stem}.summary.csv")
            with summary.open(encoding="utf-8-sig", newline="") as file:
                lines = {row[0]: row[1] for row in csv.reader(file) if len(row) >= 2}
            return lines.get("Account", ""), lines.get("Run", "")
        with zipfile.ZipFile(path) as book, book.open("docProps/custom.xml") as props:
            text = props.read(1 << 20).decode("utf-8", "replace")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return "", ""

    def prop(name: str) -> str:
        found = re.search(rf'name="{name}".*?>([^<>]*)</vt:lpwstr>', text, re.S)
        return html.unescape(found.group(1)) if found else ""

    return prop("bulk-loader account"), prop("bulk-loader run")


def dry_run_target(path: Path, sheet: Path) -> tuple[Path, str]:
    """Where a dry run's results go: `path`, unless it holds a real run's results (their
    lead ids and outcomes): then `<sheet>.dry-run.xlsx` beside it, with a note."""
    if not results_owner(path)[1].startswith("import"):
        return path, ""
    moved = path.with_name(output_name(sheet, "dry-run", path.suffix))
    return moved, f"{path.name} holds a real run's results: this dry run's are in {moved.name}"
