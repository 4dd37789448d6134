"""The journal: what a re-run sends again, what it keeps, and who may read it."""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from bulk_loader.cli.app import cli
from bulk_loader.journal.files import find_journals
from bulk_loader.kartra.client import Credentials, KartraClient
from bulk_loader.pipeline.importer import ImportOptions, run_import
from bulk_loader.results.summary import ImportSummary, rebuild_results
from bulk_loader.sandbox import RunningSandbox
from bulk_loader.sending.pacing import RetryPolicy

ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")


def write(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([("email", "first_name"), *rows])
    return path


def run(client: KartraClient, sheet: Path, mode: str = "create", **more: Any) -> ImportSummary:
    options = ImportOptions(sheet=sheet, mode=mode, rate=None, policy=RetryPolicy.instant(), **more)  # type: ignore[arg-type]
    return run_import(options, client)


def outcomes(summary: ImportSummary) -> list[tuple[str, str]]:
    assert summary.results is not None
    book = openpyxl.load_workbook(summary.results, read_only=True)
    header, *rows = book["Results"].iter_rows(values_only=True)
    email, status = header.index("email"), header.index("result_status")
    return [(row[email], row[status]) for row in rows]


def test_changed_row_is_sent_again_and_unchanged_rows_are_not(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """Only the row whose content changed goes to Kartra on the re-run."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "Ann"], ["b@example.com", "Bob"]])
    run(client, sheet, "upsert")
    write(sheet, [["a@example.com", "Anna"], ["b@example.com", "Bob"]])
    before = sandbox.stats.calls_total
    again = run(client, sheet, "upsert")
    assert sandbox.stats.calls_total - before == 3 + 1  # look-ups, then one edit
    assert outcomes(again) == [("a@example.com", "updated"), ("b@example.com", "created")]
    lead = sandbox.state.find(email="a@example.com")
    assert lead is not None and lead.fields["first_name"] == "Anna"


def test_rows_are_known_by_their_lead_not_their_row_number(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """Inserting and deleting rows between runs resends nothing; deleted rows leave."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"], ["b@example.com", "B"]])
    run(client, sheet)
    write(sheet, [["c@example.com", "C"], ["b@example.com", "B"]])
    again = run(client, sheet)
    assert sandbox.stats.by_cmd["create_lead"] == 3
    assert outcomes(again) == [("c@example.com", "created"), ("b@example.com", "created")]
    assert again.resumed == 1


def test_a_new_mode_sends_the_rows_again(tmp_path: Path, client: KartraClient) -> None:
    """A create that failed (lead exists) goes again as an upsert, in the same journal."""
    sheet = write(
        tmp_path / "s.csv", [["maria.lopez@example.com", "Maria"], ["n@example.com", "N"]]
    )
    assert [s for _, s in outcomes(run(client, sheet, "create"))] == ["failed", "created"]
    assert [s for _, s in outcomes(run(client, sheet, "upsert"))] == ["updated", "updated"]
    assert len(find_journals(sheet)) == 1


