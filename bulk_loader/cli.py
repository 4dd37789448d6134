"""The `bulk-loader` command: a thin skin over the library.

Each command parses options, calls one library function and renders its outcome.
Expected failures (BulkLoaderError) end as one line on stderr with a deliberate exit
code; anything else is a bug and says so in one line unless --debug asks for the
traceback. Exit codes: 0 ok, 1 some rows invalid or failed, 2 usage, 3 template,
configuration, unreadable file or fatal Kartra error, 4 interrupted, 70 internal error.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from bulk_loader.errors import BulkLoaderError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INTERNAL = 70


def _guarded(func: F) -> F:
    """Turn our errors into a one-line message and exit code; --debug shows tracebacks."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(click.get_current_context().find_root().params.get("debug"))
        try:
            return func(*args, **kwargs)
        except BulkLoaderError as exc:
            if debug:
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:
            if debug:
                raise
            click.echo(
                f"internal error: {type(exc).__name__}: {exc} "
                "(a bug in bulk-loader; rerun with --debug for the traceback)",
                err=True,
            )
            sys.exit(EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="bulk-loader")
def cli(debug: bool) -> None:
    """Create and update Kartra leads from a CSV or XLSX sheet."""


@cli.command()
@click.argument("sheet", type=click.Path(path_type=Path))
@click.option("--template", "template_path", type=click.Path(path_type=Path), default=None,
              help="Column-mapping template (TOML). Default: headers named like Kartra fields.")
@click.option("--sheet", "sheet_name", default=None, help="XLSX worksheet (default: the first).")
@click.option("--mode", type=click.Choice(["create", "edit", "upsert"]), default=None,
              help="Overrides the template's mode.")
@click.option("--dry-run", is_flag=True, help="Validate every row; send nothing.")
@click.option("--results", "results_path", type=click.Path(path_type=Path), default=None,
              help="Results file (.xlsx or .csv). Default: <sheet>.results.xlsx beside the input.")
@_guarded
def run(
    sheet: Path,
    template_path: Path | None,
    sheet_name: str | None,
    mode: str | None,
    dry_run: bool,
    results_path: Path | None,
) -> None:
    """Validate SHEET and import its rows into Kartra."""
    raise NotImplementedError


def main() -> None:
    cli(prog_name="bulk-loader")
