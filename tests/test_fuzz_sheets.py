"""Fuzzing the sheet readers: whatever bytes arrive, valid rows or one clean SheetError.

Each example ends one of two ways: rows (each as wide as the header, numbered upwards,
every cell a string), or a SheetError whose message is one line naming the file. Any
other exception, or runaway memory or time, is a defect. Inputs are random bytes and
mutations of the real samples: byte-level (corrupt or truncated zips) and XML-level
(cells in column XFD, row numbers in the billions, DOCTYPEs, bad shared-string indexes).

CI runs FUZZ_EXAMPLES examples per test (default 100); bench/bench_fuzz.py runs 10,000
per target through the same `TARGETS`. Cases found by fuzzing live on as named tests
in test_fuzz_xlsx_cases.py.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulk_loader.cli.app import cli
from bulk_loader.errors import SheetError
from bulk_loader.sheets.opening import open_sheet

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")),
    deadline=None,  # time is bounded by small inputs, not per-example deadlines
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
VALID, CLEAN = "valid", "clean error"

# Fragments that broke (or might break) readers, spliced into inputs at random places.
CSV_TOKENS = [b'"', b'""', b"\r", b"\n", b"\r\n", b"\0", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff",
              b",", b";", b"\t", b"|", b"\x85", b"\xe2\x80\xa8", b"\x81", b"\xc3", b"#N/A",
              b'"' + b"x" * 140_000, b"," * 20_000]  # fmt: skip
XML_TOKENS = [b'<c r="XFD1"><v>1</v></c>', b'<c r="XFE2"><v>1</v></c>', b'<c r="A1048577"/>',
              b'<row r="0">', b'<row r="2000000000">', b'<row r="1">', b'<row spans="1:1000000">',
              b'<c t="s"><v>99999</v></c>', b'<c t="s"><v>-1</v></c>', b'<c t="b"><v>x</v></c>',
              b'<c t="e"><v>#N/A</v></c>', b'<c t="d"><v>not a date</v></c>',
              b'<c s="9999"><v>1</v></c>', b'<c s="1"><v>1e999</v></c>',
              b"<v>" + b"9" * 5000 + b"</v>",
              b'<c t="inlineStr"><is><t>' + b"x" * 40_000 + b"</t></is></c>",
              b"<f>SUM(A1:A2)</f>", b'<mergeCell ref="A1:XFD1048576"/>', b"&#0;", b"&lol;",
              b'<!DOCTYPE x [<!ENTITY lol "lol">]>', b'<dimension ref="A1:XFD1048576"/>',
              b'state="hidden"', b"<sheets/>", b"]]>", b"\xff", b"<", b">", b'"']  # fmt: skip


def assert_one_line_naming(message: str, path: Path) -> None:
    """A clean error: one line, the file's name in it."""
    assert "\n" not in message and "\r" not in message, message
    assert str(path) in message or path.name in message, message


def read_sheet(path: Path, sheet: str | None = None) -> int:
    """Read every row; check each is well formed; return how many there were."""
    with open_sheet(path, sheet) as opened:
        width = len(opened.headers)
        assert width >= 1 and all(type(header) is str for header in opened.headers)
        last, count = 1, 0
        for chunk in opened.chunks():
            for number, row in zip(chunk.row_numbers, chunk.rows, strict=True):
                assert number > last, (number, last)
                assert len(row) == width and all(type(cell) is str for cell in row)
                last, count = number, count + 1
    return count


def check_sheet_bytes(data: bytes, suffix: str) -> str:
    """Write `data` as a sheet file and read it: VALID or CLEAN, else the test fails."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzzed{suffix}"
        path.write_bytes(data)
        try:
            read_sheet(path)
        except SheetError as exc:
            assert_one_line_naming(str(exc), path)
            return CLEAN
        return VALID


def check_cli_bytes(data: bytes, suffix: str) -> str:
    """The whole dry run: exit 0 or 1 with a summary, or 3 with one line; never 70."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzzed{suffix}"
        path.write_bytes(data)
        results = Path(tmp) / "out.csv"
        result = CliRunner().invoke(
            cli, ["run", str(path), "--dry-run", "--results", str(results)], catch_exceptions=True
        )
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
        assert result.exit_code in (0, 1, 3), (result.exit_code, result.stderr)
        if result.exit_code == 3:
            first, *more = result.stderr.rstrip("\n").split("\n")
            assert first.startswith("error: "), result.stderr
            if more:  # the template's problems, each on an indented line of its own
                assert first.endswith(("problem", "problems")), result.stderr
                assert all(line.startswith("  ") and line.strip() for line in more), more
            else:
                assert_one_line_naming(first, path)
            return CLEAN
        assert "Rows read:" in result.stdout
        return VALID


# ---------------------------------------------------------------- strategies


