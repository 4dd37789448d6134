"""The checks a workbook passes before openpyxl opens it: zip bombs, giant parts, entities.

A workbook is a zip of XML parts, so a small file can stand for gigabytes. The checks
work from the zip's declared sizes, a true bound since zipfile never returns more than
a part declares: parts that decompress absurdly (zip bombs), parts that openpyxl would
parse whole beyond a few tens of MB, more distinct texts than memory should hold, and
any XML with a DOCTYPE (entity expansion: "billion laughs"). The limits are module
constants: generous enough for a 1,048,576-row export, finite always.

DOCTYPEs are found by expat itself, in every part whatever its name, encoding (UTF-16
without a byte-order mark included) or the comments before it, reading only up to the
first element. defusedxml is the second line: openpyxl parses through it when it is
installed (a dependency), and the worksheet's rows and [Content_Types].xml are parsed
here through it with no DTD allowed; its refusal reads as the same one line.

defusedxml alone would not do. It does refuse entity declarations in every part
openpyxl parses, in UTF-8 and UTF-16 alike, but only while openpyxl chooses it:
with lxml importable openpyxl parses the workbook, relationships, styles, properties
and [Content_Types].xml through lxml instead (entities left unexpanded, nothing
refused), and OPENPYXL_DEFUSEDXML=False turns it off for every part but the rows read
here. It lets a DOCTYPE without entities through, never sees the parts openpyxl does
not parse (the theme, docProps/app.xml, _rels/.rels), and its refusal cannot name the
part.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path
from xml.etree.ElementTree import ParseError
from xml.parsers import expat

# defusedxml ships no type hints (and types-defusedxml is not a dev dependency).
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from bulk_loader.errors import SheetError

__all__ = [
    "MAX_COMPRESSION_RATIO",
    "MAX_PARTS",
    "MAX_PART_BYTES",
    "MAX_SHARED_STRINGS",
    "MAX_SHARED_STRINGS_BYTES",
    "MAX_WORKBOOK_BYTES",
    "check_workbook_zip",
    "unreadable",
]

_MB = 1024 * 1024
# What the zip may unpack to. Worksheets stream (memory stays flat), so their bound is
# time: a 1,000,000 x 20 export is about 0.6-1 GB of XML. Real parts compress 10-25x;
# deflate bombs 1,000x. Parts openpyxl parses whole (styles, workbook, relationships)
# are kilobytes in real files. Shared strings are held in memory, one entry per
# distinct text: 20 million is a 1,000,000 x 20 sheet where no two cells repeat.
MAX_WORKBOOK_BYTES = 8 * 1024 * _MB
MAX_COMPRESSION_RATIO = 100
RATIO_FLOOR_BYTES = 1 * _MB  # smaller parts may compress as well as they like
MAX_PART_BYTES = 64 * _MB
MAX_SHARED_STRINGS_BYTES = 1024 * _MB
MAX_SHARED_STRINGS = 20_000_000
MAX_PARTS = 10_000

_WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_STRINGS_PART = "xl/sharedstrings.xml"
_WORKSHEET_PART = re.compile(r"xl/worksheets/[^/]+\.xml")
# The prolog (what comes before the first element) is about 60 bytes in a workbook Excel
# wrote; a part still in its prolog after this many bytes is refused.
MAX_PROLOG_BYTES = 1 * _MB
_SCAN_BYTES = 64 * 1024
_READ_BYTES = 1 * _MB
_DOCTYPE = (
    "declares a DOCTYPE, which no workbook Excel wrote does (it can expand entities "
    "without end); refused"
)


def check_workbook_zip(path: Path) -> None:
    """Refuse a workbook whose parts would unpack to absurd sizes or hold a DOCTYPE.

    Python's zipfile never yields more than a part's declared size (it fails the CRC
    check instead), so the declared sizes are a true bound on what openpyxl can read.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            if len(parts) > MAX_PARTS:
                raise SheetError(
                    f"the workbook holds {len(parts):,} parts (at most {MAX_PARTS:,}); "
                    "it is not a workbook Excel wrote",
                    path,
                )
            total = sum(part.file_size for part in parts)
            if total > MAX_WORKBOOK_BYTES:
                raise SheetError(
                    f"the workbook would unpack to {_size(total)} (at most "
                    f"{_size(MAX_WORKBOOK_BYTES)}); split it, or save it as .csv",
                    path,
                )
            types = _content_types(archive, path)
            for part in parts:
                _check_part(archive, part, types.get(part.filename.casefold(), set()), path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as exc:
        raise SheetError(
            "this is not an XLSX workbook (not a valid zip file); is it corrupt?", path
        ) from exc
    except (OSError, RuntimeError, NotImplementedError, ValueError) as exc:
        raise SheetError(unreadable(exc), path) from exc


def _check_part(
    archive: zipfile.ZipFile, part: zipfile.ZipInfo, types: set[str], path: Path
) -> None:
    size, name = part.file_size, part.filename
    ratio = size / max(part.compress_size, 1)
    if size > RATIO_FLOOR_BYTES and ratio > MAX_COMPRESSION_RATIO:
        raise SheetError(
            f"the workbook part {name!r} would unpack {ratio:,.0f} times larger, to "
            f"{_size(size)}: a zip bomb, not a workbook Excel wrote",
            path,
        )
    lowered = name.casefold()
    if types == {_WORKSHEET_TYPE} and _WORKSHEET_PART.fullmatch(lowered):
        limit = MAX_WORKBOOK_BYTES  # streamed row by row
    elif types == {_STRINGS_TYPE} and lowered == _STRINGS_PART:
        limit = MAX_SHARED_STRINGS_BYTES
    else:
        limit = MAX_PART_BYTES  # openpyxl parses these whole
    if size > limit:
        raise SheetError(
            f"the workbook part {name!r} would unpack to {_size(size)} "
            f"(at most {_size(limit)} for this part); save the workbook again from Excel",
            path,
        )
    _refuse_doctype(archive, part, path)  # any part: a worksheet may be named anything
    if limit == MAX_SHARED_STRINGS_BYTES and size > MAX_PART_BYTES:
        _count_shared_strings(archive, part, path)


def _content_types(archive: zipfile.ZipFile, path: Path) -> dict[str, set[str]]:
    """Lower-cased part name -> every content type [Content_Types].xml declares for it."""
    try:
        info = archive.getinfo("[Content_Types].xml")
    except KeyError:
        return {}  # openpyxl says so in its own words
    if info.file_size > MAX_PART_BYTES:
        raise SheetError(f"[Content_Types].xml would unpack to {_size(info.file_size)}", path)
    _refuse_doctype(archive, info, path)
    try:
        root = fromstring(archive.read(info), forbid_dtd=True)
    except (ParseError, LookupError, ValueError):
        return {}
    types: dict[str, set[str]] = {}
    for node in root:
        if node.tag.endswith("}Override"):
            name = node.get("PartName", "").lstrip("/").casefold()
            types.setdefault(name, set()).add(node.get("ContentType", ""))
    return types


class _Root(Exception):
    """The first element began: the prolog, where a DOCTYPE could be, is over."""


class _Doctype(Exception):
    """The part declares a DOCTYPE."""


def _refuse_doctype(archive: zipfile.ZipFile, part: zipfile.ZipInfo, path: Path) -> None:
    """No part of a real workbook declares a DTD; one that does may expand entities.

    Only the prolog can hold a DOCTYPE: what comes before the first element. expat reads
    it exactly as openpyxl's parser will (it detects UTF-16 without a byte-order mark,
    skips comments of any length), and reading stops at the first element. A part expat
    cannot read as XML is not judged here: openpyxl fails on it in its own words, if it
    reads it at all. A prolog longer than MAX_PROLOG_BYTES is refused, so the work stays
    bounded whatever the part holds.
    """
    parser = expat.ParserCreate()

    def doctype(*_: object) -> None:
        raise _Doctype

    def element(*_: object) -> None:
        raise _Root

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.StartElementHandler = element
    read = 0
    with archive.open(part) as stream:
        try:
            while block := stream.read(_SCAN_BYTES):
                parser.Parse(block, False)
                read += len(block)
                if read > MAX_PROLOG_BYTES:
                    raise SheetError(
                        f"the workbook part {part.filename!r} holds more than "
                        f"{_size(MAX_PROLOG_BYTES)} before its first element, which no "
                        "workbook Excel wrote does; refused",
                        path,
                    )
            parser.Parse(b"", True)
        except (_Root, expat.ExpatError, LookupError, ValueError):
            return  # LookupError: an encoding no codec has (found by the fuzzer)
        except _Doctype:
            raise SheetError(f"the workbook part {part.filename!r} {_DOCTYPE}", path) from None


def _count_shared_strings(archive: zipfile.ZipFile, part: zipfile.ZipInfo, path: Path) -> None:
    """openpyxl keeps every shared string in memory: bound how many there are."""
    count = 0
    tail = b""
    with archive.open(part) as stream:
        while block := stream.read(_READ_BYTES):
            # The last 3 bytes go round again: "<si>" cut in two is found whole next
            # time, and no 4-byte match fits in 3 bytes to be counted twice.
            data = tail + block
            count += data.count(b"<si>") + data.count(b"<si ") + data.count(b"<si/")
            tail = data[-3:]
            if count > MAX_SHARED_STRINGS:
                raise SheetError(
                    f"the workbook holds more than {MAX_SHARED_STRINGS:,} distinct texts "
                    "(its shared-strings table); split it, or save it as .csv",
                    path,
                )


def _size(size: int) -> str:
    return f"{size / 1024**3:.1f} GB" if size >= 1024**3 else f"{size / _MB:,.0f} MB"


def unreadable(exc: Exception) -> str:
    """One line for any foreign error a workbook raised (zipfile, XML, openpyxl)."""
    if isinstance(exc, zipfile.BadZipFile):
        return "this is not an XLSX workbook (not a valid zip file); is it corrupt?"
    cause: BaseException | None = exc
    for _ in range(8):  # openpyxl wraps defusedxml's refusal in a ValueError
        if cause is None:
            break
        if isinstance(cause, DefusedXmlException):
            return f"the workbook {_DOCTYPE}"
        cause = cause.__cause__ or cause.__context__
    detail = " ".join(str(exc).split())  # one line, whatever the foreign message held
    if len(detail) > 200:
        detail = detail[:200] + "..."
    return (
        f"this workbook cannot be read ({type(exc).__name__}: {detail}); "
        "open it in Excel and save it again as .xlsx, or as .csv"
    )
