"""Kartra's whole lead vocabulary from a sheet (issue 14, part 1): tags and lists added
and removed, points given and taken, a sequence at a step, all chained into the row's
one call, every name checked against the account before sending, and points never
sent twice."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from bulk_loader import Loader
from bulk_loader.cli.app import cli
from bulk_loader.kartra.client import CallResult, Credentials, KartraClient, Outcome
from bulk_loader.pipeline.importer import ImportOptions, SilentProgress, run_import
from bulk_loader.results.summary import ImportSummary
from bulk_loader.sandbox import FaultPlan, RunningSandbox, serve_in_thread
from bulk_loader.sending.pacing import RetryPolicy

GOOD = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
POLICY = RetryPolicy(base_delay=0.0, max_delay=0.0, rate_limit_wait=0.2, unknown_attempts=8)

ACCOUNT = """\
[credentials]
app_id = "sandbox-app"
api_key = "sandbox-key"
api_password = "sandbox-password"

[account]
tags = ["Trial", "Customer", "VIP"]
lists = ["Newsletter", "Events"]
sequences = ["Onboarding"]
sequence_steps = { Onboarding = 5 }

[[leads]]
email = "ana@example.com"
first_name = "Ana"

[[leads]]
email = "bo@example.com"
first_name = "Bo"
"""

TEMPLATE = """\
[template]
mode = "edit"

[fields]
email = "Email"

[actions]
tags = { column = "Add tags", separator = ";" }
remove_tags = { column = "Remove tags", separator = ";" }
lists = { column = "Join lists", separator = ";" }
remove_lists = { column = "Leave lists", separator = ";" }
points = { column = "Points", expiration_days = 30 }
sequence = { column = "Sequence", step_column = "Step" }
"""
HEADER = ("Email", "Add tags", "Remove tags", "Join lists", "Leave lists", "Points", "Sequence",
          "Step")  # fmt: skip


@pytest.fixture
def account(tmp_path: Path) -> Path:
    path = tmp_path / "account.toml"
    path.write_text(ACCOUNT)
    return path


@pytest.fixture
def sandbox(account: Path) -> Iterator[RunningSandbox]:
    with serve_in_thread(account, rate=None) as running:
        yield running


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = tmp_path / "moves.toml"
    path.write_text(TEMPLATE)
    return path


def sheet(tmp_path: Path, rows: Sequence[Sequence[str]], name: str = "moves.csv") -> Path:
    path = tmp_path / name
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([HEADER, *rows])
    return path


def run(client: KartraClient, path: Path, template: Path, **options: Any) -> ImportSummary:
    progress = options.pop("progress", None)
    settings = {"rate": None, "workers": 2, "policy": POLICY, "template_path": template}
    return run_import(ImportOptions(sheet=path, **{**settings, **options}), client, progress)  # type: ignore[arg-type]


def result_rows(summary: ImportSummary) -> list[dict[str, Any]]:
    assert summary.results is not None
    book = openpyxl.load_workbook(summary.results, read_only=True)
    rows = list(book["Results"].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def prepare(sandbox: RunningSandbox) -> None:
    """Ana is on Trial and the Newsletter, as a first import would have left her."""
    ana = sandbox.state.find(email="ana@example.com")
    assert ana is not None
    ana.tags.append("Trial")
    ana.lists["Newsletter"] = "1"


def test_every_action_is_applied_in_the_row_s_one_call(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox, template: Path
) -> None:
    """Trial -> Customer, leave the Newsletter, join Events, +10 points, Onboarding at
    step 2; and -5 points, Onboarding from its first step (no step given)."""
    prepare(sandbox)
    ana = ["ana@example.com", "Customer", "Trial", "Events", "Newsletter", "+10", "Onboarding", "2"]
    path = sheet(tmp_path, [ana, ["bo@example.com", "", "", "", "", "-5", "Onboarding", ""]])
    summary = run(client, path, template)
    assert [row["result_status"] for row in result_rows(summary)] == ["updated", "updated"]
    assert sandbox.stats.by_cmd["edit_lead"] == 2  # one call per row, every action in it
    ana = sandbox.state.find(email="ana@example.com")
    bo = sandbox.state.find(email="bo@example.com")
    assert ana is not None and bo is not None
    assert ana.tags == ["Customer"]
    assert ana.lists == {"Newsletter": "0", "Events": "1"}
    assert ana.score == 10 and ana.sequences["Onboarding"][0] == "2"
    assert bo.score == -5 and bo.sequences["Onboarding"][0] == "1"


def test_a_dry_run_checks_every_name_and_number_before_anything_is_sent(
    tmp_path: Path, sandbox: RunningSandbox, template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names the account lacks (removed tags and left lists too, and sequences), points
    that are not whole numbers, a step that is not one, a step with no sequence."""
    for name, value in (("KARTRA_APP_ID", "sandbox-app"), ("KARTRA_API_KEY", "sandbox-key"),
                        ("KARTRA_API_PASSWORD", "sandbox-password"),
                        ("KARTRA_API_URL", sandbox.url)):  # fmt: skip
        monkeypatch.setenv(name, value)
    path = sheet(
        tmp_path,
        [
            ["ana@example.com", "", "Trail", "", "", "", "", ""],
            ["bo@example.com", "", "", "", "Newsleter", "", "", ""],
            ["cy@example.com", "", "", "", "", "ten", "", ""],
            ["di@example.com", "", "", "", "", "", "Onbording", "2"],
            ["ed@example.com", "", "", "", "", "", "Onboarding", "0"],
            ["fay@example.com", "", "", "", "", "", "", "3"],
        ],
    )
    result = CliRunner().invoke(cli, ["run", str(path), "--template", str(template), "--dry-run"])
    assert result.exit_code == 1, result.output
    book = openpyxl.load_workbook(tmp_path / "moves.csv.results.xlsx", read_only=True)
    rows = list(book["Results"].iter_rows(values_only=True))
    codes = [row[rows[0].index("result_error_type")] for row in rows[1:]]
    assert codes == [
        "unknown_tag",
        "unknown_list",
        "invalid_points",
        "unknown_sequence",
        "invalid_step",
        "step_without_sequence",
    ]
    for said in (
        "row 2: Remove tags: the account has no tag 'Trail' (closest: 'Trial')",
        "row 3: Leave lists: the account has no list 'Newsleter' (closest: 'Newsletter')",
        "row 5: Sequence: the account has no sequence 'Onbording' (closest: 'Onboarding')",
        "row 7: Step: a step, but no sequence named in column 'Sequence' on this row",
        "Account:   app sandbox-app at 127.0.0.1:",
    ):
        assert said in result.stdout
    assert ": checked custom fields, options, tags, lists and sequences\n" in result.stdout
    assert sandbox.stats.by_cmd["edit_lead"] == 0


