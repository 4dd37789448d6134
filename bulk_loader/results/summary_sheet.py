"""The Summary sheet's rows, one layout for a dry run and a real one: what was run
where, the rows by status (with a chart), the problems and warnings with their first
rows and an example, then the files, how the sending went and the notes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bulk_loader.outcomes import Report, problem_text
from bulk_loader.results.sinks import SummaryTable

__all__ = ["STATUS_ORDER", "TopLine", "report_lines", "summary_sheet"]

# A problem code as the terminal and the Summary sheet show it: the code, how many, its
# first rows, whether there are more than those, and an example ("row 9: Email: ...").
TopLine = tuple[str, int, list[int], bool, str]
# The statuses in the order a person reads them; any other after them.
STATUS_ORDER = (
    "created", "updated", "would_create", "would_update", "valid", "would_fail",
    "partial", "failed", "unknown", "sending", "not_sent", "invalid",
)  # fmt: skip


def report_lines(report: Report, n: int = 20, *, warnings: bool = False) -> list[TopLine]:
    """A dry run's Report.top as the Summary sheet and the terminal show it."""
    return [
        (code, count, rows, len(rows) >= report.keep_rows and count > len(rows),
         f"row {example.row}: {problem_text(example)}")
        for code, count, rows, example in report.top(n, warnings=warnings)
    ]  # fmt: skip


def summary_sheet(
    *,
    run: str,
    sheet: Path,
    template: str,
    mode: str,
    host: str,
    account: str,
    report: Report,
    statuses: Mapping[str, int],
    problems: Sequence[TopLine],
    warnings: Sequence[TopLine],
    files: Sequence[tuple[str, object]] = (),
    sending: Sequence[tuple[str, object]] = (),
    stopped: str = "",
) -> dict[str, object]:
    """The Summary sheet, one layout for a dry run and a real run: what was run where,
    the rows by status (and a chart of them), the problems and warnings with their first
    rows and an example, the files, how the sending went, and the notes."""
    known = [status for status in STATUS_ORDER if statuses.get(status)]
    others = sorted(status for status, count in statuses.items() if count and status not in known)
    by_status = tuple((str(status), statuses[status]) for status in [*known, *others])
    lines: dict[str, object] = {
        "Sheet": str(sheet),
        "Template": template,
        "Mode": mode,
        "Run": run,
        "Host": host or "no account",
        "Account": account,
        "Rows read": report.rows_read,
        "Valid": report.rows_valid,
        "Invalid": report.rows_invalid,
        **dict(files),
        "Rows by status": SummaryTable(("status", "rows"), by_status, chart=True),
        "Problems": _top_table("problem", problems) if problems else "none",
    }
    if warnings:
        lines["Warnings (sent as written)"] = _top_table("warning", warnings)
    if sending:
        lines["Sending"] = SummaryTable((), tuple(sending))
    if stopped:
        lines["Stopped by"] = stopped
    lines.update({f"Note {n}": note for n, note in enumerate(report.notes, start=1)})
    return lines


def _top_table(what: str, top: Sequence[TopLine]) -> SummaryTable:
    rows = tuple(
        (code, count, ", ".join(map(str, rows)) + (", ..." if more else ""),
         example.split(": ", 1)[-1])
        for code, count, rows, more, example in top
    )  # fmt: skip
    return SummaryTable((what, "count", "first rows", "example"), rows)
