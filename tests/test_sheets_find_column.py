"""find_column: how a template's header name finds its column in a sheet."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_loader.errors import SheetError
from bulk_loader.sheets.sheet import find_column

HEADERS = ["Email", "First Name", "", "Zip Code"]
SHEET = Path("leads.xlsx")


@pytest.mark.parametrize(
    ("name", "index"),
    [("Email", 0), ("email", 0), ("  FIRST NAME ", 1), ("zip code", 3), ("Phone", None)],
)
def test_headers_match_trimmed_and_case_insensitively(name: str, index: int | None) -> None:
    """A name matches its header whatever the case and surrounding spaces; absent is None."""
    assert find_column(HEADERS, name, SHEET) == index


def test_duplicate_header_is_an_error_naming_it() -> None:
    """A header occurring twice (any case) is ambiguous: the error names it and both columns."""
    with pytest.raises(SheetError) as caught:
        find_column(["Email", "Name", "EMAIL "], "email", SHEET)
    assert caught.value.column == "email"
    assert "occurs 2 times (columns A, C)" in str(caught.value)
    assert "leads.xlsx" in str(caught.value)


def test_blank_name_is_an_error() -> None:
    """A blank name can't be matched, even though the sheet has a blank header."""
    with pytest.raises(SheetError, match="blank"):
        find_column(HEADERS, "  ", SHEET)
