"""`bulk-loader run`: a dry run, or a real import, of each sheet named.

The command turns its options into a `bulk_loader.Loader` call per sheet and renders
what comes back (several.py: several sheets, their total and --json). Only here: the
bundled sandbox is started, and Ctrl-C and SIGTERM become the run's stop events (a
first one finishes the calls in flight, a later one stops at once).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import click

from bulk_loader.cli.common import (
    api_url_for,
    api_url_option,
    ask,
    check_sheet_option,
    given,
    guarded,
    journal_dir_option,
    on_terminal,
    output_dir_option,
    profile_option,
    profile_or_environment,
    rate_option,
    results_columns_option,
    results_format_option,
    results_option,
    sheet_option,
    this_command,
)
from bulk_loader.cli.render import (
    ImportProgress,
    dry_run_progress,
    notice,
    print_import_summary,
    print_summary,
    template_errors,
)
from bulk_loader.cli.sandbox import bundled_sandbox
from bulk_loader.cli.several import (
    JsonAwareCommand,
    JsonOutput,
    SheetStopped,
    each_sheet,
    finish,
    refuse_shared_outputs,
    sheets_given,
)
from bulk_loader.cli.stopping import SignalStop
from bulk_loader.errors import ConfigError, Interrupted

if TYPE_CHECKING:
    from bulk_loader import ImportSummary, KartraClient, Loader, RunPlan
    from bulk_loader.api import Mode

__all__ = ["run"]

CREDENTIAL_VARIABLES = ("KARTRA_APP_ID", "KARTRA_API_KEY", "KARTRA_API_PASSWORD")


@click.command(cls=JsonAwareCommand)
@click.argument("sheets", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--template",
    "template_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Column-mapping template (TOML). Default: headers named like Kartra fields.",
)
@sheet_option
@click.option(
    "--header-row",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="The row holding the headers, as Excel numbers it (default: row 1, or the first "
    "of the first 20 rows that holds the template's columns).",
)
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
@results_option
@results_format_option
@results_columns_option
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
@api_url_option
@profile_option
@rate_option
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
@click.option(
    "--verify",
    type=click.IntRange(0, 1000),
    default=5,
    show_default=True,
    metavar="N",
    help="Read the first N leads written back from Kartra and compare them with what was "
    "sent before sending the rest; any difference stops the run. 0 skips the check.",
)
@click.option(
    "--backup",
    is_flag=True,
    help="Read each lead before editing it and keep what it was, so that `bulk-loader "
    "undo` can put it back (one more call per edited row).",
)
@journal_dir_option
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="SECONDS",
    help="When another run holds this sheet, wait this long for it to finish (else exit 75).",
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
@output_dir_option
@click.option(
    "--json",
    "json_output",
    is_flag=True,
    help="Print the run summary as one JSON object on stdout, and nothing else there (the "
    "summary for people goes to stderr); see schemas/run-summary.schema.json.",
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="FILE",
    help="Append one JSON line per API call to FILE: time, row, command, outcome, type, "
    "HTTP status, latency (no personal data, no secrets).",
)
@guarded
def run(
    sheets: tuple[Path, ...],
    template_path: Path | None,
    sheet_name: str | None,
    header_row: int | None,
    mode: str | None,
    dry_run: bool,
    lookup: bool,
    results_path: Path | None,
    results_format: str,
    results_columns: str,
    sandbox: bool,
    sandbox_account: Path | None,
    api_url: str | None,
    profile: str | None,
    rate: float,
    workers: int | None,
    restart: bool,
    yes: bool,
    known_path: Path | None,
    no_memory: bool,
    verify: int,
    backup: bool,
    journal_dir: Path | None,
    wait: float,
    proxy: str | None,
    ca_bundle: Path | None,
    insecure: bool,
    output_dir: Path | None,
    json_output: bool,
    log_path: Path | None,
) -> None:
    """Validate each SHEET (a CSV or XLSX file, or a FOLDER of them) and import its rows
    into Kartra, one sheet after another.

    Credentials come from --profile (or KARTRA_PROFILE), else KARTRA_APP_ID,
    KARTRA_API_KEY and KARTRA_API_PASSWORD (not needed with --sandbox). Running the
    same command again resumes: rows already done are not sent twice.
    """
    out = JsonOutput(json_output)
    out.sheet = sheets[0] if len(sheets) == 1 else None
    with out.capture():
        if lookup and not dry_run:
            raise click.UsageError("--lookup goes with --dry-run")
        if sandbox:  # an exported KARTRA_API_URL or KARTRA_PROFILE is not for the sandbox
            if given("api_url"):
                raise click.UsageError("--sandbox starts its own API: leave out --api-url")
            if given("profile"):
                raise click.UsageError("--sandbox is its own account: leave out --profile")
            api_url = profile = None
        if sandbox_account is not None and not sandbox:
            raise click.UsageError(
                "--sandbox-account goes with --sandbox: add --sandbox, or leave "
                "--sandbox-account out"
            )
        profile = profile_or_environment(profile)
        paths = sheets_given(sheets)
        out.sheet = paths[0] if len(paths) == 1 else None
        if not paths:  # an empty drop folder: nothing to do, and no account to ask
            finish([], out)
        if len(paths) > 1 and results_path is not None:
            raise click.UsageError(
                "--results names one file, and there are several sheets: use --output-dir"
            )
        refuse_shared_outputs(paths, output_dir)
        if template_path is not None and not template_path.is_file():  # before credentials
            raise ConfigError(f"{template_path}: cannot read the template: no such file")
        for path in paths:
            check_sheet_option(path, sheet_name)
        from bulk_loader import Loader

        def loader(path: Path) -> Loader:
            return Loader(
                path,
                template=template_path,
                worksheet=sheet_name,
                mode=cast("Mode", mode),
                header_row=header_row,
                journal_dir=journal_dir,
                output_dir=output_dir,
                results_format=cast("Literal['xlsx', 'csv']", results_format),
            )

        keys_only = results_columns == "keys"
        network = {"proxy": proxy, "ca_bundle": ca_bundle, "verify": not insecure}
        account = Account(sandbox, sandbox_account, api_url, profile, given("api_url"))
        if dry_run and not lookup:
            with _account_client(account, network) as client:
                out.account_of(client)
                done = each_sheet(
                    paths,
                    out,
                    lambda path: _check(loader(path), results_path, keys_only, client, out.account),
                )
            finish(done, out)
        if rate > 20:
            click.echo(f"warning: --rate {rate:g} is over Kartra's 20 calls/s per App", err=True)
        if restart and not yes and not sandbox:
            for path in paths:
                _confirm_restart(loader(path))
        options: dict[str, Any] = {
            "results": results_path,
            "rate": rate or None,
            # At Kartra's 20 calls/s, 8 in flight cover 400 ms answers; without a limit,
            # 8 calls of 20 ms cannot beat 400 rows/s, so more go at once.
            "workers": workers or (16 if not rate or rate > 50 else 8),
            "restart": restart,
            "temporary_journal": sandbox or dry_run,
            "lookup": lookup,
            "keys_only": keys_only,
            "known": known_path,
            "memory": not no_memory and not sandbox,
            "verify": verify,
            "backup": backup,
            "wait": wait,
            # A person at a terminal confirms the account and rows before the first
            # call; scripts (stdin not a terminal) and --yes are not asked.
            "confirm": None if yes or sandbox or lookup or not on_terminal() else _confirm_send,
        }
        with _kartra(account, network) as client, _call_log(client, log_path) as logged:
            out.account_of(client)

            def one(path: Path) -> tuple[int, dict[str, Any]]:
                if log_path is not None:  # several sheets share one log: each line says whose
                    logged.log.sheet = path.name
                return _run_one(loader(path), logged, options, out, sandbox=sandbox)

            done = each_sheet(paths, out, one)
        finish(done, out)


@contextmanager
def _call_log(client: KartraClient, path: Path | None) -> Iterator[Any]:
    """The client, its calls written to --log FILE when asked."""
    if path is None:
        yield client
        return
    from bulk_loader import CallLog, LoggedClient

    log = CallLog(path)
    try:
        yield LoggedClient(client, log)
    finally:
        log.close()
        if log.failed is not None:
            click.echo(
                f"warning: --log {path}: logging stopped ({log.failed.strerror or log.failed}); "
                "the run went on",
                err=True,
            )


def _run_one(
    loader: Loader, client: Any, options: dict[str, Any], out: JsonOutput, *, sandbox: bool
) -> tuple[int, dict[str, Any]]:
    """One sheet's real run (or --lookup), its summary shown; its exit code and record."""
    started = time.time()
    with template_errors():
        summary = _import(loader, client, **options)
    print_import_summary(summary)
    if summary.interrupted and not sandbox:
        click.echo(f"to resume: {this_command()}", err=True)
    elif summary.interrupted:  # the sandbox and its journal went with the run
        click.echo(
            "stopped: the sandbox ended with this run, so there is nothing to resume; "
            "run the same command again to rehearse the whole sheet",
            err=True,
        )
    from bulk_loader import import_record

    record = import_record(summary, started=started, ended=time.time(), account=out.account)
    if summary.interrupted:  # Ctrl-C ends the command here, sheets left or not
        raise SheetStopped(summary.exit_code, record)
    return summary.exit_code, record


