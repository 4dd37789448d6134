"""Upsert at one call per row when the existing leads are known (issue 10, item 4)."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from bulk_loader.cli.app import cli
from bulk_loader.errors import InputError
from bulk_loader.kartra.client import Credentials, KartraClient
from bulk_loader.pipeline.importer import ImportOptions, run_import
from bulk_loader.results.summary import ImportSummary
from bulk_loader.sandbox import RunningSandbox, load_account, serve_in_thread
from bulk_loader.sending.known import KnownLeads, LeadMemory, read_known
from bulk_loader.sending.pacing import RetryPolicy

ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
EXISTING = [f"old{n}@example.com" for n in range(20)]
NEW = [f"new{n}@example.com" for n in range(20)]


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    import dataclasses

    account = load_account(ROOT / "samples" / "account.toml")
    seeded = tuple({"email": email} for email in EXISTING)
    account = dataclasses.replace(account, leads=(*account.leads, *seeded))
    with serve_in_thread(account, rate=None) as running:
        yield running


def write(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([header, *rows])
    return path


def shuffled_sheet(path: Path, city: str = "Oslo") -> Path:
    emails = EXISTING + NEW
    random.Random(7).shuffle(emails)
    return write(path, ("email", "city"), [(email, city) for email in emails])


def upsert(client: KartraClient, sheet: Path, **more: object) -> ImportSummary:
    options = ImportOptions(
        sheet=sheet, mode="upsert", rate=None, policy=RetryPolicy.instant(), **more
    )  # type: ignore[arg-type]
    return run_import(options, client)


def writes(sandbox: RunningSandbox) -> int:
    return sandbox.stats.by_cmd["create_lead"] + sandbox.stats.by_cmd["edit_lead"]


def test_known_leads_make_a_shuffled_upsert_one_write_per_row(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """--known lists the existing half: edits for those, creates for the rest, 40 writes."""
    known = write(tmp_path / "contacts.csv", ("Email Address", "First Name"),
                  [(email.upper(), "X") for email in EXISTING])  # fmt: skip
    summary = upsert(client, shuffled_sheet(tmp_path / "s.csv"), known_path=known)
    assert summary.statuses["created"] == 20 and summary.statuses["updated"] == 20
    assert writes(sandbox) == 40


def test_without_hints_the_same_sheet_costs_more(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """The baseline the hints improve on: a shuffled 50/50 sheet needs fallbacks."""
    upsert(client, shuffled_sheet(tmp_path / "s.csv"))
    assert writes(sandbox) > 44


def test_a_wrong_hint_only_costs_the_fallback(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """A --known file listing leads that do not exist: created all the same."""
    known = write(tmp_path / "contacts.csv", ("email",), [(email,) for email in NEW])
    summary = upsert(client, write(tmp_path / "s.csv", ("email",), [(e,) for e in NEW]),
                     known_path=known)  # fmt: skip
    assert summary.statuses["created"] == 20 and writes(sandbox) == 40


def test_the_memory_makes_the_next_run_of_any_sheet_one_write_per_row(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """Run 1 wrote 40 leads; the same rows edited, as a new sheet: 40 edits, no create."""
    upsert(client, shuffled_sheet(tmp_path / "first.csv"), memory=True)
    before = writes(sandbox)
    summary = upsert(client, shuffled_sheet(tmp_path / "second.csv", "Bergen"), memory=True)
    assert summary.statuses["updated"] == 40
    assert writes(sandbox) - before == 40 and sandbox.stats.by_cmd["create_lead"] <= 40


def test_the_memory_holds_no_address(tmp_path: Path) -> None:
    """Salted hashes only: the file does not contain the emails it knows."""
    memory = LeadMemory("api.example", "app-1", folder=tmp_path)
    memory.remember(["e:ann@example.com"])
    memory.close()
    again = LeadMemory("api.example", "app-1", folder=tmp_path)
    assert again.knows(["e:ann@example.com"]) and not again.knows(["e:bo@example.com"])
    again.close()
    assert b"ann@example.com" not in again.path.read_bytes()
    assert again.path.stat().st_mode & 0o077 == 0


def test_known_says_new_for_unlisted_leads_only_with_a_file() -> None:
    """With a --known file an unlisted lead is new; with memory only it is unknown."""
    assert KnownLeads({"e:a@x.co"}, None).exists({"email": "B@x.co"}) is False
    assert KnownLeads({"e:a@x.co"}, None).exists({"email": "A@X.co"}) is True
    assert KnownLeads(None, None).exists({"email": "a@x.co"}) is None


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("Name,City\nAnn,Oslo\n", r"needs an email column.*'Name', 'City'"),
        (None, "cannot open the file"),
    ],
    ids=["no-email-column", "missing"],
)
def test_a_bad_known_file_is_one_line_naming_it(
    tmp_path: Path, content: str | None, match: str
) -> None:
    """Read before anything is sent; the message names the file."""
    path = tmp_path / "contacts.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=match) as raised:
        read_known(path)
    assert "contacts.csv" in str(raised.value) and "\n" not in str(raised.value)


def test_a_bad_known_file_stops_the_run_before_any_call(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """CLI: exit 3, one line, and the sandbox saw no call at all."""
    sheet = write(tmp_path / "s.csv", ("email",), [("a@example.com",)])
    bad = write(tmp_path / "contacts.csv", ("Name",), [("Ann",)])
    env = {"KARTRA_APP_ID": "sandbox-app", "KARTRA_API_KEY": "sandbox-key",
           "KARTRA_API_PASSWORD": "sandbox-password"}  # fmt: skip
    result = CliRunner(env=env).invoke(
        cli, ["run", str(sheet), "--api-url", sandbox.url, "--known", str(bad)]
    )
    assert result.exit_code == 3 and "needs an email column" in result.stderr
    assert sandbox.stats.calls_total == 0


def test_two_runs_of_one_account_share_the_memory_without_waiting(tmp_path: Path) -> None:
    """What one run remembers, another sees at once; neither holds the file locked."""
    first = LeadMemory("api.example", "app-1", folder=tmp_path)
    second = LeadMemory("api.example", "app-1", folder=tmp_path)
    first.remember(["e:ann@example.com"])
    assert second.knows(["e:ann@example.com"])
    second.remember(["e:bo@example.com"])
    assert first.knows(["e:bo@example.com"])
    first.close()
    second.close()


def test_a_memory_that_fails_mid_run_is_dropped_not_fatal(tmp_path: Path) -> None:
    """A locked or broken memory file: no hint, a reason to show, and no exception."""
    memory = LeadMemory("api.example", "app-1", folder=tmp_path)
    known = KnownLeads(None, memory)
    memory.close()  # every further use fails
    assert known.exists({"email": "a@x.co"}) is None
    known.remember({"email": "a@x.co"})
    assert "goes on without it" in known.failed