def test_a_fixed_template_keeps_what_earlier_runs_did(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """Mapping one more column after a run: upsert edits the leads it wrote, in one call."""
    sheet = tmp_path / "s.csv"
    sheet.write_text("email,first_name,City\na@example.com,A,Oslo\n")
    first = tmp_path / "first.toml"
    first.write_text('[fields]\nemail = "email"\nfirst_name = "first_name"\n')
    second = tmp_path / "second.toml"
    second.write_text('[fields]\nemail = "email"\nfirst_name = "first_name"\ncity = "City"\n')
    run(client, sheet, "upsert", template_path=first)
    before = sandbox.stats.calls_total
    assert outcomes(run(client, sheet, "upsert", template_path=second)) == [
        ("a@example.com", "updated")
    ]
    assert sandbox.stats.calls_total - before == 3 + 1  # look-ups, then one edit
    lead = sandbox.state.find(email="a@example.com")
    assert lead is not None and lead.fields["city"] == "Oslo"


def test_create_mode_never_edits_a_lead_an_earlier_run_wrote(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """Switching to create after an upsert: existing leads fail with 244, none is edited."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    run(client, sheet, "upsert")
    assert outcomes(run(client, sheet, "create")) == [("a@example.com", "failed")]
    assert sandbox.stats.by_cmd["edit_lead"] == 0


def test_restart_forgets_what_was_done(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """--restart sends every row again (here: creates that now fail as existing)."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    run(client, sheet)
    again = run(client, sheet, restart=True)
    assert outcomes(again) == [("a@example.com", "failed")]
    assert sandbox.stats.by_cmd["create_lead"] == 2


def test_journal_and_its_companions_are_readable_by_the_owner_only(
    tmp_path: Path, client: KartraClient
) -> None:
    """The journal holds personal data: mode 600, its WAL files too, in a folder of 700."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    summary = run(client, sheet)
    folder = tmp_path / ".bulk-loader"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = [p for p in folder.iterdir() if ".journal.sqlite" in p.name]
    assert summary.journal in files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_results_are_rebuilt_from_the_journal(tmp_path: Path, client: KartraClient) -> None:
    """`bulk-loader results SHEET` rewrites the workbook from the journal alone (exit 1, as
    `run` would: one row is invalid)."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"], ["bad", "B"]])
    first = run(client, sheet)
    assert first.results is not None
    first.results.unlink()
    rebuilt = rebuild_results(sheet)
    assert outcomes(rebuilt) == [("a@example.com", "created"), ("bad", "invalid")]
    result = CliRunner().invoke(cli, ["results", str(sheet)])
    assert result.exit_code == 1
    assert "Created:   1\n" in result.stdout and "Invalid:   1\n" in result.stdout


def test_results_without_a_journal_is_one_clear_line(tmp_path: Path) -> None:
    """No run yet: say so and how to start one, exit 3."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    result = CliRunner().invoke(cli, ["results", str(sheet)])
    assert result.exit_code == 3
    assert result.stderr == (
        f"error: {sheet}: no journal beside it; `bulk-loader run {sheet}` keeps one there "
        "(a run given --journal-dir: give it here too)\n"
    )


def test_two_runs_never_share_a_journal(tmp_path: Path, client: KartraClient) -> None:
    """While one run holds the journal, a second one stops before any call (not even
    the account's look-ups, which would take a share of the App's rate), naming it."""
    from bulk_loader.errors import ConfigError
    from bulk_loader.journal.files import journal_path
    from bulk_loader.journal.store import Journal

    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    identity = {"sheet": sheet.name, "worksheet": "", **client.account_identity()}
    held = Journal.open(journal_path(sheet, identity), identity)
    calls = client.calls_made
    try:
        with pytest.raises(ConfigError, match=r"another bulk-loader run \(pid \d+\)"):
            run(client, sheet)
    finally:
        held.close()
    assert client.calls_made == calls
    assert outcomes(run(client, sheet)) == [("a@example.com", "created")]


# -- the journal stays whole, follows the sheet, and is durable (issue 9) -------------


def created_in_journal(sheet: Path) -> int:
    from bulk_loader.journal.store import Journal

    (path,) = find_journals(sheet)
    journal = Journal.open_readonly(path)
    try:
        return sum(row.status == "created" for row in journal.rows())
    finally:
        journal.close()


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 10 rows, so that a scan can fail after some chunks were recorded."""
    from bulk_loader.sheets.sheet import Sheet

    chunks = Sheet.chunks
    monkeypatch.setattr(Sheet, "chunks", lambda self, size=10: chunks(self, size))


