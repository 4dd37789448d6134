"""Form encoding: what we send must be what PHP reads into $_POST."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_loader.kartra.formencode import decode, decode_body, encode, encode_body

# The reference's create_lead example (lead-api-reference.txt), as PHP declares it.
REFERENCE_CREATE = {
    "lead": {
        "email": "John@kartra.com",
        "first_name": "John",
        "last_name": "Smith",
        "custom_fields": [
            {"field_identifier": "text1", "field_value": "text message"},
            {"field_identifier": "dropdown1", "field_value": "612"},
            {"field_identifier": "checkbox1", "field_value": [620]},
        ],
    },
    "actions": [{"cmd": "create_lead"}],
}
# The same arrays as PHP's json_encode prints them: every scalar arrives as a string.
REFERENCE_CREATE_IN_PHP = json.loads(json.dumps(REFERENCE_CREATE).replace("[620]", '["620"]'))


def test_lists_become_indexed_keys() -> None:
    """A list is sent as [0], [1], ... the way http_build_query writes it."""
    assert encode({"lead": {"custom_fields": [{"field_value": [620, 621]}]}}) == [
        ("lead[custom_fields][0][field_value][0]", "620"),
        ("lead[custom_fields][0][field_value][1]", "621"),
    ]


@pytest.mark.parametrize(
    ("value", "pairs"),
    [(None, []), (True, [("a", "1")]), (False, [("a", "0")]), (7, [("a", "7")]), ([], [])],
)
def test_scalars_follow_php(value: Any, pairs: list[tuple[str, str]]) -> None:
    """None and empty arrays send nothing, booleans send 1/0, numbers their digits."""
    assert encode({"a": value}) == pairs


def test_body_percent_encodes_brackets() -> None:
    """The body is urlencoded with brackets escaped, as PHP's http_build_query does."""
    assert encode_body({"lead": {"email": "a+b@c.co"}}) == b"lead%5Bemail%5D=a%2Bb%40c.co"


def test_decode_rebuilds_lists_and_dicts() -> None:
    """Keys 0..n-1 come back as a list; other keys as a dict."""
    pairs = [("a[0]", "x"), ("a[1]", "y"), ("b[k]", "z"), ("c", "")]
    assert decode(pairs) == {"a": ["x", "y"], "b": {"k": "z"}, "c": ""}


def test_decode_appends_empty_brackets() -> None:
    """`name[]` appends, as in PHP."""
    assert decode([("t[]", "a"), ("t[]", "b")]) == {"t": ["a", "b"]}


def test_decode_keeps_odd_keys() -> None:
    """A key with an unclosed bracket is kept whole rather than crashing the sandbox."""
    assert decode([("a[b", "1")]) == {"a[b": "1"}


def test_reference_example_round_trips() -> None:
    """The reference's create_lead example survives encode then decode."""
    assert decode_body(encode_body(REFERENCE_CREATE)) == REFERENCE_CREATE_IN_PHP


@pytest.mark.skipif(shutil.which("php") is None, reason="php-cli is not installed")
def test_php_reads_reference_example_exactly() -> None:
    """PHP's own parser turns our body into the reference's documented arrays."""
    script = 'parse_str(file_get_contents("php://stdin"), $post); echo json_encode($post);'
    done = subprocess.run(
        ["php", "-r", script], input=encode_body(REFERENCE_CREATE), capture_output=True, check=True
    )
    assert json.loads(done.stdout) == REFERENCE_CREATE_IN_PHP


keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
values = st.text(max_size=20)
trees = st.recursive(
    values,
    lambda children: (
        st.lists(children, min_size=1, max_size=4)
        | st.dictionaries(keys, children, min_size=1, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(keys, trees, max_size=5))
def test_round_trip(data: dict[str, Any]) -> None:
    """decode(encode(x)) == x for nested dicts and lists of strings."""
    assert decode(encode(data)) == data
    assert decode_body(encode_body(data)) == data
