"""`bulk-loader run`: a dry run, or a real import, of one sheet.

The command turns its options into a `bulk_loader.Loader` call and renders what comes
back. Only here: the bundled sandbox is started, and Ctrl-C and SIGTERM become the
run's stop events (a first one finishes the calls in flight, a later one stops at once).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, cast

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
from bulk_loader.cli.stopping import SignalStop
from bulk_loader.errors import (
    BulkLoaderError,
    ConfigError,
    Interrupted,
    KartraFatalError,
    WrittenByUs,
)

if TYPE_CHECKING:
    from bulk_loader import ImportSummary, KartraClient, Loader, RunPlan
    from bulk_loader.api import Mode

__all__ = ["run"]

CREDENTIAL_VARIABLES = ("KARTRA_APP_ID", "KARTRA_API_KEY", "KARTRA_API_PASSWORD")


class JsonAwareCommand(click.Command):
    """`run`: with --json, even a command line click cannot parse (`--rate abc`) gets
    its one JSON object on stdout, beside click's usage message on stderr."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        wants_json = "--json" in args  # before click consumes the list
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if wants_json:
                out = JsonOutput(True)
                click.echo(json.dumps(out.error(exc.format_message(), 2, None)))
            raise


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
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    metavar="DIR",
    help="Write the results and failed-rows files in DIR (made if missing), not beside each sheet.",
)
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
        paths = _sheets(sheets)
        out.sheet = paths[0] if len(paths) == 1 else None
        if not paths:  # an empty drop folder: nothing to do, and no account to ask
            _finish([], out)
        if len(paths) > 1 and results_path is not None:
            raise click.UsageError(
                "--results names one file, and there are several sheets: use --output-dir"
            )
        _refuse_shared_outputs(paths, output_dir)
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
                done = _each_sheet(
                    paths, out, lambda path: _check(loader(path), results_path, keys_only, client)
                )
            _finish(done, out)
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
                return _run_one(loader(path), logged, options, out, sandbox=sandbox)

            done = _each_sheet(paths, out, one)
        _finish(done, out)


def _refuse_shared_outputs(paths: list[Path], output_dir: Path | None) -> None:
    """Two sheets of one name (jan/leads.csv, feb/leads.csv) would write one results
    file in --output-dir: refused before any sheet runs."""
    if output_dir is None:
        return
    from bulk_loader import output_name

    seen: dict[str, Path] = {}
    for path in paths:
        name = output_name(path, "results", ".xlsx")
        if name in seen:
            raise click.UsageError(
                f"{seen[name]} and {path} would write one {name} in --output-dir "
                f"{output_dir}: run them with different --output-dir folders"
            )
        seen[name] = path


def _sheets(given: tuple[Path, ...]) -> list[Path]:
    """The sheets named: files as given, a folder's sheets (never a file this tool
    wrote there), in order, each once."""
    from bulk_loader import sheets_in

    paths: list[Path] = []
    for path in given:
        # A folder (`run .` too): its sheets. A Numbers document is a folder on a Mac: a
        # file to the person, refused as one (export it as CSV or XLSX).
        if path.is_dir() and path.suffix.lower() != ".numbers":
            found, ours = sheets_in(path)
            if ours:
                names = ", ".join(p.name for p in ours[:3]) + (", ..." if len(ours) > 3 else "")
                click.echo(
                    f"{path}: left out {len(ours)} file(s) bulk-loader wrote ({names})", err=True
                )
            if not found:  # a nightly drop folder, empty tonight: nothing to do, not a fault
                click.echo(
                    f"{path}: no sheet to import here (.csv, .tsv, .txt, .xlsx, .xlsm)", err=True
                )
            paths.extend(found)
        elif len(given) == 1 and not path.exists():  # said before any credential is asked
            raise ConfigError(f"{path}: no such file or folder")
        else:
            paths.append(path)
    unique: list[Path] = []
    for path in paths:
        if path not in unique:
            unique.append(path)
    if len(unique) > 1:  # `run drop/*.xlsx`: the shell's list holds last night's files too
        from bulk_loader import failed_rows_origin, written_by_us

        given_names = {p.name for p in unique} | {p.stem for p in unique}
        ours = [
            p
            for p in unique
            if written_by_us(p)
            and (failed_rows_origin(p) in given_names or not failed_rows_origin(p))
        ]
        if ours:
            shown = ", ".join(p.name for p in ours[:3]) + (", ..." if len(ours) > 3 else "")
            click.echo(f"left out {len(ours)} file(s) bulk-loader wrote ({shown})", err=True)
            unique = [p for p in unique if p not in ours]
    return unique


