"""Settling lost answers against the sandbox, under every reading of Kartra's documents.

date_joined is "EST" (fixed UTC-5 or New York time: not said) on a clock that may run
ahead of ours; lead_details is an object or a JSON string. Whatever the reading, a lead
that existed before the row was sent is never claimed, and the run's own leads are.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bulk_loader.kartra.client import Credentials, KartraClient
from bulk_loader.pipeline.importer import ImportOptions, SilentProgress, run_import
from bulk_loader.results.summary import ImportSummary
from bulk_loader.sandbox import FaultPlan, load_account, serve_in_thread
from bulk_loader.sending.pacing import RetryPolicy

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = ROOT / "samples" / "account.toml"
GOOD = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
POLICY = RetryPolicy(base_delay=0.0, max_delay=0.0, rate_limit_wait=0.2, unknown_attempts=8)


def kartra_now(clock: str, skew: float, ago: float) -> str:
    """date_joined for a lead that joined `ago` seconds ago, on Kartra's clock."""
    zone = timezone(timedelta(hours=-5)) if clock == "EST" else ZoneInfo(clock)
    moment = datetime.now(UTC) + timedelta(seconds=skew - ago)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def write_sheet(path: Path, emails: Sequence[str]) -> Path:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([("email", "tags"), *((email, "VIP") for email in emails)])
    return path


def results(summary: ImportSummary) -> dict[str, dict[str, Any]]:
    assert summary.results is not None
    book = openpyxl.load_workbook(summary.results, read_only=True)
    header, *rows = book["Results"].iter_rows(values_only=True)
    email = header.index("email")
    return {str(row[email]): dict(zip(header, row, strict=True)) for row in rows}


@pytest.mark.parametrize(
    ("clock", "skew", "lead_details_json"),
    [
        ("EST", 0.0, False),
        ("America/New_York", 0.0, False),
        ("EST", 90.0, True),
        ("America/New_York", -45.0, True),
    ],
)
def test_leads_that_joined_an_hour_before_are_never_claimed_through_lost_answers(
    tmp_path: Path, clock: str, skew: float, lead_details_json: bool
) -> None:
    """Create mode, a third of answers lost: an hour-old lead ends 244 and untouched."""
    joined = kartra_now(clock, skew, ago=3600)
    existing = [f"signed.up{n}@example.com" for n in range(12)]
    new = [f"new{n}@example.com" for n in range(24)]
    account = load_account(ACCOUNT)
    account = dataclasses.replace(
        account,
        leads=(*account.leads, *({"email": e, "date_joined": joined} for e in existing)),
    )
    sheet = write_sheet(tmp_path / "leads.csv", [*new[:8], *existing, *new[8:]])
    with (
        serve_in_thread(
            account,
            rate=None,
            faults=FaultPlan(lost=0.3, seed=11),
            clock=clock,
            clock_skew_s=skew,
            lead_details_json=lead_details_json,
        ) as sandbox,
        KartraClient(GOOD, api_url=sandbox.url, timeout=5) as client,
    ):
        options = ImportOptions(sheet=sheet, mode="create", rate=None, workers=4, policy=POLICY)
        summary = run_import(options, client)
        rows = results(summary)
        assert sandbox.stats.by_cmd["get_lead"] > 0  # lost answers were settled
        for email in existing:
            lead = sandbox.state.find(email=email)
            assert lead is not None and lead.tags == [], f"{email} was touched"
            assert (rows[email]["result_status"], rows[email]["result_error_type"]) == (
                "failed",
                "244",
            )
        for email in new:
            lead = sandbox.state.find(email=email)
            assert lead is not None and lead.tags == ["VIP"]
            assert rows[email]["result_status"] == "created"
            assert rows[email]["result_lead_id"] == int(lead.id)


class LoseTheFirstCreate(SilentProgress):
    """Progress that, once the preflight is done, makes the sandbox lose the next answer."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox

    def start(self, total: int) -> None:
        # Seed 1 draws 0.13 first: lost=0.3 loses the create; the look-ups after it
        # that are lost too are simply asked again.
        self.sandbox.configure(faults=FaultPlan(lost=0.3, seed=1))


def test_a_found_lead_is_left_alone_while_kartra_s_clock_is_unknown(tmp_path: Path) -> None:
    """No create of the run answered, so nothing tells the clock: unknown, untouched."""
    account = load_account(ACCOUNT)
    joined = kartra_now("EST", 0.0, ago=600)
    account = dataclasses.replace(
        account, leads=(*account.leads, {"email": "old@example.com", "date_joined": joined})
    )
    sheet = write_sheet(tmp_path / "leads.csv", ["old@example.com"])
    with (
        serve_in_thread(account, rate=None) as sandbox,
        KartraClient(GOOD, api_url=sandbox.url, timeout=5) as client,
    ):
        options = ImportOptions(sheet=sheet, mode="create", rate=None, policy=POLICY)
        rows = results(run_import(options, client, LoseTheFirstCreate(sandbox)))
        lead = sandbox.state.find(email="old@example.com")
        assert lead is not None and lead.tags == []
        assert sandbox.stats.faults["lost"] >= 1 and sandbox.stats.by_cmd["get_lead"] >= 1
    assert rows["old@example.com"]["result_status"] == "unknown"
