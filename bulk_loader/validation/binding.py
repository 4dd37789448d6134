"""Binding a template to a sheet: each column the template names, found among its headers.

Every column the template needs and the sheet lacks, and every field the mode needs
that no column fills, is one problem of a single TemplateError; a column found is a
BoundColumn, with the cell checks validator.py runs on it.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass

from bulk_loader.errors import TemplateError, TemplateProblem
from bulk_loader.sheets.sheet import Sheet, find_column
from bulk_loader.template.model import CustomFieldMap, Mode, Template, key_text, normalise_header
from bulk_loader.validation.checks import Check, action_checks, custom_field_checks, field_checks
from bulk_loader.validation.transforms import split_checks

__all__ = ["BoundColumn", "bind_columns"]


@dataclass(frozen=True)
class BoundColumn:
    """A template mapping bound to a sheet column; `name` is the dataframe column."""

    name: str  # dotted template key, e.g. "fields.email"
    header: str  # the sheet's header text
    index: int
    target: str  # Kartra field, custom field identifier, action, or "sequence_step"
    checks: tuple[Check, ...]
    custom: CustomFieldMap | None = None
    separator: str | None = None


def _required(template: Template, mode: Mode) -> dict[str, str]:
    """Fields every row must fill in this mode, with the reason."""
    if mode == "edit":
        return {template.match: f"edit mode (match = {template.match})"}
    return {"email": f"{mode} mode"}


def bind_columns(template: Template, sheet: Sheet, mode: Mode) -> list[BoundColumn]:
    """The template's columns found in the sheet; TemplateError lists the missing ones."""
    required = _required(template, mode)
    problems: list[TemplateProblem] = []
    columns: list[BoundColumn] = []
    # Keyed as template.columns() names them: an identifier TOML must quote
    # ("birth.day") is quoted there, and is never cut at its dot.
    customs = {f"custom_fields.{key_text(c.identifier)}.column": c for c in template.custom_fields}
    for key, header in template.columns():
        index = find_column(sheet.headers, header, sheet.path)
        if index is None:
            if template.require_columns:
                missing = f"no column {header!r} in the sheet{_nearest(header, sheet)}"
                problems.append(TemplateProblem(key, missing))
            continue
        custom = customs.get(key)
        target = custom.identifier if custom is not None else _target(key)
        checks, separator = _checks(template, key, target, custom, required)
        columns.append(BoundColumn(key, header, index, target, tuple(checks), custom, separator))
    bound = {c.target for c in columns if c.name.startswith("fields.")}
    for field, why in required.items():
        if field not in bound:
            hint = (
                ""
                if template.path
                else f": name a column {field!r}, or pass --template "
                f"(`bulk-loader template init {shlex.quote(str(sheet.path))}` writes one)"
            )
            message = f"{why} needs an {field} column{hint}"
            problems.append(TemplateProblem(f"fields.{field}", message))
    if problems:
        shown = ", ".join(repr(h) for h in sheet.headers if h)
        hint = f"{sheet.path.name} row 1 holds the headers: {shown}"
        # The built-in template has no file: name the sheet it was matched against.
        raise TemplateError(template.path or sheet.path, problems, hint=hint)
    return columns


def _checks(
    template: Template,
    key: str,
    target: str,
    custom: CustomFieldMap | None,
    required: dict[str, str],
) -> tuple[list[Check], str | None]:
    """A column's cell checks, and the separator of the names in its cells."""
    clear = template.clear
    if custom is not None:
        return custom_field_checks(custom, clear), custom.separator
    if target in ("points", "sequence", "sequence_step"):
        return action_checks(target), None
    if key.startswith("actions."):
        return [], getattr(template, target).separator
    if key.startswith("split."):
        return split_checks(target), None
    return field_checks(target, required.get(target), clear), None


def _target(key: str) -> str:
    """What a column fills: a field, an action ("tags", "points", ...), or the step of
    the sequence action ("sequence_step")."""
    if key == "actions.sequence.step_column":
        return "sequence_step"
    return key.split(".")[1]


def _nearest(header: str, sheet: Sheet) -> str:
    """' (did you mean ...?)' naming the sheet's header closest to a missing one."""
    near = difflib.get_close_matches(
        normalise_header(header), [normalise_header(h) for h in sheet.headers], n=1, cutoff=0.6
    )
    if not near:
        return ""
    found = next(h for h in sheet.headers if normalise_header(h) == near[0])
    return f" (did you mean {found!r}?)"
