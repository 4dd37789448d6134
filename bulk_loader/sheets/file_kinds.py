"""What a file is when it is not a sheet: a PDF, JSON, an image, a Word file, a zip...

People hand over whatever the old tool exported. A file that is neither a CSV nor an
XLSX workbook gets one line naming what it is and what to do, rather than a parse
error about row 1 or a zip member. Only the first bytes are read (and, for a zip or an
OLE file, its table of contents), so the check costs nothing on real sheets; a file it
cannot place is left to the CSV and XLSX readers, whose errors already name the file.
"""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path

from bulk_loader.errors import SheetError

__all__ = ["HEAD_BYTES", "OLE_MAGIC", "ZIP_MAGIC", "refuse_folder", "refuse_other_kinds"]

HEAD_BYTES = 4096  # enough to see past a BOM, blank lines and an XML declaration
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, .doc, and password-protected .xlsx

_EXPORT = "export the list as CSV or XLSX"
_SAVE_AS = "open it in Excel and save it as .xlsx or .csv"
_UNZIP = "unzip it and give the sheet inside"

# Leading bytes -> what a person would call the file. Checked in order.
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "a PDF document", _EXPORT),
    (b"%!PS", "a PostScript document", _EXPORT),
    (b"{\\rtf", "a rich-text (RTF) document", _EXPORT),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", _EXPORT),
    (b"\xff\xd8\xff", "a JPEG image", _EXPORT),
    (b"GIF87a", "a GIF image", _EXPORT),
    (b"GIF89a", "a GIF image", _EXPORT),
    (b"II*\x00", "a TIFF image", _EXPORT),
    (b"MM\x00*", "a TIFF image", _EXPORT),
    (b"\x1f\x8b", "a gzip-compressed file", "unpack it and give the sheet inside"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", _UNZIP),
    (b"Rar!\x1a\x07", "a RAR archive", _UNZIP),
    (b"SQLite format 3\x00", "an SQLite database (a bulk-loader journal?)", _EXPORT),
    (b"\x7fELF", "a program", _EXPORT),
)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_JSON_START = re.compile(r'\{\s*(?:"|\}|$)|\[\s*(?:\{|\[|\]|$)')
_HTML_START = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<table[\s>]")
_SPREADSHEET_ML = "urn:schemas-microsoft-com:office:spreadsheet"


def refuse_folder(path: Path) -> None:
    """A folder given as the sheet: a Numbers document is one, on a Mac."""
    if not path.is_dir():
        return
    if path.suffix.lower() == ".numbers":
        raise SheetError(
            "this is an Apple Numbers document, not a spreadsheet bulk-loader can read; "
            "in Numbers, File > Export To > CSV (or Excel)",
            path,
        )
    raise SheetError("this is a folder, not a file; give the sheet file inside it", path)


def refuse_other_kinds(path: Path, head: bytes) -> None:
    """SheetError naming what the file is, if its first bytes say it is not a sheet.

    `head`: the file's first HEAD_BYTES bytes. A zip is judged by its table of contents
    (an XLSX passes), an OLE file (old Office formats) by its first directory entries.
    """
    for magic, what, todo in _MAGIC:
        if head.startswith(magic):
            _refuse(path, what, todo)
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        _refuse(path, "a WebP image", _EXPORT)
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"avif"):
        _refuse(path, "a HEIC/AVIF image", _EXPORT)
    if head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00":
        _refuse(path, "a BMP image", _EXPORT)
    if head.startswith(ZIP_MAGIC):
        _refuse_other_zips(path)
    elif head.startswith(OLE_MAGIC):
        _refuse_ole(path, head)
    else:
        _refuse_text_kinds(path, head)


def _refuse(path: Path, what: str, todo: str) -> None:
    raise SheetError(f"this is {what}, not a spreadsheet; {todo}", path)


def _refuse_text_kinds(path: Path, head: bytes) -> None:
    """HTML (what many web tools save as .xls), XML, JSON: text, but not rows."""
    for bom in _BOMS:
        if head.startswith(bom):
            encoding = "utf-16" if len(bom) == 2 else "utf-8"
            text = head.decode(encoding, "replace")
            break
    else:
        text = head.decode("latin-1")
    text = text.lstrip("\ufeff \t\r\n").casefold()
    if text.startswith("<"):
        if _SPREADSHEET_ML in text:
            _refuse(path, "an Excel 2003 XML spreadsheet", _SAVE_AS)
        if _HTML_START.search(text):
            _refuse(path, "a web page (HTML), often what a web tool saves as .xls", _SAVE_AS)
        if text.startswith("<?xml"):
            _refuse(path, "an XML file", _EXPORT)
    if _JSON_START.match(text):
        _refuse(path, "JSON data", _EXPORT)


