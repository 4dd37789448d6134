"""PHP-style form encoding: what Kartra's API reads into `$_POST`.

Kartra documents its calls as PHP arrays sent with `http_build_query`, so nested keys
travel as `lead[custom_fields][0][field_value][0]=620`. No maintained Python library
emits list indices this way, hence these few lines.

`encode` follows `http_build_query`: a list becomes `[0]`, `[1]`, ...; None is left out
(PHP drops null); True/False become "1"/"0"; numbers become their decimal text; an empty
list or dict sends nothing at all, exactly as in PHP. `decode` is the inverse, for tests:
it rebuilds PHP's nesting and turns a mapping whose keys are "0".."n-1" into a list. The
sandbox reads bodies with a decoder of its own (sandbox/form.py), written apart from this
module and checked against PHP, so that a bug here cannot hide in both ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

__all__ = ["decode", "decode_body", "encode", "encode_body"]


def encode(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten nested mappings and lists into `http_build_query` key/value pairs."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        _flatten(str(key), value, pairs)
    return pairs


def encode_body(data: Mapping[str, Any]) -> bytes:
    """The urlencoded request body, brackets percent-encoded as PHP does."""
    return urlencode(encode(data)).encode("ascii")


def _flatten(prefix: str, value: Any, pairs: list[tuple[str, str]]) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(f"{prefix}[{key}]", item, pairs)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _flatten(f"{prefix}[{index}]", item, pairs)
    elif isinstance(value, bool):
        pairs.append((prefix, "1" if value else "0"))
    else:
        pairs.append((prefix, str(value)))


def decode_body(body: bytes) -> dict[str, Any]:
    """Parse an urlencoded body as PHP fills `$_POST` (invalid UTF-8 is replaced)."""
    text = body.decode("utf-8", errors="replace")
    return decode(parse_qsl(text, keep_blank_values=True))


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Rebuild PHP's nested arrays from `name[a][b]` pairs; the last duplicate wins.

    `name[]` appends, as in PHP. A segment that is not closed by `]` is kept as part of
    the name instead of failing: odd input must not crash a test's reading of it.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        path = _split_key(key)
        if path:
            _assign(root, path, value)
    return _listify(root)  # type: ignore[no-any-return]


def _split_key(key: str) -> list[str]:
    """`a[b][0][]` -> ["a", "b", "0", ""]; the name part stops at the first `[`."""
    start = key.find("[")
    if start <= 0 or "]" not in key[start:]:
        return [key] if key else []
    path = [key[:start]]
    rest = key[start:]
    while rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            break
        path.append(rest[1:end])
        rest = rest[end + 1 :]
    return path


def _assign(node: dict[str, Any], path: list[str], value: str) -> None:
    for index, part in enumerate(path):
        last = index == len(path) - 1
        if part == "":
            part = str(_next_index(node))
        if last:
            node[part] = value
            return
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child


def _next_index(node: dict[str, Any]) -> int:
    numbers = [int(k) for k in node if k.isdigit()]
    return max(numbers) + 1 if numbers else 0


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {key: _listify(item) for key, item in value.items()}
    if items and list(items) == [str(i) for i in range(len(items))]:
        return list(items.values())
    return items
