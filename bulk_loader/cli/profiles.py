"""`bulk-loader profile add/list/remove`: named Kartra credentials (kartra/profiles.py)."""

from __future__ import annotations

import click

from bulk_loader.cli.common import OffTerminal, guarded, on_terminal

__all__ = ["profile"]


@click.group()
def profile() -> None:
    """Named Kartra credentials: `run --profile acme` (or KARTRA_PROFILE=acme).

    The App id and API URL are kept in profiles.toml in your config folder; the API key
    and password in the system's keyring, or (--secrets env) in environment variables
    the profile names. Never in a plain-text file.
    """


@profile.command("add")
@click.argument("name")
@click.option("--app-id", required=True, help="The Kartra App's id (My Integrations > API).")
@click.option(
    "--secrets",
    type=click.Choice(["keyring", "env"]),
    default="keyring",
    show_default=True,
    help="keyring: typed in once (hidden) and kept in the system's keyring. env: read at "
    "each run from KARTRA_<NAME>_API_KEY and KARTRA_<NAME>_API_PASSWORD (CI, servers).",
)
@click.option("--api-url", default=None, help="The API URL, when not Kartra's own.")
@guarded
def add(name: str, app_id: str, secrets: str, api_url: str | None) -> None:
    """Add (or replace) the profile NAME."""
    from bulk_loader import (
        Profile,
        add_profile,
        check_api_url,
        check_keyring,
        env_names,
        profiles_file,
    )

    if api_url is not None:
        check_api_url(api_url)
    key = password = ""
    if secrets == "keyring":
        if not on_terminal():
            raise OffTerminal(
                "the API key and password are typed in, hidden, on a terminal; off a "
                "terminal use --secrets env"
            )
        check_keyring(name)  # before the secrets are typed in, not after
        key = click.prompt("API key", hide_input=True, err=True)
        password = click.prompt("API password", hide_input=True, err=True)
    add_profile(Profile(name, app_id, secrets, api_url), key, password)  # type: ignore[arg-type]
    where = "the system keyring" if secrets == "keyring" else " and ".join(env_names(name))
    click.echo(f"profile {name}: app {app_id}, secrets in {where} ({profiles_file()})")
    click.echo(f"use it: bulk-loader run SHEET --profile {name}  (or KARTRA_PROFILE={name})")


@profile.command("list")
@guarded
def list_profiles() -> None:
    """The profiles: name, App id, API URL, where the secrets are (never the secrets)."""
    from bulk_loader import load_profiles, profiles_file

    profiles = load_profiles()
    if not profiles:
        click.echo(f"no profiles yet ({profiles_file()}): `bulk-loader profile add NAME "
                   "--app-id APP_ID` adds one")  # fmt: skip
        return
    width = max(len(name) for name in profiles)
    for name in sorted(profiles):
        kept = profiles[name]
        url = f"  {kept.api_url}" if kept.api_url else ""
        click.echo(f"{name:<{width}}  app {kept.app_id}  secrets: {kept.where()}{url}")


@profile.command("remove")
@click.argument("name")
@guarded
def remove(name: str) -> None:
    """Forget the profile NAME, and its secrets in the keyring."""
    from bulk_loader import remove_profile

    gone = remove_profile(name)
    click.echo(f"profile {name} removed (app {gone.app_id})")
