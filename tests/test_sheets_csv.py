"""CSV sheets: encodings, delimiters, row shapes and numbering, as an ops person sees them."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from bulk_loader.errors import SheetError
from bulk_loader.sheets.opening import open_sheet
from bulk_loader.sheets.sheet import Chunk


def write(tmp_path: Path, data: bytes, name: str = "leads.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_all(path: Path, size: int = 2000) -> tuple[list[str], list[Chunk]]:
    with open_sheet(path) as sheet:
        return sheet.headers, list(sheet.chunks(size))


def rows_of(path: Path) -> list[list[str]]:
    _, chunks = read_all(path)
    return [row for chunk in chunks for row in chunk.rows]


TEXT = "Email,Name\nane@x.ro,Zoë “Ane” Müller €5\n"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(TEXT.encode("utf-8"), id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + TEXT.encode("utf-8"), id="utf-8 BOM"),
        pytest.param(codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), id="utf-16 LE BOM"),
        pytest.param(codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), id="utf-16 BE BOM"),
        pytest.param(TEXT.encode("cp1252"), id="cp1252 (Excel Save as CSV)"),
    ],
)
def test_encodings_are_detected(tmp_path: Path, data: bytes) -> None:
    """A BOM decides, else strict UTF-8, else cp1252; the BOM never leaks into a header."""
    headers, chunks = read_all(write(tmp_path, data))
    assert headers == ["Email", "Name"]
    assert chunks[0].rows == [["ane@x.ro", "Zoë “Ane” Müller €5"]]


def test_cp1252_byte_deep_in_file_still_decides_before_any_row(tmp_path: Path) -> None:
    """A single cp1252 byte after 2 MB of ASCII makes the whole file cp1252."""
    body = b"a@x.ro,plain\n" * 200_000 + "z@x.ro,caf\xe9\n".encode("latin-1")
    rows = rows_of(write(tmp_path, b"Email,Name\n" + body))
    assert rows[-1] == ["z@x.ro", "café"]
    assert len(rows) == 200_001


@pytest.mark.parametrize(
    ("data", "row"),
    [
        pytest.param(b"Email,Name\na@x.ro,A\nb@x.ro,B\x00\n", 3, id="NUL byte"),
        pytest.param("Email,Name\n".encode("utf-16-le"), 1, id="UTF-16 without BOM"),
        pytest.param(b"Email,Name\na@x.ro,\x81\x8d\n", 2, id="bytes neither UTF-8 nor cp1252"),
        pytest.param(codecs.BOM_UTF16_LE + b"E\x00m\x00\n", 1, id="truncated UTF-16"),
    ],
)
def test_junk_is_a_sheet_error_naming_file_and_row(tmp_path: Path, data: bytes, row: int) -> None:
    """Binary or undecodable content is a SheetError with the path and row, not a traceback."""
    path = write(tmp_path, data)
    with pytest.raises(SheetError) as caught:
        open_sheet(path)
    assert caught.value.row == row
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Email,Name\na@x.ro,Ann\n", ["a@x.ro", "Ann"], id="comma"),
        pytest.param("Email;Name\na@x.ro;Ann, Bo\n", ["a@x.ro", "Ann, Bo"], id="semicolon"),
        pytest.param("Email\tName\na@x.ro\tAnn\n", ["a@x.ro", "Ann"], id="tab"),
        pytest.param("Email|Name\na@x.ro|Ann\n", ["a@x.ro", "Ann"], id="pipe"),
        pytest.param('Email,Name\na@x.ro,"Smith, Ann"\n', ["a@x.ro", "Smith, Ann"], id="quoted"),
        pytest.param("Email,Tags\na@x.ro,red;blue\n", ["a@x.ro", "red;blue"], id="inner ;"),
        pytest.param("Email,Name\n", None, id="header only"),
    ],
)
def test_delimiter_is_sniffed(tmp_path: Path, text: str, expected: list[str] | None) -> None:
    """The delimiter is one of , ; TAB | and quoted delimiters stay inside their cell."""
    headers, chunks = read_all(write(tmp_path, text.encode()))
    assert len(headers) == 2
    assert [row for c in chunks for row in c.rows] == ([expected] if expected else [])


@pytest.mark.parametrize(
    "text", ["Email\na@x.ro\nb@x.ro\n", "Email\r\na@x.ro\r\nb@x.ro", 'Email\n"a,b"\nb@x.ro\n']
)
def test_one_column_file_reads(tmp_path: Path, text: str) -> None:
    """A one-column file (where csv.Sniffer gives up) reads with one header."""
    headers, chunks = read_all(write(tmp_path, text.encode()))
    assert headers == ["Email"]
    assert len(chunks[0].rows) == 2


def test_semicolon_file_with_multiline_cell_at_sample_end_sniffs(tmp_path: Path) -> None:
    """A sample cut inside a quoted multi-line cell still finds the delimiter from the header."""
    text = "Email;Notes\n" + 'a@x.ro;"line one\nline two"\n' * 10_000
    headers, chunks = read_all(write(tmp_path, text.encode()))
    assert headers == ["Email", "Notes"]
    assert chunks[0].rows[0] == ["a@x.ro", "line one\nline two"]


def test_row_numbers_count_records_not_lines(tmp_path: Path) -> None:
    """A quoted cell with newlines is one row; blank rows are skipped but keep the numbering."""
    text = 'Email,Notes\na@x.ro,"one\ntwo\nthree"\n\n,\nb@x.ro,plain\n'
    _, chunks = read_all(write(tmp_path, text.encode()))
    assert chunks[0].row_numbers == [2, 5]
    assert chunks[0].rows == [["a@x.ro", "one\ntwo\nthree"], ["b@x.ro", "plain"]]


def test_short_rows_are_padded(tmp_path: Path) -> None:
    """A row shorter than the headers gets "" for the missing cells."""
    assert rows_of(write(tmp_path, b"Email,First,Last\na@x.ro\n")) == [["a@x.ro", "", ""]]


def test_extra_cells_with_values_are_a_problem(tmp_path: Path) -> None:
    """Values beyond the last header are reported, by column and value; empty ones are not."""
    text = "Email,Name\na@x.ro,Ann,,\nb@x.ro,Bo,x,,y\n"
    _, chunks = read_all(write(tmp_path, text.encode()))
    assert chunks[0].rows == [["a@x.ro", "Ann"], ["b@x.ro", "Bo"]]
    [problem] = chunks[0].problems
    assert (problem.row, problem.column, problem.code) == (3, "", "extra_cells")
    assert problem.message.startswith("values beyond the last header (C: 'x', E: 'y')")


def test_error_text_from_excel_export_is_a_problem(tmp_path: Path) -> None:
    """An Excel error exported to CSV (#N/A) keeps its text and is reported."""
    _, chunks = read_all(write(tmp_path, b"Email,Zip\na@x.ro,#N/A\n"))
    assert chunks[0].rows == [["a@x.ro", "#N/A"]]
    [problem] = chunks[0].problems
    assert (problem.row, problem.column, problem.code, problem.value) == (
        2,
        "Zip",
        "excel_error",
        "#N/A",
    )


def test_headers_are_trimmed_keep_case_and_drop_trailing_blanks(tmp_path: Path) -> None:
    """Headers are trimmed, keep their case; blank ones are "", trailing blanks vanish."""
    headers, _ = read_all(write(tmp_path, b" Email ,,First Name,\xc2\xa0,\n"))
    assert headers == ["Email", "", "First Name"]


def test_cells_keep_their_exact_text(tmp_path: Path) -> None:
    """CSV cells are never converted: leading zeros, spaces and "NA" survive."""
    rows = rows_of(write(tmp_path, b"Zip,Country,Name\n02134,NA, Ann \n"))
    assert rows == [["02134", "NA", " Ann "]]


@pytest.mark.parametrize("data", [b"", b"\n\n", b",,,\n"], ids=["empty", "blank lines", "commas"])
def test_no_header_row_is_a_sheet_error(tmp_path: Path, data: bytes) -> None:
    """An empty file, or an empty row 1, has no header row."""
    with pytest.raises(SheetError, match="no header row"):
        open_sheet(write(tmp_path, data))


def test_missing_file_is_a_sheet_error(tmp_path: Path) -> None:
    """A path that does not exist is a SheetError naming it."""
    path = tmp_path / "nope.csv"
    with pytest.raises(SheetError, match=r"nope\.csv"):
        open_sheet(path)


@pytest.mark.parametrize(
    ("rows", "size", "sizes"), [(5, 2, [2, 2, 1]), (4, 2, [2, 2]), (1, 5, [1])]
)
def test_chunks_hold_at_most_size_rows(
    tmp_path: Path, rows: int, size: int, sizes: list[int]
) -> None:
    """Chunks split the rows at `size`, keep order and row numbers, with no empty chunk."""
    text = "Email\n" + "".join(f"r{i}@x.ro\n" for i in range(rows))
    _, chunks = read_all(write(tmp_path, text.encode()), size=size)
    assert [len(c.rows) for c in chunks] == sizes
    assert [n for c in chunks for n in c.row_numbers] == list(range(2, rows + 2))


def test_rows_stream_once(tmp_path: Path) -> None:
    """chunks() is lazy and single-pass: a second call is a programming error."""
    with open_sheet(write(tmp_path, b"Email\na@x.ro\n")) as sheet:
        first = sheet.chunks()
        assert next(first).rows == [["a@x.ro"]]
        with pytest.raises(RuntimeError):
            sheet.chunks()


def test_header_line_overrules_a_sniffed_delimiter_it_lacks(tmp_path: Path) -> None:
    """Quoted tags joined by ; (which fool csv.Sniffer) don't beat the header's commas."""
    text = "Name,Email,Tags\n" + 'Ann,a@x.ro,"red";"blue"\n' * 5
    headers, chunks = read_all(write(tmp_path, text.encode()))
    assert headers == ["Name", "Email", "Tags"]
    assert chunks[0].rows[0][:2] == ["Ann", "a@x.ro"]


def test_runaway_quoted_cell_is_a_sheet_error_with_its_row(tmp_path: Path) -> None:
    """An unclosed quote swallowing the file (over csv's cell limit) names where it starts."""
    data = b'Email,Notes\na@x.ro,ok\nb@x.ro,"never closed\n' + b"more text\n" * 20_000
    with pytest.raises(SheetError) as caught:
        rows_of(write(tmp_path, data))
    assert caught.value.row == 3
    assert "never closed" in caught.value.message


def test_bom_only_file_has_no_header_row(tmp_path: Path) -> None:
    """A file holding just a byte-order mark is empty."""
    with pytest.raises(SheetError, match="no header row"):
        open_sheet(write(tmp_path, codecs.BOM_UTF8))