def _check(
    loader: Loader,
    results_path: Path | None,
    keys_only: bool,
    client: KartraClient | None,
    account: dict[str, str],
) -> tuple[int, dict[str, Any]]:
    """The dry run: every row validated, the results written, nothing sent; checked
    against the account too when there are credentials (three look-ups, no row calls)."""
    from bulk_loader import check_record

    started = time.time()
    with template_errors(), dry_run_progress() as progress:
        try:
            summary = loader.check(
                results=results_path,
                keys_only=keys_only,
                progress=progress,
                client=client,
                notice=notice,
            )
        except KeyboardInterrupt:
            raise Interrupted("stopped; nothing was sent, the results file is incomplete") from None
    print_summary(summary)
    record = check_record(
        sheet=summary.sheet_path,
        mode=summary.mode,
        template=summary.template_path,
        report=summary.report,
        results=summary.results_path,
        account=account,
        started=started,
        ended=time.time(),
        exit_code=summary.exit_code,
    )
    return summary.exit_code, record


def _confirm_send(plan: RunPlan) -> bool:
    """The account, sheet, rows and mode, and a question, before the first call."""
    invalid = plan.rows - plan.valid
    done = plan.valid - plan.to_send
    rows = f"{plan.to_send} rows to send" + (f" ({done} done by earlier runs)" if done else "")
    rows += f"; {invalid} invalid rows left out" if invalid else ""
    click.echo(f"Account:   {plan.account}", err=True)
    click.echo(f"Sheet:     {plan.sheet}: {rows}", err=True)
    click.echo(f"Mode:      {plan.mode}", err=True)
    try:
        return click.confirm(f"Send {plan.to_send} rows to this account?", err=True)
    except click.Abort:  # Ctrl-C or Ctrl-D at the question: nothing is sent (exit 4)
        click.echo("", err=True)
        return False