def test_a_step_the_sequence_lacks_is_kartra_s_230_on_that_row(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox, template: Path
) -> None:
    """The account names the sequence, Kartra knows its steps: step 9 of 5 is partial."""
    path = sheet(tmp_path, [["ana@example.com", "VIP", "", "", "", "", "Onboarding", "9"]])
    [row] = result_rows(run(client, path, template))
    assert (row["result_status"], row["result_error_type"]) == ("partial", "230")
    ana = sandbox.state.find(email="ana@example.com")
    assert ana is not None and ana.tags == ["VIP"] and "Onboarding" not in ana.sequences


def test_points_whose_answer_was_lost_are_never_given_twice(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox, template: Path
) -> None:
    """Every answer lost: the edit went through once, and the row is unknown (not sent
    again), where tags alone would simply be sent again."""
    path = sheet(tmp_path, [["ana@example.com", "", "", "", "", "10", "", ""]])

    class LoseEveryAnswer(SilentProgress):
        def start(self, total: int) -> None:  # after the account's look-ups
            sandbox.configure(faults=FaultPlan(lost=1.0, seed=3))

    [row] = result_rows(run(client, path, template, progress=LoseEveryAnswer()))
    assert row["result_status"] == "unknown"
    ana = sandbox.state.find(email="ana@example.com")
    assert ana is not None and ana.score == 10
    assert sandbox.stats.by_cmd["edit_lead"] == 1


def test_a_changed_row_sends_its_other_cells_again_but_never_its_points(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox, template: Path
) -> None:
    """An earlier run gave the points; the row changed since (a tag added): the tag goes,
    the points do not, and the row says so."""
    path = sheet(tmp_path, [["ana@example.com", "", "", "", "", "10", "", ""]])
    run(client, path, template)
    sheet(tmp_path, [["ana@example.com", "VIP", "", "", "", "10", "", ""]])
    [row] = result_rows(run(client, path, template))
    assert row["result_status"] == "updated"
    assert row["result_message"] == "points not sent again: an earlier run sent them to this lead"
    ana = sandbox.state.find(email="ana@example.com")
    assert ana is not None and ana.score == 10 and ana.tags == ["VIP"]


