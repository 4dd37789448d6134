"""Which account a run writes to: named by every run, and pinned by a template.

A template may say which account it is for (`[template] account = "acme"`, a profile
name or an App id). A run whose credentials are another account's stops here, before
any call: an agency's sheet for one client never lands in another client's account
because the wrong credentials were still exported. A sandbox on this machine is a
rehearsal, not an account: a pinned template runs there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bulk_loader.errors import ConfigError
from bulk_loader.kartra.client import KartraApi, account_label
from bulk_loader.kartra.network import is_loopback
from bulk_loader.kartra.profiles import load_profiles
from bulk_loader.template.model import Template

__all__ = ["RunPlan", "refuse_other_account"]


@dataclass(frozen=True)
class RunPlan:
    """What a real run is about to do, for a person to confirm before any row is sent:
    the account (account_label), the sheet, the mode, the rows read, and how many rows
    will be sent now (the valid ones earlier runs have not done)."""

    account: str
    sheet: Path
    mode: str
    rows: int
    valid: int
    to_send: int


def _profile_app(name: str) -> str | None:
    """The App id of the profile `name`: acme's own credentials, exported, are acme's."""
    try:
        kept = load_profiles().get(name)
    except ConfigError:  # an unreadable profiles file: the pin names no App then
        return None
    return kept.app_id if kept is not None else None


def refuse_other_account(template: Template, client: KartraApi) -> None:
    """ConfigError (exit 3) when `template` pins an account `client` is not."""
    pinned = template.account
    host = client.api_host.rsplit(":", 1)[0] if client.api_host.count(":") == 1 else client.api_host
    if pinned is None or is_loopback(host.strip("[]")):  # a sandbox on this machine: a rehearsal
        return
    profile = getattr(client, "profile", "")
    app_id = client.account_identity().get("app_id")
    if pinned.strip() in (profile, app_id) or _profile_app(pinned.strip()) == app_id:
        return
    raise ConfigError(
        f"{template.path}: this template is for account {pinned!r}, and the credentials "
        f"given are {account_label(client)}: nothing sent; run with --profile {pinned} "
        f"(or {pinned}'s credentials)"
    )
