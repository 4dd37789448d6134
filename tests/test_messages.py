"""Messages a new user met, each saying what is wrong and what to do, in one line."""

from __future__ import annotations

import csv
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bulk_loader.cli.app import cli
from bulk_loader.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_connection_error_names_the_host_and_what_to_do(tmp_path: Path) -> None:
    sheet = tmp_path / "s.csv"
    sheet.write_text("email\nana@example.com\n")
    url = f"http://127.0.0.1:{closed_port()}/api"
    env = {"KARTRA_APP_ID": "a", "KARTRA_API_KEY": "k", "KARTRA_API_PASSWORD": "p"}
    result = invoke("run", str(sheet), "--api-url", url, env=env)
    assert result.exit_code == 3, result.output
    host = url.removeprefix("http://").removesuffix("/api")
    # Told while it waits (not seconds of silence), then one line for the error.
    account, waited, error = result.stderr.splitlines()
    assert account == f"account: app a at {host}"  # named before the first call
    assert error.startswith(
        f"error: could not read the account's custom fields: could not connect to {host}: "
    )
    assert waited.startswith(f"could not connect to {host}: ")
    assert waited.endswith("; trying again for up to 16 s (Ctrl-C stops)")
    assert error.endswith(
        f"; is the server at {host} running? (`bulk-loader sandbox serve` starts a local "
        "sandbox; --api-url or KARTRA_API_URL names it)"
    )


def test_a_connection_error_at_kartra_itself_points_at_the_network() -> None:
    """Never reached for real here: a client standing in for one that could not connect."""
    from bulk_loader.kartra.client import CallResult, Outcome
    from bulk_loader.validation.account import fetch_account

    class Unreachable:
        api_host = "app.kartra.com"

        def retrieve_custom_fields(self) -> CallResult:
            message = "could not connect to app.kartra.com: x"
            return CallResult(Outcome.TRANSIENT, False, None, None, message)

    with pytest.raises(ConfigError) as raised:
        fetch_account(lambda call: call(), Unreachable())
    assert str(raised.value).endswith(
        "could not connect to app.kartra.com: x; check the network and any proxy "
        "(HTTPS_PROXY, --proxy), or set KARTRA_API_URL for a sandbox"
    )


@pytest.mark.parametrize("command", [("run", "--dry-run"), ("template", "init")])
def test_sheet_on_a_csv_is_a_usage_error(tmp_path: Path, command: tuple[str, str]) -> None:
    sheet = tmp_path / "s.csv"
    sheet.write_text("email\nana@example.com\n")
    first, second = command
    args = [first, str(sheet), second] if first == "run" else [first, second, str(sheet)]
    result = invoke(*args, "--sheet", "Leads")
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: --sheet picks a worksheet of an XLSX workbook; s.csv is a CSV file, "
        "which has none: leave --sheet out\n"
    )


def test_template_init_says_where_it_prints() -> None:
    result = invoke("template", "init", "--help")
    assert "Print a starter template for SHEET to standard output" in result.output


def test_a_template_column_missing_from_the_sheet_gets_the_nearest_and_every_header(
    tmp_path: Path,
) -> None:
    headers = ["email", "First name", "Last name", "Phone", "Company", "Address", "City"]
    headers += ["State", "Zip", "Country", "Notes", "Source", "Tags"]
    sheet = tmp_path / "s.csv"
    sheet.write_text(",".join(headers) + "\n" + "ana@example.com" + "," * 12 + "\n")
    template = tmp_path / "t.toml"
    template.write_text('[fields]\nemail = "email"\nfirst_name = "First nme"\n')
    result = invoke("run", str(sheet), "--template", str(template), "--dry-run")
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert (
        lines[1]
        == "  fields.first_name: no column 'First nme' in the sheet (did you mean 'First name'?)"
    )
    assert lines[2].startswith("  (s.csv row 1 holds the headers: 'email', 'First name',")
    assert "'Source', 'Tags'; if the headers are on another row" in lines[2]


def test_a_template_s_own_problems_and_its_missing_columns_are_said_at_once(
    tmp_path: Path,
) -> None:
    """One round: a misspelt field name, a bad option, and a column the sheet lacks."""
    sheet = tmp_path / "s.csv"
    sheet.write_text("Email,First name,Last name\nana@example.com,Ana,Ruiz\n")
    template = tmp_path / "t.toml"
    template.write_text(
        '[template]\nmode = "insert"\n[fields]\nemail = "Email"\nfrist_name = "First name"\n'
        'last_name = "Surname"\n'
    )
    result = invoke("run", str(sheet), "--template", str(template), "--dry-run")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[:4] == [
        f"error: {template}: 3 problems",
        "  template.mode: 'insert' is not one of create, edit, upsert",
        "  fields.frist_name: not a Kartra lead field (did you mean 'first_name'?)",
        "  fields.last_name: no column 'Surname' in the sheet (did you mean 'Last name'?)",
    ]


