"""The mapping template: which sheet column feeds which Kartra lead field.

A template is a TOML file (see templates/example.toml). `load_template` checks the whole
file and raises one TemplateError listing every problem with its dotted key, so a user
fixes everything in one pass. Without a file, `default_template` maps headers that are
spelled like Kartra's field names. What a column can map to is in fields.py;
`template init`'s first draft for a sheet is written by starter.py. What a template
holds is in model.py; checking.py finds every problem of a file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path

from bulk_loader.errors import TemplateError, TemplateProblem
from bulk_loader.template.checking import TemplateChecker
from bulk_loader.template.fields import KARTRA_FIELDS, NAME_ACTIONS, SYNONYMS
from bulk_loader.template.model import ActionColumn, Template, normalise_header

__all__ = ["MAX_TEMPLATE_BYTES", "default_template", "load_template", "read_template"]

# A template is a few KB; anything far larger is not one (or is /dev/zero).
MAX_TEMPLATE_BYTES = 1024 * 1024


def load_template(path: Path) -> Template:
    """Read and check a template file; TemplateError lists every problem found."""
    template, problems = read_template(path)
    if problems:
        raise TemplateError(path, problems)
    return template


def read_template(path: Path) -> tuple[Template, list[TemplateProblem]]:
    """A template file as far as it can be read, and its problems: what was well written
    is in the template (its columns can still be looked for in a sheet, so every problem
    is said at once). TemplateError when there is no template to read at all (no file,
    not TOML)."""
    try:
        with Path(path).open("rb") as file:
            data = file.read(MAX_TEMPLATE_BYTES + 1)
        if len(data) > MAX_TEMPLATE_BYTES:
            raise TemplateError(
                path,
                [
                    TemplateProblem(
                        "",
                        f"a template is at most {MAX_TEMPLATE_BYTES // 1024} KB; "
                        "is this the right file?",
                    )
                ],
            )
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else exc
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
            reason = exc.strerror or exc
        raise TemplateError(
            path, [TemplateProblem("", f"cannot read the template: {reason}")]
        ) from exc
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(path, [TemplateProblem("", f"not valid TOML: {exc}")]) from exc
    except RecursionError as exc:  # tomllib recurses once per level of [ or {
        raise TemplateError(
            path, [TemplateProblem("", "not valid TOML: arrays or tables nested too deeply")]
        ) from exc
    checker = TemplateChecker()
    template = checker.check(doc, Path(path))
    return template, checker.problems


# Fields the built-in template fills only from a header spelled exactly so: an export's
# "Contact ID" is not a Kartra lead id, and no export column is a new address.
_EXACT_ONLY = ("id", "new_email")


def default_template(headers: Sequence[str]) -> Template:
    """The mapping used without --template: headers spelled like Kartra's field names,
    or like one of the names `template init` knows them by ("First Name", "E-mail").

    `tags`, `lists`, `remove_tags` and `remove_lists` headers (or "Tag", "Mailing
    lists"...) become the actions of the same name, split on semicolons. A field two
    headers could fill takes the one spelled exactly, else the first.
    """
    present = {normalise_header(h): h for h in headers if h.strip()}
    fields = {name: present[name] for name in KARTRA_FIELDS if name in present}
    actions = {a: ActionColumn(present[a]) for a in NAME_ACTIONS if a in present}
    used = set(fields.values()) | {a.column for a in actions.values()}
    for header in headers:
        meant = SYNONYMS.get("".join(ch for ch in header.casefold() if ch.isalnum()))
        if header in used or meant is None or meant in _EXACT_ONLY:
            continue
        if meant in KARTRA_FIELDS and meant not in fields:
            fields[meant] = header
        elif meant in NAME_ACTIONS and meant not in actions:
            actions[meant] = ActionColumn(header)
        else:
            continue
        used.add(header)
    return Template(
        fields=fields,
        tags=actions.get("tags"),
        lists=actions.get("lists"),
        remove_tags=actions.get("remove_tags"),
        remove_lists=actions.get("remove_lists"),
        require_columns=False,
    )
