"""Runs no one watches (issue 17, points 3, 5 and 6): `--json` on stdout and nothing
else there, checked against the JSON Schema kept in the repository; a heartbeat off a
terminal; `--log` of every call; several sheets and folders in one command; outputs
that never collide (two sheets of one name, two accounts, --output-dir)."""

from __future__ import annotations

import csv
import json
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import openpyxl
import pytest
from click.testing import CliRunner, Result

from bulk_loader.cli.app import cli
from bulk_loader.cli.render import ImportProgress
from bulk_loader.outcomes import RowOutcome, RowStatus
from bulk_loader.sandbox import RunningSandbox, serve_in_thread

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "run-summary.schema.json").read_text())
ENV = {"KARTRA_APP_ID": "sandbox-app", "KARTRA_API_KEY": "sandbox-key",
       "KARTRA_API_PASSWORD": "sandbox-password"}  # fmt: skip


def write(path: Path, rows: list[list[str]]) -> Path:
    if path.suffix == ".xlsx":
        book = openpyxl.Workbook()
        for row in [["email", "first_name"], *rows]:
            book.active.append(row)  # type: ignore[union-attr]
        book.save(path)
        return path
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([["email", "first_name"], *rows])
    return path


def run(sandbox: RunningSandbox, *args: str) -> Result:
    env = {**ENV, "KARTRA_API_URL": sandbox.url}
    return CliRunner().invoke(cli, ["run", *args, "--verify", "0"], env=env)


