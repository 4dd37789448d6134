"""The sandbox's account file: every problem at once with its key, unknown keys refused,
good files loaded as before, and what `sandbox serve` and `run --sandbox` print."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bulk_loader.cli.app import cli
from bulk_loader.kartra.client import Credentials, KartraClient, Outcome
from bulk_loader.sandbox import AccountError, SandboxAccount, load_account
from bulk_loader.sandbox.account import CustomField, account_from_dict

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "account.toml"
CREDENTIALS = """\
[credentials]
app_id = "sandbox-app"
api_key = "sandbox-key"
api_password = "sandbox-password"
"""
# The new user's file of issue 13: tags written where they are not read, and more.
MISTAKES = """\
tag = ["VIP"]

[credentials]
app_id = "sandbox-app"
api_password = "sandbox-password"
tags = ["VIP", "Newsletter"]

[custom_fields.plan]
type = "drop_down"
options = { basic = 630, pro = "631" }

[custom_fields.color]
type = "check_box"

[account]
lists = ["Weekly digest", "Weekly digest"]
api_active = "yes"

[[leads]]
email = "maria.lopez@example.com"

[[leads]]
email = "Maria.Lopez@example.com"
date_joined = 2023-06-14
"""
MISTAKES_FOUND = """\
error: {path}: 9 problems
  tag: not a key of the account file (did you mean 'tags' under [account]?)
  credentials.tags: not a key of [credentials] ('tags' goes under [account])
  credentials.api_key: missing
  custom_fields.plan.options.pro: must be the option's id, a whole number from 1, not '631'
  custom_fields.color.type: 'check_box' is not a field type: one of input_field, text_area, drop_down, radio_button, checkbox (did you mean 'checkbox'?)
  account.lists[2]: 'Weekly digest' is also account.lists[1]
  account.api_active: must be true or false, not 'yes'
  leads[2].email: 'Maria.Lopez@example.com' is also leads[1]'s
  leads[2].date_joined: must be "YYYY-MM-DD HH:MM:SS" (Kartra's EST), not 2023-06-14
"""  # noqa: E501


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="bulk-loader")


def write(folder: Path, text: str, name: str = "account.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(AccountError) as caught:
        load_account(write(tmp_path, text))
    return [str(problem) for problem in caught.value.problems]


# -- every problem at once, with its key ----------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "run"])
def test_every_problem_is_printed_at_once_with_its_key(tmp_path: Path, command: str) -> None:
    """Both commands that read an account file list all its problems, then exit 3."""
    path = write(tmp_path, MISTAKES)
    sheet = write(tmp_path, "email\na@example.com\n", "leads.csv")
    if command == "serve":
        result = invoke("sandbox", "serve", "--account", str(path), "--port", "0")
    else:
        result = invoke("run", str(sheet), "--sandbox", "--sandbox-account", str(path))
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == MISTAKES_FOUND.format(path=path)
    assert not (tmp_path / "leads.results.xlsx").exists()


def test_the_library_gets_the_same_problems(tmp_path: Path) -> None:
    """load_account raises one AccountError (an InputError and a ValueError) holding them all."""
    path = write(tmp_path, MISTAKES)
    with pytest.raises(AccountError) as caught:
        load_account(path)
    error = caught.value
    assert isinstance(error, ValueError) and error.exit_code == 3
    assert str(error) == (
        f"{path}: tag: not a key of the account file (did you mean 'tags' under [account]?)"
        " (and 8 more)"
    )
    assert [f"  {p}\n" for p in error.problems] == MISTAKES_FOUND.splitlines(True)[1:]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("", ["credentials: missing: a [credentials] table with app_id, api_key, api_password"]),
        ("credentials = 'sandbox'\n", ["credentials: must be a table, not a string"]),
        ('[credentials]\napp_id = ""\napi_key = 7\napi_password = "a\\nb"\n', [
            "credentials.app_id: must not be empty",
            "credentials.api_key: must be a string, not an integer",
            "credentials.api_password: must not hold control characters (a new line, a tab...)",
        ]),
        ("[[custom_fields]]\ntype = 'checkbox'\n" + CREDENTIALS, [
            "custom_fields: must be a table of fields, [custom_fields.IDENTIFIER], not an array",
        ]),
        ('[custom_fields.size]\ntype = "radio_button"\n' + CREDENTIALS, [
            "custom_fields.size.options: missing: a radio_button needs its options, "
            "{ label = option id, ... }",
        ]),
        ('[custom_fields."Shoe size"]\ntype = "drop_down"\noptions = {}\n' + CREDENTIALS, [
            'custom_fields."Shoe size".options: a drop_down needs at least one option, '
            "{ label = option id, ... }",
        ]),
        ('[custom_fields.notes]\ntype = "text_area"\noptions = { a = 1 }\n' + CREDENTIALS, [
            "custom_fields.notes.options: a text_area has no options "
            "(only checkbox, drop_down, radio_button)",
        ]),
        ("[custom_fields.size]\ntype = 'drop_down'\noptions = { 38 = 700, 40 = 700 }\n"
         + CREDENTIALS, ["custom_fields.size.options.40: option id 700 is also "
                         "custom_fields.size.options.38's"]),
        ("[custom_fields.a]\ntype = 'input_field'\n[custom_fields.b]\ntype = 'input_field'\n"
         "field_id = 301\n" + CREDENTIALS, [
            "custom_fields.b.field_id: 301 is also the field_id of custom_fields.a "
            "(by default: 300 + its position in the file)",
        ]),
        ("[custom_fields.a]\ntype = 'input_field'\nfield_id = 302\n"
         "[custom_fields.b]\ntype = 'input_field'\n" + CREDENTIALS, [
            "custom_fields.b: its field_id by default, 300 + its position = 302, is also the "
            "field_id of custom_fields.a: give one of them another field_id",
        ]),
        ('[account]\ntags = "VIP"\nsequences = ["Onboarding"]\n'
         "sequence_steps = { Onbording = 0 }\nallowed_ips = ['localhost', '10.0.0.1']\n"
         + CREDENTIALS, [
            'account.tags: must be an array of strings, ["...", ...], not a string',
            "account.sequence_steps.Onbording: not one of account.sequences "
            "(did you mean 'Onboarding'?)",
            "account.sequence_steps.Onbording: must be the sequence's number of steps, "
            "a whole number from 1, not 0",
            "account.allowed_ips[1]: 'localhost' is not an IP address, like \"10.0.0.1\" "
            "(no names, no ranges)",
        ]),
        ("[leads]\nemail = 'a@b.co'\n" + CREDENTIALS, [
            "leads: must be an array of tables, [[leads]], not a table",
        ]),
        ("[[leads]]\nfirst_name = 'A'\nzip = 75001\ndeleted = 'no'\n" + CREDENTIALS, [
            "leads[1].email: missing",
            "leads[1].zip: must be a string, not an integer",
            "leads[1].deleted: must be true or false, not 'no'",
        ]),
    ],
)  # fmt: skip
def test_each_kind_of_problem_names_its_key(text: str, found: list[str], tmp_path: Path) -> None:
    assert problems(text, tmp_path) == found


def test_an_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    """No file, or not TOML: one problem, printed the same way."""
    missing = tmp_path / "no.toml"
    result = invoke("sandbox", "serve", "--account", str(missing))
    assert (result.exit_code, result.stderr) == (3, (
        f"error: {missing}: 1 problem\n  cannot read the account file: no such file\n"
    ))  # fmt: skip
    broken = write(tmp_path, "[credentials\n")
    result = invoke("sandbox", "serve", "--account", str(broken))
    assert (result.exit_code, result.stderr) == (3, (
        f"error: {broken}: 1 problem\n"
        "  not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 13)\n"
    ))  # fmt: skip


# -- unknown keys are errors, never ignored ---------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "found"),
    [
        ('tag = ["VIP"]\n',
         ["tag: not a key of the account file (did you mean 'tags' under [account]?)"]),
        ('tags = ["VIP"]\n', ["tags: not a key of the account file ('tags' goes under [account])"]),
        ('[acount]\ntags = ["VIP"]\n',
         ["acount: not a key of the account file (did you mean 'account'?)"]),
        ('[[lead]]\nemail = "a@b.co"\n',
         ["lead: not a key of the account file (did you mean 'leads'?)"]),
        ('[settings]\n',
         ["settings: not a key of the account file "
          "(its keys: credentials, custom_fields, account, leads)"]),
        ('[account]\ntag = ["VIP"]\n',
         ["account.tag: not a key of [account] (did you mean 'tags'?)"]),
        ('[account]\napp_id = "x"\n',
         ["account.app_id: not a key of [account] ('app_id' goes under [credentials])"]),
        ("[custom_fields.plan]\ntype = 'drop_down'\noption = { basic = 630 }\n", [
            "custom_fields.plan.option: not a key of a custom field (did you mean 'options'?)",
            "custom_fields.plan.options: missing: a drop_down needs its options, "
            "{ label = option id, ... }",
        ]),
        ('[[leads]]\nemail = "a@b.co"\ntags = ["VIP"]\nfirstname = "A"\n', [
            "leads[1].tags: not a key of a lead "
            "(a lead takes Kartra's plain lead fields, date_joined and deleted)",
            "leads[1].firstname: not a key of a lead (did you mean 'first_name'?)",
        ]),
    ],
)  # fmt: skip
def test_unknown_keys_are_errors(snippet: str, found: list[str], tmp_path: Path) -> None:
    """A key the sandbox does not read is refused, with the key likely meant."""
    assert problems(snippet + CREDENTIALS, tmp_path) == found


def test_tags_under_credentials_are_refused_not_ignored(tmp_path: Path) -> None:
    """Issue 13: the sample file with its tags moved into [credentials] no longer loads
    as an account without tags (on which every row with a tag failed)."""
    text = SAMPLE.read_text(encoding="utf-8")
    tags = 'tags = ["VIP", "Newsletter", "Webinar 2026", "Customer", "Churn risk"]\n'
    assert tags in text
    text = text.replace(tags, "").replace(
        'api_password = "sandbox-password"\n', f'api_password = "sandbox-password"\n{tags}'
    )
    assert problems(text, tmp_path) == [
        "credentials.tags: not a key of [credentials] ('tags' goes under [account])"
    ]


# -- good files load as before -----------------------------------------------------------------


def test_the_sample_account_loads_as_before() -> None:
    assert load_account(SAMPLE) == SandboxAccount(
        app_id="sandbox-app",
        api_key="sandbox-key",
        api_password="sandbox-password",
        custom_fields={
            "color": CustomField(301, "color", "checkbox", {"red": 620, "blue": 621, "green": 622}),
            "plan": CustomField(302, "plan", "drop_down",
                                {"basic": 630, "pro": 631, "enterprise": 632}),
            "source_channel": CustomField(303, "source_channel", "radio_button",
                                          {"web": 640, "event": 641, "referral": 642}),
            "favorite_dish": CustomField(304, "favorite_dish", "input_field", {}),
            "notes_long": CustomField(305, "notes_long", "text_area", {}),
        },
        tags=("VIP", "Newsletter", "Webinar 2026", "Customer", "Churn risk"),
        lists=("Weekly digest", "Product updates", "Events"),
        sequences={"Onboarding": 10},
        leads=(
            {"email": "maria.lopez@example.com", "first_name": "Maria", "last_name": "Lopez",
             "date_joined": "2023-06-14 16:05:42"},
            {"email": "kenji.tanaka@example.org", "first_name": "Kenji", "last_name": "Tanaka"},
            {"email": "deleted.lead@example.com", "first_name": "Gone", "deleted": True},
        ),
    )  # fmt: skip


@pytest.mark.parametrize("name", ["account.toml", "exports/account.toml"])
def test_the_shipped_account_files_load(name: str) -> None:
    path = ROOT / "samples" / name
    if not path.exists():
        pytest.skip(f"no samples/{name} in this checkout")
    assert load_account(path).app_id == "sandbox-app"


# The example of the README's "Sandbox account file" section: every key there is.
EVERY_KEY = """\
[credentials]
app_id = "sandbox-app"
api_key = "sandbox-key"
api_password = "sandbox-password"

[custom_fields.plan]
type = "drop_down"
options = { basic = 630, pro = 631 }
field_id = 412

[custom_fields.notes]
type = "text_area"

[account]
tags = ["VIP", "Newsletter"]
lists = ["Weekly digest"]
sequences = ["Onboarding", "Winback"]
sequence_steps = { Onboarding = 3 }
api_active = true
app_active = true
allowed_ips = ["127.0.0.1"]
forbidden_cmds = ["give_points_to_lead"]

[[leads]]
email = "maria.lopez@example.com"
first_name = "Maria"
date_joined = "2023-06-14 16:05:42"

[[leads]]
email = "deleted.lead@example.com"
deleted = true
"""


def test_a_file_with_every_key_loads(tmp_path: Path) -> None:
    account = load_account(write(tmp_path, EVERY_KEY))
    assert account.custom_fields == {
        "plan": CustomField(412, "plan", "drop_down", {"basic": 630, "pro": 631}),
        "notes": CustomField(302, "notes", "text_area", {}),
    }
    assert (account.tags, account.lists, account.sequences) == (
        ("VIP", "Newsletter"), ("Weekly digest",), {"Onboarding": 3, "Winback": 10})  # fmt: skip
    assert (account.api_active, account.app_active) == (True, True)
    assert (account.allowed_ips, account.forbidden_cmds) == (
        ("127.0.0.1",), frozenset({"give_points_to_lead"}))  # fmt: skip
    assert [lead["email"] for lead in account.leads] == [
        "maria.lopez@example.com", "deleted.lead@example.com"]  # fmt: skip


def test_a_byte_order_mark_is_not_a_problem(tmp_path: Path) -> None:
    """A file saved by Windows Notepad starts with one."""
    path = tmp_path / "account.toml"
    path.write_bytes(b"\xef\xbb\xbf" + CREDENTIALS.encode())
    assert load_account(path).app_id == "sandbox-app"


def test_account_from_dict_still_raises_value_error() -> None:
    """Python callers that caught ValueError keep catching it."""
    with pytest.raises(ValueError, match=r"^account file: credentials\.api_key: missing$"):
        account_from_dict({"credentials": {"app_id": "a", "api_password": "p"}})


# -- sandbox serve prints complete export lines -----------------------------------------------


def test_serve_prints_export_lines_with_key_and_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: the start banner holds all four variables, ready to paste."""

    def serve(sandbox: Any, port: int, on_ready: Any) -> None:
        on_ready("http://127.0.0.1:8765/api", "TOKEN")

    monkeypatch.setattr("bulk_loader.sandbox.run_forever", serve)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # keep pytest's own SIGTERM
    result = invoke("sandbox", "serve", "--account", str(SAMPLE))
    assert (result.exit_code, result.stderr) == (0, "")
    assert (
        result.stdout
        == f"""\
Kartra sandbox on http://127.0.0.1:8765/api (account {SAMPLE}); Ctrl-C stops it.
  export KARTRA_API_URL=http://127.0.0.1:8765/api KARTRA_APP_ID=sandbox-app
  export KARTRA_API_KEY=sandbox-key KARTRA_API_PASSWORD=sandbox-password
  control token (this run only): TOKEN
  curl -H 'X-Sandbox-Token: TOKEN' http://127.0.0.1:8765/_control
"""
    )


def test_pasted_export_lines_reach_the_sandbox(tmp_path: Path) -> None:
    """The printed lines, run by a shell as pasted, set exactly the account's credentials
    (quoted where they need it), and those open the sandbox that printed them."""
    key, password = "it's a $key", 'p@ss "word" `x`'
    text = CREDENTIALS.replace('"sandbox-key"', "'''it's a $key'''").replace(
        '"sandbox-password"', "'p@ss \"word\" `x`'"
    )
    text += '[[leads]]\nemail = "maria.lopez@example.com"\n'
    command = [sys.executable, "-m", "bulk_loader", "sandbox", "serve", "--account",
               str(write(tmp_path, text)), "--port", "0", "--rate", "0"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out = server.stdout
        assert out is not None
        lines: queue.Queue[str] = queue.Queue()  # read aside: a banner without it never ends
        threading.Thread(target=lambda: list(map(lines.put, out)), daemon=True).start()
        banner = [lines.get(timeout=30) for _ in range(3)]
        url = re.search(r"http://127\.0\.0\.1:\d+/api", banner[0])
        assert url, banner
        exports = "".join(line for line in banner if line.startswith("  export "))
        shell = exports + 'printf "%s\\n" "$KARTRA_API_URL" "$KARTRA_APP_ID" '
        shell += '"$KARTRA_API_KEY" "$KARTRA_API_PASSWORD"\n'
        done = subprocess.run(["/bin/sh", "-c", shell], capture_output=True, text=True, timeout=30)
        assert done.stdout.splitlines() == [url.group(), "sandbox-app", key, password], banner
        with KartraClient(Credentials("sandbox-app", key, password), api_url=url.group()) as kartra:
            assert kartra.search_lead(email="maria.lopez@example.com").outcome is Outcome.OK
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# -- run --sandbox --sandbox-account ------------------------------------------------------------


def test_sandbox_account_without_sandbox_is_a_usage_error(tmp_path: Path) -> None:
    sheet = write(tmp_path, "email\na@example.com\n", "leads.csv")
    result = invoke("run", str(sheet), "--sandbox-account", str(SAMPLE))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "Usage: bulk-loader run [OPTIONS] SHEETS...\n"
        "Try 'bulk-loader run --help' for help.\n"
        "\n"
        "Error: --sandbox-account goes with --sandbox: add --sandbox, or leave "
        "--sandbox-account out\n"
    )
    assert list(tmp_path.iterdir()) == [sheet]


@pytest.mark.parametrize("given", [True, False])
def test_run_names_the_sandbox_account(tmp_path: Path, given: bool) -> None:
    """The sandbox line names the account file given, or says it is the sample one."""
    sheet = write(tmp_path, "email\na@example.com\n", "leads.csv")
    account = write(tmp_path, CREDENTIALS)
    extra = ["--sandbox-account", str(account)] if given else []
    result = invoke("run", str(sheet), "--sandbox", *extra, "--dry-run")
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("sandbox:")]
    named = f"account {account}" if given else "sample account"
    pattern = (
        rf"sandbox: a local Kartra sandbox on http://127\.0\.0\.1:\d+/api \({re.escape(named)}\)"
    )
    assert re.fullmatch(pattern, line), line
