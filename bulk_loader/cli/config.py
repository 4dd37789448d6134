"""bulk-loader.toml: defaults for any option, so a nightly line need not repeat them.

    # bulk-loader.toml (the working folder's, the user's config folder's, or --config)
    profile = "acme"                  # a key at the top: every command with that option
    output-dir = "results"

    [run]                             # a table: that command only
    template = "templates/acme.toml"
    rate = 15

Precedence: an option on the command line, then its environment variable (KARTRA_PROFILE,
KARTRA_API_URL), then the working folder's file (or --config), then the user's, then the
built-in default. Relative paths in a file are relative to that file's folder.
`bulk-loader config show` prints every value and where it came from. Click's own
default_map carries the values, so the precedence is click's: command line > envvar >
default_map > default.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from bulk_loader.cli.common import guarded
from bulk_loader.errors import ConfigError

__all__ = ["CONFIG_NAME", "config", "config_files", "load_defaults"]

CONFIG_NAME = "bulk-loader.toml"
# Commands whose options a config file may set (the others take no defaults worth it).
CONFIGURABLE = ("run", "undo", "results", "forget")
# Never from a file: answers to questions, switches with no --no- form to undo them on
# the command line, and what changes where a run writes (a sandbox, a dry run).
NEVER = frozenset({"yes", "restart", "json_output", "dry_run", "lookup", "sandbox", "insecure",
                   "force"})  # fmt: skip
# Where the credentials go: from the user's own file or --config only, never from the
# working folder's (a shared drop folder's file could send them elsewhere).
WHERE_SECRETS_GO = frozenset({"api_url", "proxy", "ca_bundle"})


def config_files(given: Path | None) -> list[Path]:
    """The files read, weakest first: the user's, then the working folder's; or --config."""
    if given is not None:
        if not given.is_file():
            raise ConfigError(f"--config {given}: no such file")
        return [given]
    from bulk_loader import config_folder

    found = [config_folder() / CONFIG_NAME, Path.cwd() / CONFIG_NAME]
    return [path for path in found if path.is_file()]


def load_defaults(group: click.Group, given: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Click's default_map from the config files, and where each value came from
    ({command: {param: path}}). ConfigError naming the file and key for a mistake."""
    defaults: dict[str, dict[str, Any]] = {}
    origins: dict[str, dict[str, Any]] = {}
    own = given is not None  # --config names the user's own choice
    for path in config_files(given):
        doc = _read(path)
        trusted = own or path.parent != Path.cwd()
        for key, value in doc.items():
            if isinstance(value, dict):
                if key not in CONFIGURABLE:
                    raise ConfigError(
                        f"{path}: [{key}]: not a command a file can set ({', '.join(CONFIGURABLE)})"
                    )
                _apply(group, path, key, value, defaults, origins, strict=True, trusted=trusted)
        top = {key: value for key, value in doc.items() if not isinstance(value, dict)}
        matched = set()
        for command in CONFIGURABLE:
            matched |= _apply(
                group, path, command, top, defaults, origins, strict=False, trusted=trusted
            )
        unknown = sorted(set(top) - matched)
        if unknown:
            key = unknown[0]
            if key.replace("-", "_") in NEVER or key in ("json",):
                raise ConfigError(f"{path}: {key}: {_why_not(group.commands['run'], key)}")
            names = sorted({n for c in CONFIGURABLE for n in _options(group.commands[c])})
            raise ConfigError(f"{path}: {key}: no command has this option{_closest(key, names)}")
    return dict(defaults), dict(origins)


def _why_not(command: click.Command, key: str) -> str:
    """Why a file cannot set `key` for `command`: a switch it may never turn on, or no
    such option (with the closest one)."""
    if key == "json" or key == "json_output":
        return "a config file cannot set --json: what stdout holds is each caller's choice"
    if key.replace("-", "_") in NEVER:
        return (
            f"a config file cannot set --{key.replace('_', '-')}: it answers a question, "
            "turns a check off or changes where the run writes; type it on the command line"
        )
    return f"not an option of `{command.name}`{_closest(key, sorted(_options(command)))}"


