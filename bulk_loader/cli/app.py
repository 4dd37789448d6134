"""The `bulk-loader` command: a thin skin over the library.

Each command parses options, calls the library and renders its outcome (render.py);
common.py turns expected failures into one line and a deliberate exit code. This
module holds the command group and the console script, with the process-wide settings
only the CLI may make.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

import click

from bulk_loader.cli.config import config, config_files, load_defaults
from bulk_loader.cli.housekeeping import forget, results, template, time_zones
from bulk_loader.cli.profiles import profile
from bulk_loader.cli.run import run
from bulk_loader.cli.sandbox import sandbox
from bulk_loader.cli.undo import undo
from bulk_loader.errors import BulkLoaderError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="FILE",
    help="Defaults for the options from FILE, instead of ./bulk-loader.toml and the "
    "user's config folder's (`bulk-loader config show` prints them).",
)
@click.version_option(package_name="bulk-loader")
@click.pass_context
def cli(ctx: click.Context, debug: bool, config_path: Path | None) -> None:
    """Create and update Kartra leads from a CSV or XLSX sheet."""
    try:
        ctx.default_map, origins = load_defaults(cli, config_path)
        ctx.meta["config_origins"] = origins
        ctx.meta["config_files"] = config_files(config_path)
    except BulkLoaderError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


for command in (run, results, forget, template, time_zones, sandbox, undo, profile, config):
    cli.add_command(command)


def main() -> None:
    """The console script: the process-wide settings only the CLI may make, then click.

    No core dumps (one would hold the App's password and rows of personal data);
    SIGTERM ends the command the way Ctrl-C does (so a `kill` cleans up too); the
    private temporary folder goes on every way out.
    """
    from bulk_loader import scratch

    _no_core_dumps()
    _any_console_encoding()
    sigterm = getattr(signal, "SIGTERM", None)  # where the platform has it
    previous = signal.signal(sigterm, _terminate_as_ctrl_c) if sigterm is not None else None
    code: int | str | None = 0
    try:
        cli(prog_name="bulk-loader")
    except SystemExit as exc:
        code = exc.code
    finally:
        if sigterm is not None:
            signal.signal(sigterm, previous)
        scratch.remove()
    _leave(code)


def _any_console_encoding() -> None:
    """A character the console cannot show (a Chinese name on a cp1252 console, output
    redirected on an older Windows) is written as '?', never raised: the results files
    keep it, as UTF-8."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a closed or odd stream
                reconfigure(errors="replace")


def _leave(code: int | str | None) -> None:
    """Exit with this code and no other, the temporary folder already gone.

    A Ctrl-C that was handled (exit 4, one line) can still leave CPython marked as
    stopped by SIGINT, and it then turns the exit into a kill by SIGINT (-2) at the
    very end: seen in about one run in four when Ctrl-C came as the run started. So
    the streams are flushed and the process ends here, with the code the command chose.
    """
    if isinstance(code, str):  # sys.exit("message")
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


def _terminate_as_ctrl_c(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _no_core_dumps() -> None:
    try:
        import resource  # POSIX only: Windows writes no core files
    except ImportError:
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
