"""An address written out for spam filters ('ana at example.com') is refused with the
address it was meant to be; other bad addresses get no guess."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_loader.validation.checks import _email_message


@pytest.mark.parametrize(
    ("cell", "meant"),
    [
        ("ana at example.com", "ana@example.com"),
        ("Bo AT example.org", "Bo@example.org"),
        ("cy [at] example [dot] net", "cy@example.net"),
        ("dee (at) example.com", "dee@example.com"),
    ],
)
def test_a_spelled_out_address_gets_the_fix(cell: str, meant: str) -> None:
    assert (
        _email_message(cell) == f"{cell!r} is not a valid email address (did you mean '{meant}'?)"
    )


@pytest.mark.parametrize("cell", ["plain", "a@b", "cat at the door", "at", "x at y"])
def test_no_guess_that_is_not_an_address(cell: str) -> None:
    assert _email_message(cell) == f"{cell!r} is not a valid email address"


@given(st.text())
def test_a_guess_is_always_a_valid_address_and_never_raises(cell: str) -> None:
    message = _email_message(cell)
    assert message.startswith(f"{cell!r} is not a valid email address")
    if "did you mean" in message:
        assert "@" not in cell
