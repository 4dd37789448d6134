"""Hostile and damaged workbooks, case by case: each ends in rows or one clean SheetError.

The fuzzers in test_fuzz_sheets.py find such cases at random; here each is built on
purpose, small, and named for what it is. Workbooks are assembled part by part with
zipfile, so the XML is exactly what the case needs. Nothing writes gigabytes to disk:
the zip bomb repeats one compressed block.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bulk_loader.errors import SheetError
from bulk_loader.sheets import guard as workbook_guard
from bulk_loader.sheets.opening import open_sheet

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006"
SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
BOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
HEADER = '<row r="1"><c r="A1" t="inlineStr"><is><t>Email</t></is></c></row>'


def worksheet(rows: str, before: str = "", after: str = "", prolog: str = "") -> bytes:
    return (
        f'{prolog}<worksheet xmlns="{MAIN}">{before}<sheetData>{rows}</sheetData>{after}'
        "</worksheet>"
    ).encode()


def text_row(number: int, *texts: str) -> str:
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{text}</t></is></c>'
        for i, text in enumerate(texts)
    )
    return f'<row r="{number}">{cells}</row>'


def build(
    path: Path,
    sheets: Sequence[tuple[str, bytes, str]],
    shared_strings: bytes | None = None,
    parts: Mapping[str, bytes] | None = None,
    skip_sheets: bool = False,
) -> Path:
    """A workbook of (title, worksheet XML, state) sheets, parts given by hand.

    `skip_sheets` declares the sheets but leaves their parts for the caller to add.
    """
    overrides = f'<Override PartName="/xl/workbook.xml" ContentType="{BOOK_TYPE}"/>'
    entries = rels = ""
    for i, (title, _, state) in enumerate(sheets, start=1):
        overrides += (
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{SHEET_TYPE}"/>'
        )
        entries += f'<sheet name="{title}" sheetId="{i}" state="{state}" r:id="rId{i}"/>'
        rels += (
            f'<Relationship Id="rId{i}" Type="{REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        )
    if shared_strings is not None:
        overrides += f'<Override PartName="/xl/sharedStrings.xml" ContentType="{STRINGS_TYPE}"/>'
        rels += f'<Relationship Id="rIdS" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
    contents = {
        "[Content_Types].xml": f'<Types xmlns="{PKG}/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        f'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f"{overrides}</Types>",
        "_rels/.rels": f'<Relationships xmlns="{PKG}/relationships"><Relationship Id="rId1" '
        f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>{entries}'
        "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{PKG}/relationships">{rels}'
        "</Relationships>",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in contents.items():
            archive.writestr(name, text)
        for i, (_, xml, _) in enumerate([] if skip_sheets else sheets, start=1):
            archive.writestr(f"xl/worksheets/sheet{i}.xml", xml)
        if shared_strings is not None:
            archive.writestr("xl/sharedStrings.xml", shared_strings)
        for name, data in (parts or {}).items():
            archive.writestr(name, data)
    return path


def one_sheet(tmp_path: Path, xml: bytes, **kwargs: object) -> Path:
    return build(tmp_path / "book.xlsx", [("Leads", xml, "visible")], **kwargs)  # type: ignore[arg-type]


def read(path: Path, sheet: str | None = None) -> tuple[list[str], list[int], list[list[str]]]:
    with open_sheet(path, sheet) as opened:
        numbers: list[int] = []
        rows: list[list[str]] = []
        for chunk in opened.chunks():
            numbers += chunk.row_numbers
            rows += chunk.rows
        return opened.headers, numbers, rows


@contextmanager
def unpacked_bytes() -> Iterator[list[int]]:
    """Counts the bytes any zip member gives while the block runs: [total]."""
    total = [0]
    real_read = zipfile.ZipExtFile.read

    def read(self: zipfile.ZipExtFile, n: int | None = -1) -> bytes:
        data = real_read(self, n)
        total[0] += len(data)
        return data

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(zipfile.ZipExtFile, "read", read)
        patch.setattr(zipfile.ZipExtFile, "read1", lambda self, n=-1: read(self, n))
        yield total


@contextmanager
def records_read() -> Iterator[list[list[str]]]:
    """Every record the XLSX reader produced while the block runs (the work it did)."""
    from bulk_loader.sheets import xlsx_file as sheets_xlsx

    seen: list[list[str]] = []
    real = sheets_xlsx._records

    def records(*args: Any) -> Iterator[tuple[int, list[str]]]:
        for number, texts in real(*args):
            seen.append(texts)
            yield number, texts

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sheets_xlsx, "_records", records)
        yield seen


def refused(path: Path, match: str, sheet: str | None = None) -> SheetError:
    with pytest.raises(SheetError, match=match) as caught:
        read(path, sheet)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message
    return caught.value


def add_repeated_part(
    archive: zipfile.ZipFile, name: str, parts: tuple[bytes, bytes, bytes], repeats: int
) -> None:
    """A deflated part holding head + body * `repeats` + tail, never compressed whole.

    After a full flush deflate starts afresh, so every copy of `body` compresses to the
    same bytes: compress it once, write it `repeats` times. The CRC is computed honestly.
    """
    head, body, tail = parts
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(body) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(body, crc)
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size = len(head) + len(body) * repeats + len(tail)
    info.compress_size = len(start) + len(block) * repeats + len(end)
    info.CRC = zlib.crc32(tail, crc)
    assert archive.fp is not None
    info.header_offset = archive.fp.tell()
    archive.fp.write(info.FileHeader(zip64=info.file_size > zipfile.ZIP64_LIMIT))
    archive.fp.write(start)
    for _ in range(repeats):
        archive.fp.write(block)
    archive.fp.write(end)
    archive.filelist.append(info)
    archive.NameToInfo[name] = info
    archive.start_dir = archive.fp.tell()
    archive._didModify = True  # so close() writes the central directory


def zip_bomb(tmp_path: Path, gigabytes: int) -> Path:
    """A workbook whose only worksheet is well-formed XML of `gigabytes` GB, in a few MB."""
    path = build(tmp_path / "bomb.xlsx", [("Leads", b"", "visible")], skip_sheets=True)
    head = f'<worksheet xmlns="{MAIN}"><sheetData>{HEADER}'.encode()
    body = b"<row><c><v>1</v></c></row>" * 40_000  # about 1 MB of rows
    with zipfile.ZipFile(path, "a") as archive:
        parts = (head, body, b"</sheetData></worksheet>")
        add_repeated_part(
            archive, "xl/worksheets/sheet1.xml", parts, gigabytes * 1024**3 // len(body)
        )
    return path


# ---------------------------------------------------------------- zip level


def test_a_zip_bomb_is_refused_from_the_directory_before_anything_unpacks(
    tmp_path: Path,
) -> None:
    """3 GB of sheet XML in a few MB: refused for its compression ratio, at once."""
    path = zip_bomb(tmp_path, 3)
    assert path.stat().st_size < 10 * 1024**2
    with unpacked_bytes() as unpacked:
        refused(path, r"would unpack [\d,]+ times larger, to 3\.0 GB: a zip bomb")
    assert unpacked[0] < 1024**2  # of 3 GB


def test_a_zip_bomb_through_the_cli_exits_3_in_bounded_memory(tmp_path: Path) -> None:
    """The whole command under a 2 GB address-space limit: one line, exit 3."""
    path = zip_bomb(tmp_path, 3)
    # The limit is set inside the child (not with preexec_fn, unsafe beside threads).
    command = (
        "import resource, runpy, sys; "
        "resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3)); "
        "sys.argv = ['bulk-loader', *sys.argv[1:]]; "
        "runpy.run_module('bulk_loader', run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", command, "run", str(path), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.count("\n") == 1 and "zip bomb" in done.stderr
    assert done.stderr.startswith(f"error: {path}: ")


def test_a_workbook_over_the_total_size_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MAX_WORKBOOK_BYTES bounds everything together, however well it compresses."""
    monkeypatch.setattr(workbook_guard, "MAX_WORKBOOK_BYTES", 1000)
    path = one_sheet(tmp_path, worksheet(HEADER + text_row(2, "x" * 2000)))
    refused(path, r"the workbook would unpack to 0 MB \(at most 0 MB\)")


