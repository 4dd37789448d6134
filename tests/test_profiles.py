"""Profiles (issue 17, point 1): named credentials, the secrets in the keyring (or in
variables the profile names), never in a plain-text file; every run names the profile
it used, and `results --profile` picks that account's journal."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import pytest
from click.testing import CliRunner, Result

from bulk_loader.cli.app import cli
from bulk_loader.kartra.profiles import profiles_file
from bulk_loader.sandbox import RunningSandbox

ROOT = Path(__file__).resolve().parent.parent
# Another client's credentials, still exported from the last job.
OTHER = {"KARTRA_APP_ID": "client-b", "KARTRA_API_KEY": "b-key", "KARTRA_API_PASSWORD": "b-pw"}


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bulk_loader.cli.profiles.on_terminal", lambda: True)


def invoke(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=stdin)


def write(path: Path) -> Path:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([["email", "first_name"], ["ana@example.com", "Ana"]])
    return path


def add_acme(sandbox: RunningSandbox) -> Result:
    return invoke("profile", "add", "acme", "--app-id", "sandbox-app", "--api-url", sandbox.url,
                  stdin="sandbox-key\nsandbox-password\n")  # fmt: skip


def test_a_profile_keeps_its_secrets_in_the_keyring_and_none_in_its_file(
    terminal: None, sandbox: RunningSandbox, memory_keyring: object
) -> None:
    added = add_acme(sandbox)
    assert added.exit_code == 0, added.output
    assert added.stdout == (
        f"profile acme: app sandbox-app, secrets in the system keyring ({profiles_file()})\n"
        "use it: bulk-loader run SHEET --profile acme  (or KARTRA_PROFILE=acme)\n"
    )
    assert "API key: \nAPI password: \n" in added.stderr  # typed in hidden
    text = profiles_file().read_text()
    assert "sandbox-key" not in text and "sandbox-password" not in text
    if os.name == "posix":
        assert stat.S_IMODE(profiles_file().stat().st_mode) == 0o600
    assert keyring.get_password("bulk-loader", "acme/api_key") == "sandbox-key"
    listed = invoke("profile", "list")
    assert listed.stdout == f"acme  app sandbox-app  secrets: keyring  {sandbox.url}\n"


def test_a_run_with_a_profile_uses_it_over_exported_credentials_and_names_it(
    tmp_path: Path, terminal: None, sandbox: RunningSandbox
) -> None:
    assert add_acme(sandbox).exit_code == 0
    sheet = write(tmp_path / "s.csv")
    host = sandbox.url.removeprefix("http://").removesuffix("/api")
    named = f"app sandbox-app (profile acme) at {host}"
    for how, env in (("flag", OTHER), ("variable", {**OTHER, "KARTRA_PROFILE": "acme"})):
        args = ["run", str(sheet), "--verify", "0", "--yes"]
        result = invoke(*args, *(["--profile", "acme"] if how == "flag" else []), env=env)
        assert result.exit_code == 0, (how, result.output)
        assert result.stderr.splitlines()[0] == f"account: {named}"
        assert result.stdout.splitlines()[0] == f"Account:   {named}"
    assert sandbox.stats.by_cmd["create_lead"] == 1  # the second run had nothing to send
    rebuilt = invoke("results", str(sheet), "--profile", "acme")
    assert rebuilt.stdout.splitlines()[0] == f"Account:   {named}"


def test_results_profile_picks_that_accounts_journal_or_names_the_ones_there(
    tmp_path: Path, terminal: None, sandbox: RunningSandbox
) -> None:
    assert add_acme(sandbox).exit_code == 0
    assert (
        invoke("profile", "add", "beta", "--app-id", "beta-app", "--secrets", "env").exit_code == 0
    )
    sheet = write(tmp_path / "s.csv")
    assert invoke("run", str(sheet), "--profile", "acme", "--verify", "0").exit_code == 0
    other = invoke("results", str(sheet), "--profile", "beta")
    assert other.exit_code == 3
    host = sandbox.url.removeprefix("http://").removesuffix("/api")
    assert other.stderr == (
        f"error: {sheet}: no journal of a run into app beta-app; its journals are of "
        f"app sandbox-app (profile acme) at {host}\n"
    )


def test_an_env_profile_reads_the_variables_it_names(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """For CI and servers (no keyring): added off a terminal, the secrets in variables."""
    added = invoke("profile", "add", "ci-acme", "--app-id", "sandbox-app", "--secrets", "env")
    assert added.exit_code == 0, added.output
    assert "secrets in KARTRA_CI_ACME_API_KEY and KARTRA_CI_ACME_API_PASSWORD" in added.stdout
    sheet = write(tmp_path / "s.csv")
    args = ["run", str(sheet), "--profile", "ci-acme", "--api-url", sandbox.url, "--verify", "0"]
    missing = invoke(*args, env={"KARTRA_CI_ACME_API_KEY": "sandbox-key"})
    assert missing.exit_code == 3
    assert missing.stderr == (
        "error: profile ci-acme keeps its secrets in the environment: set "
        "KARTRA_CI_ACME_API_PASSWORD\n"
    )
    env = {
        "KARTRA_CI_ACME_API_KEY": "sandbox-key",
        "KARTRA_CI_ACME_API_PASSWORD": "sandbox-password",
    }
    assert invoke(*args, env=env).exit_code == 0


def test_profile_mistakes_are_one_line_each(
    tmp_path: Path, memory_keyring: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    sheet = write(tmp_path / "s.csv")
    off = invoke("profile", "add", "acme", "--app-id", "x")  # off a terminal: nothing to type into
    assert off.exit_code == 2 and "off a terminal use --secrets env" in off.stderr
    unknown = invoke("run", str(sheet), "--profile", "acme", "--dry-run")
    assert unknown.exit_code == 3
    assert unknown.stderr == (
        "error: no profile 'acme' (profiles: none yet): `bulk-loader profile add acme "
        "--app-id APP_ID` adds it\n"
    )
    bad = invoke("profile", "add", "../etc", "--app-id", "x", "--secrets", "env")
    assert bad.exit_code == 3 and "use letters, digits" in bad.stderr
    # A machine without a keyring: what to do instead, in one line.
    keyring.set_keyring(keyring.backends.fail.Keyring())
    monkeypatch.setattr("bulk_loader.cli.profiles.on_terminal", lambda: True)
    none = invoke("profile", "add", "acme", "--app-id", "x", stdin="k\np\n")
    assert none.exit_code == 3
    [line] = none.stderr.splitlines()[-1:]
    assert line.startswith("error: profile acme: the system keyring cannot be used (")
    assert line.endswith(
        "--app-id APP_ID --secrets env` keeps the secrets in environment variables"
    )
    assert not profiles_file().exists()  # nothing half-added


def test_remove_forgets_the_profile_and_its_secrets(
    terminal: None, sandbox: RunningSandbox
) -> None:
    assert add_acme(sandbox).exit_code == 0
    removed = invoke("profile", "remove", "acme")
    assert removed.stdout == "profile acme removed (app sandbox-app)\n"
    assert keyring.get_password("bulk-loader", "acme/api_key") is None
    assert invoke("profile", "list").stdout.startswith("no profiles yet")
    again = invoke("profile", "remove", "acme")
    assert again.exit_code == 3 and "no profile 'acme'" in again.stderr


def test_a_profiles_secrets_go_only_to_its_own_url(
    tmp_path: Path, terminal: None, sandbox: RunningSandbox
) -> None:
    """An exported KARTRA_API_URL (another job's) never receives a profile's secrets;
    a folder's bulk-loader.toml cannot name where they go."""
    assert add_acme(sandbox).exit_code == 0
    sheet = write(tmp_path / "s.csv")
    elsewhere = "http://127.0.0.1:9/api"  # the discard port: nothing listens
    env = {**OTHER, "KARTRA_API_URL": elsewhere}
    result = invoke("run", str(sheet), "--profile", "acme", "--verify", "0", env=env)
    assert result.exit_code == 0, result.output
    assert sandbox.stats.by_cmd["create_lead"] == 1  # the profile's own URL


def test_an_app_id_kartra_never_gives_is_refused_and_the_file_stays_readable(
    memory_keyring: object,
) -> None:
    assert invoke("profile", "add", "ok", "--app-id", "A1", "--secrets", "env").exit_code == 0
    odd = invoke("profile", "add", "odd", "--app-id", "app\U0001f600", "--secrets", "env")
    assert odd.exit_code == 3 and "Kartra's App ids are letters, digits" in odd.stderr
    assert invoke("profile", "list").stdout == (
        "ok  app A1  secrets: environment: KARTRA_OK_API_KEY, KARTRA_OK_API_PASSWORD\n"
    )


def test_any_keyring_failure_is_one_line_and_the_profile_can_still_go(
    terminal: None, sandbox: RunningSandbox, memory_keyring: object, tmp_path: Path
) -> None:
    assert add_acme(sandbox).exit_code == 0

    class Broken(keyring.backend.KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            raise OSError("the Secret Service is not running")

        def set_password(self, service: str, username: str, password: str) -> None:
            raise OSError("the Secret Service is not running")

        def delete_password(self, service: str, username: str) -> None:
            raise OSError("the Secret Service is not running")

    keyring.set_keyring(Broken())
    result = invoke("run", str(write(tmp_path / "s.csv")), "--profile", "acme", "--dry-run")
    assert result.exit_code == 3
    assert result.stderr.startswith(
        "error: profile acme: the system keyring cannot be used (the Secret Service is not running)"
    )
    assert invoke("profile", "remove", "acme").exit_code == 0


def test_a_pin_naming_a_profile_accepts_that_apps_own_exported_credentials(
    tmp_path: Path, terminal: None, sandbox: RunningSandbox
) -> None:
    assert add_acme(sandbox).exit_code == 0
    template = tmp_path / "t.toml"
    template.write_text('[template]\naccount = "acme"\n\n[fields]\nemail = "email"\n')
    env = {"KARTRA_APP_ID": "sandbox-app", "KARTRA_API_KEY": "sandbox-key",
           "KARTRA_API_PASSWORD": "sandbox-password", "KARTRA_API_URL": sandbox.url}  # fmt: skip
    args = ["run", str(write(tmp_path / "s.csv")), "--template", str(template), "--verify", "0"]
    assert invoke(*args, env=env).exit_code == 0


def test_profile_names_that_would_share_variables_are_refused() -> None:
    assert invoke("profile", "add", "acme-2", "--app-id", "A", "--secrets", "env").exit_code == 0
    for twin in ("ACME-2", "acme_2"):
        refused = invoke("profile", "add", twin, "--app-id", "B", "--secrets", "env")
        assert refused.exit_code == 3
        assert refused.stderr == (
            f"error: profile {twin}: too close to profile acme-2 (one set of variables, "
            "KARTRA_ACME_2_API_KEY, would serve both): choose another name\n"
        )


def test_without_a_keyring_nothing_is_asked_before_saying_so(terminal: None) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    result = invoke("profile", "add", "acme", "--app-id", "A1", stdin="k\np\n")
    assert result.exit_code == 3
    assert result.stderr == (
        "error: profile acme: the system keyring cannot be used (none on this system): on a "
        "machine without one, `bulk-loader profile add acme --app-id APP_ID --secrets env` "
        "keeps the secrets in environment variables\n"
    )