@contextmanager
def client_b(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A second account (App client-b) in its own sandbox, and the env that reaches it."""
    account = tmp_path / "b.toml"
    account.write_text(
        (ROOT / "samples" / "account.toml").read_text().replace('"sandbox-app"', '"client-b"')
    )
    with serve_in_thread(account, rate=None) as other:
        yield {**ENV, "KARTRA_APP_ID": "client-b", "KARTRA_API_URL": other.url}


def valid(text: str) -> dict[str, Any]:
    """stdout is one JSON object, valid against the schema in the repository."""
    record: dict[str, Any] = json.loads(text)
    jsonschema.validate(record, SCHEMA)
    return record


def test_json_is_the_only_thing_on_stdout_and_follows_the_schema(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"], ["bad", "B"]])
    result = run(sandbox, str(sheet), "--json")
    assert result.exit_code == 1, result.output
    record = valid(result.stdout)
    assert record["account"] == {
        "app_id": "sandbox-app",
        "profile": None,
        "api_host": sandbox.url.removeprefix("http://").removesuffix("/api"),
    }
    assert (record["sheet"], record["mode"], record["dry_run"]) == (str(sheet), "upsert", False)
    assert record["rows"] == {"read": 2, "valid": 1, "invalid": 1}
    assert record["statuses"] == {"created": 1, "invalid": 1}
    assert record["problems"] == {"invalid_email": 1}
    assert record["files"]["results"] == str(tmp_path / "s.csv.results.xlsx")
    assert record["files"]["failed_rows"] == str(tmp_path / "s.failed.csv")
    assert record["exit_code"] == 1 and record["exit_meaning"].startswith("rows need fixing")
    assert record["started"] <= record["ended"]
    # What a person reads went to stderr instead.
    assert "Rows read: 2\n" in result.stderr and "Created:   1\n" in result.stderr


def test_json_of_a_dry_run_and_of_a_run_that_cannot_start(tmp_path: Path) -> None:
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"]])
    dry = CliRunner().invoke(cli, ["run", str(sheet), "--dry-run", "--json"])
    record = valid(dry.stdout)
    assert dry.exit_code == 0 and record["dry_run"] is True and record["account"] is None
    assert record["statuses"] == {"valid": 1}
    template = tmp_path / "t.toml"
    template.write_text('[fields]\nemail = "E-mail"\n')
    broken = CliRunner().invoke(
        cli, ["run", str(sheet), "--template", str(template), "--dry-run", "--json"]
    )
    assert broken.exit_code == 3
    record = valid(broken.stdout)
    assert record["exit_code"] == 3 and "E-mail" in record["error"]
    assert record["exit_meaning"].startswith("cannot run")


def test_log_has_one_line_per_call_and_no_personal_data(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"], ["bo@example.com", "Bo"]])
    log = tmp_path / "calls.log"
    result = run(sandbox, str(sheet), "--log", str(log))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    looked_up = [line for line in lines if line["row"] is None]
    assert [line["cmd"] for line in looked_up] == [
        "retrieve_custom_fields", "retrieve_account_tags", "retrieve_account_lists"
    ]  # fmt: skip
    rows = sorted((line["row"], line["cmd"], line["outcome"]) for line in lines if line["row"])
    assert rows == [(2, "create_lead", "ok"), (3, "create_lead", "ok")]
    assert all(
        set(line) == {"time", "sheet", "row", "cmd", "outcome", "type", "http", "ms"}
        for line in lines
    )
    assert {line["sheet"] for line in lines} == {"s.csv"}
    assert len(lines) == sandbox.stats.calls_total
    text = log.read_text()
    assert "example.com" not in text and "Ana" not in text and "sandbox-" not in text
    if os.name == "posix":
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
    again = run(
        sandbox, str(write(tmp_path / "t.csv", [["cy@example.com", "Cy"]])), "--log", str(log)
    )
    assert again.exit_code == 0
    assert len(log.read_text().splitlines()) == len(lines) + 4  # appended, never replaced


def test_off_a_terminal_a_heartbeat_says_how_far_the_run_is() -> None:
    """Every `every_rows` rows, and every `every_seconds` even when no row ends."""
    lines: list[str] = []
    progress = ImportProgress(heartbeat=True, every_seconds=3600, every_rows=2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("click.echo", lambda text="", **kw: lines.append(str(text)))
        progress.start(5)
        for _ in range(5):
            progress.advance(RowOutcome(2, RowStatus.CREATED, lead_id="1", calls=1))
        progress.close()
    beats = [line for line in lines if line.startswith("progress: ")]
    assert [line.split(";")[0] for line in beats] == [
        "progress: 2/5 rows (40%)",
        "progress: 4/5 rows (80%)",
    ]
    assert "created 2, updated 0, failed 0" in beats[0]
    # The clock: a beat arrives with no row ending at all.
    ticked = threading.Event()
    quiet = ImportProgress(heartbeat=True, every_seconds=0.01, every_rows=1000)
    quiet.beat = ticked.set  # type: ignore[method-assign]
    quiet.start(10)
    try:
        assert ticked.wait(60)
    finally:
        quiet.close()


def test_a_folder_runs_its_sheets_not_the_files_this_tool_wrote(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    write(drop / "leads.csv", [["ana@example.com", "Ana"]])
    write(drop / "leads.xlsx", [["bo@example.com", "Bo"], ["bad", "B"]])
    first = run(sandbox, str(drop), "--json", "--log", str(tmp_path / "calls.log"))
    assert first.exit_code == 1, first.output  # the worst of 0 and 1
    logged = [json.loads(line) for line in (tmp_path / "calls.log").read_text().splitlines()]
    assert {line["sheet"] for line in logged} == {"leads.csv", "leads.xlsx"}  # one log, two
    record = valid(first.stdout)
    assert [r["sheet"] for r in record["sheets"]] == [
        str(drop / "leads.csv"),
        str(drop / "leads.xlsx"),
    ]
    assert record["totals"]["statuses"] == {"created": 2, "invalid": 1}
    assert record["exit_code"] == 1
    # Two sheets of one name: two results files, never one over the other.
    names = sorted(p.name for p in drop.iterdir() if p.is_file())
    assert names == ["leads.csv", "leads.csv.results.xlsx", "leads.failed.xlsx",
                     "leads.results.xlsx", "leads.xlsx"]  # fmt: skip
    (drop / "~$leads.xlsx").write_bytes(b"excel lock")
    again = run(sandbox, str(drop))
    assert again.exit_code == 1, again.output
    assert (
        f"{drop}: left out 3 file(s) bulk-loader wrote (leads.csv.results.xlsx, "
        "leads.failed.xlsx, leads.results.xlsx)\n"
    ) in again.stderr
    assert again.stdout.splitlines()[-2:] == [
        "Total:     2 sheets; 3 rows read, 1 invalid; created 2, invalid 1",
        "Exit:      1 (by sheet: leads.csv 0, leads.xlsx 1)",
    ]
    assert sandbox.stats.by_cmd["create_lead"] == 2  # nothing sent twice


def test_several_sheets_go_on_past_one_that_cannot_run(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    good = write(tmp_path / "a.csv", [["ana@example.com", "Ana"]])
    other = tmp_path / "b.csv"
    other.write_text("name\nno email column here\n")
    result = run(sandbox, str(other), str(good))
    assert result.exit_code == 3, result.output
    assert "sheet 1 of 2: " in result.stderr and "sheet 2 of 2: " in result.stderr
    assert sandbox.stats.by_cmd["create_lead"] == 1  # a.csv still ran
    assert result.stdout.splitlines()[-1] == "Exit:      3 (by sheet: b.csv 3, a.csv 0)"
    lonely = CliRunner().invoke(cli, ["run", str(good), str(other), "--results", "r.xlsx"])
    assert lonely.exit_code == 2 and "use --output-dir" in lonely.stderr


def test_output_dir_takes_the_results_and_failed_rows(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    sheet = write(inbox / "s.csv", [["ana@example.com", "Ana"], ["bad", "B"]])
    out = tmp_path / "out" / "nightly"
    result = run(sandbox, str(sheet), "--output-dir", str(out))
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in out.iterdir()) == ["s.csv.results.xlsx", "s.failed.csv"]
    assert sorted(p.name for p in inbox.iterdir()) == [".bulk-loader", "s.csv"]


def test_results_of_another_account_are_never_overwritten(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"]])
    assert run(sandbox, str(sheet)).exit_code == 0
    first = (tmp_path / "s.csv.results.xlsx").read_bytes()
    with client_b(tmp_path) as env:
        result = CliRunner().invoke(cli, ["run", str(sheet), "--verify", "0"], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s.csv.results.xlsx").read_bytes() == first
    assert (
        "Note:      s.csv.results.xlsx holds the results of app sandbox-app: this run's "
        "(app client-b) are in s.csv.results.app-client-b.xlsx\n"
    ) in result.stdout
    assert (tmp_path / "s.csv.results.app-client-b.xlsx").exists()
    # Rebuilt for that account, they go to its own file too.
    rebuilt = CliRunner().invoke(cli, ["results", str(sheet)])
    assert "Results:   " + str(tmp_path / "s.csv.results.app-client-b.xlsx") in rebuilt.stdout


# -- what an independent review found ------------------------------------------------


def test_json_never_quotes_kartras_text_and_says_what_stopped_the_run_as_a_code(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """A Test Mode App rewrites emails; Kartra's text quotes the address: the JSON says
    `test_mode`, and no email reaches stdout."""
    sandbox.configure(test_mode=True)
    sheet = write(tmp_path / "s.csv", [["ana.private@example.com", "Ana"]])
    env = {**ENV, "KARTRA_API_URL": sandbox.url}
    result = CliRunner().invoke(cli, ["run", str(sheet), "--json"], env=env)
    assert result.exit_code == 3, result.output
    record = valid(result.stdout)
    assert record["stopped_by"] == "test_mode"
    assert "ana.private" not in result.stdout


def test_json_for_a_usage_error_and_a_non_ascii_sheet_on_any_console(tmp_path: Path) -> None:
    sheet = write(tmp_path / "clientes-é.csv", [["ana@example.com", "Ana"]])
    usage = CliRunner().invoke(cli, ["run", str(sheet), "--lookup", "--json"])
    assert usage.exit_code == 2
    record = valid(usage.stdout)
    assert record["error"] == "--lookup goes with --dry-run" and record["sheet"] == str(sheet)
    dry = CliRunner().invoke(cli, ["run", str(sheet), "--dry-run", "--json"])
    assert "clientes-\\u00e9.csv" in dry.stdout and dry.stdout.isascii()  # cp1252 pipes too
    assert valid(dry.stdout)["sheet"] == str(sheet)


def test_ctrl_c_on_one_sheet_stops_the_ones_after_it(tmp_path: Path) -> None:
    from bulk_loader.cli.several import JsonOutput, SheetStopped, each_sheet

    ran: list[str] = []

    def one(path: Path) -> tuple[int, dict[str, Any]]:
        ran.append(path.name)
        raise SheetStopped(4, {"sheet": str(path), "statuses": {"created": 1}})

    done = each_sheet([tmp_path / "a.csv", tmp_path / "b.csv"], JsonOutput(False), one)
    assert ran == ["a.csv"]
    assert done == [(tmp_path / "a.csv", 4, {"sheet": str(tmp_path / "a.csv"),
                                             "statuses": {"created": 1}})]  # fmt: skip


def test_ctrl_d_at_the_question_sends_nothing_and_exits_4(
    tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bulk_loader.cli.run.on_terminal", lambda: True)
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"]])
    result = run(sandbox, str(sheet), "--json")  # stdin at its end: click's Abort
    assert result.exit_code == 4, result.output
    assert sandbox.stats.by_cmd.get("create_lead", 0) == 0
    assert valid(result.stdout)["exit_code"] == 4


def test_two_sheets_of_one_name_never_share_an_output_dir(tmp_path: Path) -> None:
    for month in ("jan", "feb"):
        (tmp_path / month).mkdir()
        write(tmp_path / month / "leads.csv", [["ana@example.com", "Ana"]])
    jan, feb = tmp_path / "jan" / "leads.csv", tmp_path / "feb" / "leads.csv"
    result = CliRunner().invoke(
        cli, ["run", str(jan), str(feb), "--dry-run", "--output-dir", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert (
        f"Error: {jan} and {feb} would write one leads.csv.results.xlsx in --output-dir "
        f"{tmp_path / 'out'}: run them with different --output-dir folders"
    ) in result.stderr


def test_a_dry_run_into_another_account_keeps_the_real_runs_results(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"]])
    assert run(sandbox, str(sheet)).exit_code == 0
    first = (tmp_path / "s.csv.results.xlsx").read_bytes()
    with client_b(tmp_path) as env:
        dry = CliRunner().invoke(cli, ["run", str(sheet), "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert (tmp_path / "s.csv.results.xlsx").read_bytes() == first
    assert (tmp_path / "s.csv.results.app-client-b.xlsx").exists()


def test_a_log_that_cannot_be_written_never_loses_a_call(tmp_path: Path) -> None:
    from bulk_loader.kartra.answers import CallResult, Outcome
    from bulk_loader.kartra.call_log import CallLog

    log = CallLog(tmp_path / "calls.log")

    class Full:
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

        def flush(self) -> None: ...

        def close(self) -> None: ...

    log._file = Full()  # type: ignore[assignment]
    ok = CallResult(Outcome.OK, True, "1", None, "")
    log.write("create_lead", ok, 0.0, 0.01)  # no exception: the call's answer stands
    log.write("create_lead", ok, 0.0, 0.01)
    assert log.failed is not None and log.failed.errno == 28
    log.close()


# -- what a newcomer's trial found -----------------------------------------------------


def test_server_errors_to_the_account_look_up_are_try_again_later(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    from bulk_loader.sandbox import FaultPlan

    sandbox.configure(faults=FaultPlan(error_5xx=1.0, seed=1))
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"]])
    env = {**ENV, "KARTRA_API_URL": sandbox.url}
    result = CliRunner().invoke(cli, ["run", str(sheet), "--rate", "0", "--json"], env=env)
    assert result.exit_code == 75, result.output
    assert valid(result.stdout)["exit_meaning"].startswith("try again later")
    assert result.stderr.splitlines()[-1].endswith("nothing was sent: run again later")


def test_a_refused_app_stops_every_sheet_after_one_look_up(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    a = write(tmp_path / "a.csv", [["ana@example.com", "Ana"]])
    b = write(tmp_path / "b.csv", [["bo@example.com", "Bo"]])
    env = {**ENV, "KARTRA_API_KEY": "wrong", "KARTRA_API_URL": sandbox.url}
    result = CliRunner().invoke(cli, ["run", str(a), str(b)], env=env)
    assert result.exit_code == 3
    assert "error: Kartra refused the App: the other sheets are not run" in result.stderr
    assert sandbox.stats.calls_total == 1


def test_a_results_file_among_several_sheets_is_left_out_not_an_error(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    sheet = write(tmp_path / "a.csv", [["ana@example.com", "Ana"]])
    assert run(sandbox, str(sheet), "--results", str(tmp_path / "mine.csv")).exit_code == 0
    both = run(sandbox, str(sheet), str(tmp_path / "mine.csv"))
    assert both.exit_code == 0, both.output
    assert f"left out: {tmp_path / 'mine.csv'}: this is a results file" in both.stderr


def test_an_empty_drop_folder_leaves_the_other_sheets_running(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    (tmp_path / "drop").mkdir()
    sheet = write(tmp_path / "a.csv", [["ana@example.com", "Ana"]])
    result = run(sandbox, str(tmp_path / "drop"), str(sheet))
    assert result.exit_code == 0, result.output
    assert sandbox.stats.by_cmd["create_lead"] == 1


def test_a_dry_run_never_overwrites_a_real_runs_results(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"]])
    assert run(sandbox, str(sheet)).exit_code == 0
    real = (tmp_path / "s.csv.results.xlsx").read_bytes()
    dry = CliRunner().invoke(cli, ["run", str(sheet), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert (tmp_path / "s.csv.results.xlsx").read_bytes() == real
    assert f"Results:   {tmp_path / 's.csv.dry-run.xlsx'}\n" in dry.stdout
    assert "s.csv.results.xlsx holds a real run's results" in dry.stdout


def test_a_missing_sheet_is_said_before_any_credential_is_asked(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "nope.csv")])
    assert result.exit_code == 3
    assert result.stderr == f"error: {tmp_path / 'nope.csv'}: no such file or folder\n"


def test_a_shell_glob_leaves_out_last_nights_files(tmp_path: Path, sandbox: RunningSandbox) -> None:
    """`run drop/*.xlsx`: the shell lists the results and the failed rows of the last
    run too; the failed rows of a sheet in the list are retried by the sheet itself."""
    sheet = write(tmp_path / "leads.xlsx", [["ana@example.com", "Ana"], ["bad", "B"]])
    assert run(sandbox, str(sheet)).exit_code == 1
    listed = sorted(str(p) for p in tmp_path.glob("*.xlsx"))
    assert [Path(p).name for p in listed] == [
        "leads.failed.xlsx",
        "leads.results.xlsx",
        "leads.xlsx",
    ]
    again = run(sandbox, *listed)
    assert again.exit_code == 1, again.output
    assert "left out 2 file(s) bulk-loader wrote (leads.failed.xlsx, leads.results.xlsx)\n" in (
        again.stderr
    )
    assert sandbox.stats.by_cmd["create_lead"] == 1  # leads.xlsx only, and its row once


# -- what a second trial found ---------------------------------------------------------


def test_json_of_a_question_off_a_terminal_is_exit_2_not_a_bug(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"]])
    assert run(sandbox, str(sheet)).exit_code == 0
    again = run(sandbox, str(sheet), "--restart", "--json")
    assert again.exit_code == 2
    record = valid(again.stdout)
    assert record["exit_code"] == 2 and record["error"].startswith("--restart forgets")


def test_a_stop_during_a_later_sheets_look_ups_keeps_the_earlier_sheets(tmp_path: Path) -> None:
    from bulk_loader.cli.several import JsonOutput, each_sheet
    from bulk_loader.errors import Interrupted

    def one(path: Path) -> tuple[int, dict[str, Any]]:
        if path.name == "b.csv":
            raise Interrupted("stopped; the same command carries on where this run was")
        assert path.name == "a.csv", "c.csv must not start"
        return 0, {"sheet": str(path)}

    paths = [tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"]
    done = each_sheet(paths, JsonOutput(False), one)
    assert [(p.name, code) for p, code, _ in done] == [("a.csv", 0), ("b.csv", 4)]


def test_forget_off_a_terminal_is_one_line(tmp_path: Path, sandbox: RunningSandbox) -> None:
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"]])
    assert run(sandbox, str(sheet)).exit_code == 0
    result = CliRunner().invoke(cli, ["forget", str(sheet)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "error: not a terminal, so nothing to ask: add --yes to forget them"
    )
    assert not result.stderr.startswith("Usage:")


def test_a_missing_template_is_said_before_missing_credentials(tmp_path: Path) -> None:
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"]])
    result = CliRunner().invoke(cli, ["run", str(sheet), "--template", "nosuch.toml"])
    assert result.exit_code == 3
    assert result.stderr == "error: nosuch.toml: cannot read the template: no such file\n"
