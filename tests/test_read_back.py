"""The read-back (issue 14, part 2): the first leads a real run wrote are read back and
compared with what was sent; a value Kartra did not keep, or an App in Test Mode, stops
the run before the rest is sent (exit 3), one line per difference."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bulk_loader.cli.app import cli
from bulk_loader.kartra.client import Credentials, KartraClient
from bulk_loader.pipeline.importer import ImportOptions, run_import
from bulk_loader.results.summary import ImportSummary
from bulk_loader.sandbox import RunningSandbox, serve_in_thread
from bulk_loader.sending.pacing import RetryPolicy

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = ROOT / "samples" / "account.toml"
GOOD = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
POLICY = RetryPolicy(base_delay=0.0, max_delay=0.0, rate_limit_wait=0.2)
HEADER = ("email", "first_name", "city", "color", "tags", "lists")
TEMPLATE = """\
[fields]
email = "email"
first_name = "first_name"
city = "city"
[custom_fields.color]
column = "color"
type = "checkbox"
separator = ";"
[actions]
tags = { column = "tags" }
lists = { column = "lists" }
"""


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with serve_in_thread(ACCOUNT, rate=None) as running:
        yield running


def leads(tmp_path: Path, count: int = 30) -> tuple[Path, Path]:
    sheet = tmp_path / "leads.csv"
    with sheet.open("w", newline="") as out:
        rows = [[f"lead{n}@example.com", f"Lead{n}", "Paris", "red;blue", "VIP", "Events"]
                for n in range(count)]  # fmt: skip
        csv.writer(out).writerows([HEADER, *rows])
    template = tmp_path / "leads.toml"
    template.write_text(TEMPLATE)
    return sheet, template


def run(sandbox: RunningSandbox, sheet: Path, template: Path, **more: Any) -> ImportSummary:
    options = {"rate": None, "workers": 4, "policy": POLICY, "verify": 5, "mode": "create",
               **more}  # fmt: skip
    with KartraClient(GOOD, api_url=sandbox.url, timeout=5) as client:
        return run_import(ImportOptions(sheet=sheet, template_path=template, **options), client)


def cli_run(sandbox: RunningSandbox, sheet: Path, template: Path, *more: str) -> Result:
    env = {"KARTRA_APP_ID": "sandbox-app", "KARTRA_API_KEY": "sandbox-key",
           "KARTRA_API_PASSWORD": "sandbox-password", "KARTRA_API_URL": sandbox.url}  # fmt: skip
    args = ["run", str(sheet), "--template", str(template), "--rate", "0", "--no-memory", *more]
    return CliRunner().invoke(cli, args, env={**os.environ, **env})


def test_a_clean_run_reads_back_the_first_leads_and_sends_the_rest(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    summary = run(sandbox, *leads(tmp_path))
    assert summary.exit_code == 0 and summary.read_back is not None
    assert (summary.read_back.rows, summary.read_back.calls) == (5, 5)
    assert summary.read_back.clean
    assert sandbox.stats.by_cmd["create_lead"] == 30 and sandbox.stats.by_cmd["get_lead"] == 5


def test_a_field_kartra_drops_silently_stops_the_run_naming_it(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """The sandbox stores no city: the run stops after the canary, exit 3, each lead's
    city named with what was sent and what Kartra kept; the other rows are not sent."""
    sandbox.configure(drop_field="city")
    sheet, template = leads(tmp_path)
    result = cli_run(sandbox, sheet, template)
    assert result.exit_code == 3, result.output
    assert "Note:      read back: row 2: city: sent 'Paris', Kartra kept ''\n" in result.stdout
    assert "Read back: 5 leads, NOT as sent (see the notes); 5 calls (--verify)\n" in (
        result.stdout
    )
    assert result.stderr.endswith(
        "error: stopped: the read-back found 5 value(s) Kartra did not keep as sent (listed "
        "above); the rest of the rows was not sent. Fix the template or the account, then "
        "run again (--verify 0 skips this check)\n"
    )
    assert sandbox.stats.by_cmd["create_lead"] == 5
    assert "Not sent:  25\n" in result.stdout


def test_a_custom_field_kartra_drops_is_caught_too(tmp_path: Path, sandbox: RunningSandbox) -> None:
    sandbox.configure(drop_field="color")
    summary = run(sandbox, *leads(tmp_path))
    assert summary.exit_code == 3 and summary.read_back is not None
    [first, *_] = summary.read_back.differences
    assert first.line() == "row 2: custom field color: sent '620, 621', Kartra kept ''"


def test_an_app_in_test_mode_is_named_as_such(tmp_path: Path, sandbox: RunningSandbox) -> None:
    """A new App rewrites new leads' addresses to @kartra.com: stop, and say what it means."""
    sandbox.configure(test_mode=True)
    sheet, template = leads(tmp_path)
    result = cli_run(sandbox, sheet, template)
    assert result.exit_code == 3, result.output
    assert (
        "error: stopped: the App is in Test Mode: lead0@example.com was stored as "
        "lead0@kartra.com. A new App stores every new lead at @kartra.com and sends no email "
        "until Kartra reviews it;"
    ) in result.stderr
    assert sandbox.stats.by_cmd["create_lead"] <= 5