def test_a_part_parsed_whole_is_bounded_tighter_than_a_streamed_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """styles.xml is parsed in one piece by openpyxl: MAX_PART_BYTES, not the sheet's limit."""
    monkeypatch.setattr(workbook_guard, "MAX_PART_BYTES", 10_000)
    styles = b"<styleSheet>" + b"<!-- padding -->" * 1000 + b"</styleSheet>"
    big_sheet = worksheet(HEADER + "".join(text_row(n, f"a{n}@example.com") for n in range(2, 400)))
    assert len(big_sheet) > 10_000
    assert read(one_sheet(tmp_path, big_sheet))[1][-1] == 399  # a streamed sheet may be big
    path = build(tmp_path / "styled.xlsx", [("Leads", worksheet(HEADER), "visible")],
                 parts={"xl/styles.xml": styles})  # fmt: skip
    refused(path, r"'xl/styles.xml' would unpack to 0 MB \(at most 0 MB for this part\)")


def test_a_sheet_part_claiming_another_content_type_gets_no_sheet_allowance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Size allowances follow [Content_Types].xml, so a part can't pose as a worksheet."""
    monkeypatch.setattr(workbook_guard, "MAX_PART_BYTES", 1000)
    path = one_sheet(tmp_path, worksheet(HEADER + text_row(2, "x" * 2000)))
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{BOOK_TYPE}"/>'.encode()
        + b"</Types>",
    )
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    refused(path, "sheet1.xml' would unpack to")


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:30] + bytes(200) + data[230:], id="zeroed local header"),
        pytest.param(lambda data: b"PK\x03\x04" + bytes(100), id="magic and nothing else"),
    ],
)
def test_a_corrupt_or_truncated_zip_is_one_clean_line(tmp_path: Path, damage: object) -> None:
    """A damaged zip names the file and says it is corrupt; no zipfile traceback."""
    path = tmp_path / "leads.xlsx"
    original = (Path(__file__).parent.parent / "samples" / "leads.xlsx").read_bytes()
    path.write_bytes(damage(original))  # type: ignore[operator]
    refused(path, "corrupt|cannot be read")


