"""`template init`: a first-draft template guessed from a sheet's headers.

Headers are placed by name: known synonyms first ("E-mail Address" -> email), then a
close spelling of a Kartra field name. What cannot be placed is left commented out as a
custom field to adapt. The output is valid TOML as printed; every header is written as an
escaped TOML string, so no header text (quotes, newlines, "=cmd|...") can break out.
Given some of the sheet's rows, the tags and lists columns get the separator their cells
use (`"Webinar 2026", "Customer"` from Mailchimp: a comma).

An export another tool wrote (Mailchimp, HubSpot, ActiveCampaign, Kit, Keap) is
recognised by its headers (presets.py) and gets that tool's preset instead: every column
the tool is known to write mapped with its transforms, the rest as above.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bulk_loader.template.fields import (
    ACTIONS,
    CUSTOM_FIELD_TYPES,
    SYNONYMS,
    TRANSFORMS,
)
from bulk_loader.template.preset_plan import Block, Line, Plan, plan_preset
from bulk_loader.template.presets import recognise

__all__ = ["guess_field", "guess_separator", "starter_template", "toml_string"]


def _normalise(header: str) -> str:
    return re.sub(r"[^0-9a-z]", "", header.casefold())


def guess_field(header: str) -> str | None:
    """The Kartra field (or "tags"/"lists") a header most likely means, if any."""
    key = _normalise(header)
    if not key:
        return None
    if key in SYNONYMS:
        return SYNONYMS[key]
    close = difflib.get_close_matches(key, list(SYNONYMS), n=1, cutoff=0.85)
    return SYNONYMS[close[0]] if close else None


# The separators a template's tags and lists may use; the first is Kartra's own.
SEPARATORS = (";", ",", "|")


def guess_separator(cells: Iterable[str]) -> str | None:
    """The separator a tags or lists column uses: of `;`, `,` and `|`, the one found
    outside double quotes in the most cells (`;` on a tie); None if no cell holds one."""
    counts = dict.fromkeys(SEPARATORS, 0)
    for cell in cells:
        for separator in _outside_quotes(cell).intersection(SEPARATORS):
            counts[separator] += 1
    best = max(SEPARATORS, key=lambda separator: counts[separator])
    return best if counts[best] else None


def _outside_quotes(cell: str) -> set[str]:
    """The characters of `cell` that stand outside double quotes."""
    found: set[str] = set()
    inside = False
    for char in cell:
        if char == '"':
            inside = not inside
        elif not inside:
            found.add(char)
    return found


_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(text: str) -> str:
    """A TOML basic string holding `text` exactly; control characters escaped."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _comment_text(text: str) -> str:
    """`text` safe inside a TOML comment: a file name may hold a newline, which would end it."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04X}" for c in text)


def _identifier(header: str) -> str:
    slug = re.sub(r"[^0-9a-z]+", "_", header.casefold()).strip("_")
    return slug or "field"


def starter_template(
    headers: Sequence[str], source: str = "", rows: Sequence[Sequence[str]] = ()
) -> str:
    """TOML text for `template init`: placed headers mapped, the rest commented out.

    `rows`: some of the sheet's rows, if at hand; the tags and lists columns then get
    the separator their cells use. An export a preset recognises gets the preset's
    template, named on the first line.
    """
    preset = recognise(headers)
    if preset is not None:
        return _preset_template(plan_preset(preset, headers, rows), headers, source, rows)
    fields: dict[str, str] = {}
    actions: dict[str, tuple[str, str]] = {}  # action (or its step) -> (header, separator)
    unplaced: list[str] = []
    for index, header in enumerate(headers):
        if not header.strip():
            continue
        guess = guess_field(header)
        if guess in _ACTION_GUESSES and guess not in actions:
            cells = (row[index] for row in rows if index < len(row))
            actions[guess] = (header, guess_separator(cells) or SEPARATORS[0])
        elif guess is not None and guess not in fields and guess not in _ACTION_GUESSES:
            fields[guess] = header
        else:
            unplaced.append(header)
    if "sequence_step" in actions and "sequence" not in actions:  # a step of no sequence
        unplaced.append(actions.pop("sequence_step")[0])
    lines = [
        f"# Starter template{' for ' + _comment_text(source) if source else ''}, "
        "by `bulk-loader template init`.",
        "# Check every line; see templates/example.toml for what each key means.",
        "",
        "[template]",
        'mode = "upsert"      # create | edit | upsert',
        'match = "email"      # email | id',
        '# clear = "#clear"   # a cell holding exactly this clears the value in Kartra',
        "",
        "[fields]             # Kartra lead field = sheet header",
    ]
    lines += [f"{name} = {toml_string(header)}" for name, header in fields.items()]
    if actions:
        lines += ["", "[actions]"]
        lines.append("# separator: one of ; , | (names in double quotes may hold it)")
        lines += action_lines(actions)
    lines += _not_placed(unplaced)
    return "\n".join(lines) + "\n"


# What a header may name in [actions]: an action, or the step of the sequence one.
_ACTION_GUESSES = (*ACTIONS, "sequence_step")


def action_lines(actions: Mapping[str, tuple[str, str]]) -> list[str]:
    """The [actions] entries for the columns found: action (or "sequence_step") ->
    (header, separator of its names)."""
    lines = []
    step = actions.get("sequence_step")
    for name, (header, separator) in actions.items():
        column = toml_string(header)
        if name == "points":
            lines.append(f"points = {{ column = {column} }}  # +n gives, -n takes away")
        elif name == "sequence":
            at = f", step_column = {toml_string(step[0])}" if step else ""
            lines.append(f"sequence = {{ column = {column}{at} }}")
        elif name != "sequence_step":
            lines.append(f'{name} = {{ column = {column}, separator = "{separator}" }}')
    return lines


def _not_placed(headers: Sequence[str]) -> list[str]:
    """Headers left over, as commented-out custom fields to adapt."""
    headers = [h for h in headers if not h.strip().casefold().startswith("bulk-loader:")]
    if not headers:
        return []
    lines = ["", "# Columns not placed: map them as custom fields, or leave them out."]
    for header in headers:
        lines += [
            f"# [custom_fields.{_identifier(header)}]",
            f"# column = {toml_string(header)}",
            f'# type = "input_field"   # {" | ".join(CUSTOM_FIELD_TYPES)}',
        ]
    return lines


# -- presets ---------------------------------------------------------------------------

# An export's own ids are not Kartra lead ids, nor is any of its columns a new address:
# placing "Contact ID" as `id` would edit whichever Kartra lead has that number.
_NEVER_GUESSED = ("id", "new_email")
_NOT_FIELDS = (*_ACTION_GUESSES, *_NEVER_GUESSED)


def _toml_value(value: Any) -> str:
    """A value of a preset's entry as TOML: strings escaped, tables inline."""
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict) and list(value) == ["column"]:
        return _toml_value(value["column"])  # { column = "X" } reads better as "X"
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"no TOML for {value!r}")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_string(key)