def test_a_custom_field_the_account_lacks_is_said_once_with_what_it_has(
    tmp_path: Path,
) -> None:
    """Not 'unknown_custom_field x301' each with the same sentence: one note, with the
    account's own fields and what to do; the rows point to it."""
    sheet = tmp_path / "s.csv"
    sheet.write_text("email,Birthday\n" + "".join(f"p{n}@example.com,12/0{n}\n" for n in range(3)))
    template = tmp_path / "t.toml"
    template.write_text(
        '[fields]\nemail = "email"\n'
        '[custom_fields.birthday]\ncolumn = "Birthday"\ntype = "input_field"\n'
    )
    out = tmp_path / "r.csv"
    args = ["run", str(sheet), "--template", str(template), "--dry-run", "--sandbox"]
    result = invoke(*args, "--results", str(out))
    assert result.exit_code == 1, result.output
    notes = [line for line in result.stdout.splitlines() if "custom_fields.birthday" in line]
    assert notes == [
        "Note:      custom_fields.birthday: the account has no custom field 'birthday' "
        "(column 'Birthday'); Kartra would drop its values silently, so rows holding one "
        "are not sent. The account's custom fields: color, favorite_dish, notes_long, plan, "
        "source_channel. Map the column to one of them, remove it from the template, or "
        "create the field in Kartra"
    ]
    with out.open(newline="", encoding="utf-8-sig") as file:
        messages = {row["result_message"] for row in csv.DictReader(file)}
    assert messages == {
        "Birthday: the account has no custom field 'birthday' (see the note in the summary)"
    }


def test_time_zones_lists_kartra_s_76_with_their_offsets() -> None:
    result = invoke("time-zones")
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and len(lines) == 76
    assert any(line.endswith("  America/New_York") for line in lines)
    assert all(line[0] in "+-" and line[3] == ":" and line[6:8] == "  " for line in lines)


@pytest.mark.parametrize(
    ("key", "meant"),
    [("timezone", "lead_preferred_time_zone"), ("zip_code", "zip"), ("surname", "last_name")],
)
def test_a_field_named_as_exports_name_it_gets_the_kartra_name(
    tmp_path: Path, key: str, meant: str
) -> None:
    sheet = tmp_path / "s.csv"
    sheet.write_text("email,x\nana@example.com,y\n")
    template = tmp_path / "t.toml"
    template.write_text(f'[fields]\nemail = "email"\n{key} = "x"\n')
    result = invoke("run", str(sheet), "--template", str(template), "--dry-run")
    assert result.exit_code == 3
    assert f"  fields.{key}: not a Kartra lead field (did you mean '{meant}'?)\n" in result.stderr


def test_a_run_without_a_rate_limit_still_counts_the_429s(tmp_path: Path) -> None:
    """--rate 0 lifts our pacing, not Kartra's limit: the 429s it meets are said."""
    sheet = tmp_path / "s.csv"
    sheet.write_text("email\n" + "".join(f"p{n}@example.com\n" for n in range(3)))
    result = invoke("run", str(sheet), "--sandbox", "--rate", "0", "--mode", "create")
    assert result.exit_code == 0, result.output
    assert "Pace:      no limit (--rate 0); 0 calls answered 429 (sent again)\n" in result.stdout