@pytest.mark.usefixtures("small_chunks")
def test_a_scan_that_fails_on_a_damaged_row_leaves_the_journal_as_it_was(
    tmp_path: Path, client: KartraClient
) -> None:
    """30 created, then row 25 damaged: the failed run (exit 3) keeps all 30."""
    from bulk_loader.errors import SheetError

    rows = [[f"p{n}@example.com", f"P{n}"] for n in range(30)]
    sheet = write(tmp_path / "s.csv", rows)
    run(client, sheet)
    assert created_in_journal(sheet) == 30
    rows[23] = [*rows[23], *(["x"] * 17_000)]  # wider than Excel's 16,384 columns
    write(sheet, rows)
    with pytest.raises(SheetError, match="row 25"):
        run(client, sheet)
    assert created_in_journal(sheet) == 30
    write(sheet, [row[:2] for row in rows])
    assert [status for _, status in outcomes(run(client, sheet))] == ["created"] * 30


@pytest.mark.usefixtures("small_chunks")
def test_a_scan_stopped_by_ctrl_c_leaves_the_journal_as_it_was(
    tmp_path: Path, client: KartraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the second chunk is checked: the journal still says 30 created."""
    from bulk_loader.errors import Interrupted
    from bulk_loader.validation.validator import Validator

    sheet = write(tmp_path / "s.csv", [[f"p{n}@example.com", f"P{n}"] for n in range(30)])
    run(client, sheet)
    validate = Validator.validate
    seen: list[int] = []

    def interrupted(self: Validator, chunk: Any) -> Any:
        seen.append(1)
        if len(seen) == 2:
            raise KeyboardInterrupt
        return validate(self, chunk)

    monkeypatch.setattr(Validator, "validate", interrupted)
    with pytest.raises(Interrupted):
        run(client, sheet)
    assert created_in_journal(sheet) == 30


def test_a_moved_folder_resumes_from_its_journal(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """The folder moved (a share remounted, a project renamed): nothing is sent again."""
    (tmp_path / "before").mkdir()
    sheet = write(tmp_path / "before" / "s.csv", [["a@example.com", "A"], ["b@example.com", "B"]])
    run(client, sheet)
    creates = sandbox.stats.by_cmd["create_lead"]
    moved = (tmp_path / "before").rename(tmp_path / "after") / "s.csv"
    summary = run(client, moved)
    assert sandbox.stats.by_cmd["create_lead"] == creates
    assert outcomes(summary) == [("a@example.com", "created"), ("b@example.com", "created")]


def test_naming_the_worksheet_picked_by_default_keeps_the_same_journal(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox, make_xlsx: Any
) -> None:
    """`--sheet leads` for the sheet the default picks: the same work, nothing sent twice."""
    sheet = make_xlsx([("email", "first_name"), ("a@example.com", "A")], title="Leads")
    run(client, sheet)
    creates = sandbox.stats.by_cmd["create_lead"]
    summary = run(client, sheet, sheet_name="leads")
    assert sandbox.stats.by_cmd["create_lead"] == creates
    assert outcomes(summary) == [("a@example.com", "created")]
    assert len(find_journals(sheet)) == 1


@pytest.mark.parametrize(
    ("what", "arrange"),
    [
        ("results", lambda d: {"results_path": d / "no such folder" / "r.xlsx"}),
        ("results", lambda d: {"results_path": (d / "a folder").mkdir() or d / "a folder"}),
        ("failed-rows file", lambda d: (d / "s.failed.csv").mkdir() and {}),
    ],
    ids=["missing-folder", "a-folder", "failed-rows-is-a-folder"],
)
def test_an_unwritable_output_stops_the_run_before_anything_is_sent(
    tmp_path: Path, sandbox: RunningSandbox, client: KartraClient, what: str, arrange: Any
) -> None:
    """Found before the first call, not after the last row: exit 3, one line, no call."""
    from bulk_loader.errors import InputError

    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    more = arrange(tmp_path) or {}
    with pytest.raises(InputError, match=f"cannot write the {what} to ") as raised:
        run(client, sheet, **more)
    assert raised.value.exit_code == 3 and "\n" not in str(raised.value)
    assert sandbox.stats.calls_total == 0
    assert not find_journals(sheet)


def test_intents_are_committed_durably(tmp_path: Path) -> None:
    """synchronous=FULL: a commit reaches the disk, so a power loss keeps the intents."""
    from bulk_loader.journal.store import Journal

    journal = Journal.open(tmp_path / "j.sqlite", {"sheet": "s.csv"})
    try:
        assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        journal.close()


def test_outcomes_are_committed_while_a_slow_call_is_in_flight() -> None:
    """The pool calls `idle` when no outcome comes for a while: the journal commits then."""
    import threading

    from bulk_loader.outcomes import RowOutcome
    from bulk_loader.sending.pacing import RateLimiter
    from bulk_loader.sending.pool import send_all
    from bulk_loader.sending.sender import RowSender
    from bulk_loader.validation.validator import LeadRow

    idled = threading.Event()

    class SlowSecondRow(RowSender):
        def send(self, row: LeadRow, **_: Any) -> RowOutcome:
            if row.row == 3:  # answers only once the journal had a chance to commit
                assert idled.wait(60), "idle was never called while a call was slow"
            return RowOutcome(row.row, "created", lead_id=str(row.row))

    sender = SlowSecondRow(None, RateLimiter(None), mode="create")  # type: ignore[arg-type]
    rows = [LeadRow(n, (), {"email": f"{n}@x.co"}, (), (), f"{n}@x.co") for n in (2, 3)]
    got = [
        outcome.row
        for _, outcome in send_all(rows, sender, workers=2, idle=idled.set, idle_every=0.05)
    ]
    assert sorted(got) == [2, 3] and idled.is_set()


# -- journal files: owner-only, never through a link, never another user's (issue 16) --


def test_a_journal_left_readable_by_others_is_made_owner_only(
    tmp_path: Path, client: KartraClient
) -> None:
    """An earlier version (or a copy) left the journal and its WAL at 644: now 600."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    run(client, sheet)
    (journal,) = find_journals(sheet)
    companions = [journal, *(Path(f"{journal}{s}") for s in ("-wal", "-shm", ".lock"))]
    for path in companions:
        path.touch()
        path.chmod(0o644)
    run(client, sheet)
    left = [path for path in companions if path.exists()]  # SQLite drops the WAL at close
    assert journal in left and {oct(stat.S_IMODE(p.stat().st_mode)) for p in left} == {"0o600"}


@pytest.mark.parametrize("suffix", ["", "-wal", ".lock"])
def test_a_journal_file_that_is_a_link_is_refused(
    tmp_path: Path, client: KartraClient, suffix: str
) -> None:
    """A link planted where the journal goes: exit 3, nothing written through it."""
    from bulk_loader.errors import ConfigError

    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    run(client, sheet)
    (journal,) = find_journals(sheet)
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    planted = Path(f"{journal}{suffix}")
    planted.unlink(missing_ok=True)
    planted.symlink_to(target)
    with pytest.raises(ConfigError, match="is a link; refusing"):
        run(client, sheet)
    assert target.read_bytes() == b""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown")
def test_a_journal_owned_by_another_user_is_refused(tmp_path: Path, client: KartraClient) -> None:
    """In a shared folder, another user's file where the journal goes: not ours to use."""
    from bulk_loader.errors import ConfigError

    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    run(client, sheet)
    (journal,) = find_journals(sheet)
    os.chown(journal, 65534, 65534)
    with pytest.raises(ConfigError, match="belongs to another user"):
        run(client, sheet)


def test_a_journal_of_the_earlier_version_is_taken_over(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """0.1 kept the journal under another name: after the upgrade nothing is sent twice."""
    from bulk_loader.journal.files import legacy_journal_path

    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"], ["b@example.com", "B"]])
    run(client, sheet)
    (journal,) = find_journals(sheet)
    identity = {"sheet": str(sheet.resolve()), "worksheet": "", **client.account_identity()}
    legacy = legacy_journal_path(sheet, identity)
    journal.rename(legacy)
    creates = sandbox.stats.by_cmd["create_lead"]
    summary = run(client, sheet)
    assert sandbox.stats.by_cmd["create_lead"] == creates
    assert outcomes(summary) == [("a@example.com", "created"), ("b@example.com", "created")]
    assert find_journals(sheet) == [journal] and not legacy.exists()
