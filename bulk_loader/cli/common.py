"""What the commands share: one-line errors with deliberate exit codes, and options.

Expected failures (BulkLoaderError) end as one line on stderr with a deliberate exit
code; anything else is a bug and says so in one line unless --debug asks for the
traceback. Exit codes: 0 ok, 1 some rows invalid or failed, 2 usage, 3 template,
configuration, unreadable file or fatal Kartra error, 4 interrupted, 70 internal error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bulk_loader.errors import BulkLoaderError

if TYPE_CHECKING:
    from bulk_loader import Credentials

__all__ = [
    "EXIT_INTERNAL",
    "EXIT_USAGE",
    "OffTerminal",
    "api_url_for",
    "ask",
    "check_sheet_option",
    "given",
    "guarded",
    "on_terminal",
    "output_dir_option",
    "profile_or_environment",
    "results_columns_option",
    "results_format_option",
    "results_option",
    "sheet_option",
]

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = 2
EXIT_INTERNAL = 70


def guarded(func: F) -> F:
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
            if getattr(exc, "resumable", False):
                click.echo(f"to resume: {this_command()}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:
            # `bulk-loader ... | head`: the reader left; that is not a bug. Python's own
            # advice: point stdout at devnull so the exit does not fail flushing it.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except Exception as exc:
            if debug:
                raise
            command = click.get_current_context().command_path.split(" ", 1)[-1]
            click.echo(
                f"internal error: {type(exc).__name__}: {exc} (a bug in bulk-loader; "
                f"`bulk-loader --debug {command} ...` shows the traceback)",
                err=True,
            )
            sys.exit(EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]


def given(name: str) -> bool:
    """Whether the option `name` was typed on this command line (not the environment's,
    a config file's or the default)."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(name)
    return source is ParameterSource.COMMANDLINE


def profile_or_environment(profile: str | None) -> str | None:
    """A profile a config file names gives way to KARTRA_APP_ID, KARTRA_API_KEY and
    KARTRA_API_PASSWORD set in the environment (flags > environment > files)."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source("profile")
    if source is ParameterSource.DEFAULT_MAP and all(
        os.environ.get(name) for name in ("KARTRA_APP_ID", "KARTRA_API_KEY", "KARTRA_API_PASSWORD")
    ):
        click.echo(
            f"note: the environment's KARTRA_APP_ID credentials win over profile {profile} "
            "of the config file",
            err=True,
        )
        return None
    return profile


def api_url_for(
    credentials: Credentials, api_url: str | None, profile_url: str | None, typed: bool
) -> str | None:
    """The URL a run's credentials go to. A profile's go to its own URL (Kartra's unless
    it names one), never to one an exported KARTRA_API_URL or a folder's bulk-loader.toml
    names: only --api-url typed on the command line overrides it."""
    if credentials.profile and not typed:
        from bulk_loader import DEFAULT_API_URL

        return profile_url or DEFAULT_API_URL
    return api_url


def on_terminal() -> bool:
    """Whether a person can answer a question: stdin is a terminal (not cron, CI, a
    pipe or </dev/null, where no answer is not "no")."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # a closed stdin
        return False


class OffTerminal(click.ClickException):
    """A question with no one to answer it (cron, CI): one line, exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def ask(question: str, off_terminal: str) -> bool:
    """A yes/no question on a terminal (default no); off a terminal, one line (exit 2)
    that says which flag answers it (`off_terminal`)."""
    if not on_terminal():
        raise OffTerminal(off_terminal)
    return click.confirm(question, err=True)


def this_command() -> str:
    """The command that resumes: this one, minus --restart/--yes, with no URL password,
    quoted for the shell it is pasted into."""
    from bulk_loader import shown_url

    words = [shown_url(word) for word in sys.argv[1:] if word not in ("--restart", "--yes")]
    return shell_join(["bulk-loader", *words])


def shell_join(words: list[str]) -> str:
    """Words as one command line to paste: POSIX quoting, or Windows' own (double
    quotes around a path with spaces; backslashes and drive letters as they are)."""
    if os.name == "nt":
        import subprocess

        return subprocess.list2cmdline(words)
    import shlex

    return shlex.join(words)


# Options that more than one command takes, written once.
api_url_option = click.option(
    "--api-url",
    default=None,
    envvar="KARTRA_API_URL",
    help="Kartra API URL (default: $KARTRA_API_URL, else https://app.kartra.com/api).",
)
profile_option = click.option(
    "--profile",
    default=None,
    envvar="KARTRA_PROFILE",
    metavar="NAME",
    help="The Kartra account, by profile (`bulk-loader profile add`); default: "
    "$KARTRA_PROFILE, else KARTRA_APP_ID, KARTRA_API_KEY and KARTRA_API_PASSWORD.",
)
rate_option = click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    help="Calls per second for the App, all calls counted; Kartra allows 20. 0 = no limit.",
)
journal_dir_option = click.option(
    "--journal-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    metavar="DIR",
    help="Keep the sheet's journals in DIR (default: .bulk-loader beside the sheet; the "
    "user's data folder when the sheet's folder is synced or on a network share).",
)
results_option = click.option(
    "--results",
    "results_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Results file (.xlsx or .csv). Default: leads.results.xlsx for leads.xlsx, "
    "leads.csv.results.xlsx for leads.csv, beside the input (or in --output-dir).",
)
output_dir_option = click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    metavar="DIR",
    help="Write the results and failed-rows files in DIR (made if missing), not beside each sheet.",
)
results_format_option = click.option(
    "--results-format",
    type=click.Choice(["xlsx", "csv"]),
    default="xlsx",
    show_default=True,
    help="The default results file's format (with --results, its ending decides).",
)
results_columns_option = click.option(
    "--results-columns",
    type=click.Choice(["all", "keys"]),
    default="all",
    show_default=True,
    help="keys: the results hold only the row number, email/id and outcome columns "
    "(no failed-rows file), for teams that must not copy whole rows around.",
)
sheet_option = click.option(
    "--sheet",
    "sheet_name",
    default=None,
    help="XLSX worksheet, by name or position (default: the first visible one).",
)


TEXT_SHEETS = (".csv", ".tsv", ".txt")


def check_sheet_option(sheet: Path, sheet_name: str | None) -> None:
    """--sheet on a CSV is a mistake to say, not an option to ignore."""
    if sheet_name is not None and sheet.suffix.lower() in TEXT_SHEETS:
        raise click.UsageError(
            f"--sheet picks a worksheet of an XLSX workbook; {sheet.name} is a CSV file, "
            "which has none: leave --sheet out"
        )
