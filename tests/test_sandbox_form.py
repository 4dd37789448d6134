"""The sandbox's own reading of a form body, checked against PHP and against the client.

The sandbox must not share the client's form code (a shared bug would be invisible), so
its reader (bulk_loader.sandbox.form) is checked three ways: PHP manual examples and edge
cases written out by hand; PHP itself on generated bodies when `php` is installed
(`parse_str` through `php -r`, and the real `$_POST` through PHP's built-in server); and
the client's encoder, whose output must read back as the structure it encoded.
"""

from __future__ import annotations

import ast
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_loader.kartra.formencode import encode_body
from bulk_loader.sandbox import Knobs, Sandbox, SandboxState, load_account
from bulk_loader.sandbox import form as form_module
from bulk_loader.sandbox.form import FormValue, parse_post

PHP = shutil.which("php")
needs_php = pytest.mark.skipif(PHP is None, reason="php-cli is not installed")
SANDBOX = Path(form_module.__file__).parent


# -- PHP's manual ---------------------------------------------------------------------------


def test_manual_parse_str_example() -> None:
    """parse_str's first example: `arr[]` appends and `+` is a space."""
    assert parse_post(b"first=value&arr[]=foo+bar&arr[]=baz") == {
        "first": "value",
        "arr": ["foo bar", "baz"],
    }


def test_manual_name_mangling() -> None:
    """parse_str's second example, and "Variables from external sources": a space or a
    dot in a name becomes an underscore."""
    assert parse_post(b"My Value=Something") == {"My_Value": "Something"}
    assert parse_post(b"a.b=1") == {"a_b": "1"}


def test_manual_form_arrays() -> None:
    """The manual's HTML form: `personal[name]` nests, `beer[]` of a multiple select lists."""
    body = (
        b"personal%5Bname%5D=Ann&personal%5Bemail%5D=ann%40x.org"
        b"&beer%5B%5D=warthog&beer%5B%5D=guinness"
    )
    assert parse_post(body) == {
        "personal": {"name": "Ann", "email": "ann@x.org"},
        "beer": ["warthog", "guinness"],
    }


def test_manual_http_build_query_examples() -> None:
    """The bodies http_build_query's manual page prints read back as its arrays."""
    complex_body = (
        b"user%5Bname%5D=Bob+Smith&user%5Bage%5D=47&user%5Bsex%5D=M&user%5Bdob%5D=5%2F12%2F1956"
        b"&pastimes%5B0%5D=golf&pastimes%5B1%5D=opera&pastimes%5B2%5D=poker&pastimes%5B3%5D=rap"
        b"&children%5Bbobby%5D%5Bage%5D=12&children%5Bbobby%5D%5Bsex%5D=M"
        b"&children%5Bsally%5D%5Bage%5D=8&children%5Bsally%5D%5Bsex%5D=F&flags_0=CEO"
    )
    assert parse_post(complex_body) == {
        "user": {"name": "Bob Smith", "age": "47", "sex": "M", "dob": "5/12/1956"},
        "pastimes": ["golf", "opera", "poker", "rap"],
        "children": {"bobby": {"age": "12", "sex": "M"}, "sally": {"age": "8", "sex": "F"}},
        "flags_0": "CEO",
    }
    simple = b"myvar_0=foo&myvar_1=bar&myvar_2=baz&myvar_4=boom&cow=milk&php=hypertext+processor"
    assert parse_post(simple) == {
        "myvar_0": "foo", "myvar_1": "bar", "myvar_2": "baz", "myvar_4": "boom",
        "cow": "milk", "php": "hypertext processor",
    }  # fmt: skip


def test_kartra_transport_example() -> None:
    """API-FACTS' example body: lists of actions and of custom fields, nested values."""
    body = (
        b"lead[email]=a@b.co&lead[custom_fields][0][field_identifier]=color"
        b"&lead[custom_fields][0][field_value][0]=620&actions[0][cmd]=create_lead"
        b"&actions[1][cmd]=assign_tag&actions[1][tag_name]=VIP"
    )
    assert parse_post(body) == {
        "lead": {
            "email": "a@b.co",
            "custom_fields": [{"field_identifier": "color", "field_value": ["620"]}],
        },
        "actions": [{"cmd": "create_lead"}, {"cmd": "assign_tag", "tag_name": "VIP"}],
    }


