"""The commands around a run: rebuild its results, forget its journals, start a template."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal, cast

import click

from bulk_loader.cli.common import (
    ask,
    check_sheet_option,
    guarded,
    journal_dir_option,
    output_dir_option,
    results_columns_option,
    results_format_option,
    results_option,
    sheet_option,
)
from bulk_loader.cli.render import print_import_summary
from bulk_loader.errors import Interrupted

__all__ = ["forget", "results", "template", "time_zones"]


@click.command()
@click.argument("sheet", type=click.Path(path_type=Path))
@results_option
@results_format_option
@results_columns_option
@journal_dir_option
@output_dir_option
@click.option(
    "--profile",
    default=None,
    envvar="KARTRA_PROFILE",
    metavar="NAME",
    help="The account whose journal to rebuild from, by profile (default: $KARTRA_PROFILE, "
    "else the newest journal).",
)
@guarded
def results(
    sheet: Path,
    results_path: Path | None,
    results_format: str,
    results_columns: str,
    journal_dir: Path | None,
    output_dir: Path | None,
    profile: str | None,
) -> None:
    """Rebuild SHEET's results from its journal (also while a run is going on); the
    summary names the account the journal is of."""
    from bulk_loader import Loader, profile_app_id

    loader = Loader(
        sheet,
        journal_dir=journal_dir,
        output_dir=output_dir,
        results_format=cast("Literal['xlsx', 'csv']", results_format),
    )
    summary = loader.results(
        results=results_path,
        keys_only=results_columns == "keys",
        app_id=profile_app_id(profile),
    )
    print_import_summary(summary)
    sys.exit(summary.exit_code)  # as `run` would: 1 while rows still need attention


@click.command()
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
@journal_dir_option
@guarded
def forget(
    paths: tuple[Path, ...],
    older_than: float | None,
    memory: bool,
    yes: bool,
    journal_dir: Path | None,
) -> None:
    """Delete the journals kept for the sheets PATHS (rows, outcomes, lead keys).

    A run of a forgotten sheet no longer knows what earlier runs sent: it sends every
    row again (create mode: 'Lead already exists' for leads already imported).
    """
    from bulk_loader import Loader, forget_journal, lead_memory_files, stale_journals
    from bulk_loader.errors import ConfigError

    if not paths and not memory:
        raise click.UsageError("name the sheets (or folders, with --older-than), or --memory")
    memories = lead_memory_files() if memory else []
    if not paths:
        found: list[Path] = []
    elif older_than is None:
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ConfigError(f"{missing[0]}: no such sheet (to purge a folder: --older-than)")
        found = [
            journal
            for path in paths
            for journal in Loader(path, journal_dir=journal_dir).journals()
        ]
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
    if not yes and not ask(question, "not a terminal, so nothing to ask: add --yes to forget them"):
        raise Interrupted("nothing forgotten")
    for journal in found:
        forget_journal(journal)
    for path in memories:
        path.unlink(missing_ok=True)
    click.echo(f"forgot {len(found)} journal{'s' if len(found) != 1 else ''}")
    if memories:
        click.echo(f"forgot the lead memory of {len(memories)} account(s)")


@click.group()
def template() -> None:
    """Column-mapping templates: `template init` writes a starter one."""


@template.command("init")
@click.argument("sheet", type=click.Path(path_type=Path))
@sheet_option
@click.option(
    "--header-row",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="The row holding the headers, as Excel numbers it (default: row 1, or the first "
    "of the first 20 rows that names an email column).",
)
@guarded
def template_init(sheet: Path, sheet_name: str | None, header_row: int | None) -> None:
    """Print a starter template for SHEET to standard output, mapping its headers to
    Kartra fields by name (save it with: > my-template.toml)."""
    from bulk_loader import Loader

    check_sheet_option(sheet, sheet_name)

    loader = Loader(sheet, worksheet=sheet_name, header_row=header_row)
    click.echo(loader.starter_template(), nl=False)


@click.command("time-zones")
@guarded
def time_zones() -> None:
    """List Kartra's 76 time zones, with their UTC offsets today.

    A sheet may hold any other zone, abbreviation or offset: each is sent as the zone
    of this list with the same clock (see the README's "What is checked").
    """
    from bulk_loader import kartra_time_zones

    for name, offset in kartra_time_zones():
        click.echo(f"{offset}  {name}")
