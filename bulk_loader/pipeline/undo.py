"""`bulk-loader undo`: put back every lead a --backup run edited, from its journal.

The journal of the sheet's runs into this account (the client's: never another's)
lists each lead written. An edited lead with a before-image is read (get_lead); if it
still holds what the run wrote (readback.compare), one edit_lead puts it back
(sending/undo.py), else it is left alone and reported `kept`, unless `force`. A
created lead cannot be deleted through the API: it is listed, with the tag the template
gave every row when there is one, so that it can be found in Kartra. What undo did is
kept in the journal lead by lead: run again, it carries on (a lead already restored is
not touched twice; points are never reversed twice).

The results go to `<sheet>.undo.xlsx` (or `results`), one row per lead written.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bulk_loader.errors import ConfigError, TemplateError
from bulk_loader.journal.files import find_journals
from bulk_loader.journal.store import Journal, WrittenLead
from bulk_loader.kartra.client import KartraApi, Outcome, lead_details
from bulk_loader.outcomes import RowStatus
from bulk_loader.pipeline.send import lead_row
from bulk_loader.results.files import output_name
from bulk_loader.results.sinks import XlsxSink
from bulk_loader.sending.pacing import RateLimiter, RetryPolicy
from bulk_loader.sending.readback import compare
from bulk_loader.sending.sender import RowSender
from bulk_loader.sending.settling import Tally
from bulk_loader.sending.undo import undo_call
from bulk_loader.template.mapping import load_template

__all__ = ["UNDO_STATUSES", "UndoSummary", "undo_run"]

# What undo did to each lead written: put back; left alone (changed since); created (no
# call deletes a lead); edited without a before-image; refused by Kartra; answer lost.
UNDO_STATUSES = ("restored", "kept", "created", "no_backup", "failed", "unknown")
COLUMNS = ("undo_status", "row", "email", "lead_id", "message")
RESTORED = "put back as it was before the run"


@dataclass
class UndoSummary:
    """What undo did, lead by lead, and where it wrote it."""

    sheet: Path
    results: Path
    counts: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    partly: int = 0  # leads restored but for what undo cannot put back (a sequence...)

    @property
    def exit_code(self) -> int:
        """0 when every lead is put back or could not be (created); 1 when some need a
        look (kept, no backup, failed, unknown)."""
        attention = ("kept", "no_backup", "failed", "unknown")
        return 1 if any(self.counts[status] for status in attention) else 0


def undo_run(
    sheet: Path,
    client: KartraApi,
    *,
    force: bool = False,
    template_path: Path | None = None,
    results_path: Path | None = None,
    rate: float | None = 20.0,
    policy: RetryPolicy | None = None,
    each: Callable[[str, int], None] | None = None,
    stop: threading.Event | None = None,
    journal_dir: Path | None = None,
) -> UndoSummary:
    """Undo what the runs of `sheet` into `client`'s account wrote (see the module).

    `each` is told of every lead's undo status and row as it is settled; `stop` set
    ends the undo after the lead under way (run again to carry on)."""
    path = _journal_of(sheet, client, journal_dir)
    journal = Journal.open(path, {})
    results = results_path or sheet.with_name(output_name(sheet, "undo", ".xlsx"))
    summary = UndoSummary(sheet, results)
    sender = RowSender(client, RateLimiter(rate), mode="edit", policy=policy)
    tag = _tag_every_row(template_path or _template_of(journal))
    try:
        sink = XlsxSink(results, "Undo", frozen=1, numbers={1, 3})
        sink.header(list(COLUMNS))
        line = 2
        for lead in list(journal.written_leads()):
            if stop is not None and stop.is_set():
                status, message = lead.undone or "not_done", "undo stopped before this lead"
            else:
                status, message = _undo_one(lead, journal, sender, client, force, tag)
            summary.counts[status] += 1
            summary.partly += status == "restored" and message != RESTORED
            email = str(lead.payload.get("lead", {}).get("email", "")) if lead.payload else ""
            sink.row(line, [status, str(lead.row), email, lead.lead_id, message], {})
            line += 1
            if each is not None:
                each(status, lead.row)
        summary.calls = client.calls_made
        sink.close({**{f"undo: {k}": v for k, v in summary.counts.items()}, "calls": summary.calls})
    finally:
        journal.close()
    return summary


def _undo_one(
    lead: WrittenLead,
    journal: Journal,
    sender: RowSender,
    client: KartraApi,
    force: bool,
    tag: str,
) -> tuple[str, str]:
    """One lead: its undo status and what to say of it (kept in the journal)."""
    if lead.state == RowStatus.CREATED:
        found = f"; every lead the run created has the tag {tag!r}" if tag else ""
        return "created", f"created by the run: Kartra has no call to delete a lead{found}"
    if lead.undone == "restored" or (lead.undone == "kept" and not force):
        return lead.undone, "done by an earlier undo"
    if not lead.before or not lead.payload:
        return "no_backup", "edited without --backup (or by id alone): nothing to put back"
    row = lead_row(lead.row, lead.lead_key, lead.payload)
    if lead.undone == "unknown" and row.points:
        return "unknown", "an earlier undo's answer was lost: its points are not reversed twice"
    email = str(row.lead.get("new_email") or row.lead.get("email") or "")
    read = sender.lookup(lambda: client.get_lead(email=email))
    current = lead_details(read) if read.outcome is Outcome.OK else None
    if current is None:
        journal.mark_undone(lead.lead_key, "failed")
        return "failed", f"the lead could not be read: {read.message or 'no lead found'}"
    changed = compare(row, current, created=False, sequences=False)  # steps move on alone
    if changed and not force:
        journal.mark_undone(lead.lead_key, "kept")
        first = changed[0]
        return "kept", (
            f"changed since the run ({first.what} is now {first.kept!r}, the run wrote "
            f"{first.sent!r}): left alone; --force puts it back all the same"
        )
    call = undo_call(row, lead.before, lead.lead_id)
    result = sender.settler.edit(Tally(), call.lead, call.actions)
    if result.outcome is Outcome.OK and result.lead_saved:
        journal.mark_undone(lead.lead_key, "restored")
        return "restored", call.note or RESTORED
    status = "unknown" if result.outcome is Outcome.UNKNOWN else "failed"
    journal.mark_undone(lead.lead_key, status)
    return status, f"{result.kartra_type or ''} {result.message}".strip()


def _journal_of(sheet: Path, client: KartraApi, journal_dir: Path | None) -> Path:
    """The journal of `sheet`'s runs into this client's account (never another's)."""
    if not sheet.exists():
        raise ConfigError(f"{sheet}: no such file")
    account = client.account_identity()
    for path in find_journals(sheet, journal_dir):
        reading = Journal.open_readonly(path)
        try:
            meta = reading.meta()
        finally:
            reading.close()
        if all(meta.get(key) == value for key, value in account.items()):
            return path
    raise ConfigError(
        f"{sheet}: no journal of a run into this account (app {account.get('app_id', '?')} "
        f"at {account.get('api_host', '?')}); undo works only where the run wrote"
    )


def _template_of(journal: Journal) -> Path | None:
    name = journal.meta().get("template_path", "")
    return Path(name) if name and Path(name).is_file() else None


def _tag_every_row(template_path: Path | None) -> str:
    """The tag the template gave every row (`add`), by which created leads are found."""
    if template_path is None:
        return ""
    try:
        template = load_template(template_path)
    except TemplateError:
        return ""
    return template.tags.add[0] if template.tags is not None and template.tags.add else ""
