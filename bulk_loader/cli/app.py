"""The `bulk-loader` command: a thin skin over the library.

Each command parses options, calls one library function and renders its outcome.
Expected failures (BulkLoaderError) end as one line on stderr with a deliberate exit
code; anything else is a bug and says so in one line unless --debug asks for the
traceback. Exit codes: 0 ok, 1 some rows invalid or failed, 2 usage, 3 template,
configuration, unreadable file or fatal Kartra error, 4 interrupted, 70 internal error.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from bulk_loader.cli.render import (
    ImportProgress,
    dry_run_progress,
    print_import_summary,
    print_summary,
    template_errors,
)
from bulk_loader.errors import BulkLoaderError, Interrupted

if TYPE_CHECKING:
    from bulk_loader.kartra.client import KartraClient
    from bulk_loader.pipeline.importer import ImportOptions
    from bulk_loader.results.summary import ImportSummary
    from bulk_loader.template.mapping import Mode

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
        except BrokenPipeError:
            # `bulk-loader ... | head`: the reader left; that is not a bug. Python's own
            # advice: point stdout at devnull so the exit does not fail flushing it.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
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


# Options that more than one command takes, written once.
_results_option = click.option(
    "--results",
    "results_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Results file (.xlsx or .csv). Default: <sheet>.results.xlsx beside the input.",
)
_results_columns_option = click.option(
    "--results-columns",
    type=click.Choice(["all", "keys"]),
    default="all",
    show_default=True,
    help="keys: the results hold only the row number, email/id and outcome columns "
    "(no failed-rows file), for teams that must not copy whole rows around.",
)
_sheet_option = click.option(
    "--sheet", "sheet_name", default=None, help="XLSX worksheet (default: the first visible one)."
)


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
@_sheet_option
@click.option(
    "--mode",
    type=click.Choice(["create", "edit", "upsert"]),
    default=None,
    help="Overrides the template's mode.",
)
@click.option("--dry-run", is_flag=True, help="Validate every row; send nothing.")
@click.option(
    "--lookup",
    is_flag=True,
    help="With --dry-run: check the account and ask Kartra (read-only) which rows "
    "would be created and which updated.",
)
@_results_option
@_results_columns_option
@click.option(
    "--sandbox",
    is_flag=True,
    help="Import into a local Kartra sandbox started for this run (the sample account).",
)
@click.option(
    "--sandbox-account",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="With --sandbox: the sandbox's account file (default: samples/account.toml).",
)
@click.option(
    "--api-url",
    default=None,
    help="Kartra API URL (default: $KARTRA_API_URL, else https://app.kartra.com/api).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    help="Calls per second for the App, all calls counted; Kartra allows 20. 0 = no limit.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 32),
    default=None,
    help="Calls in flight at once (default 8; 16 when --rate is 0 or over 50).",
)
@click.option(
    "--known",
    "known_path",
    type=click.Path(path_type=Path),
    default=None,
    help="A CSV/XLSX listing leads that exist (e.g. Kartra's contacts export: an email "
    "column, optionally a lead id): upsert edits those first and creates the rest.",
)
@click.option(
    "--no-memory",
    is_flag=True,
    help="Neither use nor keep the memory of the leads this tool wrote in this account.",
)
@click.option("--restart", is_flag=True, help="Ignore what earlier runs of this sheet did.")
@click.option("--yes", is_flag=True, help="Answer yes to questions (for scripts).")
@click.option(
    "--proxy",
    default=None,
    metavar="URL",
    help="HTTPS proxy, http://host:port (default: the HTTPS_PROXY environment variable; "
    "a proxy password goes there, never on the command line).",
)
@click.option(
    "--ca-bundle",
    type=click.Path(path_type=Path),
    default=None,
    help="PEM file of the certificates to trust (default: the operating system's store, "
    "which holds an inspecting proxy's CA installed by IT).",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Do not verify Kartra's TLS certificate (unsafe; prints a warning; --ca-bundle "
    "is the safe way through an inspecting proxy).",
)
@_guarded
def run(
    sheet: Path,
    template_path: Path | None,
    sheet_name: str | None,
    mode: str | None,
    dry_run: bool,
    lookup: bool,
    results_path: Path | None,
    results_columns: str,
    sandbox: bool,
    sandbox_account: Path | None,
    api_url: str | None,
    rate: float,
    workers: int | None,
    restart: bool,
    yes: bool,
    known_path: Path | None,
    no_memory: bool,
    proxy: str | None,
    ca_bundle: Path | None,
    insecure: bool,
) -> None:
    """Validate SHEET and import its rows into Kartra.

    Credentials come from KARTRA_APP_ID, KARTRA_API_KEY and KARTRA_API_PASSWORD
    (not needed with --sandbox). Running the same command again resumes: rows already
    done are not sent twice.
    """
    if lookup and not dry_run:
        raise click.UsageError("--lookup goes with --dry-run")
    if sandbox and api_url:
        raise click.UsageError("--sandbox starts its own API: leave out --api-url")
    keys_only = results_columns == "keys"
    if dry_run and not lookup:
        _run_dry(sheet, template_path, sheet_name, mode, results_path, keys_only)
        return
    from bulk_loader.pipeline.importer import ImportOptions

    if rate > 20:
        click.echo(f"warning: --rate {rate:g} is over Kartra's 20 calls/s per App", err=True)
    from bulk_loader.journal.store import find_journals

    if restart and not yes and not sandbox and find_journals(sheet):
        question = "Forget what earlier runs of this sheet did, and send every row again?"
        if not click.confirm(question, err=True):
            raise Interrupted("nothing sent: --restart was not confirmed")
    options = ImportOptions(
        sheet=sheet,
        sheet_name=sheet_name,
        template_path=template_path,
        mode=cast("Mode | None", mode),
        results_path=results_path,
        rate=rate or None,
        # At Kartra's 20 calls/s, 8 in flight cover 400 ms answers; without a limit,
        # 8 calls of 20 ms cannot beat 400 rows/s, so more go at once.
        workers=workers or (16 if not rate or rate > 50 else 8),
        restart=restart,
        ephemeral_journal=sandbox or dry_run,
        lookup=lookup,
        keys_only=keys_only,
        known_path=known_path,
        memory=not no_memory and not sandbox,
    )
    network = {"proxy": proxy, "ca_bundle": ca_bundle, "verify": not insecure}
    with template_errors(), _kartra(sandbox, sandbox_account, api_url, network) as client:
        summary = _import(options, client)
    print_import_summary(summary)
    if summary.interrupted and not sandbox:
        click.echo(f"to resume: {_this_command()}", err=True)
    sys.exit(summary.exit_code)


def _run_dry(
    sheet: Path,
    template_path: Path | None,
    sheet_name: str | None,
    mode: str | None,
    results_path: Path | None,
    keys_only: bool,
) -> None:
    from bulk_loader.pipeline.scan import dry_run as run_dry

    with template_errors(), dry_run_progress() as progress:
        try:
            summary = run_dry(
                sheet,
                template_path=template_path,
                sheet_name=sheet_name,
                mode=cast("Mode | None", mode),
                results_path=results_path,
                progress=progress,
                keys_only=keys_only,
            )
        except KeyboardInterrupt:
            raise Interrupted("stopped; nothing was sent, the results file is incomplete") from None
    print_summary(summary)
    sys.exit(summary.exit_code)


@contextmanager
def _kartra(
    sandbox: bool, sandbox_account: Path | None, api_url: str | None, network: dict[str, Any]
) -> Iterator[KartraClient]:
    """A Kartra client: for the real API from the environment, or for a local sandbox."""
    from bulk_loader.kartra.client import Credentials, KartraClient
    from bulk_loader.pipeline.importer import bundled_sandbox

    if not network["verify"]:
        click.echo(
            "warning: TLS certificate checks are OFF (--insecure): anyone on the "
            "network path can read your API key",
            err=True,
        )
    if not sandbox:
        with KartraClient(Credentials.from_env(), api_url=api_url, **network) as client:
            yield client
        return
    with (
        bundled_sandbox(sandbox_account) as (url, credentials),
        KartraClient(credentials, api_url=url) as client,
    ):
        click.echo(f"sandbox: a local Kartra sandbox on {url} (sample account)", err=True)
        yield client


def _import(options: ImportOptions, client: KartraClient) -> ImportSummary:
    from bulk_loader.pipeline.importer import run_import

    with ImportProgress() as progress:
        return run_import(options, client, progress)


def _this_command() -> str:
    """The command that resumes: this one, minus --restart/--yes, with no URL password."""
    from bulk_loader.kartra.client import shown_url

    words = [shown_url(word) for word in sys.argv[1:] if word not in ("--restart", "--yes")]
    return shlex.join(["bulk-loader", *words])


@cli.command()
@click.argument("sheet", type=click.Path(path_type=Path))
@_results_option
@_results_columns_option
@_guarded
def results(sheet: Path, results_path: Path | None, results_columns: str) -> None:
    """Rebuild SHEET's results from its journal (also while a run is going on)."""
    from bulk_loader.results.summary import rebuild_results

    summary = rebuild_results(sheet, results_path, keys_only=results_columns == "keys")
    print_import_summary(summary)
    sys.exit(summary.exit_code)  # as `run` would: 1 while rows still need attention


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    default=None,
    metavar="DAYS",
    help="PATHS are folders: forget every journal in them (and below) not written for DAYS days.",
)
@click.option(
    "--memory",
    is_flag=True,
    help="Also forget the memory of the leads this tool wrote, in every account.",
)
@click.option("--yes", is_flag=True, help="Do not ask first (for scripts and cron).")
@_guarded
def forget(paths: tuple[Path, ...], older_than: float | None, memory: bool, yes: bool) -> None:
    """Delete the journals kept for the sheets PATHS (rows, outcomes, lead keys).

    A run of a forgotten sheet no longer knows what earlier runs sent: it sends every
    row again (create mode: 'Lead already exists' for leads already imported).
    """
    from bulk_loader.errors import ConfigError
    from bulk_loader.journal.store import find_journals, stale_journals
    from bulk_loader.journal.store import forget as forget_journal
    from bulk_loader.sending.known import memory_files

    if not paths and not memory:
        raise click.UsageError("name the sheets (or folders, with --older-than), or --memory")
    memories = memory_files() if memory else []
    if not paths:
        found: list[Path] = []
    elif older_than is None:
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ConfigError(f"{missing[0]}: no such sheet (to purge a folder: --older-than)")
        found = [journal for path in paths for journal in find_journals(path)]
    else:
        folders = [p for p in paths if not p.is_dir()]
        if folders:
            raise ConfigError(f"{folders[0]}: not a folder (--older-than takes folders)")
        found = [journal for path in paths for journal in stale_journals(path, older_than)]
    if not found and not memories:
        click.echo("nothing to forget")
        return
    for path in (*found, *memories):
        click.echo(f"  {path}")
    question = f"Forget these {len(found) + len(memories)} files? Later runs start afresh"
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("not a terminal, so nothing to ask: add --yes to forget them")
        click.confirm(question, abort=True)
    for journal in found:
        forget_journal(journal)
    for path in memories:
        path.unlink(missing_ok=True)
    click.echo(f"forgot {len(found)} journal{'s' if len(found) != 1 else ''}")
    if memories:
        click.echo(f"forgot the lead memory of {len(memories)} account(s)")