def test_template_keys_of_the_new_actions_are_checked(tmp_path: Path) -> None:
    sheet_path = sheet(tmp_path, [["ana@example.com", "", "", "", "", "", "", ""]])
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[fields]\nemail = "Email"\n[actions]\n'
        'points = { column = "Points", expiration_days = 0, expiration = 3 }\n'
        'sequence = { step_column = "Step", step = "two" }\n'
    )
    result = CliRunner().invoke(cli, ["run", str(sheet_path), "--template", str(bad), "--dry-run"])
    assert result.exit_code == 3
    assert result.stderr.splitlines()[1:5] == [
        "  actions.points.expiration: unknown key (did you mean 'expiration_days'?)",
        "  actions.points.expiration_days: must be a whole number of days, 1 or more",
        "  actions.sequence.column: is required",
        "  actions.sequence.step: must be a whole number, 1 or more",
    ]


class LosesFourthCreateAnswer(KartraClient):
    """The fourth create_lead lands in Kartra, and its answer is lost on the way back
    (the three before taught the run Kartra's clock)."""

    creates = 0

    def create_lead(self, *args: Any, **kwargs: Any) -> CallResult:
        result = super().create_lead(*args, **kwargs)
        self.creates += 1
        if self.creates != 4:
            return result
        return CallResult(Outcome.UNKNOWN, False, None, None, "answer lost after sending")


def test_a_lost_create_is_settled_without_giving_its_points_twice(
    tmp_path: Path, sandbox: RunningSandbox, template: Path
) -> None:
    """The search finds the new lead, known to be ours; its tags are sent again, its
    points never: the row is unknown, for the person to check."""
    rows = [[f"new{n}@example.com", "VIP", "", "", "", "10", "", ""] for n in range(6)]
    path = sheet(tmp_path, rows)
    with LosesFourthCreateAnswer(GOOD, api_url=sandbox.url, timeout=5) as lossy:
        results = result_rows(run(lossy, path, template, mode="create", workers=1))
    statuses = ["created"] * 3 + ["unknown"] + ["created"] * 2
    assert [row["result_status"] for row in results] == statuses
    assert results[3]["result_message"] == (
        "answer lost; the lead was found, and its points or sequence may have been "
        "applied: not sent again, check the lead in Kartra"
    )
    lead = sandbox.state.find(email="new3@example.com")
    assert lead is not None and lead.score == 10 and lead.tags == ["VIP"]
    assert sandbox.stats.by_cmd["create_lead"] == 6


def test_template_init_recognises_the_action_columns(tmp_path: Path) -> None:
    """The starter template maps every action column, the step with its sequence, and
    runs as written."""
    path = sheet(tmp_path, [["ana@example.com", "VIP", "Trial", "Events", "", "+10", "", ""]])
    result = CliRunner().invoke(cli, ["template", "init", str(path)])
    assert result.exit_code == 0, result.output
    block = result.stdout[result.stdout.index("[actions]") :]
    assert block.splitlines()[2:] == [
        'tags = { column = "Add tags", separator = ";" }',
        'remove_tags = { column = "Remove tags", separator = ";" }',
        'lists = { column = "Join lists", separator = ";" }',
        'remove_lists = { column = "Leave lists", separator = ";" }',
        'points = { column = "Points" }  # +n gives, -n takes away',
        'sequence = { column = "Sequence", step_column = "Step" }',
    ]
    starter = tmp_path / "starter.toml"
    starter.write_text(result.stdout)
    checked = CliRunner().invoke(cli, ["run", str(path), "--template", str(starter), "--dry-run"])
    assert checked.exit_code == 0, checked.output


# -- backup and undo (part 3) -------------------------------------------------------------

UNDO_TEMPLATE = TEMPLATE.replace('email = "Email"\n', 'email = "Email"\nfirst_name = "Name"\n')
UNDO_HEADER = (*HEADER, "Name")


def undo_sheet(tmp_path: Path, rows: Sequence[Sequence[str]]) -> tuple[Path, Path]:
    template = tmp_path / "undo.toml"
    template.write_text(UNDO_TEMPLATE)
    path = tmp_path / "moves.csv"
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([UNDO_HEADER, *rows])
    return path, template


def state(sandbox: RunningSandbox, email: str) -> tuple[str, list[str], dict[str, str], int]:
    lead = sandbox.state.find(email=email)
    assert lead is not None
    return lead.fields.get("first_name", ""), sorted(lead.tags), dict(lead.lists), lead.score


