"""The `bulk-loader` command: a thin skin over the library.

Each command parses options, calls one library function and renders its outcome.
Expected failures (BulkLoaderError) end as one line on stderr with a deliberate exit
code; anything else is a bug and says so in one line unless --debug asks for the
traceback. Exit codes: 0 ok, 1 some rows invalid or failed, 2 usage, 3 template,
configuration, unreadable file or fatal Kartra error, 4 interrupted, 70 internal error.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from bulk_loader.errors import BulkLoaderError, Interrupted, TemplateError
from bulk_loader.results import problem_text

if TYPE_CHECKING:
    from bulk_loader.runner import RunSummary
    from bulk_loader.template import Mode

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = 2
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
@click.option(
    "--template",
    "template_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Column-mapping template (TOML). Default: headers named like Kartra fields.",
)
@click.option("--sheet", "sheet_name", default=None, help="XLSX worksheet (default: the first).")
@click.option(
    "--mode",
    type=click.Choice(["create", "edit", "upsert"]),
    default=None,
    help="Overrides the template's mode.",
)
@click.option("--dry-run", is_flag=True, help="Validate every row; send nothing.")
@click.option(
    "--results",
    "results_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Results file (.xlsx or .csv). Default: <sheet>.results.xlsx beside the input.",
)
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
    if not dry_run:
        click.echo(
            "error: sending to Kartra is not available yet; "
            "add --dry-run to validate the sheet without sending",
            err=True,
        )
        sys.exit(EXIT_USAGE)
    from bulk_loader.runner import dry_run as run_dry

    with _template_errors(), _progress() as progress:
        try:
            summary = run_dry(
                sheet,
                template_path=template_path,
                sheet_name=sheet_name,
                mode=cast("Mode | None", mode),
                results_path=results_path,
                progress=progress,
            )
        except KeyboardInterrupt:
            raise Interrupted("stopped; nothing was sent, the results file is incomplete") from None
    _print_summary(summary)
    sys.exit(summary.exit_code)


@contextmanager
def _template_errors() -> Iterator[None]:
    """Every template problem on its own line, then exit 3: fix them all in one go."""
    try:
        yield
    except TemplateError as exc:
        if click.get_current_context().find_root().params.get("debug"):
            raise
        count = len(exc.problems)
        name = str(exc.path) if exc.path else "template"
        click.echo(f"error: {name}: {count} problem{'s' if count != 1 else ''}", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(exc.exit_code)


@contextmanager
def _progress() -> Iterator[Callable[[int], None]]:
    """A row counter on stderr; tqdm turns itself off when stderr is not a terminal."""
    from tqdm import tqdm

    with tqdm(unit=" rows", disable=None, leave=False, file=sys.stderr) as bar:
        yield bar.update


def _print_summary(summary: RunSummary) -> None:
    report = summary.report
    click.echo(f"Rows read: {report.rows_read}")
    click.echo(f"Valid:     {report.rows_valid}")
    click.echo(f"Invalid:   {report.rows_invalid}")
    top = report.top(10)
    if top:
        click.echo("Top problems:")
        width = max(len(code) for code, *_ in top)
        for code, count, rows, example in top:
            more = len(rows) >= report.keep_rows and count > len(rows)
            where = ", ".join(map(str, rows)) + (", ..." if more else "")
            label = "row" if len(rows) == 1 else "rows"
            click.echo(f"  {code:<{width}}  {count:>6}  {label} {where}")
            click.echo(f"  {'':<{width}}          e.g. row {example.row}: {problem_text(example)}")
    click.echo(f"Results:   {summary.results_path}")


@cli.group()
def template() -> None:
    """Write and check column-mapping templates."""


@template.command("init")
@click.argument("sheet", type=click.Path(path_type=Path))
@click.option("--sheet", "sheet_name", default=None, help="XLSX worksheet (default: the first).")
@_guarded
def template_init(sheet: Path, sheet_name: str | None) -> None:
    """Print a starter template for SHEET, mapping its headers to Kartra fields by name."""
    from bulk_loader.sheets import open_sheet
    from bulk_loader.template import starter_template

    with open_sheet(sheet, sheet_name) as opened:
        headers = list(opened.headers)
    click.echo(starter_template(headers, sheet.name), nl=False)


@cli.group()
def sandbox() -> None:
    """A local Kartra look-alike to rehearse imports against."""


@sandbox.command("serve")
@click.option(
    "--account",
    "account_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Account file (TOML): credentials, custom fields, tags, lists, leads.",
)
@click.option(
    "--port",
    type=int,
    default=8765,
    show_default=True,
    help="Port on 127.0.0.1 (0 picks a free one).",
)
@click.option("--latency-ms", type=float, default=0, help="Fixed delay added to every answer.")
@click.option("--jitter-ms", type=float, default=0, help="Random extra delay, up to this.")
@click.option(
    "--rate",
    type=float,
    default=20,
    show_default=True,
    help="Calls per second per App before 429; 0 turns the limit off.",
)
@click.option(
    "--rate-style",
    type=click.Choice(["status", "body"]),
    default="status",
    show_default=True,
    help="429 as the HTTP status, or inside a 200 JSON body.",
)
@click.option(
    "--faults",
    default="",
    metavar="SPEC",
    help="Fault probabilities, e.g. '5xx=0.01,lost=0.01,reset=0.01,slow=0.01,slow_ms=2000,seed=7'.",
)
@click.option(
    "--db",
    type=click.Path(path_type=Path),
    default=None,
    help="Keep leads in this SQLite file across restarts.",
)
@_guarded
def sandbox_serve(
    account_path: Path,
    port: int,
    latency_ms: float,
    jitter_ms: float,
    rate: float,
    rate_style: str,
    faults: str,
    db: Path | None,
) -> None:
    """Serve a Kartra-compatible API on 127.0.0.1 until Ctrl-C."""
    import signal

    from bulk_loader.errors import ConfigError
    from bulk_loader.sandbox import build_sandbox, parse_faults, run_forever

    try:
        plan = parse_faults(faults)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from exc
    service = build_sandbox(
        account_path,
        db=db,
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        rate=rate or None,
        rate_style=rate_style,
        faults=plan,
    )
    account = service.state.account

    def ready(url: str) -> None:
        click.echo(f"Kartra sandbox on {url} (account {account_path}); Ctrl-C stops it.")
        click.echo(
            f"  export KARTRA_API_URL={url} KARTRA_APP_ID={account.app_id} "
            f"KARTRA_API_KEY={account.api_key} KARTRA_API_PASSWORD={account.api_password}"
        )

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        run_forever(service, port, ready)
    except KeyboardInterrupt:
        click.echo("sandbox stopped", err=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve on 127.0.0.1:{port}: {exc.strerror}; pick another --port"
        ) from exc
    finally:
        service.state.close()


def main() -> None:
    cli(prog_name="bulk-loader")