def _comment(text: str) -> list[str]:
    """`text` as comment lines of at most 88 characters."""
    return ["# " + part for part in textwrap.wrap(_comment_text(text), 86)] or ["#"]


def _entry_lines(line: Line) -> list[str]:
    if line.text is not None:
        return [line.text]
    out = _comment(line.note) if line.note else []
    entry = f"{_toml_key(line.key)} = {_toml_value(line.value)}"
    if line.comment:
        entry += f"   # {_comment_text(line.comment)}"
    if line.off is None:
        return [*out, entry]
    return [*out, *_comment(line.off), f"# {entry}"]


def _block_lines(block: Block, extra: Sequence[str]) -> list[str]:
    lines = [line.text if line.text is not None else "" for line in block.lead]
    if block.off is not None:
        lines += _comment(block.off)
        lines.append(f"# {block.header}")
        for line in block.lines:
            lines += [text if text.startswith("#") or not text else f"# {text}"
                      for text in _entry_lines(line)]  # fmt: skip
        return lines
    lines.append(block.header)
    for line in block.lines:
        lines += _entry_lines(line)
    while extra and lines and not lines[-1].strip():
        lines.pop()  # the extra entries go right after the table's own
    return lines + list(extra)


def _preset_template(
    plan: Plan, headers: Sequence[str], source: str, rows: Sequence[Sequence[str]]
) -> str:
    """The preset's template for this sheet, then its other columns placed by name."""
    fields: list[str] = []
    actions: list[str] = []
    found: dict[str, tuple[str, str]] = {}  # action (or its step) -> (header, separator)
    unplaced: list[str] = []
    filled = {*plan.filled, *plan.declined}
    for header in plan.unclaimed:
        guess = guess_field(header)
        if guess in _ACTION_GUESSES and f"actions.{guess}" not in filled:
            filled.add(f"actions.{guess}")
            index = list(headers).index(header)
            cells = (row[index] for row in rows if index < len(row))
            found[guess] = (header, guess_separator(cells) or SEPARATORS[0])
        elif guess is not None and guess not in filled and guess not in _NOT_FIELDS:
            filled.add(guess)
            if guess in TRANSFORMS:
                spec = {"column": header, "transform": guess}
                fields.append(f"{guess} = {_toml_value(spec)}")
            else:
                fields.append(f"{guess} = {toml_string(header)}")
        else:
            unplaced.append(header)
    if "sequence_step" in found and "sequence" not in found:  # a step of no sequence
        unplaced.append(found.pop("sequence_step")[0])
    actions += action_lines(found)
    placed = ["# Placed by name, not by the preset: check them."]
    lines = [
        f"# {plan.preset.name}: preset {plan.preset.shown_path}",
        f"# Template{' for ' + _comment_text(source) if source else ''}, "
        "by `bulk-loader template init`.",
        "# Check every line; see templates/example.toml for what each key means.",
    ]
    for note in plan.notes:
        lines += _comment(f"Note: {note}")
    lines.append("")
    tables = [block.table for block in plan.blocks]
    for block in plan.blocks:
        extra = {"fields": fields, "actions": actions}.get(block.table, [])
        lines += _block_lines(block, placed + extra if extra and block.off is None else [])
    for table, extra in (("fields", fields), ("actions", actions)):
        if extra and table not in tables:
            lines += ["", f"[{table}]", *placed, *extra]
    lines += _not_placed(unplaced)
    return "\n".join(lines).rstrip("\n") + "\n"