def test_a_damaged_deflate_stream_is_a_clean_error(tmp_path: Path) -> None:
    """Found by fuzzing: zlib.error from the pre-check escaped as an internal error."""
    path = one_sheet(tmp_path, worksheet(HEADER + text_row(2, "a@example.com")))
    data = bytearray(path.read_bytes())
    start = data.index(b"xl/worksheets/sheet1.xml") + len("xl/worksheets/sheet1.xml")
    data[start + 2 : start + 6] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    refused(path, "corrupt|cannot be read")


# ---------------------------------------------------------------- shared strings


def shared(count: int, text: str = "s{}") -> bytes:
    items = "".join(f"<si><t>{text.format(i)}</t></si>" for i in range(count))
    return f'<sst xmlns="{MAIN}" count="{count}" uniqueCount="{count}">{items}</sst>'.encode()


def test_an_enormous_compressible_shared_strings_table_is_refused(tmp_path: Path) -> None:
    """200 MB of one repeated shared string in a small file: refused for its ratio."""
    path = one_sheet(tmp_path, worksheet(HEADER))
    with zipfile.ZipFile(path, "a") as archive:
        # replaces nothing: a second table would be ambiguous, so name it as Excel does
        body = b"<si><t>x</t></si>" * 60_000
        add_repeated_part(archive, "xl/sharedStrings.xml", (b"<sst>", body, b"</sst>"), 200)
    refused(path, "sharedStrings.xml' would unpack")


def test_a_shared_strings_table_with_too_many_entries_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """openpyxl holds every shared string in memory: their number is bounded too."""
    monkeypatch.setattr(workbook_guard, "MAX_PART_BYTES", 1000)
    monkeypatch.setattr(workbook_guard, "MAX_SHARED_STRINGS", 500)
    rows = '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
    path = one_sheet(tmp_path, worksheet(rows), shared_strings=shared(501))
    refused(path, "more than 500 distinct texts")
    path = one_sheet(tmp_path, worksheet(rows), shared_strings=shared(500, "e{}@example.com"))
    assert read(path)[0] == ["e0@example.com"]


def test_a_shared_string_index_out_of_range_is_a_clean_error_with_its_row(
    tmp_path: Path,
) -> None:
    """A cell pointing past the end of the table: the row is named."""
    rows = HEADER + '<row r="2"><c r="A2" t="s"><v>7</v></c></row>'
    refused(one_sheet(tmp_path, worksheet(rows), shared_strings=shared(1)), r"row 2: .*IndexError")


