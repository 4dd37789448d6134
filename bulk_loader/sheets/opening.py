"""Opening a sheet: the file's content says whether it is a workbook or a CSV.

Kept apart from both readers so neither imports the other, and so openpyxl is imported
only when a workbook is opened: CSV runs never pay for it.
"""

from __future__ import annotations

from pathlib import Path

from bulk_loader.errors import SheetError
from bulk_loader.sheets.csv_file import open_csv
from bulk_loader.sheets.sheet import Sheet

__all__ = ["open_sheet"]

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and password-protected .xlsx


def open_sheet(path: Path, sheet: str | None = None) -> Sheet:
    """Open a CSV or XLSX file and read its header row; SheetError if it can't be used.

    The content decides the format (a zip is a workbook), so a renamed file still opens;
    `sheet` names an XLSX worksheet (default: the first) and is ignored for CSV.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            head = file.read(8)
    except OSError as exc:
        raise SheetError(f"cannot open the file: {exc.strerror or exc}", path) from exc
    if head.startswith(_OLE_MAGIC) or (path.suffix.lower() == ".xls" and head[:4] != _ZIP_MAGIC):
        raise SheetError(
            "this is an old-format .xls workbook or a password-protected one; "
            "save it (without a password) as .xlsx or .csv",
            path,
        )
    if head.startswith(_ZIP_MAGIC):
        # Imported here: it imports openpyxl, and CSV runs don't pay for that.
        from bulk_loader.sheets.xlsx_file import open_workbook_sheet

        return open_workbook_sheet(path, sheet)
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        raise SheetError("this is not an XLSX workbook (not a zip file); is it corrupt?", path)
    return open_csv(path)
