"""A run's summary as one JSON object, for schedulers and wrappers (`run --json`).

The shape is `schemas/run-summary.schema.json` (version `bulk-loader/run-summary/1`):
the account, the sheet, the mode, the counts by status and by problem, the calls, the
pace and the 429s, the files written, start and end in UTC, and the exit code with
its meaning. Never a secret, and no cell of the sheet outside `error`, which is the
one line the terminal shows for a command that could not run (it may name a value).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bulk_loader.outcomes import Report
from bulk_loader.results.summary import ImportSummary

__all__ = ["EXIT_MEANINGS", "SCHEMA", "check_record", "error_record", "import_record",
           "several_record"]  # fmt: skip

SCHEMA = "bulk-loader/run-summary/1"

# What a scheduler does with each exit code (the README's table, in a word or two).
EXIT_MEANINGS = {
    0: "ok: every row done (a dry run: every row valid)",
    1: "rows need fixing: some rows invalid, failed or partial (see the results file)",
    2: "usage: a wrong option or argument",
    3: "cannot run: the template, configuration, sheet or account cannot be used, or "
    "Kartra refused the App",
    4: "interrupted: the same command resumes",
    70: "internal error: a bug in bulk-loader",
    75: "try again later: rows a later run will send (server errors, rate limits, lost "
    "answers), or another run holds this sheet",
}


def import_record(
    summary: ImportSummary, *, started: float, ended: float, account: Mapping[str, str]
) -> dict[str, Any]:
    """A real run (or a --dry-run --lookup, or results rebuilt) as the JSON object."""
    code = summary.exit_code
    return {
        "schema": SCHEMA,
        "command": "run",
        "dry_run": summary.mode_lookup,
        "account": _account(account),
        "sheet": str(summary.sheet),
        "mode": summary.mode,
        "template": summary.template,
        "rows": _rows(summary.report),
        "statuses": {str(status): n for status, n in sorted(summary.statuses.items()) if n},
        "problems": dict(sorted(summary.errors.items())),
        "warnings": dict(sorted(summary.warnings.items())),
        "calls": summary.calls,
        "row_calls": summary.row_calls,
        "rate_limit": summary.limit or None,
        "final_rate": round(summary.final_rate, 2),
        "achieved_rows_per_second": (
            round(summary.sent / summary.send_seconds, 2) if summary.send_seconds else None
        ),
        "rate_limited": summary.rate_limited,
        "retries": summary.retries,
        "files": {
            "results": _path(summary.results),
            "failed_rows": _path(summary.failed),
            "journal": str(summary.journal) if summary.journal_kept else None,
        },
        "stopped_by": _stopped_by(summary),
        "interrupted": summary.interrupted,
        "started": _utc(started),
        "ended": _utc(ended),
        "exit_code": code,
        "exit_meaning": EXIT_MEANINGS.get(code, ""),
    }


def check_record(
    *,
    sheet: Path,
    mode: str,
    template: Path | None,
    report: Report,
    results: Path,
    account: Mapping[str, str],
    started: float,
    ended: float,
    exit_code: int,
) -> dict[str, Any]:
    """A dry run as the JSON object: nothing sent, statuses valid and invalid."""
    problems = {c: n for c, n in report.counts.items() if not report.examples[c].is_warning}
    warnings = {c: n for c, n in report.counts.items() if report.examples[c].is_warning}
    statuses = {"valid": report.rows_valid, "invalid": report.rows_invalid}
    return {
        "schema": SCHEMA,
        "command": "run",
        "dry_run": True,
        "account": _account(account),
        "sheet": str(sheet),
        "mode": mode,
        "template": str(template) if template else "built-in default",
        "rows": _rows(report),
        "statuses": {status: n for status, n in statuses.items() if n},
        "problems": dict(sorted(problems.items())),
        "warnings": dict(sorted(warnings.items())),
        "calls": 0,
        "row_calls": 0,
        "rate_limit": None,
        "final_rate": 0.0,
        "achieved_rows_per_second": None,
        "rate_limited": 0,
        "retries": 0,
        "files": {"results": str(results), "failed_rows": None, "journal": None},
        "stopped_by": None,
        "interrupted": False,
        "started": _utc(started),
        "ended": _utc(ended),
        "exit_code": exit_code,
        "exit_meaning": EXIT_MEANINGS.get(exit_code, ""),
    }


def error_record(
    message: str, exit_code: int, *, started: float, ended: float, sheet: str | None
) -> dict[str, Any]:
    """A command that could not run at all (exit 2, 3, 4, 75 before any summary)."""
    return {
        "schema": SCHEMA,
        "command": "run",
        "sheet": sheet,
        "error": message,
        "started": _utc(started),
        "ended": _utc(ended),
        "exit_code": exit_code,
        "exit_meaning": EXIT_MEANINGS.get(exit_code, ""),
    }


def _stopped_by(summary: ImportSummary) -> str | None:
    """What stopped the run, as a code: never Kartra's text, which may quote a value."""
    if summary.crash:
        return "internal_error"
    if summary.fatal:
        return summary.stopped_kind or "kartra_error"
    return None


def several_record(
    records: list[dict[str, Any]], totals: dict[str, Any], exit_code: int
) -> dict[str, Any]:
    """Several sheets in one command: each sheet's object, their totals, the exit code."""
    return {
        "schema": SCHEMA,
        "command": "run",
        "sheets": records,
        "totals": totals,
        "started": records[0]["started"] if records else None,
        "ended": records[-1]["ended"] if records else None,
        "exit_code": exit_code,
        "exit_meaning": EXIT_MEANINGS.get(exit_code, ""),
    }


def _account(account: Mapping[str, str]) -> dict[str, str | None] | None:
    if not account:
        return None
    return {
        "app_id": account.get("app_id"),
        "profile": account.get("profile") or None,
        "api_host": account.get("api_host"),
    }


def _rows(report: Report) -> dict[str, int]:
    return {"read": report.rows_read, "valid": report.rows_valid, "invalid": report.rows_invalid}


def _path(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _utc(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