# ---------------------------------------------------------------- rows and columns


def test_a_value_in_column_xfd_is_an_extra_cell_not_16384_columns(tmp_path: Path) -> None:
    """Excel's last column still reads: the row stays as wide as the header."""
    rows = HEADER + '<row r="2"><c r="A2" t="inlineStr"><is><t>a@example.com</t></is></c>'
    rows += '<c r="XFD2"><v>1</v></c></row>'
    path = one_sheet(tmp_path, worksheet(rows))
    with open_sheet(path) as opened:
        (chunk,) = list(opened.chunks())
    assert chunk.rows == [["a@example.com"]]
    assert [(p.row, p.code, p.value) for p in chunk.problems] == [(2, "extra_cells", "1")]


def test_rows_with_cells_in_column_xfd_cost_no_more_than_narrow_rows(tmp_path: Path) -> None:
    """Found by review of the fuzz cases: openpyxl padded each such row to 16,384 cells."""
    rows = HEADER + "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>a{n}@example.com</t></is></c>'
        f'<c r="XFD{n}" s="0"/></row>'
        for n in range(2, 20_002)
    )
    path = one_sheet(tmp_path, worksheet(rows, before='<dimension ref="A1:XFD1048576"/>'))
    with records_read() as records:
        assert len(read(path)[2]) == 20_000
    assert max(map(len, records)) == 1  # padded: 16,384 cells a row, 327 million in all


def test_a_cell_beyond_column_xfd_is_refused_with_its_row(tmp_path: Path) -> None:
    """XFE (16,385) is past Excel's last column: the sheet is damaged."""
    rows = HEADER + '<row r="2"><c r="XFE2"><v>1</v></c></row>'
    refused(one_sheet(tmp_path, worksheet(rows)), r"row 2: a cell lies in column 16,385")


def test_cells_counting_past_column_xfd_are_refused_with_their_row(tmp_path: Path) -> None:
    """Cells without a reference count on from the last: the 16,385th is damage."""
    rows = HEADER + '<row r="2">' + "<c><v>1</v></c>" * 20_000 + "</row>"
    refused(one_sheet(tmp_path, worksheet(rows)), r"row 2: a cell lies in column 16,385")


def test_a_row_of_a_million_cells_is_refused_before_parsing(tmp_path: Path) -> None:
    """A million columns compress a thousandfold: the zip check refuses them unread."""
    rows = HEADER + '<row r="2" spans="1:1000000">' + "<c><v>1</v></c>" * 1_000_000 + "</row>"
    refused(one_sheet(tmp_path, worksheet(rows)), r"would unpack \d+ times larger")


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        pytest.param(
            '<row r="2000000000"/>', r"row number 2,000,000,000 is outside", id="billions"
        ),
        pytest.param('<row r="0"/>', "row number 0 is outside", id="zero"),
        pytest.param(
            text_row(3, "a") + text_row(2, "b"), "row 2 comes after row 3", id="backwards"
        ),
        pytest.param(text_row(2, "a") + text_row(2, "b"), "row 2 comes after row 2", id="twice"),
    ],
)
def test_impossible_row_numbers_are_refused(tmp_path: Path, rows: str, match: str) -> None:
    """Rows numbered past Excel's 1,048,576, or out of order: damage, not data to skip."""
    refused(one_sheet(tmp_path, worksheet(HEADER + rows)), match)


def test_a_gap_of_a_million_rows_reads_at_once(tmp_path: Path) -> None:
    """The last row Excel has, after row 2: numbered as Excel shows it, no empty rows made."""
    rows = HEADER + text_row(2, "a@example.com") + text_row(1_048_576, "z@example.com")
    with records_read() as records:
        assert read(one_sheet(tmp_path, worksheet(rows)))[1] == [2, 1_048_576]
    assert len(records) == 3  # the header and two rows, not a million empty ones


def test_a_missing_row_1_means_no_header(tmp_path: Path) -> None:
    """The first row in the file is row 5: row 1, the header row, is empty."""
    refused(one_sheet(tmp_path, worksheet(text_row(5, "Email"))), "row 1: no header row")


