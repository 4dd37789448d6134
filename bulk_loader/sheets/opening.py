"""Opening a sheet: the file's content says whether it is a workbook or a CSV.

Kept apart from both readers so neither imports the other, and so openpyxl is imported
only when a workbook is opened: CSV runs never pay for it. A file that is neither (a
PDF, JSON, an image, an .ods or an old .xls) is refused in one line by file_kinds.py.
"""

from __future__ import annotations

from pathlib import Path

from bulk_loader.errors import SheetError
from bulk_loader.sheets.csv_file import open_csv
from bulk_loader.sheets.file_kinds import (
    HEAD_BYTES,
    ZIP_MAGIC,
    refuse_folder,
    refuse_other_kinds,
)
from bulk_loader.sheets.sheet import HeaderSearch, Sheet

__all__ = ["open_sheet"]


def open_sheet(
    path: Path,
    sheet: str | None = None,
    header_row: int | None = None,
    search: HeaderSearch | None = None,
) -> Sheet:
    """Open a CSV or XLSX file and read its header row; SheetError if it can't be used.

    The content decides the format (a zip is a workbook), so a renamed file still opens;
    `sheet` names an XLSX worksheet, or gives its position among the visible ones
    (default: the first) and is ignored for CSV. `header_row` is the header row's
    number as Excel shows it (default: 1, or the row `search` finds: sheet.locate_header).
    """
    path = Path(path)
    if header_row is not None and header_row < 1:
        raise ValueError(f"header_row counts from 1, as Excel does; not {header_row}")
    refuse_folder(path)
    try:
        with path.open("rb") as file:
            head = file.read(HEAD_BYTES)
    except OSError as exc:
        raise SheetError(f"cannot open the file: {exc.strerror or exc}", path) from exc
    refuse_other_kinds(path, head)
    if path.suffix.lower() == ".xls" and head[:4] != ZIP_MAGIC:  # not OLE: file_kinds
        raise SheetError(
            "this file is named .xls but is not an Excel workbook; if it is a text export, "
            "rename it to .csv, else open it in Excel and save it as .xlsx or .csv",
            path,
        )
    if head.startswith(ZIP_MAGIC):
        # Imported here: it imports openpyxl, and CSV runs don't pay for that.
        from bulk_loader.sheets.xlsx_file import open_workbook_sheet

        return open_workbook_sheet(path, sheet, header_row, search)
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        raise SheetError("this is not an XLSX workbook (not a zip file); is it corrupt?", path)
    return open_csv(path, header_row, search)
