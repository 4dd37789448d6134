"""Profiles: named Kartra credentials, so that a run says which account it is for.

An agency runs imports for a dozen clients; exporting each client's three variables
before each run is how client A's sheet ends up in client B's account. A profile is a
name (`acme`) for one App: its id and API URL in `profiles.toml` in the user's config
folder, its API key and password in the operating system's keyring (macOS Keychain,
Windows Credential Manager, the Secret Service on Linux), never in a plain-text file.
Where there is no keyring (a CI runner, a server), a profile names the environment
variables that hold its secrets instead (`KARTRA_ACME_API_KEY`, ...).

Which credentials a run uses: `--profile NAME`, else KARTRA_PROFILE, else the
KARTRA_APP_ID / KARTRA_API_KEY / KARTRA_API_PASSWORD variables, as before profiles.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bulk_loader.errors import ConfigError
from bulk_loader.kartra.client import Credentials
from bulk_loader.kartra.network import check_api_url
from bulk_loader.private_files import make_private
from bulk_loader.user_folders import config_folder

__all__ = [
    "KEYRING_SERVICE",
    "Profile",
    "add_profile",
    "check_keyring",
    "chosen_credentials",
    "env_names",
    "load_profiles",
    "profile_app_id",
    "profiles_file",
    "remove_profile",
]

KEYRING_SERVICE = "bulk-loader"
PROFILE_VARIABLE = "KARTRA_PROFILE"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
APP_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")  # Kartra's App ids are letters and digits
Secrets = Literal["keyring", "env"]


@dataclass(frozen=True)
class Profile:
    """One App's credentials by name: where its secrets are (`keyring` or `env`)."""

    name: str
    app_id: str
    secrets: Secrets = "keyring"
    api_url: str | None = None

    def where(self) -> str:
        """Where the secrets are kept, for `profile list` (never the secrets)."""
        if self.secrets == "env":
            return "environment: " + ", ".join(env_names(self.name))
        return "keyring"


def env_names(name: str) -> tuple[str, str]:
    """The variables holding an `env` profile's key and password: KARTRA_ACME_API_KEY."""
    stem = re.sub(r"[^A-Z0-9]", "_", name.upper())
    return f"KARTRA_{stem}_API_KEY", f"KARTRA_{stem}_API_PASSWORD"


def profiles_file() -> Path:
    return config_folder() / "profiles.toml"


def load_profiles() -> dict[str, Profile]:
    """Every profile, by name ({} when none was added)."""
    path = profiles_file()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from exc
    profiles = {}
    for name, table in (doc.get("profiles") or {}).items():
        if not isinstance(table, dict) or not isinstance(table.get("app_id"), str):
            raise ConfigError(f"{path}: profile {name!r} has no app_id")
        secrets = table.get("secrets", "keyring")
        if secrets not in ("keyring", "env"):
            raise ConfigError(f"{path}: profile {name!r}: secrets must be keyring or env")
        api_url = table.get("api_url")
        profiles[name] = Profile(name, table["app_id"], secrets, api_url or None)
    return profiles


def add_profile(profile: Profile, api_key: str = "", api_password: str = "") -> None:
    """Keep `profile` (replacing one of that name), its secrets in the keyring when it
    keeps them there. ConfigError when the name is not usable or there is no keyring."""
    if not NAME.fullmatch(profile.name):
        raise ConfigError(
            f"profile name {profile.name!r}: use letters, digits, '-', '_' or '.' (64 at most)"
        )
    if not APP_ID.fullmatch(profile.app_id):
        raise ConfigError(
            f"profile {profile.name}: app id {profile.app_id!r}: Kartra's App ids are letters, "
            "digits, '-', '_' and '.'"
        )
    if profile.api_url is not None:
        check_api_url(profile.api_url)
    known = load_profiles()
    for other in known.values():
        if other.name != profile.name and (
            other.name.lower() == profile.name.lower()
            or env_names(other.name) == env_names(profile.name)
        ):
            raise ConfigError(
                f"profile {profile.name}: too close to profile {other.name} (one set of "
                f"variables, {env_names(other.name)[0]}, would serve both): choose another name"
            )
    profiles = {**known, profile.name: profile}
    if profile.secrets == "keyring":
        if not api_key or not api_password:
            raise ConfigError(f"profile {profile.name}: the API key and password are needed")
        _keyring_call("set_password", profile.name, "api_key", api_key)
        _keyring_call("set_password", profile.name, "api_password", api_password)
    else:  # secrets moved to the environment: none stay behind in the keyring
        _forget_secrets(profile.name)
    _save(profiles)


def remove_profile(name: str) -> Profile:
    """Forget a profile and its secrets in the keyring; ConfigError if there is none."""
    profiles = load_profiles()
    if name not in profiles:
        raise ConfigError(_no_such_profile(name, profiles))
    gone = profiles.pop(name)
    if gone.secrets == "keyring":
        _forget_secrets(name)
    _save(profiles)
    return gone