def test_verify_0_reads_nothing_back(tmp_path: Path, sandbox: RunningSandbox) -> None:
    sandbox.configure(drop_field="city")
    summary = run(sandbox, *leads(tmp_path), verify=0)
    assert summary.exit_code == 0 and summary.read_back is None
    assert sandbox.stats.by_cmd["get_lead"] == 0 and sandbox.stats.by_cmd["create_lead"] == 30


def test_lead_details_as_a_json_string_reads_back_alike(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """The reference types lead_details as a JSON-encoded string; its example, an object."""
    sandbox.configure(lead_details_json=True)
    summary = run(sandbox, *leads(tmp_path))
    assert summary.exit_code == 0 and summary.read_back is not None
    assert summary.read_back.rows == 5 and summary.read_back.clean


def test_tags_and_lists_applied_in_a_few_moments_are_read_again_before_they_count(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """The sandbox applies tags and lists 1.5 s after answering: the first read misses
    them, a later one (a second apart, 4 reads at most) finds them, and the run goes on."""
    sandbox.configure(actions_delay_s=1.5)
    summary = run(sandbox, *leads(tmp_path, count=8))
    assert summary.exit_code == 0 and summary.read_back is not None
    assert summary.read_back.clean and summary.read_back.rows == 5
    assert summary.read_back.calls > 5  # some leads were read again
    assert sandbox.stats.by_cmd["create_lead"] == 8


def test_tags_that_never_arrive_count_after_the_last_read(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """Applied later than the reads wait (10 s): a difference, the run stopped."""
    sandbox.configure(actions_delay_s=10)
    summary = run(sandbox, *leads(tmp_path, count=8))
    assert summary.exit_code == 3 and summary.read_back is not None
    assert (
        summary.read_back.differences[0].line()
        == "row 2: tag VIP: sent 'added', Kartra kept 'absent'"
    )


def test_a_re_run_reads_back_the_row_as_sent_without_its_withheld_sequence(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """An earlier run subscribed the lead at step 2; the step fixed to 3 is not sent
    again (a sequence never goes twice): the read-back does not count it as dropped."""
    sheet = tmp_path / "seq.csv"
    template = tmp_path / "seq.toml"
    template.write_text('[fields]\nemail = "email"\n[actions]\n'
                        'sequence = { column = "sequence", step_column = "step" }\n')  # fmt: skip
    sheet.write_text("email,sequence,step\nmaria.lopez@example.com,Onboarding,2\n")
    assert run(sandbox, sheet, template, mode="edit").exit_code == 0
    sheet.write_text("email,sequence,step\nmaria.lopez@example.com,Onboarding,3\n")
    again = run(sandbox, sheet, template, mode="edit")
    assert again.exit_code == 0 and again.read_back is not None and again.read_back.clean


def test_a_stop_during_the_read_back_is_a_stop_not_a_difference() -> None:
    """Ctrl-C while the canary reads (a read answered 429, and no retry once stopping):
    no difference is made up, no error escapes; the run then ends as a stopped one."""
    import threading

    from bulk_loader.outcomes import RowOutcome, RowStatus
    from bulk_loader.sending.readback import ReadBack, read_back
    from bulk_loader.sending.sender import Stopped
    from bulk_loader.validation.payload import LeadRow

    row = LeadRow(2, (), {"email": "ana@example.com", "city": "Paris"}, (), (), "ana@example.com")
    stop = threading.Event()

    def stopped_lookup(call: Any) -> Any:
        stop.set()
        raise Stopped

    seen = ReadBack()
    read_back([(row, RowOutcome(2, RowStatus.CREATED))], object(), stopped_lookup, stop, seen)
    assert seen.clean and seen.rows == 0 and seen.calls == 0


def test_after_a_test_mode_stop_the_next_run_risks_one_lead_not_five(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """Each lead made while the App is in Test Mode is wrong: run again, one lead first;
    once the App is live, the run reads a handful and sends the rest."""
    sandbox.configure(test_mode=True)
    sheet, template = leads(tmp_path)
    assert run(sandbox, sheet, template).exit_code == 3
    assert sandbox.stats.by_cmd["create_lead"] == 5
    assert run(sandbox, sheet, template).exit_code == 3
    assert sandbox.stats.by_cmd["create_lead"] == 6  # one more, not five
    sandbox.configure(test_mode=False)  # Kartra took the App live
    live = run(sandbox, sheet, template)
    assert live.exit_code == 0 and live.read_back is not None and live.read_back.rows == 5
    assert sandbox.stats.by_cmd["create_lead"] == 30
