"""`bulk-loader undo`: put back the leads a --backup run edited (pipeline/undo.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bulk_loader.cli.common import (
    api_url_for,
    api_url_option,
    ask,
    given,
    guarded,
    journal_dir_option,
    profile_option,
    profile_or_environment,
    rate_option,
)
from bulk_loader.errors import Interrupted

__all__ = ["undo"]

SHOWN = (
    ("restored", "Restored:", "put back as before the run"),
    ("kept", "Kept:", "changed since the run, left alone: --force puts them back"),
    ("created", "Created:", "by the run: listed, Kartra has no call to delete a lead"),
    ("no_backup", "No backup:", "edited without --backup: nothing to put back"),
    ("failed", "Failed:", "Kartra refused, or the lead could not be read"),
    ("unknown", "Unknown:", "an answer was lost: check these leads in Kartra"),
)


@click.command()
@click.argument("sheet", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--template",
    "template_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="The run's template (default: the one its journal names), to name the tag "
    "every created lead carries.",
)
@click.option("--force", is_flag=True, help="Put back leads changed since the run too.")
@click.option("--yes", is_flag=True, help="Don't ask (needed off a terminal).")
@click.option(
    "--results",
    "results_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where the undo's results go (default: <sheet>.undo.xlsx).",
)
@api_url_option
@profile_option
@rate_option
@journal_dir_option
@guarded
def undo(
    sheet: Path,
    template_path: Path | None,
    force: bool,
    yes: bool,
    results_path: Path | None,
    api_url: str | None,
    profile: str | None,
    rate: float,
    journal_dir: Path | None,
) -> None:
    """Put back every lead the --backup runs of SHEET edited, from their journal.

    Fields, tags and lists the run changed go back, points are reversed; a lead changed
    since the run is left alone unless --force. Leads the run created are listed (Kartra
    cannot delete a lead). Credentials: --profile (or KARTRA_PROFILE), else KARTRA_APP_ID,
    KARTRA_API_KEY and KARTRA_API_PASSWORD.
    """
    from bulk_loader import KartraClient, Loader, chosen_credentials

    credentials, profile_url = chosen_credentials(profile_or_environment(profile))
    api_url = api_url_for(credentials, api_url, profile_url, given("api_url"))
    if not yes:
        question = f"Put back the leads the runs of {sheet} edited in app {credentials.app_id}?"
        if not ask(question, "undo writes to Kartra: add --yes to run it off a terminal"):
            raise Interrupted("nothing changed: undo was not confirmed")
    with KartraClient(credentials, api_url=api_url) as client:
        summary = Loader(sheet, template=template_path, journal_dir=journal_dir).undo(
            client, force=force, results=results_path, rate=rate or None
        )
    for status, label, meaning in SHOWN:
        if summary.counts[status]:
            click.echo(f"{label:<10} {summary.counts[status]} ({meaning})")
    if summary.partly:
        click.echo(
            f"Note:      {summary.partly} of them keep what undo cannot put back (a sequence, "
            "a field get_lead does not return): see the results' messages"
        )
    click.echo(f"Calls:     {summary.calls}")
    click.echo(f"Results:   {summary.results}")
    sys.exit(summary.exit_code)