def _forget_secrets(name: str) -> None:
    """The profile's secrets out of the keyring; already gone, or no keyring at all, is
    not a reason to keep the profile."""
    for what in ("api_key", "api_password"):
        with contextlib.suppress(ConfigError):
            _keyring_call("delete_password", name, what)


def profile_app_id(profile: str | None = None) -> str | None:
    """The App id of `profile` (else KARTRA_PROFILE's); None when neither names one."""
    name = profile or os.environ.get(PROFILE_VARIABLE) or None
    if name is None:
        return None
    profiles = load_profiles()
    if name not in profiles:
        raise ConfigError(_no_such_profile(name, profiles))
    return profiles[name].app_id


def chosen_credentials(
    profile: str | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Credentials, str | None]:
    """The credentials a run uses, and its profile's API URL (None: not set by it).

    `profile` (the --profile option), else KARTRA_PROFILE, else the three KARTRA_
    variables (Credentials.from_env). ConfigError naming what is missing.
    """
    env = os.environ if environ is None else environ
    name = profile or env.get(PROFILE_VARIABLE) or None
    if name is None:
        return Credentials.from_env(env), None
    profiles = load_profiles()
    if name not in profiles:
        raise ConfigError(_no_such_profile(name, profiles))
    chosen = profiles[name]
    if chosen.secrets == "env":
        key_name, password_name = env_names(name)
        missing = [var for var in (key_name, password_name) if not env.get(var)]
        if missing:
            raise ConfigError(
                f"profile {name} keeps its secrets in the environment: set {' and '.join(missing)}"
            )
        key, password = env[key_name], env[password_name]
    else:
        key = _keyring_call("get_password", name, "api_key") or ""
        password = _keyring_call("get_password", name, "api_password") or ""
        if not key or not password:
            raise ConfigError(
                f"profile {name}: its API key or password is not in this system's keyring: "
                f"`bulk-loader profile add {name} --app-id {chosen.app_id}` stores them again"
            )
    return Credentials(chosen.app_id, key, password, profile=name), chosen.api_url


def _no_such_profile(name: str, profiles: Mapping[str, Profile]) -> str:
    known = ", ".join(sorted(profiles)) or "none yet"
    return (
        f"no profile {name!r} (profiles: {known}): `bulk-loader profile add {name} "
        "--app-id APP_ID` adds it"
    )


def _save(profiles: Mapping[str, Profile]) -> None:
    """profiles.toml, owner-only: names, App ids and URLs; never a secret."""
    path = profiles_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# bulk-loader profiles: `bulk-loader profile add/list/remove` keep this file.",
        "# No secret is kept here: they are in the keyring, or in the variables named.",
    ]
    for profile in profiles.values():
        lines += ["", f"[profiles.{json.dumps(profile.name)}]"]
        lines.append(f"app_id = {json.dumps(profile.app_id)}")
        lines.append(f"secrets = {json.dumps(profile.secrets)}")
        if profile.api_url:
            lines.append(f"api_url = {json.dumps(profile.api_url)}")
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # what is written reads back, or nothing is written
    temporary = path.with_name(path.name + ".tmp")
    make_private(temporary, create=True)
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def check_keyring(name: str) -> None:
    """ConfigError, before any secret is typed in, when this system has no keyring."""
    import keyring
    import keyring.backends.fail

    try:
        store = keyring.get_keyring()
    except Exception as exc:  # a broken keyring configuration
        raise ConfigError(_no_keyring(name, type(exc).__name__)) from exc
    if isinstance(store, keyring.backends.fail.Keyring):
        raise ConfigError(_no_keyring(name, "none on this system"))


def _no_keyring(name: str, why: str) -> str:
    return (
        f"profile {name}: the system keyring cannot be used ({why}): on a machine without "
        f"one, `bulk-loader profile add {name} --app-id APP_ID --secrets env` keeps the "
        "secrets in environment variables"
    )


def _keyring_call(function: str, name: str, what: str, *value: str) -> str | None:
    """keyring's set/get/delete_password for `name`'s `what`; its failures (no keyring
    on this system, a locked one) as one ConfigError that says what to do instead."""
    import keyring
    import keyring.errors

    try:
        result = getattr(keyring, function)(KEYRING_SERVICE, f"{name}/{what}", *value)
    except keyring.errors.PasswordDeleteError:
        raise ConfigError(f"profile {name}: no {what} in the keyring") from None
    except Exception as exc:  # each system's keyring fails its own way (D-Bus, Keychain...)
        why = str(exc).split(". ")[0].strip() or type(exc).__name__  # its first sentence
        raise ConfigError(_no_keyring(name, why)) from exc
    return result if isinstance(result, str) else None
