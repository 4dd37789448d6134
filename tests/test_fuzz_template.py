"""Fuzzing the template loader and `template init`: a Template, or every problem on one line.

`load_template` must end in a checked Template or a TemplateError whose problems are
each one line (the CLI prints one per line) and name a key. Inputs: random text, the
shipped templates mutated byte by byte, and well-formed TOML documents of random shape
built from the template's own vocabulary. `starter_template` must print valid TOML that
loads back, whatever the headers and the sheet's file name hold.

CI runs FUZZ_EXAMPLES examples per test (default 100); bench/bench_fuzz.py runs 10,000.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import tomllib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_sheets import mutated

from bulk_loader.errors import TemplateError
from bulk_loader.template.fields import CUSTOM_FIELD_TYPES, KARTRA_FIELDS
from bulk_loader.template.mapping import MAX_TEMPLATE_BYTES, load_template
from bulk_loader.template.starter import starter_template

ROOT = Path(__file__).resolve().parent.parent
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
VALID, CLEAN = "valid", "clean error"
TOML_TOKENS = [b"[", b"]", b"[[", b"{", b"}", b"=", b'"', b"'''", b'"""', b"\\", b"\\u0000",
               b"\n", b"\r", b"\0", b"#", b".", b"\xff", b"\xef\xbb\xbf", b"1979-05-27T07:32:00Z",
               b"inf", b"nan", b"a = [" * 2000, b"a = {b = " * 2000, b'"a\\nb" = 1']  # fmt: skip


def check_template_text(data: bytes) -> str:
    """Load `data` as a template file: VALID or CLEAN, else the test fails."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.toml"
        path.write_bytes(data)
        try:
            load_template(path)
        except TemplateError as exc:
            assert exc.problems, "a TemplateError names at least one problem"
            for line in [str(exc), *map(str, exc.problems)]:
                assert "\n" not in line and "\r" not in line, line
            assert str(path) in str(exc)
            return CLEAN
        return VALID


def toml_value(value: Any) -> str:
    """`value` as TOML: strings JSON-escaped (valid TOML escapes), tables inline."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "nan" if math.isnan(value) else ("-inf" if value < 0 else "inf")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    items = (f"{toml_value(str(key))} = {toml_value(item)}" for key, item in value.items())
    return "{" + ", ".join(items) + "}"


VOCABULARY = [*KARTRA_FIELDS, *CUSTOM_FIELD_TYPES, "mode", "match", "clear", "require_columns",
              "column", "type", "separator", "options", "tags", "lists", "create", "edit",
              "upsert", "email", "id", "Email", ";", "", " "]  # fmt: skip
words = st.one_of(st.sampled_from(VOCABULARY), st.text(max_size=12))
scalars = st.one_of(words, st.integers(-5, 10**20), st.floats(), st.booleans())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(words, inner, max_size=3)),
    max_leaves=6,
)
custom_field = st.one_of(
    values,
    st.fixed_dictionaries(
        {"column": words, "type": st.sampled_from(CUSTOM_FIELD_TYPES)},
        optional={
            "separator": words,
            "options": st.dictionaries(words, st.one_of(st.integers(-1, 900), values), max_size=4),
            "unknown": values,
        },
    ),
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "template": st.one_of(values, st.dictionaries(words, st.one_of(words, values), max_size=5)),
        "fields": st.one_of(values, st.dictionaries(words, st.one_of(words, values), max_size=6)),
        "custom_fields": st.one_of(values, st.dictionaries(words, custom_field, max_size=3)),
        "actions": st.one_of(
            values,
            st.dictionaries(
                st.sampled_from(["tags", "lists", "tag"]),
                st.one_of(words, st.dictionaries(words, words, max_size=3)),
                max_size=3,
            ),
        ),
        "extra": values,
    },
)


@cache
def shipped_templates() -> list[bytes]:
    return [path.read_bytes() for path in sorted((ROOT / "templates").glob("*.toml"))]


def random_text() -> st.SearchStrategy[bytes]:
    return st.text(max_size=400).map(lambda text: text.encode("utf-8", "surrogatepass"))