def _closest(key: str, names: list[str]) -> str:
    import difflib

    near = difflib.get_close_matches(key, names, n=1)
    return f" (did you mean {near[0]}?)" if near else ""


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _options(command: click.Command) -> dict[str, click.Option]:
    """A command's options by the names a file may use: `output-dir` and `output_dir`."""
    named: dict[str, click.Option] = {}
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in NEVER:
            continue  # a file never answers a question nor turns a check off for you
        for flag in param.opts:
            if flag.startswith("--"):
                named[flag[2:]] = param
                named[flag[2:].replace("-", "_")] = param
    return named


def _apply(
    group: click.Group,
    path: Path,
    name: str,
    table: Mapping[str, Any],
    defaults: dict[str, dict[str, Any]],
    origins: dict[str, dict[str, Any]],
    *,
    strict: bool,
    trusted: bool,
) -> set[str]:
    command = group.commands[name]
    options = _options(command)
    used = set()
    for key, value in table.items():
        option = options.get(key)
        if option is None:
            if strict:
                raise ConfigError(f"{path}: [{name}] {key}: {_why_not(command, key)}")
            continue
        used.add(key)
        assert option.name is not None
        if option.name in WHERE_SECRETS_GO and not trusted:
            raise ConfigError(
                f"{path}: {key}: where the credentials go is set on the command line, in "
                "your own config folder's bulk-loader.toml or with --config, never by a "
                "folder's file"
            )
        defaults.setdefault(name, {})[option.name] = _value(path, name, key, option, value)
        origins.setdefault(name, {})[option.name] = path
    return used


def _value(path: Path, command: str, key: str, option: click.Option, value: Any) -> Any:
    """The value as the option takes it, checked by the option's own type; a relative
    path made relative to the file's folder."""
    try:
        converted = option.type.convert(value, option, None)
        if option.name == "api_url":
            from bulk_loader import check_api_url

            check_api_url(converted)
    except click.BadParameter as exc:
        raise ConfigError(f"{path}: {key}: {exc.message}") from exc
    except ConfigError as exc:
        raise ConfigError(f"{path}: {key}: {exc}") from exc
    if isinstance(option.type, click.Path) and isinstance(converted, Path):
        return converted if converted.is_absolute() else path.parent / converted
    return converted


@click.group()
def config() -> None:
    """Defaults from bulk-loader.toml (the working folder's, the user's config folder's,
    or --config FILE before the command)."""


@config.command("show")
@click.pass_context
@guarded
def show(ctx: click.Context) -> None:
    """Every option a file can set, its value now, and where that value comes from:
    the environment, a config file, or the built-in default (flags win over all)."""
    root = ctx.find_root()
    group = root.command
    assert isinstance(group, click.Group)
    origins: dict[str, dict[str, Any]] = root.meta.get("config_origins", {})
    files = root.meta.get("config_files", [])
    click.echo("files: " + (", ".join(map(str, files)) if files else "none (no bulk-loader.toml)"))
    for name in CONFIGURABLE:
        command = group.commands[name]
        click.echo(f"[{name}]")
        for option, value, source in _effective(root, command, origins.get(name, {})):
            click.echo(f"  {option:<18} {value!s:<28} {source}")


def _effective(
    root: click.Context, command: click.Command, origins: Mapping[str, Any]
) -> Iterator[tuple[str, object, str]]:
    """(flag, value, source) of each option, as `command` with no flag would see them."""
    with command.make_context(command.name, _required_args(command), parent=root) as ctx:
        for param in command.params:
            if not isinstance(param, click.Option) or param.name is None:
                continue
            if param.name in NEVER or param.hidden:
                continue
            source = ctx.get_parameter_source(param.name)
            if source is ParameterSource.ENVIRONMENT:
                where = f"env {param.envvar}"
            elif source is ParameterSource.DEFAULT_MAP:
                where = f"config {origins.get(param.name, '?')}"
            else:
                where = "default"
            flag = next((opt for opt in param.opts if opt.startswith("--")), param.opts[0])
            value = ctx.params.get(param.name)
            if param.name == "proxy" and value:  # a proxy's password is never shown
                from bulk_loader import shown_url

                value = shown_url(str(value))
            yield flag, "" if value is None else value, where


def _required_args(command: click.Command) -> list[str]:
    """Placeholders for the command's required arguments (show reads options only)."""
    return [
        "SHEET" for param in command.params if isinstance(param, click.Argument) and param.required
    ]
