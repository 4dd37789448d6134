"""Checking a template file: every problem of a parsed TOML document, with its dotted key.

`TemplateChecker` walks the whole document rather than stopping at the first problem, so
mapping.load_template can raise one TemplateError listing them all and a user fixes
everything in one pass. What it builds is the model of model.py.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from bulk_loader.errors import TemplateProblem
from bulk_loader.template.date_format import (
    DATE_ORDERS,
    DateOrder,
    date_format_problem,
    default_order,
)
from bulk_loader.template.fields import (
    ACTIONS,
    ADDRESS_FORMATS,
    CUSTOM_FIELD_TYPES,
    DEFAULT_SEPARATOR,
    KARTRA_FIELDS,
    SPLITS,
    SYNONYMS,
    TEXT_TYPES,
    TRANSFORMS,
)
from bulk_loader.template.model import (
    MATCHES,
    MODES,
    ActionColumn,
    CustomFieldMap,
    FieldTransform,
    Match,
    Mode,
    PointsColumn,
    SequenceColumn,
    SplitMap,
    Template,
    key_text,
    normalise_header,
)

__all__ = ["TemplateChecker"]

_TOP_KEYS = ("template", "fields", "split", "custom_fields", "actions")
# A field written as a table: `phone = { column = "Phone", transform = "phone", region = "US" }`.
_FIELD_KEYS = ("column", "transform", "region")
_SPLIT_KEYS = {"name": ("column",), "address": ("column", "format")}
_TEMPLATE_KEYS = ("mode", "match", "clear", "require_columns", "account")
_CUSTOM_KEYS = ("column", "type", "separator", "options", "date", "date_order")
_ACTION_KEYS = ("column", "separator", "add")
_POINTS_KEYS = ("column", "expiration_days")
_SEQUENCE_KEYS = ("column", "step_column", "step")
# What may separate the names in a tags or lists cell; quotes are understood with each.
_ACTION_SEPARATORS = (";", ",", "|")


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class TemplateChecker:
    """Walks a parsed TOML document, collecting every problem rather than stopping."""

    def __init__(self) -> None:
        self.problems: list[TemplateProblem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(TemplateProblem(key, message))

    def table(self, value: Any, key: str) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        self.problem(key, f"must be a table, not {type(value).__name__}")
        return {}

    def unknown_keys(self, table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                dotted = f"{where}.{key_text(key)}" if where else key_text(key)
                self.problem(dotted, f"unknown key{_suggest(key, allowed)}")

    def text(self, table: Mapping[str, Any], key: str, where: str, required: bool) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.problem(f"{where}.{key}", "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{where}.{key}", "must be a non-empty string")
            return None
        return value

    def check(self, doc: Mapping[str, Any], path: Path) -> Template:
        self.unknown_keys(doc, _TOP_KEYS, "")
        settings = self.table(doc.get("template", {}), "template")
        self.unknown_keys(settings, _TEMPLATE_KEYS, "template")
        mode = self.choice(settings, "mode", MODES, "upsert")
        match = self.choice(settings, "match", MATCHES, "email")
        clear = self.text(settings, "clear", "template", required=False)
        account = self.text(settings, "account", "template", required=False)
        require = settings.get("require_columns", True)
        if not isinstance(require, bool):
            self.problem("template.require_columns", "must be true or false")
            require = True
        fields, transforms = self.fields(doc.get("fields", {}))
        template = Template(
            mode=cast(Mode, mode),
            match=cast(Match, match),
            clear=clear,
            fields=fields,
            transforms=transforms,
            splits=self.splits(doc.get("split", {}), fields),
            custom_fields=self.custom_fields(doc.get("custom_fields", {})),
            tags=self.action(doc, "tags"),
            lists=self.action(doc, "lists"),
            remove_tags=self.action(doc, "remove_tags"),
            remove_lists=self.action(doc, "remove_lists"),
            points=self.points(doc),
            sequence=self.sequence(doc),
            path=path,
            require_columns=require,
            account=account,
        )
        self.shared_columns(template)
        return template

    def choice(
        self, table: Mapping[str, Any], key: str, allowed: Sequence[str], default: str
    ) -> str:
        value = table.get(key, default)
        if value not in allowed:
            self.problem(f"template.{key}", f"{value!r} is not one of {', '.join(allowed)}")
            return default
        return str(value)

    def fields(self, raw: Any) -> tuple[dict[str, str], dict[str, FieldTransform]]:
        """Lead field -> sheet header, and lead field -> its transform, if it has one."""
        fields: dict[str, str] = {}
        transforms: dict[str, FieldTransform] = {}
        for name, header in self.table(raw, "fields").items():
            key = f"fields.{key_text(name)}"
            if name not in KARTRA_FIELDS:
                hint = _suggest(name, KARTRA_FIELDS)
                meant = SYNONYMS.get("".join(ch for ch in name.casefold() if ch.isalnum()))
                if not hint and meant in KARTRA_FIELDS:  # timezone, zip_code, phone_number
                    hint = f" (did you mean {meant!r}?)"
                if name in ACTIONS:
                    hint = f" ({name} go in [actions]: {name} = {{ column = ... }})"
                self.problem(key, f"not a Kartra lead field{hint}")
            elif isinstance(header, dict):  # { column = "...", transform = "..." }
                self.unknown_keys(header, _FIELD_KEYS, key)
                column = self.text(header, "column", key, required=True)
                transform = self.transform(name, header, key)
                if column is not None:
                    fields[name] = column
                if transform is not None:
                    transforms[name] = transform
            elif not isinstance(header, str) or not header.strip():
                self.problem(
                    key, 'must be the sheet header as a non-empty string, or { column = "..." }'
                )
            else:
                fields[name] = header
        return fields, transforms

    def transform(self, name: str, spec: Mapping[str, Any], where: str) -> FieldTransform | None:
        """The transform a field's table asks for; its region checked."""
        kind, region = spec.get("transform"), spec.get("region")
        key = f"{where}.transform"
        if kind is None:
            if region is not None:
                self.problem(f"{where}.region", 'only transform = "phone" takes a region')
            return None
        if not isinstance(kind, str) or kind not in TRANSFORMS:
            hint = _suggest(kind, list(TRANSFORMS)) if isinstance(kind, str) else ""
            self.problem(key, f"{kind!r} is not a transform: one of {', '.join(TRANSFORMS)}{hint}")
            return None
        if TRANSFORMS[kind] != name:
            self.problem(key, f"the {kind} transform fits fields.{TRANSFORMS[kind]} only")
            return None
        if region is not None and kind != "phone":
            self.problem(f"{where}.region", 'only transform = "phone" takes a region')
            return None
        code = self.region(region, f"{where}.region") if region is not None else None
        return FieldTransform(kind, code)

    def region(self, value: Any, key: str) -> str | None:
        """An ISO alpha-2 code (any case) of a country with a telephone numbering plan."""
        import phonenumbers
        import pycountry

        text = value.strip() if isinstance(value, str) else ""
        code = text.upper()
        if re.fullmatch(r"[A-Z]{2}", code) is None or not pycountry.countries.get(alpha_2=code):
            try:
                close = pycountry.countries.lookup(text) if text else None
            except LookupError:
                close = None
            hint = f" (did you mean {close.alpha_2!r}?)" if close is not None else ""
            self.problem(key, f'{value!r} is not a two-letter ISO country code, e.g. "US"{hint}')
            return None
        if code not in phonenumbers.SUPPORTED_REGIONS:
            self.problem(key, f"{code} has no telephone numbering plan of its own")
            return None
        return code

    def splits(self, raw: Any, fields: Mapping[str, str]) -> tuple[SplitMap, ...]:
        """[split.name] and [split.address]: a column each, whose fields are not mapped."""
        splits: list[SplitMap] = []
        for kind, spec in self.table(raw, "split").items():
            where = f"split.{key_text(kind)}"
            if kind not in SPLITS:
                hint = _suggest(kind, list(SPLITS))
                self.problem(where, f"not a split: one of {', '.join(SPLITS)}{hint}")
                continue
            if not isinstance(spec, dict):
                self.problem(where, f'must be a table: [split.{kind}] column = "..."')
                continue
            self.unknown_keys(spec, _SPLIT_KEYS[kind], where)
            column = self.text(spec, "column", where, required=True)
            # A field the split fills may be mapped too: that column is the fallback, sent
            # when the split gives the field nothing (an empty or partial address).
            layout = spec.get("format") if kind == "address" else None
            if kind == "address" and layout not in ADDRESS_FORMATS:
                got = "is required" if layout is None else f"{layout!r} is not an address format"
                self.problem(f"{where}.format", f"{got}: one of {', '.join(ADDRESS_FORMATS)}")
            elif column is not None:
                splits.append(SplitMap(kind, column, cast(str | None, layout)))
        return tuple(splits)

    def custom_fields(self, raw: Any) -> tuple[CustomFieldMap, ...]:
        maps = []
        for identifier, spec in self.table(raw, "custom_fields").items():
            where = f"custom_fields.{key_text(identifier)}"
            if not isinstance(spec, dict):
                self.problem(where, "must be a table with column and type")
                continue
            self.unknown_keys(spec, _CUSTOM_KEYS, where)
            column = self.text(spec, "column", where, required=True)
            kind = spec.get("type")
            if kind not in CUSTOM_FIELD_TYPES:
                got = "is required" if kind is None else f"{kind!r} is not a custom field type"
                self.problem(f"{where}.type", f"{got}: one of {', '.join(CUSTOM_FIELD_TYPES)}")
            separator = self.text(spec, "separator", where, required=kind == "checkbox")
            if separator is not None and kind in (*TEXT_TYPES, "drop_down", "radio_button"):
                self.problem(f"{where}.separator", "only a checkbox field takes several values")
            options = self.options(spec.get("options"), str(kind), where)
            date, order = self.date(spec, str(kind), where)
            if column is not None and kind in CUSTOM_FIELD_TYPES:
                maps.append(
                    CustomFieldMap(identifier, column, str(kind), separator, options, date, order)
                )
        return tuple(maps)

    def date(
        self, spec: Mapping[str, Any], kind: str, where: str
    ) -> tuple[str | None, DateOrder | None]:
        """A text field's date format (strftime codes) and the order its cells' day and
        month are read in: `date_order`, else the order the format writes them."""
        fmt, order = spec.get("date"), spec.get("date_order")
        if fmt is None:
            if order is not None:
                self.problem(
                    f"{where}.date_order",
                    "orders the day and month of dates: give the date format too, e.g. "
                    'date = "%m/%d"',
                )
            return None, None
        key = f"{where}.date"
        found: str | None = None
        if not isinstance(fmt, str) or not fmt.strip():
            self.problem(key, 'must be a date format in strftime codes, e.g. date = "%m/%d"')
        elif kind in CUSTOM_FIELD_TYPES and kind not in TEXT_TYPES:
            self.problem(key, f"only a text field ({', '.join(TEXT_TYPES)}) takes a date format")
        elif (wrong := date_format_problem(fmt)) is not None:
            self.problem(key, wrong)
        else:
            found = fmt
        if order is not None and (
            not isinstance(order, str) or order.strip().upper() not in DATE_ORDERS
        ):
            self.problem(
                f"{where}.date_order",
                f"{order!r} is not a date order: one of {', '.join(DATE_ORDERS)} "
                "(how the month, day and year of a cell such as 3/4 are read)",
            )
            return None, None
        if found is None:
            return None, None
        if order is None:
            return found, default_order(found)
        return found, cast(DateOrder, order.strip().upper())

    def options(self, raw: Any, kind: str, where: str) -> dict[str, int] | None:
        if raw is None:
            return None
        key = f"{where}.options"
        if kind in TEXT_TYPES:
            self.problem(key, f"a {kind} field has no options")
            return None
        if not isinstance(raw, dict) or not raw:
            self.problem(key, "must be a table of label = option id, e.g. { red = 620 }")
            return None
        options: dict[str, int] = {}
        for label, option_id in raw.items():
            if type(option_id) is not int or option_id < 0:
                self.problem(
                    f"{key}.{key_text(label)}",
                    f"option id must be a whole number, not {option_id!r}",
                )
            elif label.strip().casefold() in options:
                self.problem(
                    f"{key}.{key_text(label)}", "the same label twice (labels ignore case)"
                )
            else:
                options[label.strip().casefold()] = option_id
        return options

    def action(self, doc: Mapping[str, Any], name: str) -> ActionColumn | None:
        actions = self.table(doc.get("actions", {}), "actions")
        if name == ACTIONS[0]:
            self.unknown_keys(actions, ACTIONS, "actions")
        if name not in actions:
            return None
        where = f"actions.{name}"
        spec = actions[name]
        if isinstance(spec, str):
            self.problem(where, f'must be a table: {name} = {{ column = "...", separator = ";" }}')
            return None
        if not isinstance(spec, dict):
            self.table(spec, where)
            return None
        self.unknown_keys(spec, _ACTION_KEYS, where)
        if "column" not in spec and "add" not in spec:
            self.problem(
                where,
                f"needs a column, names to add to every row, or both: {name} = "
                f'{{ column = "...", add = ["..."] }}',
            )
            return None
        column = self.text(spec, "column", where, required=False)
        separator = self.separator(spec, where)
        add = self.names(spec.get("add"), f"{where}.add")
        if column is None and not add:
            return None
        return ActionColumn(column, separator, add)

    def _spec(self, doc: Mapping[str, Any], name: str, keys: Sequence[str]) -> dict[str, Any]:
        """[actions] `name` as a table with a column ({} when absent or wrong)."""
        spec = self.table(doc.get("actions", {}), "actions").get(name)
        if spec is None:
            return {}
        where = f"actions.{name}"
        if not isinstance(spec, dict):
            self.problem(where, f'must be a table: {name} = {{ column = "..." }}')
            return {}
        self.unknown_keys(spec, keys, where)
        return spec

    def points(self, doc: Mapping[str, Any]) -> PointsColumn | None:
        """`points = { column = "Points", expiration_days = 30 }`."""
        spec = self._spec(doc, "points", _POINTS_KEYS)
        column = self.text(spec, "column", "actions.points", required=True) if spec else None
        days = spec.get("expiration_days")
        if days is not None and (type(days) is not int or days < 1):
            self.problem(
                "actions.points.expiration_days", "must be a whole number of days, 1 or more"
            )
            days = None
        return PointsColumn(column, days) if column is not None else None

    def sequence(self, doc: Mapping[str, Any]) -> SequenceColumn | None:
        """`sequence = { column = "Sequence", step_column = "Step" }` (or `step = 2`)."""
        spec = self._spec(doc, "sequence", _SEQUENCE_KEYS)
        if not spec:
            return None
        column = self.text(spec, "column", "actions.sequence", required=True)
        step_column = self.text(spec, "step_column", "actions.sequence", required=False)
        step = spec.get("step", 1)
        if type(step) is not int or step < 1:
            self.problem("actions.sequence.step", "must be a whole number, 1 or more")
            step = 1
        return SequenceColumn(column, step_column, step) if column is not None else None

    def separator(self, spec: Mapping[str, Any], where: str) -> str:
        value = spec.get("separator")
        if value is None:
            return DEFAULT_SEPARATOR
        key = f"{where}.separator"
        if value not in _ACTION_SEPARATORS:
            choices = ", ".join(f'"{s}"' for s in _ACTION_SEPARATORS)
            self.problem(key, f"must be one of {choices} (quotes are understood with each)")
        elif "column" not in spec:
            self.problem(key, "splits the cells of a column: there is no column")
        else:
            return str(value)
        return DEFAULT_SEPARATOR

    def names(self, raw: Any, key: str) -> tuple[str, ...]:
        """The names an action adds to every row: a list of non-empty strings, trimmed."""
        if raw is None:
            return ()
        if not isinstance(raw, list) or not raw:
            self.problem(key, 'must be a list of names, e.g. add = ["Imported 2026-12"]')
            return ()
        names: list[str] = []
        for item in raw:
            if isinstance(item, str) and item.strip():
                names.append(item.strip())
            else:
                self.problem(key, f"{item!r} is not a name: each is a non-empty string")
        return tuple(dict.fromkeys(names))

    def shared_columns(self, template: Template) -> None:
        """One header feeding two places is a slip, except a text custom field copying a field."""
        text_copies = {f"custom_fields.{c.identifier}.column" for c in template.custom_fields
                       if c.type in TEXT_TYPES}  # fmt: skip
        sources = ("fields.", "split.")  # what a text custom field may copy
        first: dict[str, str] = {}
        for key, header in template.columns():
            seen = first.setdefault(normalise_header(header), key)
            if seen == key:
                continue
            pair = {key, seen}
            if any(k.startswith(sources) for k in pair) and pair & text_copies:
                continue
            self.problem(key, f"column {header!r} is already used by {seen}")