def _refuse_other_zips(path: Path) -> None:
    """A zip that is an XLSX passes; an ODS, a Numbers file, a Word file or a plain zip
    of files does not. A zip that cannot be listed is left to the workbook guard."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            mimetype = _small_member(archive, "mimetype")
    except Exception:  # damaged: check_workbook_zip says so in its own words
        return
    lowered = {name.casefold() for name in names}
    if "xl/workbook.xml" in lowered or "[content_types].xml" in lowered:
        if "xl/workbook.bin" in lowered:
            _refuse(path, "an Excel binary workbook (.xlsb)", _SAVE_AS)
        if "word/document.xml" in lowered:
            _refuse(path, "a Word document", _EXPORT)
        if "ppt/presentation.xml" in lowered:
            _refuse(path, "a PowerPoint presentation", _EXPORT)
        return  # a workbook (or near enough): openpyxl judges the rest
    if mimetype.startswith("application/vnd.oasis.opendocument.spreadsheet"):
        _refuse(
            path,
            "an OpenDocument spreadsheet (.ods)",
            "open it in LibreOffice or Excel and save it as .xlsx or .csv",
        )
    if mimetype.startswith("application/vnd.oasis.opendocument"):
        _refuse(path, "an OpenDocument file", _EXPORT)
    if any(name.startswith("index/") and name.endswith((".iwa", ".zip")) for name in lowered):
        what = "an Apple Numbers document" if path.suffix.lower() == ".numbers" else (
            "an Apple iWork document (Numbers, Pages or Keynote)"
        )  # fmt: skip
        _refuse(path, what, "in Numbers, File > Export To > CSV (or Excel)")
    files = [name for name in names if not name.endswith("/")]
    shown = ", ".join(repr(name) for name in files[:3]) + (", ..." if len(files) > 3 else "")
    holding = f" holding {shown}" if files else ""
    raise SheetError(
        f"this is a zip archive{holding}, not an XLSX workbook, so it cannot be read as a "
        f"sheet; {_UNZIP}",
        path,
    )


def _small_member(archive: zipfile.ZipFile, name: str) -> str:
    """The text of a small member (an ODF `mimetype`), or "" if there is none."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        return ""
    if info.file_size > 200:
        return ""
    return archive.read(info).decode("ascii", "replace").strip()


# OLE stream names (UTF-16 in the compound file's directory) -> what the file is.
_OLE_KINDS = (
    (("EncryptedPackage", "EncryptionInfo"), "password"),
    (("Workbook", "Book"), "xls"),
    (("WordDocument",), "a Word document (.doc)"),
    (("PowerPoint Document",), "a PowerPoint presentation (.ppt)"),
)


def _refuse_ole(path: Path, head: bytes) -> None:
    """An OLE compound file: an old .xls, an Office file under a password, or another
    old Office document. Its first directory sector names the streams that tell."""
    streams = _ole_streams(path, head)
    for names, kind in _OLE_KINDS:
        if not streams.isdisjoint(names):
            if kind == "password":
                raise SheetError(
                    "this is a password-protected (encrypted) workbook; open it in Excel, "
                    "remove the password and save it again, or save it as .csv",
                    path,
                )
            if kind == "xls":
                raise SheetError(
                    "this is an old-format Excel workbook (.xls, Excel 97-2003), not "
                    f"XLSX; {_SAVE_AS}",
                    path,
                )
            _refuse(path, kind, _EXPORT)
    if any(name.startswith("__substg1.0_") for name in streams):
        _refuse(path, "an Outlook message (.msg)", "save the attached sheet and give that")
    raise SheetError(
        "this is an old-format .xls workbook or a password-protected one; "
        "save it (without a password) as .xlsx or .csv",
        path,
    )


def _ole_streams(path: Path, head: bytes) -> set[str]:
    """The stream names in the first directory sector of an OLE file; empty if the
    header makes no sense (then the caller's message covers both likely cases)."""
    if len(head) < 512:
        return set()
    shift = struct.unpack_from("<H", head, 30)[0]
    first_directory = struct.unpack_from("<I", head, 48)[0]
    if shift not in (9, 12) or first_directory >= 0xFFFFFFFA:
        return set()
    size = 1 << shift
    try:
        with path.open("rb") as file:
            file.seek((first_directory + 1) * size)
            sector = file.read(size)
    except (OSError, OverflowError, ValueError):
        return set()
    names = set()
    for start in range(0, len(sector) - 127, 128):
        length = struct.unpack_from("<H", sector, start + 64)[0]
        if 2 <= length <= 64:
            names.add(sector[start : start + length - 2].decode("utf-16-le", "replace"))
    return names
