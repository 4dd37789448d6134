"""How PHP reads an `application/x-www-form-urlencoded` body into `$_POST`: the sandbox's own.

Kartra is PHP, so what a call means is what PHP's request parser makes of its body. This is
written from PHP's documented and observed behaviour (main/php_variables.c), independently
of the client's encoder, so that the two can check each other instead of sharing a bug.

The rules, in PHP's order:

- The body is cut at each `&` (a final empty piece is not a variable); each piece at its
  first `=` into name and value (no `=`: the value is ""). Both are URL-decoded: `+` is a
  space, `%XX` a byte, a `%` not followed by two hex digits stays as it is.
- The name is a C string: it ends at its first NUL byte (a value keeps its NULs).
- Leading spaces of the name are dropped; in the part before the first `[`, each ` ` and
  `.` becomes `_`. An empty name is ignored (it still counts toward `max_input_vars`).
- `name[key]` nests, any number of times; `name[]` (or `name[ ]`) appends. One space right
  after `[` is skipped only to see whether `]` follows; otherwise the key keeps it.
- A `[` without its `]`: in the first brackets, the `[` and every ` `, `.` and `[` after it
  become `_` and the whole is a plain name (`a[b.c` is `a_b_c`); further in, the unclosed
  part is dropped (`a[b][c` is `a[b]`). Anything after a `]` that is not `[` is dropped.
- A key that is a decimal integer in PHP's range, written as PHP writes it (`0`, `7`, `-3`,
  not `07`, `-0`, `+7` or ` 7`), is an integer key: `a[1]` and a later `a[1]` are the same
  key. An append takes the largest integer key so far plus one (0 in a fresh array; -4
  after -5); after PHP_INT_MAX there is none and the value is dropped.
- A later variable overwrites an earlier one with the same key, in place (the key keeps
  its position); a string where an array is needed is replaced by an empty array.
- More than `max_input_nesting_level` brackets (64 by default) deletes the WHOLE top-level
  variable, earlier parts included (a later variable may create it again).
- After `max_input_vars` variables (1000 by default) parsing stops; as PHP's POST reader
  does, the variable that crosses the limit is still kept, so at most max + 1 are read.
  Empty pieces (`a&&b`) count. (`parse_str` and GET stop one earlier and skip empty
  pieces: this module reads POST, what Kartra receives.) Kartra does not publish its
  php.ini, so PHP's defaults stand for it.

The result is PHP's array shape in Python: a PHP array whose keys are exactly 0, 1, ...,
n-1 in this order (`array_is_list`, what `json_encode` prints as a JSON list) is a list;
any other array is a dict with string keys in PHP's order (integer keys written in
decimal); the top level is always a dict. Values are strings. Bytes that are not UTF-8
become U+FFFD by default (`errors` is passed to `bytes.decode`); a 64-bit PHP is assumed.

Not mirrored: `post_max_size` (8 MB by default: a larger body leaves `$_POST` empty) and
the Content-Type check (PHP fills `$_POST` only for form content types); the HTTP server
is where those would belong.
"""

from __future__ import annotations

import re
from typing import TypeAlias

__all__ = ["MAX_INPUT_NESTING_LEVEL", "MAX_INPUT_VARS", "FormValue", "parse_post"]

MAX_INPUT_VARS = 1000  # php.ini default
MAX_INPUT_NESTING_LEVEL = 64  # php.ini default

FormValue: TypeAlias = "str | list[FormValue] | dict[str, FormValue]"

_LONG_MAX = 2**63 - 1
_LONG_MIN = -(2**63)
_DIGITS = frozenset("0123456789")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_MANGLE_UNCLOSED = str.maketrans({" ": "_", ".": "_", "[": "_"})
_MANGLE_TOP = str.maketrans({" ": "_", ".": "_"})

_Key: TypeAlias = "int | str"
_Value: TypeAlias = "str | _PhpArray"