# -- PHP's edge cases (each checked against php 8.2 when written) ----------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # decoding: `+`, %XX (either case), a `%` without two hex digits stays
        (b"a+b=c+d&e%20f=%41%62", {"a_b": "c d", "e_f": "Ab"}),
        (b"a=%zz%4%%41%4g", {"a": "%zz%4%A%4g"}),
        (b"a=%2B+%26%3D", {"a": "+ &="}),
        (b"a=x=y", {"a": "x=y"}),  # the name ends at the first `=`
        (b"a&b=", {"a": "", "b": ""}),
        (b"", {}),
        (b"=1&&b&", {"b": ""}),  # empty names are ignored
        (b"a=%FF", {"a": "\ufffd"}),  # not UTF-8: replaced
        # a name is a C string; a value keeps its NUL
        (b"a%00b=1&c=%00x", {"a": "1", "c": "\0x"}),
        # name mangling: only the part before the first `[`; leading spaces dropped
        (b"+a.b+c=1", {"a_b_c": "1"}),
        (b"a%2Eb[c.d e]=1", {"a_b": {"c.d e": "1"}}),
        (b"a]b=1", {"a]b": "1"}),
        (b"[a]=1&+[b]=2&++=3", {}),
        # an unclosed `[`
        (b"a[b=1", {"a_b": "1"}),
        (b"a[b.c d[e=1", {"a_b_c_d_e": "1"}),
        (b"a[ b=1", {"a__b": "1"}),
        (b"a[b][c=1", {"a": {"b": "1"}}),
        (b"a[][b=1", {"a": ["1"]}),
        # what follows a `]` other than `[` is dropped; `]` ends a key, `[` inside does not
        (b"a[b]c=1&x[y]z[w]=2", {"a": {"b": "1"}, "x": {"y": "2"}}),
        (b"a[[b]]=1&c[d[e]=2&f[%5B]=3", {"a": {"[b": "1"}, "c": {"d[e": "2"}, "f": {"[": "3"}}),
        # appending: `[]` and `[ ]`; a key keeps a leading space otherwise
        (b"a[ ]=1&a[]=2&a[]]=3", {"a": ["1", "2", "3"]}),
        (b"a[ b]=1&a[  ]=2&a[+1]=3", {"a": {" b": "1", "  ": "2", " 1": "3"}}),
        (b"a[][x]=1&a[][x]=2", {"a": [{"x": "1"}, {"x": "2"}]}),
        # integer keys: canonical decimal in the 64-bit range only
        (b"a[0]=x&a[1]=y", {"a": ["x", "y"]}),
        (b"a[1]=x&a[0]=y", {"a": {"1": "x", "0": "y"}}),
        (b"a[-0]=1&a[00]=2&a[0]=3", {"a": {"-0": "1", "00": "2", "0": "3"}}),
        (b"a[1.5]=1&a[1e3]=2&a[0x1]=3", {"a": {"1.5": "1", "1e3": "2", "0x1": "3"}}),
        (b"a[]=1&a[5]=2&a[]=3", {"a": {"0": "1", "5": "2", "6": "3"}}),
        (b"a[-5]=x&a[]=y", {"a": {"-5": "x", "-4": "y"}}),
        (b"a[9223372036854775807]=x&a[]=y", {"a": {"9223372036854775807": "x"}}),
        (b"a[9223372036854775808]=x&a[]=y", {"a": {"9223372036854775808": "x", "0": "y"}}),
        (
            b"a[-9223372036854775808]=x&a[]=y",
            {"a": {"-9223372036854775808": "x", "-9223372036854775807": "y"}},
        ),
        (b"a[1]=x&a[01]=y&a[1]=z", {"a": {"1": "z", "01": "y"}}),
        (b"0=a&1=b", {"0": "a", "1": "b"}),  # the top level stays a dict
        # later wins, in place; a string where an array is needed gives way to an array
        (b"a=1&b=2&a=3", {"a": "3", "b": "2"}),
        (b"a=1&a[b]=2", {"a": {"b": "2"}}),
        (b"a[b]=2&a=1", {"a": "1"}),
        (b"a[x]=1&b=2&a[x][y]=3", {"a": {"x": {"y": "3"}}, "b": "2"}),
    ],
)
def test_php_edge_cases(body: bytes, expected: dict[str, Any]) -> None:
    assert parse_post(body) == expected