def test_a_cell_longer_than_excel_allows_is_refused_with_row_and_column(tmp_path: Path) -> None:
    """Excel holds at most 32,767 characters in a cell; more means a damaged sheet."""
    rows = HEADER + text_row(2, "a@example.com", "x" * 32_768)
    refused(one_sheet(tmp_path, worksheet(rows)), r"row 2, column 'B': a cell holds 32,768")


def test_a_cell_of_exactly_excels_maximum_reads(tmp_path: Path) -> None:
    """32,767 characters is allowed (validation then reports it as too long)."""
    rows = HEADER + text_row(2, "x" * 32_767)
    assert read(one_sheet(tmp_path, worksheet(rows)))[2] == [["x" * 32_767]]


def test_an_unknown_style_reads_as_general(tmp_path: Path) -> None:
    """A cell pointing at style 9999 of a workbook without styles: plain number text."""
    rows = HEADER + '<row r="2"><c r="A2" s="9999"><v>14155550100</v></c></row>'
    assert read(one_sheet(tmp_path, worksheet(rows)))[2] == [["14155550100"]]


# ---------------------------------------------------------------- cells Excel makes


def test_merged_cells_keep_their_value_in_the_top_left_cell_only(tmp_path: Path) -> None:
    """A merge spanning two columns: the value once, the covered cell empty."""
    rows = text_row(1, "Email", "Company") + text_row(2, "a@example.com")
    rows += '<row r="3"><c r="A3" t="inlineStr"><is><t>Acme</t></is></c><c r="B3"/></row>'
    after = (
        '<mergeCells count="2"><mergeCell ref="A3:B3"/><mergeCell ref="A1:XFD1048576"/>'
        "</mergeCells>"
    )
    assert read(one_sheet(tmp_path, worksheet(rows, after=after)))[2] == [
        ["a@example.com", ""],
        ["Acme", ""],
    ]


def test_formulas_read_as_their_cached_values_or_empty(tmp_path: Path) -> None:
    """As Excel last showed them; no cached value (never calculated) reads as empty."""
    rows = text_row(1, "Email", "Total", "Check")
    rows += (
        '<row r="2"><c r="A2" t="str"><f>"a"&amp;"@example.com"</f><v>a@example.com</v></c>'
        '<c r="B2"><f>1+1</f><v>2</v></c><c r="C2" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><t>b@example.com</t></is></c>'
        '<c r="B3"><f>SUM(B2:B2)</f></c></row>'
    )
    path = one_sheet(tmp_path, worksheet(rows))
    with open_sheet(path) as opened:
        (chunk,) = list(opened.chunks())
    assert chunk.rows == [["a@example.com", "2", "#DIV/0!"], ["b@example.com", "", ""]]
    assert [(p.row, p.column, p.code) for p in chunk.problems] == [(2, "Check", "excel_error")]


def hidden_first(tmp_path: Path) -> Path:
    return build(
        tmp_path / "hidden.xlsx",
        [
            ("Lookup", worksheet(text_row(1, "Plan", "Id")), "hidden"),
            ("Leads", worksheet(HEADER + text_row(2, "a@example.com")), "visible"),
            ("Old", worksheet(HEADER + text_row(2, "old@example.com")), "veryHidden"),
        ],
    )


def test_the_default_sheet_is_the_first_visible_one(tmp_path: Path) -> None:
    """A hidden lookup sheet in front is not what the person sees when the file opens."""
    assert read(hidden_first(tmp_path))[0] == ["Email"]


def test_a_hidden_sheet_named_with_sheet_is_read(tmp_path: Path) -> None:
    """--sheet naming a hidden (or very hidden) sheet reads it: the user asked for it."""
    assert read(hidden_first(tmp_path), "Lookup")[0] == ["Plan", "Id"]
    assert read(hidden_first(tmp_path), "old")[2] == [["old@example.com"]]


def test_an_unknown_sheet_name_lists_the_sheets_and_which_are_hidden(tmp_path: Path) -> None:
    """The error shows every worksheet, marking the ones Excel does not show."""
    refused(
        hidden_first(tmp_path),
        r"no worksheet named 'Nope'; the workbook has: 'Lookup' \(hidden\), 'Leads', "
        r"'Old' \(hidden\)",
        sheet="Nope",
    )


