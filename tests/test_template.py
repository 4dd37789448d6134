"""Template loading: one function checks the whole file and reports every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_loader.errors import TemplateError
from bulk_loader.template.fields import KARTRA_FIELDS
from bulk_loader.template.mapping import default_template, load_template
from bulk_loader.template.model import ActionColumn, CustomFieldMap

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> dict[str, str]:
    with pytest.raises(TemplateError) as caught:
        load_template(write(tmp_path, text))
    return {p.key: p.message for p in caught.value.problems}


def test_example_template_loads() -> None:
    """The shipped example loads with its custom fields, options and actions."""
    template = load_template(ROOT / "templates" / "example.toml")
    assert template.mode == "upsert" and template.match == "email"
    assert template.clear == "#clear"
    assert template.fields["zip"] == "Zip Code"
    assert template.custom_fields[0] == CustomFieldMap(
        "color", "Colours", "checkbox", ";", {"red": 620, "blue": 621, "green": 622}
    )
    assert template.tags == ActionColumn("Tags", ";")
    assert template.lists == ActionColumn("Lists", ";")


def test_default_file_maps_every_field_to_its_own_name() -> None:
    """templates/default.toml is the built-in default written out."""
    template = load_template(ROOT / "templates" / "default.toml")
    assert dict(template.fields) == {name: name for name in KARTRA_FIELDS}
    assert template.require_columns is False
    assert template.tags == ActionColumn("tags") and template.lists == ActionColumn("lists")


def test_default_template_maps_headers_named_like_fields() -> None:
    """Without a template, headers equal to Kartra field names map, in any case."""
    template = default_template(["Email", " FIRST_NAME ", "Colour", "tags"])
    assert dict(template.fields) == {"email": "Email", "first_name": " FIRST_NAME "}
    assert template.tags == ActionColumn("tags")
    assert template.path is None and not template.require_columns


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """A template with many mistakes lists each of them with its dotted key."""
    found = problems(
        tmp_path,
        """
        [template]
        mode = "merge"
        match = "phone"
        colour = 1
        [fields]
        email = "Email"
        frist_name = "First"
        last_name = ""
        [custom_fields.color]
        column = "Colours"
        type = "checkboxes"
        [custom_fields.plan]
        column = "Plan"
        type = "drop_down"
        options = { basic = "630", pro = 631 }
        [custom_fields.boxes]
        column = "Boxes"
        type = "checkbox"
        [actions]
        tags = "Tags"
        lists = { column = "Email" }
        points = 3
        [extra]
        """,
    )
    assert set(found) == {
        "template.mode",
        "template.match",
        "template.colour",
        "fields.frist_name",
        "fields.last_name",
        "custom_fields.color.type",
        "custom_fields.plan.options.basic",
        "custom_fields.boxes.separator",
        "actions.tags",
        "actions.points",
        "actions.lists.column",
        "extra",
    }
    assert "did you mean 'first_name'" in found["fields.frist_name"]
    assert "already used by fields.email" in found["actions.lists.column"]


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ('[fields]\ne_mail = "E"', "fields.e_mail", "did you mean 'email'"),
        ('[fields]\ntags = "T"', "fields.tags", "go in [actions]"),
        ('[template]\nclear = ""', "template.clear", "non-empty string"),
        ('[template]\nrequire_columns = "no"', "template.require_columns", "true or false"),
        (
            '[custom_fields.x]\ncolumn = "X"\ntype = "input_field"\noptions = { a = 1 }',
            "custom_fields.x.options",
            "has no options",
        ),
        (
            '[custom_fields.x]\ncolumn = "X"\ntype = "drop_down"\noptions = { a = 1, A = 2 }',
            "custom_fields.x.options.A",
            "same label twice",
        ),
        (
            '[custom_fields.x]\ncolumn = "X"\ntype = "radio_button"\nseparator = ";"',
            "custom_fields.x.separator",
            "only a checkbox",
        ),
        ('[custom_fields.x]\ntype = "text_area"', "custom_fields.x.column", "is required"),
        ("[custom_fields]\nx = 3", "custom_fields.x", "must be a table"),
        ('[fields]\nemail = "E"\nnew_email = " e "', "fields.new_email", "already used"),
    ],
)
def test_each_problem_names_its_key(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    """Each kind of mistake is reported under the key that holds it."""
    assert fragment in problems(tmp_path, text)[key]


def test_a_text_custom_field_may_copy_a_mapped_column(tmp_path: Path) -> None:
    """Copying a field's column into a text custom field is deliberate, not a slip."""
    text = '[fields]\ncompany = "Company"\n[custom_fields.org]\ncolumn = "Company"\n'
    template = load_template(write(tmp_path, text + 'type = "input_field"'))
    assert template.custom_fields[0].column == "Company"


def test_toml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    """A TOML syntax error is one problem that says where it is."""
    with pytest.raises(TemplateError) as caught:
        load_template(write(tmp_path, '[fields]\nemail = "Email\n'))
    assert len(caught.value.problems) == 1
    assert "line 2" in caught.value.problems[0].message
    assert "column" in caught.value.problems[0].message


def test_missing_template_file_is_a_template_error(tmp_path: Path) -> None:
    """An unreadable template is reported, not raised as OSError."""
    with pytest.raises(TemplateError, match="cannot read"):
        load_template(tmp_path / "nope.toml")


def test_option_labels_are_kept_case_insensitively(tmp_path: Path) -> None:
    """Option labels are stored folded so cells match them in any case."""
    text = '[custom_fields.plan]\ncolumn = "Plan"\ntype = "drop_down"\noptions = { Pro = 631 }'
    assert load_template(write(tmp_path, text)).custom_fields[0].options == {"pro": 631}