def test_nesting_limit_drops_the_whole_variable() -> None:
    """64 brackets are read; a 65th deletes the top-level variable, earlier parts included."""
    deep64 = b"a" + b"[x]" * 64 + b"=1"
    deep65 = b"a" + b"[x]" * 65 + b"=1"
    read: Any = parse_post(deep64)["a"]
    for _ in range(63):
        read = read["x"]
    assert read == {"x": "1"}
    assert parse_post(b"a[k]=0&" + deep65 + b"&b=2") == {"b": "2"}
    assert parse_post(b"a[k]=0&" + deep65 + b"&a[z]=3") == {"a": {"z": "3"}}
    assert parse_post(b"a[d]=2&a[b][c]=1&e=3", max_input_nesting_level=1) == {"e": "3"}
    assert parse_post(b"a[b=1&c=2", max_input_nesting_level=0) == {"c": "2"}


def test_input_vars_limit_is_posts() -> None:
    """POST keeps the variable that crosses max_input_vars, then stops; empty pieces count."""
    assert parse_post(b"a=1&b=2&c=3&d=4&e=5", max_input_vars=3) == {
        "a": "1", "b": "2", "c": "3", "d": "4",
    }  # fmt: skip
    assert parse_post(b"a=1&&&b=2&c=3&d=4", max_input_vars=3) == {"a": "1", "b": "2"}
    assert parse_post(b"a=1&b=2&c=3&", max_input_vars=2) == {"a": "1", "b": "2", "c": "3"}
    assert len(parse_post(b"&".join(b"v%d=1" % i for i in range(1200)))) == 1001


# -- the sandbox answers what PHP would have read ------------------------------------------------

SAMPLE = Path(__file__).parent.parent / "samples" / "account.toml"
AUTH = b"app_id=sandbox-app&api_key=sandbox-key&api_password=sandbox-password"
SEARCH = b"&lead[email]=maria.lopez%40example.com&actions[0][cmd]=search_lead"


def _answer(body: bytes) -> dict[str, Any]:
    sandbox = Sandbox(SandboxState(load_account(SAMPLE)), Knobs(rate=None))
    reply = sandbox.handle(body)
    assert reply.status == 200
    answer: dict[str, Any] = json.loads(reply.body)
    return answer


def test_sandbox_reads_bodies_through_php_rules() -> None:
    """The service reads with parse_post: a found lead, as the client sends it."""
    assert _answer(AUTH + SEARCH)["status"] == "Success"


def test_sandbox_reads_mangled_names_as_php_does() -> None:
    """`app.id` and `api key` reach PHP as app_id and api_key."""
    body = b"app.id=sandbox-app&api+key=sandbox-key&api_password=sandbox-password" + SEARCH
    assert _answer(body)["status"] == "Success"


def test_sandbox_drops_variables_past_max_input_vars() -> None:
    """Variables after PHP's 1001st never reach Kartra (the search's 2 variables, then the
    padding, then app_id, api_key, api_password)."""

    def padded(count: int) -> bytes:
        pads = b"".join(b"&pad%d=x" % index for index in range(count))
        return SEARCH[1:] + pads + b"&" + AUTH

    assert _answer(padded(996))["status"] == "Success"  # the password is the 1001st
    assert _answer(padded(997))["type"] == "233"  # the password is lost
    assert _answer(padded(998))["type"] == "202"  # the key is lost too


def test_sandbox_answers_integer_top_level_names() -> None:
    """`0=a&1=b` is a $_POST with keys 0 and 1, not a list: an answer (202), not a crash."""
    assert _answer(b"0=a&1=b")["type"] == "202"