Outcome = tuple[Path, int, "dict[str, Any] | None"]


def _each_sheet(
    paths: list[Path], out: JsonOutput, one: Callable[[Path], tuple[int, dict[str, Any]]]
) -> list[Outcome]:
    """Each sheet in turn. One sheet: its errors end the command as they always did.
    Several: a sheet that cannot run is one line and the next goes on; Ctrl-C, or an
    App Kartra refuses, stops them all."""
    if len(paths) == 1:
        try:
            code, record = one(paths[0])
        except SheetStopped as stopped:
            code, record = stopped.code, stopped.record
        return [(paths[0], code, record)]
    if not paths:
        return []
    done: list[Outcome] = []
    for number, path in enumerate(paths, start=1):
        click.echo(f"sheet {number} of {len(paths)}: {path}", err=True)
        click.echo(f"Sheet:     {path}")
        try:
            code, record = one(path)
        except SheetStopped as stopped:  # Ctrl-C: this sheet stopped, and the others wait
            done.append((path, stopped.code, stopped.record))
            left = len(paths) - number
            if left:
                click.echo(f"stopped: {left} sheet(s) not started", err=True)
            break
        except Interrupted:
            raise
        except WrittenByUs as exc:  # last night's results in tonight's list: left out
            click.echo(f"left out: {exc}", err=True)
            continue
        except KartraFatalError as exc:  # the App itself is refused: every sheet would be
            click.echo(f"error: {exc}", err=True)
            done.append((path, exc.exit_code, out.error(str(exc), exc.exit_code, path)))
            click.echo("error: Kartra refused the App: the other sheets are not run", err=True)
            break
        except BulkLoaderError as exc:
            click.echo(f"error: {exc}", err=True)
            done.append((path, exc.exit_code, out.error(str(exc), exc.exit_code, path)))
            continue
        except SystemExit as exc:  # the template's problems, each on its line above
            code = exc.code if isinstance(exc.code, int) else 1
            cause = exc.__cause__
            message = str(cause) if cause is not None else f"stopped with exit {code}"
            done.append((path, code, out.error(message, code, path)))
            continue
        done.append((path, code, record))
        if code == 3 and str(record.get("stopped_by") or "").startswith("kartra_error"):
            click.echo("error: Kartra refused the App: the other sheets are not run", err=True)
            break
        click.echo("")
    return done


# The exit code of several sheets: the one that asks most of a person first.
EXIT_PRIORITY = (70, 3, 4, 1, 75, 0)


def _finish(done: list[Outcome], out: JsonOutput) -> NoReturn:
    """The total of several sheets, the JSON object, and the exit code."""
    codes = [code for _, code, _ in done]
    code = next((c for c in EXIT_PRIORITY if c in codes), max(codes, default=0))
    if not done:
        click.echo("nothing to import: no sheet was found", err=True)
        out.several([], _totals([]), 0)
        sys.exit(0)
    if len(done) == 1:
        out.record = done[0][2]
        sys.exit(done[0][1])
    records = [record for _, _, record in done if record is not None]
    totals = _totals(records)
    by_code = ", ".join(f"{path.name} {c}" for path, c, _ in done)
    statuses = ", ".join(f"{status} {n}" for status, n in totals["statuses"].items())
    click.echo(
        f"Total:     {len(done)} sheets; {totals['rows']['read']} rows read, "
        f"{totals['rows']['invalid']} invalid" + (f"; {statuses}" if statuses else "")
    )
    click.echo(f"Exit:      {code}" + (f" (by sheet: {by_code})" if done else ""))
    out.several(records, totals, code)
    sys.exit(code)