@cli.group()
def template() -> None:
    """Column-mapping templates: `template init` writes a starter one."""


@template.command("init")
@click.argument("sheet", type=click.Path(path_type=Path))
@_sheet_option
@_guarded
def template_init(sheet: Path, sheet_name: str | None) -> None:
    """Print a starter template for SHEET, mapping its headers to Kartra fields by name."""
    from bulk_loader.sheets.sheet import open_sheet
    from bulk_loader.template.mapping import starter_template

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
    "--arrival-jitter-ms",
    type=click.FloatRange(min=0),
    default=0,
    help="Random delay, up to this, before a call reaches the rate counter (the network's "
    "unevenness; --latency-ms and --jitter-ms come after it).",
)
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
    help="Keep leads in this SQLite file across restarts (made owner-only, 600).",
)
@click.option(
    "--clock",
    type=click.Choice(["EST", "America/New_York"]),
    default="EST",
    show_default=True,
    help="Zone of date_joined: fixed UTC-5, or New York time with daylight saving.",
)
@click.option(
    "--clock-skew-s",
    type=float,
    default=0,
    help="Seconds Kartra's clock runs ahead of this machine's (negative: behind).",
)
@click.option(
    "--lead-details-json",
    is_flag=True,
    help="Send every lead_details as a JSON-encoded string instead of an object.",
)
@_guarded
def sandbox_serve(
    account_path: Path,
    port: int,
    latency_ms: float,
    jitter_ms: float,
    arrival_jitter_ms: float,
    rate: float,
    rate_style: str,
    faults: str,
    db: Path | None,
    clock: str,
    clock_skew_s: float,
    lead_details_json: bool,
) -> None:
    """Serve a Kartra-compatible API on 127.0.0.1 until Ctrl-C.

    Its control endpoint (/_control: knobs, stats, every lead) answers only requests
    that carry the token printed at start in the X-Sandbox-Token header.
    """
    import signal
    import sqlite3

    from bulk_loader.errors import ConfigError
    from bulk_loader.sandbox import TOKEN_HEADER, build_sandbox, parse_faults, run_forever

    try:
        plan = parse_faults(faults)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from exc
    try:
        service = build_sandbox(
            account_path,
            db=db,
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            arrival_jitter_ms=arrival_jitter_ms,
            rate=rate or None,
            rate_style=rate_style,
            faults=plan,
            clock=clock,
            clock_skew_s=clock_skew_s,
            lead_details_json=lead_details_json,
        )
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"cannot open --db {db}: {exc}") from exc
    account = service.state.account

    def ready(url: str, token: str) -> None:
        click.echo(f"Kartra sandbox on {url} (account {account_path}); Ctrl-C stops it.")
        # The key and password are not printed: logs of a sandbox must not hold secrets
        # either, in case an account file reuses real ones. The control token is made
        # anew at each start and is worth nothing once this server stops.
        click.echo(f"  export KARTRA_API_URL={url} KARTRA_APP_ID={account.app_id}")
        click.echo(f"  and KARTRA_API_KEY, KARTRA_API_PASSWORD as in {account_path} [credentials]")
        control = url.removesuffix("/api") + "/_control"
        click.echo(f"  control token (this run only): {token}")
        click.echo(f"  curl -H '{TOKEN_HEADER}: {token}' {control}")

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
    """The console script: the process-wide settings only the CLI may make, then click.

    No core dumps (one would hold the App's password and rows of personal data);
    SIGTERM ends the command the way Ctrl-C does (so a `kill` cleans up too); the
    private temporary folder goes on every way out.
    """
    from bulk_loader import scratch

    _no_core_dumps()
    previous = signal.signal(signal.SIGTERM, _terminate_as_ctrl_c)
    code: int | str | None = 0
    try:
        cli(prog_name="bulk-loader")
    except SystemExit as exc:
        code = exc.code
    finally:
        signal.signal(signal.SIGTERM, previous)
        scratch.remove()
    _leave(code)


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