def test_a_workbook_without_any_worksheet_is_one_clean_line(tmp_path: Path) -> None:
    """An empty <sheets/>: nothing to read, said plainly."""
    refused(build(tmp_path / "empty.xlsx", []), "the workbook has no worksheet")


# ---------------------------------------------------------------- XML entities


LAUGHS = (
    '<!DOCTYPE worksheet [<!ENTITY a0 "laugh">'
    + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    + "]>"
)


@pytest.mark.parametrize(
    "part", ["xl/worksheets/sheet1.xml", "xl/workbook.xml", "[Content_Types].xml"]
)
def test_billion_laughs_in_any_part_is_refused_before_parsing(tmp_path: Path, part: str) -> None:
    """A DOCTYPE with nested entities (a billion "laugh"s): no real workbook has one."""
    path = one_sheet(tmp_path, worksheet(HEADER + text_row(2, "&a9;"), prolog=LAUGHS))
    if part != "xl/worksheets/sheet1.xml":
        with zipfile.ZipFile(path) as archive:
            parts = {name: archive.read(name) for name in archive.namelist()}
        parts["xl/worksheets/sheet1.xml"] = worksheet(HEADER)
        parts[part] = LAUGHS.encode() + parts[part]
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
    refused(path, "declares a DOCTYPE")


def test_an_external_entity_is_refused(tmp_path: Path) -> None:
    """XXE: an entity naming a local file would otherwise be a question for expat."""
    prolog = '<!DOCTYPE worksheet [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
    path = one_sheet(tmp_path, worksheet(HEADER + text_row(2, "&secret;"), prolog=prolog))
    refused(path, "declares a DOCTYPE")


def relabel(path: Path, old: str, new: str) -> Path:
    """Rename a part, and every reference to it in the content types and relationships."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts[new] = parts.pop(old)
    for name in ("[Content_Types].xml", "xl/_rels/workbook.xml.rels"):
        parts[name] = parts[name].replace(old.encode(), new.encode())
        parts[name] = parts[name].replace(old[3:].encode(), new[3:].encode())  # relative
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def laughs_sheet(tmp_path: Path, disguise: str) -> Path:
    """A billion laughs in the worksheet or the shared strings, disguised one way."""
    declared = '<?xml version="1.0" encoding="UTF-16"?>' if "declared" in disguise else ""
    prolog = "<!--" + "x" * 70_000 + "-->" if "comment" in disguise else ""
    prolog = declared + prolog + LAUGHS
    encoding = "utf-16-le" if "le" in disguise else "utf-16-be" if "be" in disguise else "utf-8"
    if "shared strings" in disguise:
        strings = f'{prolog}<sst xmlns="{MAIN}"><si><t>&a9;</t></si></sst>'.encode(encoding)
        row = '<row r="2"><c r="A2" t="s"><v>0</v></c></row>'
        return one_sheet(tmp_path, worksheet(HEADER + row), shared_strings=strings)
    path = one_sheet(tmp_path, worksheet(HEADER + text_row(2, "&a9;"), prolog=prolog))
    if encoding != "utf-8":
        with zipfile.ZipFile(path) as archive:
            parts = {name: archive.read(name) for name in archive.namelist()}
        name = "xl/worksheets/sheet1.xml"
        parts[name] = parts[name].decode().encode(encoding)
        with zipfile.ZipFile(path, "w") as archive:
            for part, data in parts.items():
                archive.writestr(part, data)
    if "renamed" in disguise:
        relabel(path, "xl/worksheets/sheet1.xml", "xl/worksheets/data")
    return path


@pytest.mark.parametrize(
    "disguise",
    [
        "utf-16-le without BOM, declared",
        "utf-16-be without BOM, declared",
        "utf-16-le without BOM or declaration",
        "renamed worksheet part, no .xml",
        "after a 70 KB comment",
        "shared strings in utf-16-le without BOM, declared",
        "shared strings after a 70 KB comment",
    ],
)
def test_billion_laughs_is_refused_however_disguised(tmp_path: Path, disguise: str) -> None:
    """Encoding, part name or a long comment first: the DOCTYPE is refused, reading little."""
    path = laughs_sheet(tmp_path, disguise)
    tracemalloc.start()
    try:
        with unpacked_bytes() as unpacked:
            refused(path, r"the workbook part '[^']+' declares a DOCTYPE")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert unpacked[0] < 256 * 1024  # every part read up to its DOCTYPE at most
    assert peak < 16 * 1024**2  # a billion laughs would be gigabytes


@pytest.mark.parametrize(
    "part", ["worksheet", "shared strings", "worksheet, DOCTYPE without entities"]
)
def test_past_the_guard_defusedxml_refuses_as_the_same_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: str
) -> None:
    """The second line: openpyxl's and the row parser's defusedxml refuse what got through."""
    monkeypatch.setattr(workbook_guard, "_refuse_doctype", lambda *args: None)
    if part == "worksheet, DOCTYPE without entities":
        path = one_sheet(tmp_path, worksheet(HEADER, prolog="<!DOCTYPE worksheet>"))
    else:
        path = laughs_sheet(tmp_path, part)
    refused(path, r"book.xlsx: the workbook declares a DOCTYPE, which no workbook Excel")


def test_a_part_still_in_its_prolog_past_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A comment longer than MAX_PROLOG_BYTES before the first element: refused, read no further."""
    monkeypatch.setattr(workbook_guard, "MAX_PROLOG_BYTES", 100_000)
    path = one_sheet(tmp_path, worksheet(HEADER, prolog="<!--" + "x" * 300_000 + "-->"))
    with unpacked_bytes() as unpacked:
        refused(path, r"'xl/worksheets/sheet1.xml' holds more than 0 MB before its first element")
    assert unpacked[0] < 200_000