def _totals(records: list[dict[str, Any]]) -> dict[str, Any]:
    rows: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for record in records:
        rows.update(record.get("rows", {}))
        statuses.update(record.get("statuses", {}))
    calls = sum(record.get("calls", 0) for record in records)
    limited = sum(record.get("rate_limited", 0) for record in records)
    return {
        "sheets": len(records),
        "rows": {key: rows[key] for key in ("read", "valid", "invalid")},
        "statuses": dict(sorted(statuses.items())),
        "calls": calls,
        "rate_limited": limited,
    }


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


class SheetStopped(Exception):
    """A sheet stopped by Ctrl-C or SIGTERM: its summary is shown, no other sheet runs."""

    def __init__(self, code: int, record: dict[str, Any]) -> None:
        super().__init__(code)
        self.code, self.record = code, record


def _check(
    loader: Loader, results_path: Path | None, keys_only: bool, client: KartraClient | None
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
    account = {}
    if client is not None:
        account = {**client.account_identity(), "profile": client.profile}
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


class JsonOutput:
    """--json: stdout holds one JSON object and nothing else; what a person reads goes
    to stderr meanwhile. Without --json, nothing changes."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.time()
        self.record: dict[str, Any] | None = None
        self.account: dict[str, str] = {}
        self.sheet: Path | None = None  # the one sheet, when there is one

    def account_of(self, client: KartraClient | None) -> None:
        if client is not None:
            identity = client.account_identity()
            self.account = {
                "app_id": identity["app_id"],
                "api_host": identity["api_host"],
                "profile": client.profile,
            }

    def error(self, message: str, code: int, sheet: Path | None) -> dict[str, Any]:
        from bulk_loader import error_record

        return error_record(
            message,
            code,
            started=self.started,
            ended=time.time(),
            sheet=str(sheet) if sheet is not None else None,
        )

    def several(self, records: list[dict[str, Any]], totals: dict[str, Any], code: int) -> None:
        from bulk_loader import EXIT_MEANINGS

        self.record = {
            "schema": records[0]["schema"] if records else "bulk-loader/run-summary/1",
            "command": "run",
            "sheets": records,
            "totals": totals,
            "started": records[0]["started"] if records else None,
            "ended": records[-1]["ended"] if records else None,
            "exit_code": code,
            "exit_meaning": EXIT_MEANINGS.get(code, ""),
        }

    @contextmanager
    def capture(self) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        stdout = sys.stdout
        try:
            with contextlib.redirect_stdout(sys.stderr):
                yield
        except SystemExit as exc:
            if self.record is None:
                code = exc.code if isinstance(exc.code, int) else 1
                cause = exc.__cause__
                message = str(cause) if cause else f"exit {code}"
                self.record = self.error(message, code, self.sheet)
            raise
        except click.UsageError as exc:
            self.record = self.error(exc.format_message(), 2, self.sheet)
            raise
        except BulkLoaderError as exc:
            self.record = self.error(str(exc), exc.exit_code, self.sheet)
            raise
        except (click.Abort, KeyboardInterrupt):
            self.record = self.error("stopped", 4, self.sheet)
            raise
        except Exception as exc:
            self.record = self.error(f"internal error: {type(exc).__name__}", 70, self.sheet)
            raise
        finally:
            if self.record is not None:  # ASCII: any console encoding, any pipe
                stdout.write(json.dumps(self.record, ensure_ascii=True) + "\n")
                stdout.flush()


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
            or self.profile
            or os.environ.get("KARTRA_PROFILE")
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