# -- the sandbox keeps its own code ------------------------------------------------------------


def _outside_imports(path: Path) -> list[str]:
    """Modules `path` imports from bulk_loader outside errors and the sandbox (lazy too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:
                found.append("." * node.level + (node.module or ""))
                continue
            if node.level == 1:
                continue  # a sibling inside the sandbox package
            module = node.module or ""
            names = [f"{module}.{alias.name}" for alias in node.names]
            names = names if module == "bulk_loader" else [module]
        else:
            continue
        for name in names:
            inside = name == "bulk_loader.errors" or name.startswith("bulk_loader.sandbox")
            if name.split(".")[0] == "bulk_loader" and not inside:
                found.append(name)
    return found


def test_sandbox_imports_nothing_of_the_client() -> None:
    """Only bulk_loader.errors and the sandbox's own modules: a fake sharing the client's
    code would share its bugs."""
    modules = sorted(SANDBOX.glob("*.py"))
    assert modules
    assert {path.name: _outside_imports(path) for path in modules} == {
        path.name: [] for path in modules
    }


# -- two independent implementations agree ------------------------------------------------------

# Keys the client may send and PHP reads back as sent. A top-level name must not hold what
# PHP mangles (space, dot, `[`, a leading space); a nested key must not hold `]` nor be ""
# or " " (both append). No NUL: a name is a C string.
_NAME_CHARS = st.characters(exclude_characters="\0 .[", exclude_categories=("Cs",))
top_keys = st.text(_NAME_CHARS, min_size=1, max_size=6) | st.sampled_from(
    ["lead", "actions", "app_id", "0", "7", "-1", "01", "a]b"]
)
nested_keys = st.text(
    st.characters(exclude_characters="\0]", exclude_categories=("Cs",)), min_size=1, max_size=6
).filter(lambda key: key != " ") | st.sampled_from(
    ["email", "cmd", "0", "1", "2", "-3", "00", "-0", " 1", "1.5", "[", "a b.c"]
)
leaves = st.text(max_size=12) | st.integers(min_value=-(2**63), max_value=2**63)
trees = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, min_size=1, max_size=4)
        | st.dictionaries(nested_keys, children, min_size=1, max_size=4)
    ),
    max_leaves=16,
)


def _as_php_holds(value: Any) -> Any:
    """What PHP holds for what http_build_query sent: numbers as text, and an array whose
    keys are 0..n-1 in order (a dict with such keys too) a list."""
    if isinstance(value, list):
        return [_as_php_holds(item) for item in value]
    if isinstance(value, dict):
        if list(value) == [str(index) for index in range(len(value))]:
            return [_as_php_holds(item) for item in value.values()]
        return {key: _as_php_holds(item) for key, item in value.items()}
    return str(value)


@given(st.dictionaries(top_keys, trees, max_size=5))
def test_client_encoding_reads_back(data: dict[str, Any]) -> None:
    """What the client's encoder writes, the sandbox reads as the structure it encoded."""
    assert parse_post(encode_body(data)) == {k: _as_php_holds(v) for k, v in data.items()}


# -- PHP itself --------------------------------------------------------------------------------

# Pieces of names and values that reach PHP's corner cases: brackets, mangled characters,
# escapes (valid, broken, a NUL, bytes that are not UTF-8), integer-looking keys.
NAME_PARTS = [
    b"a", b"b", b"0", b"1", b"-1", b"00", b"-0", b"9223372036854775807",
    b"9223372036854775808", b"-9223372036854775808", b" ", b"+", b".", b"_", b"[", b"]",
    b"[]", b"[ ]", b"[a]", b"[0]", b"[1]", b"[-1]", b"[ a]", b"[.]", b"][", b"%5B", b"%5D",
    b"%20", b"%2E", b"%00", b"%", b"%4", b"%zz", b"\xc3\xa9", b"%C3%A9", b"%FF", b"\xfe",
]  # fmt: skip
VALUE_PARTS = [
    b"x", b"1", b" ", b"+", b"%2B", b"%26", b"%3D", b"=", b"%00", b"%", b"%4", b"%ff",
    b"\xc3\xa9", b"\xff", b"[", b"]",
]  # fmt: skip
names = st.lists(st.sampled_from(NAME_PARTS), max_size=8).map(b"".join)
values = st.lists(st.sampled_from(VALUE_PARTS), max_size=4).map(b"".join)
pieces = st.tuples(names, st.none() | values).map(
    lambda pair: pair[0] if pair[1] is None else pair[0] + b"=" + pair[1]
)
bodies = st.lists(pieces, max_size=8).map(b"&".join)

