"""What `run` does for runs no one watches: several sheets in one command, the exit code
of them all, and --json (one object on stdout, nothing else there).

run.py runs one sheet; this module turns the names given into sheets (a folder's, a
shell's list, never a file this tool wrote), runs them in turn through a function of
run.py's, and says the total.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from bulk_loader.errors import (
    BulkLoaderError,
    ConfigError,
    Interrupted,
    KartraFatalError,
    WrittenByUs,
)

if TYPE_CHECKING:
    from bulk_loader import KartraClient

__all__ = ["EXIT_PRIORITY", "JsonAwareCommand", "JsonOutput", "SheetStopped", "each_sheet",
           "finish", "refuse_shared_outputs", "sheet_totals", "sheets_given"]  # fmt: skip


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


def refuse_shared_outputs(paths: list[Path], output_dir: Path | None) -> None:
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


def sheets_given(given: tuple[Path, ...]) -> list[Path]:
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


def each_sheet(
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
            _not_started(paths[number:])
            break
        except Interrupted as exc:  # stopped before its sending began (its look-ups)
            click.echo(f"error: {exc}", err=True)
            done.append((path, exc.exit_code, out.error(str(exc), exc.exit_code, path)))
            _not_started(paths[number:])
            break
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


def _not_started(left: list[Path]) -> None:
    if left:
        names = ", ".join(str(p) for p in left[:5]) + (", ..." if len(left) > 5 else "")
        click.echo(f"stopped: {len(left)} sheet(s) not started: {names}", err=True)


# The exit code of several sheets: the one that asks most of a person first.
EXIT_PRIORITY = (70, 3, 4, 1, 75, 0)


def finish(done: list[Outcome], out: JsonOutput) -> NoReturn:
    """The total of several sheets, the JSON object, and the exit code."""
    codes = [code for _, code, _ in done]
    code = next((c for c in EXIT_PRIORITY if c in codes), max(codes, default=0))
    if not done:
        click.echo("nothing to import: no sheet was found", err=True)
        out.several([], sheet_totals([]), 0)
        sys.exit(0)
    if len(done) == 1:
        out.record = done[0][2]
        sys.exit(done[0][1])
    records = [record for _, _, record in done if record is not None]
    totals = sheet_totals(records)
    by_code = ", ".join(f"{path.name} {c}" for path, c, _ in done)
    statuses = ", ".join(f"{status} {n}" for status, n in totals["statuses"].items())
    click.echo(
        f"Total:     {len(done)} sheets; {totals['rows']['read']} rows read, "
        f"{totals['rows']['invalid']} invalid" + (f"; {statuses}" if statuses else "")
    )
    click.echo(f"Exit:      {code}" + (f" (by sheet: {by_code})" if done else ""))
    out.several(records, totals, code)
    sys.exit(code)


def sheet_totals(records: list[dict[str, Any]]) -> dict[str, Any]:
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


class SheetStopped(Exception):
    """A sheet stopped by Ctrl-C or SIGTERM: its summary is shown, no other sheet runs."""

    def __init__(self, code: int, record: dict[str, Any]) -> None:
        super().__init__(code)
        self.code, self.record = code, record


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
        from bulk_loader import several_record

        self.record = several_record(records, totals, code)

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
        except click.ClickException as exc:  # usage, a question off a terminal: exit 2
            self.record = self.error(exc.format_message(), exc.exit_code, self.sheet)
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
