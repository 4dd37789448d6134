"""The sandbox from the command line: `bulk-loader sandbox serve`, and the one that
`run --sandbox` starts for a single run with the sample account (or `--sandbox-account`).

An account file with problems is printed as a template with problems is: a header line
naming the file and the count, then one line per problem with its key, exit 3.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bulk_loader.cli.common import guarded

if TYPE_CHECKING:
    from bulk_loader import Credentials


__all__ = ["account_errors", "bundled_sandbox", "sandbox"]

SAMPLE_ACCOUNT = Path(__file__).parent.parent / "data" / "sample_account.toml"


@contextmanager
def bundled_sandbox(account: Path | None = None) -> Iterator[tuple[str, Credentials]]:
    """A sandbox with the sample account on 127.0.0.1, for this run only: (URL, credentials)."""
    from bulk_loader import Credentials
    from bulk_loader.sandbox import load_account, serve_in_thread

    with account_errors():
        loaded = load_account(account or SAMPLE_ACCOUNT)
    with serve_in_thread(loaded) as running:
        yield running.url, Credentials(loaded.app_id, loaded.api_key, loaded.api_password)


@contextmanager
def account_errors() -> Iterator[None]:
    """Every problem of an account file on its own line, then exit 3: fix them all at once."""
    from bulk_loader.sandbox import AccountError

    try:
        yield
    except AccountError as exc:
        if click.get_current_context().find_root().params.get("debug"):
            raise
        count = len(exc.problems)
        name = _one_line(str(exc.path)) if exc.path else "account file"
        click.echo(f"error: {name}: {count} problem{'s' if count != 1 else ''}", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(exc.exit_code)


def _one_line(text: str) -> str:
    """A file name may hold a newline: keep the line it is printed on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@click.group()
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
    type=click.IntRange(0, 65535),
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
@click.option(
    "--drop-field",
    default="",
    metavar="NAME",
    help="Silently store no value of this lead field or custom field (a read-back catches it).",
)
@click.option(
    "--actions-delay-s",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Apply tags, lists and sequences this many seconds after answering.",
)
@click.option(
    "--test-mode",
    is_flag=True,
    help="Act as a new App in Test Mode: new leads' email domain becomes kartra.com.",
)
@guarded
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
    drop_field: str,
    actions_delay_s: float,
    test_mode: bool,
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
        with account_errors():
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
                drop_field=drop_field,
                actions_delay_s=actions_delay_s,
                test_mode=test_mode,
            )
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"cannot open --db {db}: {exc}") from exc
    account = service.state.account

    def ready(url: str, token: str) -> None:
        shown = _one_line(str(account_path))
        click.echo(f"Kartra sandbox on {url} (account {shown}); Ctrl-C stops it.")
        # Complete lines to paste, key and password included: this is a local sandbox,
        # whose credentials open nothing but it (issue 13: telling people to copy them
        # out of the file by hand cost more than it protected). The control token is
        # made anew at each start and is worth nothing once this server stops.
        click.echo(f"  export KARTRA_API_URL={shlex.quote(url)} "
                   f"KARTRA_APP_ID={shlex.quote(account.app_id)}")  # fmt: skip
        click.echo(f"  export KARTRA_API_KEY={shlex.quote(account.api_key)} "
                   f"KARTRA_API_PASSWORD={shlex.quote(account.api_password)}")  # fmt: skip
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