# Prints the array PHP built: each array as {list, items: [[key, value]]}, bytes in hex.
PHP_DUMP = r"""
function is_list_array($v) {
    $i = 0;
    foreach ($v as $k => $_) { if ($k !== $i++) return false; }
    return true;
}
function dump($v) {
    if (!is_array($v)) return bin2hex($v);
    $items = [];
    foreach ($v as $k => $x) { $items[] = [bin2hex((string) $k), dump($x)]; }
    return ["list" => is_list_array($v), "items" => $items];
}
"""


def _dumped(value: FormValue) -> Any:
    """parse_post's result in PHP_DUMP's shape (read with errors="surrogateescape")."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").hex()
    pairs = enumerate(value) if isinstance(value, list) else value.items()
    return {
        "list": isinstance(value, list),
        "items": [[str(k).encode("utf-8", "surrogateescape").hex(), _dumped(v)] for k, v in pairs],
    }


def _php_ini(nesting: int, max_vars: int) -> list[str]:
    return ["-d", f"max_input_nesting_level={nesting}", "-d", f"max_input_vars={max_vars}",
            "-d", "arg_separator.input=&", "-d", "display_errors=0"]  # fmt: skip


@needs_php
@given(bodies, st.integers(min_value=0, max_value=4) | st.just(64))
def test_agrees_with_php_parse_str(body: bytes, nesting: int) -> None:
    """On generated bodies, parse_post builds exactly the array PHP's parse_str builds.

    (parse_str differs from POST only past max_input_vars and on a raw NUL byte: the
    bodies stay short of the one and hold none of the other.)
    """
    assert PHP is not None
    script = PHP_DUMP + "parse_str(stream_get_contents(STDIN), $out); echo json_encode(dump($out));"
    done = subprocess.run(
        [PHP, *_php_ini(nesting, 1000), "-r", script], input=body, capture_output=True, check=True
    )
    mine = parse_post(body, max_input_nesting_level=nesting, errors="surrogateescape")
    assert json.loads(done.stdout)["items"] == _dumped(mine)["items"]


# The real $_POST, from PHP's built-in web server (same POST reader as any other SAPI),
# with small limits so that generated bodies cross them.
POST_NESTING, POST_VARS = 3, 5


@pytest.fixture(scope="module")
def php_post_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert PHP is not None
    folder = tmp_path_factory.mktemp("php")
    (folder / "post.php").write_text(
        "<?php" + PHP_DUMP + 'header("Content-Type: application/json");'
        "echo json_encode(dump($_POST));",
        encoding="utf-8",
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            PHP,
            *_php_ini(POST_NESTING, POST_VARS),
            "-S",
            f"127.0.0.1:{port}",
            str(folder / "post.php"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(200):  # until it listens
            if server.poll() is not None:
                pytest.fail(f"php -S exited with {server.returncode}")
            try:
                httpx.get(url, timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


post_bodies = st.lists(
    pieces | st.just(b"") | st.builds(lambda a, b: a + b"\0" + b, pieces, values), max_size=9
).map(b"&".join)


@needs_php
@given(post_bodies)
def test_agrees_with_php_post(php_post_url: str, body: bytes) -> None:
    """On generated bodies, raw NUL bytes, empty pieces and too many variables included,
    parse_post builds exactly the $_POST PHP's own server builds."""
    answer = httpx.post(
        php_post_url,
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    mine = parse_post(
        body,
        max_input_vars=POST_VARS,
        max_input_nesting_level=POST_NESTING,
        errors="surrogateescape",
    )
    assert answer.json()["items"] == _dumped(mine)["items"]