def test_a_foreign_error_message_spanning_lines_prints_as_one(tmp_path: Path) -> None:
    """Found by fuzzing: a bad date in docProps/core.xml gave openpyxl's 3-line message."""
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org'
        '/2001/XMLSchema-instance"><dcterms:created xsi:type="dcterms:W3CDTF">:026-01-01T00:00:00Z'
        "</dcterms:created></cp:coreProperties>"
    )
    path = one_sheet(tmp_path, worksheet(HEADER), parts={"docProps/core.xml": core.encode()})
    refused(path, "cannot be read")


# ---------------------------------------------------------------- CSV, found by fuzzing


def test_an_unclosed_quote_before_a_bad_byte_is_a_clean_error(tmp_path: Path) -> None:
    """Wording the decode error re-read the file as CSV and hit csv's field limit (exit 70)."""
    path = tmp_path / "leads.csv"
    path.write_bytes(b'Email,Name\na@example.com,"' + b"x" * 140_000 + b"\0\n")
    refused(path, r"row 2: the file contains NUL bytes")


def test_a_csv_row_wider_than_excel_allows_is_refused_with_its_row(tmp_path: Path) -> None:
    """20,000 delimiters on one line: not a sheet a person made; the row is named."""
    path = tmp_path / "leads.csv"
    path.write_text("Email,Name\na@example.com,Ana\n" + "," * 20_000 + "\n", encoding="utf-8")
    refused(path, r"row 3: this row has 20,001 cells, more than Excel's 16,384 columns")


@pytest.mark.parametrize(("limit", "allowed"), [(1002, True), (1001, False)])
def test_shared_strings_are_counted_exactly_across_read_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int, allowed: bool
) -> None:
    """Read 7 bytes at a time, "<si>" is cut at every position and still counted once."""
    monkeypatch.setattr(workbook_guard, "MAX_PART_BYTES", 1000)
    monkeypatch.setattr(workbook_guard, "_READ_BYTES", 7)
    monkeypatch.setattr(workbook_guard, "MAX_SHARED_STRINGS", limit)
    table = shared(1000).replace(b"</sst>", b"<si/><si><t>z</t></si></sst>")  # 1,002 in all
    path = one_sheet(tmp_path, worksheet(HEADER), shared_strings=table)
    if allowed:
        assert read(path)[0] == ["Email"]
    else:
        refused(path, "more than 1,001 distinct texts")


def test_a_part_declaring_an_encoding_no_codec_has_is_one_clean_line(tmp_path: Path) -> None:
    """Found by the fuzzer: encoding="TTF-8" raised LookupError out of the zip guard."""
    xml = worksheet(text_row(1, "email"), prolog='<?xml version="1.0" encoding="TTF-8"?>')
    with pytest.raises(SheetError) as caught:
        read(one_sheet(tmp_path, xml))
    assert "\n" not in str(caught.value)