def mutated_templates() -> st.SearchStrategy[bytes]:
    return st.sampled_from(shipped_templates()).flatmap(lambda data: mutated(data, TOML_TOKENS))


def random_documents() -> st.SearchStrategy[bytes]:
    return documents.map(
        lambda doc: "\n".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in doc.items()).encode()
    )


def check_starter(headers: list[str], source: str) -> str:
    """`template init` output parses as TOML and loads as a template with no problem."""
    text = starter_template(headers, source)
    tomllib.loads(text)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "starter.toml"
        path.write_text(text, encoding="utf-8")
        template = load_template(path)
    assert set(template.fields.values()) <= set(headers)
    return VALID


headers_lists = st.lists(st.text(min_size=1, max_size=30).map(str.strip).filter(bool), max_size=30)
file_names = st.text(max_size=40)


# name -> (inputs, check); bench/bench_fuzz.py runs the same targets at 10,000 examples.
TARGETS: dict[str, tuple[Callable[[], st.SearchStrategy[Any]], Callable[[Any], str]]] = {
    "template: random text": (random_text, check_template_text),
    "template: mutated shipped templates": (mutated_templates, check_template_text),
    "template: random TOML documents": (random_documents, check_template_text),
    "template init: random headers": (
        lambda: st.tuples(headers_lists, file_names),
        lambda case: check_starter(*case),
    ),
}


@FUZZ
@given(random_text())
def test_random_text_loads_or_lists_problems_one_per_line(data: bytes) -> None:
    """Any text as a template: a Template, or a TemplateError with one-line problems."""
    check_template_text(data)


@FUZZ
@given(mutated_templates())
def test_mutated_shipped_templates_load_or_list_problems_one_per_line(data: bytes) -> None:
    """templates/*.toml with stray brackets, quotes, NULs, deep nesting, bad bytes."""
    check_template_text(data)


@FUZZ
@given(random_documents())
def test_valid_toml_of_any_shape_loads_or_lists_problems_one_per_line(data: bytes) -> None:
    """Well-formed TOML with wrong types, odd keys and nesting: every problem, one line each."""
    check_template_text(data)


@FUZZ
@given(headers_lists, file_names)
def test_starter_template_is_valid_toml_that_loads_back(headers: list[str], source: str) -> None:
    """`template init` prints TOML that loads, whatever the headers or the file name hold."""
    check_starter(headers, source)


# ---------------------------------------------------------------- found by fuzzing


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("opening", ["[", "{ b = "], ids=["arrays", "inline tables"])
def test_deeply_nested_toml_is_a_template_error_not_a_crash(tmp_path: Path, opening: str) -> None:
    """tomllib recurses per level: 100,000 levels raised RecursionError (exit 70)."""
    with pytest.raises(TemplateError, match="nested too deeply"):
        load_template(write(tmp_path, "a = " + opening * 100_000))


def test_a_key_with_a_newline_is_reported_on_one_line(tmp_path: Path) -> None:
    """A quoted key may hold "\\n"; the problem line shows it escaped, as TOML would."""
    with pytest.raises(TemplateError) as caught:
        load_template(write(tmp_path, '[fields]\n"first\\nname" = "First"\n'))
    assert [str(p) for p in caught.value.problems] == [
        "fields.\"first\\nname\": not a Kartra lead field (did you mean 'first_name'?)"
    ]


def test_a_template_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    """A template is a few KB; a huge file is refused before it is parsed."""
    path = tmp_path / "t.toml"
    path.write_bytes(b"#" * (MAX_TEMPLATE_BYTES + 1))
    with pytest.raises(TemplateError, match="a template is at most"):
        load_template(path)


def test_starter_template_keeps_a_file_name_with_a_newline_inside_its_comment() -> None:
    """`template init` on a file named "a\\n[fields]" printed a line outside the comment."""
    text = starter_template(["Email"], "leads\n[fields]\nemail = 1.csv")
    assert tomllib.loads(text)["fields"] == {"email": "Email"}