def test_backup_then_undo_puts_every_edited_lead_back(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """Names, tags, lists and points of every edited lead, as they were before the run;
    the sequence is reported, not undone."""
    prepare(sandbox)
    before = {e: state(sandbox, e) for e in ("ana@example.com", "bo@example.com")}
    ana = ["ana@example.com", "Customer", "Trial", "Events", "Newsletter", "+10", "", "", "Ana M."]
    bo = ["bo@example.com", "VIP", "", "Newsletter", "", "-5", "Onboarding", "2", "Bob"]
    path, template = undo_sheet(tmp_path, [ana, bo])
    summary = run(client, path, template, backup=True)
    assert [r["result_status"] for r in result_rows(summary)] == ["updated", "updated"]
    assert summary.backups == 2 and sandbox.stats.by_cmd["get_lead"] >= 2
    moved = ("Ana M.", ["Customer"], {"Newsletter": "0", "Events": "1"}, 10)
    assert state(sandbox, "ana@example.com") == moved
    undone = Loader(path, template=template).undo(client, rate=None)
    assert undone.counts == {"restored": 2} and undone.exit_code == 0
    assert undone.partly == 1  # Bo keeps his sequence: said on the terminal too
    after = {e: state(sandbox, e) for e in before}
    assert after["ana@example.com"] == ("Ana", ["Trial"], {"Newsletter": "1", "Events": "0"}, 0)
    assert after["bo@example.com"] == ("Bo", [], {"Newsletter": "0"}, 0)
    rows = list(openpyxl.load_workbook(undone.results).active.iter_rows(values_only=True))
    assert rows[0] == ("undo_status", "row", "email", "lead_id", "message")
    assert rows[2][0] == "restored" and "sequence 'Onboarding' (step 2) left as it is" in rows[2][4]
    again = Loader(path, template=template).undo(client, rate=None)  # carries on: nothing twice
    assert again.counts == {"restored": 2}
    assert {e: state(sandbox, e) for e in before} == after


def test_a_lead_changed_since_the_run_is_kept_unless_forced(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    path, template = undo_sheet(tmp_path, [["ana@example.com", "VIP", "", "", "", "", "", "",
                                            "Ana M."]])  # fmt: skip
    run(client, path, template, backup=True)
    ana = sandbox.state.find(email="ana@example.com")
    assert ana is not None
    ana.fields["first_name"] = "Anna"  # someone edits her in Kartra meanwhile
    kept = Loader(path, template=template).undo(client, rate=None)
    assert kept.counts == {"kept": 1} and kept.exit_code == 1
    rows = list(openpyxl.load_workbook(kept.results).active.iter_rows(values_only=True))
    assert rows[1][4] == (
        "changed since the run (first_name is now 'Anna', the run wrote 'Ana M.'): left "
        "alone; --force puts it back all the same"
    )
    assert state(sandbox, "ana@example.com")[:2] == ("Anna", ["VIP"])
    forced = Loader(path, template=template).undo(client, force=True, rate=None)
    assert forced.counts == {"restored": 1}
    assert state(sandbox, "ana@example.com")[:2] == ("Ana", [])


def test_undo_lists_the_leads_the_run_created_and_edits_without_backup(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    template = tmp_path / "upsert.toml"
    template.write_text(UNDO_TEMPLATE.replace('mode = "edit"', 'mode = "upsert"').replace(
        'tags = { column = "Add tags", separator = ";" }',
        'tags = { column = "Add tags", separator = ";", add = ["VIP"] }'))  # fmt: skip
    path = tmp_path / "moves.csv"
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([UNDO_HEADER, ["new@example.com", "", "", "", "", "", "", "",
                                                 "New"], ["ana@example.com", "", "", "", "", "",
                                                 "", "", "Ana M."]])  # fmt: skip
    run(client, path, template)  # no --backup
    undone = Loader(path, template=template).undo(client, rate=None)
    assert undone.counts == {"created": 1, "no_backup": 1} and undone.exit_code == 1
    rows = list(openpyxl.load_workbook(undone.results).active.iter_rows(values_only=True))
    assert rows[1][0] == "created" and rows[1][4] == (
        "created by the run: Kartra has no call to delete a lead; every lead the run created "
        "has the tag 'VIP'"
    )
    assert rows[2][0] == "no_backup"


def test_undo_on_the_command_line_asks_first_and_needs_yes_off_a_terminal(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, template = undo_sheet(tmp_path, [["ana@example.com", "VIP", "", "", "", "", "", "",
                                            "Ana M."]])  # fmt: skip
    run(client, path, template, backup=True)
    for name, value in (("KARTRA_APP_ID", "sandbox-app"), ("KARTRA_API_KEY", "sandbox-key"),
                        ("KARTRA_API_PASSWORD", "sandbox-password")):  # fmt: skip
        monkeypatch.setenv(name, value)
    args = ["undo", str(path), "--api-url", sandbox.url, "--rate", "0"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2
    assert refused.stderr == "error: undo writes to Kartra: add --yes to run it off a terminal\n"
    assert state(sandbox, "ana@example.com")[:2] == ("Ana M.", ["VIP"])
    done = CliRunner().invoke(cli, [*args, "--yes"])
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("Restored:  1 (put back as before the run)\nCalls:     ")
    assert state(sandbox, "ana@example.com")[:2] == ("Ana", [])


# -- found by review: each once wrong, each held here ---------------------------------------


def test_a_gateway_error_after_the_edit_acted_never_gives_the_points_again(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox, template: Path
) -> None:
    """A 502 from a proxy after Kartra acted: a retry would give the points again."""
    path = sheet(tmp_path, [["ana@example.com", "", "", "", "", "10", "", ""]])

    class GatewayAfterLookups(SilentProgress):
        def start(self, total: int) -> None:
            sandbox.configure(faults=FaultPlan(gateway=1.0, seed=3))

    [row] = result_rows(run(client, path, template, progress=GatewayAfterLookups()))
    assert row["result_status"] == "unknown"
    assert state(sandbox, "ana@example.com")[3] == 10 and sandbox.stats.by_cmd["edit_lead"] == 1


def test_undo_after_two_backup_runs_keeps_what_the_lead_held_before_either(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """Ana was a Customer before any run; run 2 names Customer too: undo leaves it."""
    ana = sandbox.state.find(email="ana@example.com")
    assert ana is not None
    ana.tags.append("Customer")
    path, template = undo_sheet(tmp_path, [["ana@example.com", "VIP", "", "", "", "", "", "",
                                            "Ana"]])  # fmt: skip
    run(client, path, template, backup=True)
    undo_sheet(tmp_path, [["ana@example.com", "VIP;Customer", "", "Events", "", "", "", "", "Ana"]])
    run(client, path, template, backup=True)
    assert Loader(path, template=template).undo(client, rate=None).counts == {"restored": 1}
    assert state(sandbox, "ana@example.com")[1:3] == (["Customer"], {"Events": "0"})


def test_undo_reverses_only_the_points_a_backup_run_gave(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """Run 1 (no backup) gives 10; run 2 (--backup) withholds them, joins Events: undo
    leaves the 10 points, which run 2 did not give."""
    path, template = undo_sheet(tmp_path, [["ana@example.com", "VIP", "", "", "", "10", "", "",
                                            "Ana"]])  # fmt: skip
    run(client, path, template)
    undo_sheet(tmp_path, [["ana@example.com", "VIP", "", "Events", "", "10", "", "", "Ana"]])
    run(client, path, template, backup=True)
    assert Loader(path, template=template).undo(client, rate=None).counts == {"restored": 1}
    assert state(sandbox, "ana@example.com")[3] == 10


def test_undo_puts_a_drop_down_back_and_clears_a_checkbox_that_was_empty(tmp_path: Path) -> None:
    template = tmp_path / "plans.toml"
    template.write_text(
        '[template]\nmode = "edit"\n[fields]\nemail = "email"\n'
        '[custom_fields.plan]\ncolumn = "plan"\ntype = "drop_down"\n'
        '[custom_fields.color]\ncolumn = "color"\ntype = "checkbox"\nseparator = ";"\n'
    )
    path = tmp_path / "plans.csv"
    path.write_text("email,plan,color\nmaria.lopez@example.com,pro,red\n")
    samples = Path(__file__).resolve().parent.parent / "samples" / "account.toml"
    with (
        serve_in_thread(samples, rate=None) as sandbox,
        KartraClient(GOOD, api_url=sandbox.url, timeout=5) as kartra,
    ):
        maria = sandbox.state.find(email="maria.lopez@example.com")
        assert maria is not None
        maria.custom["plan"] = [630]  # basic before the run; no color
        run(kartra, path, template, backup=True)
        assert maria.custom == {"plan": [631], "color": [620]}
        assert Loader(path, template=template).undo(kartra, rate=None).counts == {"restored": 1}
        assert maria.custom == {"plan": [630]}


def test_undo_does_not_keep_a_lead_whose_sequence_moved_on_by_itself(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    path, template = undo_sheet(tmp_path, [["ana@example.com", "VIP", "", "", "", "", "Onboarding",
                                            "1", "Ana"]])  # fmt: skip
    run(client, path, template, backup=True)
    ana = sandbox.state.find(email="ana@example.com")
    assert ana is not None
    ana.sequences["Onboarding"] = ["2", "active"]  # the sequence sent its first email
    undone = Loader(path, template=template).undo(client, rate=None)
    assert undone.counts == {"restored": 1} and ana.tags == []