@st.composite
def mutated(draw: st.DrawFn, original: bytes, tokens: list[bytes]) -> bytes:
    """`original` after a few random edits: flips, cuts, copies, splices of `tokens`."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["flip", "insert", "delete", "copy", "token", "cut"]))
        if edit == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif edit == "copy":
            start = draw(st.integers(0, len(data)))
            data[at:at] = data[start : start + draw(st.integers(1, 256))]
        elif edit == "token":
            data[at:at] = draw(st.sampled_from(tokens))
        elif edit == "cut":
            del data[at:]
    return bytes(data)


@cache
def sample_bytes(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@cache
def shared_strings_xlsx() -> bytes:
    """leads.csv as Excel writes it: shared strings, styles, numbers, a hidden sheet."""
    import csv

    import xlsxwriter

    rows = list(csv.reader(io.StringIO(sample_bytes("leads.csv").decode("utf-8"))))
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": True})
    lookup = workbook.add_worksheet("Lookup")
    lookup.write_row(0, 0, ["Plan", "Id"])
    lookup.hide()
    sheet = workbook.add_worksheet("Leads")
    sheet.activate()
    zip_format = workbook.add_format({"num_format": "00000"})
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row)
        if r and row[9].isdigit():
            sheet.write_number(r, 9, int(row[9]), zip_format)
    sheet.write_formula(len(rows), 0, '="x"&"@example.com"', None, "x@example.com")
    sheet.merge_range(len(rows) + 1, 1, len(rows) + 1, 3, "merged")
    workbook.close()
    return buffer.getvalue()


def xlsx_originals() -> list[bytes]:
    return [sample_bytes("leads.xlsx"), sample_bytes("clean.xlsx"), shared_strings_xlsx()]


@st.composite
def xml_mutated_xlsx(draw: st.DrawFn) -> bytes:
    """A real workbook with one XML part edited (or dropped), zipped again properly."""
    original = draw(st.sampled_from(xlsx_originals()))
    with zipfile.ZipFile(io.BytesIO(original)) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    names = sorted(parts)
    sheets = [name for name in names if name.startswith("xl/worksheets/")]
    target = draw(st.one_of(st.sampled_from(sheets), st.sampled_from(names)))
    if draw(st.integers(0, 19)) == 0:
        del parts[target]
    else:
        parts[target] = draw(mutated(parts[target], XML_TOKENS))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def csv_random() -> st.SearchStrategy[bytes]:
    return st.binary(max_size=4096)


def csv_mutated() -> st.SearchStrategy[bytes]:
    originals = [sample_bytes("leads.csv"), sample_bytes("clean.csv")]
    return st.sampled_from(originals).flatmap(lambda data: mutated(data, CSV_TOKENS))


def xlsx_zip_mutated() -> st.SearchStrategy[bytes]:
    return st.sampled_from(xlsx_originals()).flatmap(lambda data: mutated(data, [b"PK\x03\x04"]))


def any_sheet_bytes() -> st.SearchStrategy[bytes]:
    return st.one_of(csv_mutated(), xlsx_zip_mutated(), xml_mutated_xlsx())


# name -> (inputs, check); bench/bench_fuzz.py runs the same targets at 10,000 examples.
TARGETS: dict[str, tuple[Callable[[], st.SearchStrategy[bytes]], Callable[[bytes], str]]] = {
    "csv: random bytes": (csv_random, lambda data: check_sheet_bytes(data, ".csv")),
    "csv: mutated samples": (csv_mutated, lambda data: check_sheet_bytes(data, ".csv")),
    "xlsx: mutated zip bytes": (xlsx_zip_mutated, lambda data: check_sheet_bytes(data, ".xlsx")),
    "xlsx: mutated XML parts": (xml_mutated_xlsx, lambda data: check_sheet_bytes(data, ".xlsx")),
    "cli dry run: any of the above": (
        any_sheet_bytes,
        lambda data: check_cli_bytes(data, ".xlsx" if data[:2] == b"PK" else ".csv"),
    ),
}


# ---------------------------------------------------------------- the tests


@FUZZ
@given(csv_random())
def test_random_bytes_as_csv_give_rows_or_one_clean_error(data: bytes) -> None:
    """Any bytes named .csv: rows, or a one-line SheetError naming the file."""
    check_sheet_bytes(data, ".csv")


@FUZZ
@given(csv_mutated())
def test_mutated_csv_samples_give_rows_or_one_clean_error(data: bytes) -> None:
    """The CSV samples with stray quotes, NULs, BOMs, bad bytes and cut short."""
    check_sheet_bytes(data, ".csv")


@FUZZ
@given(xlsx_zip_mutated())
def test_corrupt_or_truncated_workbooks_give_rows_or_one_clean_error(data: bytes) -> None:
    """The XLSX samples with flipped, cut or copied bytes: a damaged zip is one line."""
    check_sheet_bytes(data, ".xlsx")


@FUZZ
@given(xml_mutated_xlsx())
def test_workbooks_with_mutated_xml_give_rows_or_one_clean_error(data: bytes) -> None:
    """Well-zipped workbooks whose XML is damaged or hostile: rows, or one clean line."""
    check_sheet_bytes(data, ".xlsx")


@settings(FUZZ, max_examples=max(10, FUZZ.max_examples // 4))
@given(any_sheet_bytes())
def test_dry_run_of_any_damaged_sheet_exits_0_1_or_3_never_70(data: bytes) -> None:
    """Through the CLI: a summary with exit 0/1, or one line and exit 3; no traceback."""
    check_cli_bytes(data, ".xlsx" if data[:2] == b"PK" else ".csv")