def test_a_stopped_sandbox_run_says_what_to_do_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No resume line (its sandbox and journal are gone with it), but the next step."""
    from bulk_loader import ImportSummary, Loader
    from bulk_loader.outcomes import Report

    def stopped(self: Loader, client: object, **options: object) -> ImportSummary:
        summary = ImportSummary(
            sheet=self.sheet, mode="create", template="", api_host="", report=Report(),
            journal=tmp_path / "j", journal_kept=False,
        )  # fmt: skip
        summary.interrupted = True
        return summary

    monkeypatch.setattr(Loader, "run", stopped)
    sheet = tmp_path / "s.csv"
    sheet.write_text("email\nana@example.com\n")
    result = invoke("run", str(sheet), "--sandbox")
    assert result.exit_code == 4
    assert "to resume:" not in result.stderr
    assert result.stderr.endswith(
        "stopped: the sandbox ended with this run, so there is nothing to resume; "
        "run the same command again to rehearse the whole sheet\n"
    )


def test_the_estimate_shows_what_the_last_run_achieved() -> None:
    """Before sending: the time at the limit, and what the last run of the sheet achieved
    (calls/s, 429s), with the time at that pace when it was slower."""
    from bulk_loader.pipeline.send import estimate

    assert estimate(48_211, 20) == "48,211 rows at 20 calls/s: about 40 min"
    assert estimate(48_211, 20, achieved=19.6, rate_limited=0) == (
        "48,211 rows at 20 calls/s: about 40 min; the last run achieved 19.6 calls/s"
        " (0 answered 429)"
    )
    assert estimate(48_211, 20, achieved=14.2, rate_limited=37) == (
        "48,211 rows at 20 calls/s: about 40 min; the last run achieved 14.2 calls/s"
        " (37 answered 429): about 57 min at that pace"
    )
    assert estimate(900, None, achieved=45.0, rate_limited=3) == (
        "900 rows to send, no rate limit; the last run achieved 45.0 calls/s"
        " (3 answered 429): about 20 s at that pace"
    )


def test_the_progress_line_shows_the_achieved_rate_the_pace_and_the_429s() -> None:
    from collections import Counter

    from bulk_loader.cli.render import progress_counts, progress_pace

    counts = Counter({"created": 40, "updated": 7, "failed": 2, "unknown": 1})
    assert progress_counts(counts, 52, 0.5) == "created 40, updated 7, failed 3"
    line = progress_counts(counts, 52, 2.6) + progress_pace(19.96, 4)
    assert line == (
        "created 40, updated 7, failed 3; 20.0 calls/s achieved; pace 20.0 calls/s, 4 answered 429"
    )
    assert progress_pace(0, 0) == "; no limit, 0 answered 429"


def test_a_wrong_api_key_says_which_variable_to_check(tmp_path: Path) -> None:
    from bulk_loader.sandbox import serve_in_thread

    sheet = tmp_path / "s.csv"
    sheet.write_text("email\nana@example.com\n")
    env = {"KARTRA_APP_ID": "sandbox-app", "KARTRA_API_KEY": "wrong",
           "KARTRA_API_PASSWORD": "sandbox-password"}  # fmt: skip
    with serve_in_thread(ROOT / "samples" / "account.toml", rate=None) as sandbox:
        result = invoke("run", str(sheet), "--dry-run", "--api-url", sandbox.url, env=env)
    assert result.exit_code == 3
    assert result.stderr.endswith("(type 203); check KARTRA_API_KEY\n")


def test_a_host_name_elsewhere_is_a_name_to_check_not_a_sandbox_to_start() -> None:
    from bulk_loader.kartra.client import CallResult, Outcome
    from bulk_loader.validation.account import fetch_account

    class Unresolved:
        api_host = "kartra.example.invalid"

        def retrieve_custom_fields(self) -> CallResult:
            message = "could not connect to kartra.example.invalid: x"
            return CallResult(Outcome.TRANSIENT, False, None, None, message)

    with pytest.raises(ConfigError) as raised:
        fetch_account(lambda call: call(), Unresolved())
    assert str(raised.value).endswith(
        "; check the host name 'kartra.example.invalid' in --api-url or KARTRA_API_URL, the "
        "network and any proxy (HTTPS_PROXY, --proxy)"
    )


def test_a_folder_without_sheets_is_nothing_to_do_not_a_fault(tmp_path: Path) -> None:
    """A folder runs its sheets (issue 17); a nightly drop folder empty tonight says so
    and exits 0 (no alert), asking for no credentials."""
    (tmp_path / "notes.md").write_text("not a sheet")
    for folder in (".", str(tmp_path)):
        result = invoke("run", folder)
        assert result.exit_code == 0, result.output
        assert result.stderr == (
            f"{folder}: no sheet to import here (.csv, .tsv, .txt, .xlsx, .xlsm)\n"
            "nothing to import: no sheet was found\n"
        )
        assert result.stdout == ""


def test_a_sandbox_port_out_of_range_is_a_usage_error() -> None:
    result = invoke("sandbox", "serve", "--account", str(ROOT / "samples" / "account.toml"),
                    "--port", "99999")  # fmt: skip
    assert result.exit_code == 2
    assert "Invalid value for '--port': 99999 is not in the range 0<=x<=65535." in result.stderr


def test_a_sheet_without_an_email_column_points_at_template_init(tmp_path: Path) -> None:
    sheet = tmp_path / "kit.csv"
    sheet.write_text("Correo,Nombre\na@example.com,A\n")  # named in no language it knows
    result = invoke("run", str(sheet), "--dry-run")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[1] == (
        "  fields.email: upsert mode needs an email column: name a column 'email', or pass "
        f"--template (`bulk-loader template init {sheet}` writes one)"
    )


def test_a_fault_probability_above_one_is_a_usage_error() -> None:
    account = str(ROOT / "samples" / "account.toml")
    result = invoke("sandbox", "serve", "--account", account, "--faults", "5xx=2")
    assert result.exit_code == 2
    assert "Invalid value for --faults: fault 5xx=2: a probability, from 0 to 1" in result.stderr


def test_restart_off_a_terminal_never_prompts(tmp_path: Path) -> None:
    """`</dev/null` is no answer: without --yes, a usage error naming --yes, exit 2,
    and the journal is kept."""
    from bulk_loader.sandbox import serve_in_thread

    sheet = tmp_path / "s.csv"
    sheet.write_text("email\nana@example.com\n")
    env = {"KARTRA_APP_ID": "sandbox-app", "KARTRA_API_KEY": "sandbox-key",
           "KARTRA_API_PASSWORD": "sandbox-password"}  # fmt: skip
    with serve_in_thread(ROOT / "samples" / "account.toml", rate=None) as sandbox:
        args = ("run", str(sheet), "--api-url", sandbox.url, "--rate", "0", "--no-memory")
        assert invoke(*args, env=env).exit_code == 0
        refused = invoke(*args, "--restart", env=env)
        assert refused.exit_code == 2
        assert refused.stderr == (  # one line: a question no one can answer (issue 17)
            "error: --restart forgets what earlier runs sent and asks first: add --yes to "
            "run it off a terminal\n"
        )
        assert sandbox.stats.by_cmd["create_lead"] == 1


def test_columns_no_mapping_uses_are_named_and_without_a_template_stop_the_run(
    tmp_path: Path,
) -> None:
    """ "First Name" fills first_name as template init would; Plan fills nothing: the dry
    run names it with its rows, and a real run without a template stops before sending."""
    from bulk_loader.sandbox import serve_in_thread

    sheet = tmp_path / "plan.csv"
    sheet.write_text("Email,First Name,Plan\nana@example.com,Ana,pro\nbo@example.com,Bo,\n")
    note = "not imported: Plan (1 row with values): no mapping uses these columns"
    checked = invoke("run", str(sheet), "--dry-run")
    assert checked.exit_code == 0, checked.output
    assert f"Note:      {note}; without --template a real run stops here: " in checked.stdout
    env = {"KARTRA_APP_ID": "sandbox-app", "KARTRA_API_KEY": "sandbox-key",
           "KARTRA_API_PASSWORD": "sandbox-password"}  # fmt: skip
    with serve_in_thread(ROOT / "samples" / "account.toml", rate=None) as sandbox:
        refused = invoke("run", str(sheet), "--api-url", sandbox.url, "--rate", "0", env=env)
        assert refused.exit_code == 3
        assert f"\nerror: {sheet}: nothing sent: {note}; " in refused.stderr
        assert f"`bulk-loader template init {sheet} > template.toml`" in refused.stderr
        assert sandbox.stats.by_cmd["create_lead"] == 0
        template = tmp_path / "t.toml"
        template.write_text('[fields]\nemail = "Email"\nfirst_name = "First Name"\n')
        mapped = invoke("run", str(sheet), "--template", str(template), "--api-url",
                        sandbox.url, "--rate", "0", "--no-memory", env=env)  # fmt: skip
        assert mapped.exit_code == 0, mapped.output
        assert f"Note:      {note}\n" in mapped.stdout  # with a template: said, once
        lead = sandbox.state.find(email="ana@example.com")
        assert lead is not None and lead.fields.get("first_name") == "Ana"


def test_a_sheet_with_no_valid_row_says_so_not_that_every_row_is_done(tmp_path: Path) -> None:
    sheet = tmp_path / "bad.csv"
    sheet.write_text("email\nnot-an-email\n")
    result = invoke("run", str(sheet), "--sandbox")
    assert result.exit_code == 1
    assert "nothing to send: no row is valid (the problems are listed below)\n" in result.stderr


def test_an_unknown_sandbox_knob_names_the_knobs() -> None:
    from bulk_loader.sandbox import serve_in_thread

    with (
        serve_in_thread(ROOT / "samples" / "account.toml", rate=None) as sandbox,
        pytest.raises(ValueError, match=r"unknown knob 'bogus': use actions_delay_s, "),
    ):
        sandbox.configure(bogus=1)