class _PhpArray:
    """An ordered PHP array: keys int or str, and the next key an append takes."""

    __slots__ = ("items", "next_free")

    def __init__(self) -> None:
        self.items: dict[_Key, _Value] = {}
        self.next_free: int | None = None  # None: no integer key yet (PHP's ZEND_LONG_MIN)

    def set(self, key: _Key, value: _Value) -> None:
        self.items[key] = value
        if isinstance(key, int) and (self.next_free is None or key >= self.next_free):
            self.next_free = key + 1 if key < _LONG_MAX else _LONG_MAX

    def append(self, value: _Value) -> bool:
        key = 0 if self.next_free is None else self.next_free
        if key in self.items:  # only after PHP_INT_MAX was used
            return False
        self.set(key, value)
        return True


def parse_post(
    body: bytes,
    *,
    max_input_vars: int = MAX_INPUT_VARS,
    max_input_nesting_level: int = MAX_INPUT_NESTING_LEVEL,
    errors: str = "replace",
) -> dict[str, FormValue]:
    """The `$_POST` PHP builds from this urlencoded body (see the module's rules)."""
    top = _PhpArray()
    pieces = body.split(b"&")
    if not pieces[-1]:
        pieces.pop()  # "a=1&" is one variable, "" none
    for count, piece in enumerate(pieces, start=1):
        raw_name, has_value, raw_value = piece.partition(b"=")
        name = _url_decode(raw_name).split(b"\0", 1)[0].decode("utf-8", errors)
        value = _url_decode(raw_value).decode("utf-8", errors) if has_value else ""
        _register(top, name, value, max_input_nesting_level)
        if count > max_input_vars:
            break
    return {str(key): _plain(value) for key, value in top.items.items()}


def _url_decode(raw: bytes) -> bytes:
    """PHP's urldecode: `+` is a space, `%XX` a byte, any other `%` stays."""
    return _ESCAPE.sub(lambda match: bytes([int(match[1], 16)]), raw.replace(b"+", b" "))


def _php_key(key: str) -> _Key:
    """The key PHP stores: an integer for canonical decimal text in range, else the text."""
    digits = key[1:] if key[:1] == "-" else key
    if not digits or not _DIGITS.issuperset(digits):
        return key
    if (digits[0] == "0" and len(key) > 1) or len(digits) > 19:
        return key  # "07", "-0", or too long for a 64-bit integer
    number = int(key)
    return number if _LONG_MIN <= number <= _LONG_MAX else key


def _register(top: _PhpArray, name: str, value: str, max_depth: int) -> None:
    """Store one variable as php_register_variable_ex does."""
    name = name.lstrip(" ")
    bracket = name.find("[")
    var = (name if bracket < 0 else name[:bracket]).translate(_MANGLE_TOP)
    if not var:
        return
    table, key = top, _php_key(var)
    if bracket >= 0:
        # `key` is where the next level hangs in `table`; None appends.
        slot: str | None = var
        level = 0
        while True:
            level += 1
            if level > max_depth:
                top.items.pop(key, None)  # the whole top-level variable goes
                return
            start = bracket + 1
            probe = start + 1 if name[start : start + 1] == " " else start
            if name[probe : probe + 1] == "]":
                sub: str | None = None
                close = probe
            else:
                close = name.find("]", probe)
                if close < 0:  # no `]`: not an index
                    if level == 1:
                        slot = var + "_" + name[start:].translate(_MANGLE_UNCLOSED)
                    break
                sub = name[start:close]
            child = _PhpArray()
            if slot is None:
                if not table.append(child):
                    return
            else:
                existing = table.items.get(_php_key(slot))
                if isinstance(existing, _PhpArray):
                    child = existing
                else:
                    table.set(_php_key(slot), child)
            table, slot = child, sub
            bracket = close + 1
            if name[bracket : bracket + 1] != "[":
                break
        if slot is None:
            table.append(value)
            return
        key = _php_key(slot)
    table.set(key, value)


def _plain(value: _Value) -> FormValue:
    """PHP's array as json_encode would print it: a list when its keys are 0..n-1 in order."""
    if isinstance(value, str):
        return value
    items = value.items
    if all(key == index for index, key in enumerate(items)):
        return [_plain(item) for item in items.values()]
    return {str(key): _plain(item) for key, item in items.items()}
