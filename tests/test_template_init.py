"""`bulk-loader template init`: a starter template guessed from a sheet's headers."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bulk_loader.cli.app import cli
from bulk_loader.template.mapping import load_template
from bulk_loader.template.starter import guess_field, starter_template, toml_string

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("E-mail Address", "email"),
        ("Email", "email"),
        ("Zip Code", "zip"),
        ("Postcode", "zip"),
        ("Phone Number", "phone"),
        ("Given name", "first_name"),
        ("Surname", "last_name"),
        ("first_name", "first_name"),
        ("Time zone", "lead_preferred_time_zone"),
        ("Country Code", "phone_country_code"),
        ("Organisation", "company"),
        ("Tags", "tags"),
        ("Mailing lists", "lists"),
        ("Frist Name", "first_name"),
        ("Colours", None),
        ("Favorite Dish", None),
    ],
)
def test_guess_field(header: str, field: str | None) -> None:
    """Headers are placed by synonym, then by close spelling; the rest are not placed."""
    assert guess_field(header) == field


@pytest.mark.parametrize("name", ["leads.xlsx", "leads.csv", "clean.csv"])
def test_init_on_the_samples_prints_a_loadable_template(tmp_path: Path, name: str) -> None:
    """The printed template loads as is, and maps the sample's standard columns."""
    result = CliRunner().invoke(cli, ["template", "init", str(SAMPLES / name)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "t.toml"
    path.write_text(result.stdout, encoding="utf-8")
    template = load_template(path)
    assert template.fields["email"].casefold() == "email"
    assert template.tags is not None and template.lists is not None
    if name.startswith("leads"):
        assert template.fields["zip"] == "Zip Code"
        assert template.fields["lead_preferred_time_zone"] == "Time zone"
        assert '# [custom_fields.colours]\n# column = "Colours"' in result.stdout


def test_leftover_headers_are_commented_out() -> None:
    """Unplaced headers become commented custom-field suggestions, not live keys."""
    text = starter_template(["Email", "Favorite Dish"])
    assert tomllib.loads(text)["fields"] == {"email": "Email"}
    assert "# [custom_fields.favorite_dish]" in text


def test_hostile_headers_cannot_break_out() -> None:
    """Quotes, newlines and formulas in headers stay inside escaped TOML strings."""
    nasty = ['Email"\n[fields]\nid = "x', "=cmd|' /C calc'!A0", "Zip\r\nCode", "a\\b\x7f"]
    text = starter_template(nasty)
    doc = tomllib.loads(text)
    assert doc["fields"] == {"zip": "Zip\r\nCode"}
    assert text.count("\n[fields]") == 1 and "\nid =" not in text
    assert '# column = "Email\\"\\n[fields]\\nid = \\"x"' in text


@pytest.mark.parametrize("text", ["", "plain", 'q"uote', "back\\slash", "\t\n\x00\x1f\x7f", "é€😀"])
def test_toml_string_round_trips(text: str) -> None:
    """Any text survives toml_string and TOML parsing unchanged."""
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


def test_init_on_an_unreadable_sheet_exits_3(tmp_path: Path) -> None:
    """A missing sheet: one line on stderr, exit 3."""
    result = CliRunner().invoke(cli, ["template", "init", str(tmp_path / "nope.csv")])
    assert result.exit_code == 3
    assert result.stderr.startswith("error: ")


@given(st.text())
def test_toml_string_round_trips_any_text(text: str) -> None:
    """Whatever a header holds, its TOML string parses back to exactly that text."""
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


@given(st.lists(st.text(max_size=30), max_size=8))
def test_starter_template_is_always_valid_toml(headers: list[str]) -> None:
    """template init prints valid TOML for any headers, however hostile."""
    tomllib.loads(starter_template(headers))