def _confirm_restart(loader: Loader) -> None:
    if loader.journals():
        question = "Forget what earlier runs of this sheet did, and send every row again?"
        off_terminal = (
            "--restart forgets what earlier runs sent and asks first: add --yes to run it "
            "off a terminal"
        )
        if not ask(question, off_terminal):
            raise Interrupted("nothing sent: --restart was not confirmed")


@dataclass(frozen=True)
class Account:
    """The account the options name: the bundled sandbox, or a profile or the
    environment's credentials at an API URL."""

    sandbox: bool
    sandbox_account: Path | None
    api_url: str | None
    profile: str | None
    api_url_typed: bool = False  # --api-url on this command line (not env nor a file)

    def named(self) -> bool:
        """Whether any account is named at all (a dry run without one checks offline)."""
        return bool(
            self.sandbox
            or self.profile  # --profile, or KARTRA_PROFILE through the option
            or any(os.environ.get(name) for name in CREDENTIAL_VARIABLES)
        )


@contextmanager
def _account_client(account: Account, network: dict[str, Any]) -> Iterator[KartraClient | None]:
    """The account a dry run checks against: the sandbox's, or the one the profile or
    the environment's credentials name; none when no credential is set at all."""
    if not account.named():
        yield None
        return
    with _kartra(account, network) as client:
        yield client


@contextmanager
def _kartra(account: Account, network: dict[str, Any]) -> Iterator[KartraClient]:
    """A Kartra client: for the real API from a profile or the environment, or for a
    local sandbox."""
    from bulk_loader import KartraClient, account_label, chosen_credentials

    sandbox, sandbox_account = account.sandbox, account.sandbox_account
    if not network["verify"]:
        click.echo(
            "warning: TLS certificate checks are OFF (--insecure): anyone on the "
            "network path can read your API key",
            err=True,
        )
    if not sandbox:
        credentials, profile_url = chosen_credentials(account.profile)
        api_url = api_url_for(credentials, account.api_url, profile_url, account.api_url_typed)
        with KartraClient(credentials, api_url=api_url, **network) as client:
            click.echo(f"account: {account_label(client)}", err=True)
            yield client
        return
    with (
        bundled_sandbox(sandbox_account) as (url, credentials),
        KartraClient(credentials, api_url=url) as client,
    ):
        where = f"account {sandbox_account}" if sandbox_account else "sample account"
        click.echo(f"sandbox: a local Kartra sandbox on {url} ({where})", err=True)
        click.echo(f"account: {account_label(client)}", err=True)
        yield client


def _import(loader: Loader, client: KartraClient, **options: Any) -> ImportSummary:
    """The real run, with its progress on the terminal and Ctrl-C as its stop."""
    with ImportProgress() as progress, SignalStop(progress) as signals:
        return loader.run(client, progress=signals, stop=signals.stop, halt=signals.halt, **options)
