"""Send validated rows to Kartra: one call per row, retried only where that is safe.

`RowSender.send(row)` turns one validated row into its final outcome. With settling.py
it is the only place that knows Kartra's sharp edges:

- create has no idempotency key: a create whose answer was lost is never sent blindly
  again; search_lead decides whether the first attempt landed (settling.py);
- upsert has no API: create-then-edit or edit-then-create, whichever this run has found
  cheaper so far (`UpsertStrategy`);
- a rate-limited call waits at least a second and is sent again; a transient failure
  (the server did not act) backs off with jitter, a bounded number of times.

Every call, look-ups, retries and settling searches included, passes through one shared
`RateLimiter` (pacing.py); pool.py runs a fixed pool of worker threads over a bounded
window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from bulk_loader.kartra.actions import (
    assign_tag,
    give_points_to_lead,
    remove_points_from_lead,
    subscribe_lead_to_list,
    subscribe_lead_to_sequence_at_step,
    unassign_tag,
    unsubscribe_lead_from_list,
)
from bulk_loader.kartra.call_log import for_row
from bulk_loader.kartra.client import CallResult, Outcome, lead_details
from bulk_loader.kartra.clock import KartraClock
from bulk_loader.outcomes import RowOutcome, RowStatus, Witness
from bulk_loader.sending.known import KnownLeads
from bulk_loader.sending.pacing import RateLimiter, RetryPolicy, UpsertStrategy
from bulk_loader.sending.settling import (
    EDIT_ONLY_FIELDS,
    IDEMPOTENT_ACTIONS,
    LEAD_DELETED,
    LEAD_EXISTS,
    NO_LEAD,
    Settler,
    SettlingClient,
    Tally,
    Unresolved,
    Unsettled,
)
from bulk_loader.sending.undo import before_image
from bulk_loader.validation.validator import LeadRow

__all__ = ["EXISTS", "SETTLE", "RowSender", "SendStats", "Stopped"]

# What the journal knows of a row from earlier runs (RowSender.send's `history`).
SETTLE = "settle"
EXISTS = "exists"
# Answers retried within a call.
RETRIED = frozenset({Outcome.RATE_LIMITED, Outcome.TRANSIENT})
# Outcomes after which the row's lead exists in Kartra (created, edited, or found).
EXISTING = frozenset(
    {RowStatus.CREATED, RowStatus.UPDATED, RowStatus.PARTIAL, RowStatus.WOULD_UPDATE}
)
# Answers from Kartra itself that were not a 429: the call got through its rate counter.
ANSWERED = frozenset({Outcome.OK, Outcome.REJECTED, Outcome.FATAL})
# HTTP answers after which the server certainly did not act (no answer at all: None).
NOT_ACTED = frozenset({None, 429, 503})


class LeadClient(SettlingClient, Protocol):
    """The part of `kartra.KartraClient` the sender needs (a seam for tests)."""

    def create_lead(
        self, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]] = ()
    ) -> CallResult: ...


class Stopped(Exception):
    """The run was stopped before this call was sent (a look-up raises it to its caller)."""


_Stopped = Stopped  # the name used inside this module


@dataclass
class SendStats:
    """Run-wide counters, updated by the workers."""

    retries: int = 0
    rate_limited: int = 0
    reconciliations: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bump(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


class RowSender:
    """Sends one row at a time; share one instance between all workers."""

    def __init__(
        self,
        client: LeadClient,
        limiter: RateLimiter,
        *,
        mode: str,
        policy: RetryPolicy | None = None,
        lookup_only: bool = False,
        known: KnownLeads | None = None,
    ) -> None:
        self.client = client
        self.limiter = limiter
        self.mode = mode
        self.lookup_only = lookup_only  # a dry run: search_lead only, nothing written
        self.policy = policy or RetryPolicy()
        # `stop`: start no new row (Ctrl-C); rows under way finish their calls.
        # `halt`: send no further call at all (a fatal answer, or a second Ctrl-C).
        self.stop = threading.Event()
        self.halt = threading.Event()
        self.strategy = UpsertStrategy()
        self.known = known  # which leads exist, as far as --known and the memory know
        self.stats = SendStats()
        # Told, in a line for the person, when an account look-up is retried: a server
        # that cannot be reached is otherwise several silent seconds before the error.
        self.notice: Callable[[str], None] | None = None
        # --backup: read each lead before editing it and keep its before-image (undo.py).
        self.backup = False
        self.fatal: CallResult | None = None
        self.crash: str | None = None  # a bug met while sending (pool.py stops the run)
        # Lost answers: settled by searches sent as this sender's own calls.
        self.settler = Settler(
            client,
            self._call,
            self.lookup,
            attempts=self.policy.unknown_attempts,
            reconciling=lambda: self.stats.bump("reconciliations"),
        )

    @property
    def clock(self) -> KartraClock:
        """What this run learned of Kartra's clock (it judges leads found after a loss)."""
        return self.settler.clock

    @clock.setter
    def clock(self, clock: KartraClock) -> None:
        self.settler.clock = clock

    # -- one row -------------------------------------------------------------------

    def send(
        self,
        row: LeadRow,
        *,
        history: str = "",
        since: float | None = None,
        may_defer: bool = False,
    ) -> RowOutcome:
        """Send `row` and return its final outcome; never raises for Kartra's answers.

        `history`, from the journal: SETTLE, an earlier run may have sent this row and
        lost the answer; EXISTS, an earlier run wrote this lead and the row has changed
        since, so in upsert mode an edit (not a create) brings Kartra up to date.
        `since`: when an earlier run marked the row as being sent. `may_defer`: a lead
        found after a lost answer that cannot yet be told ours or not comes back
        `deferred` (the pool sends the row again, SETTLE, at the end of the run);
        otherwise it is `unknown`. A lead that exists afterwards is remembered for
        later runs.
        """
        tally = Tally(
            maybe_written=history == SETTLE,
            resumed=history == SETTLE,
            since=since or time.time(),
            may_defer=may_defer,
        )
        once = _once_only(row)
        if once and history in (SETTLE, EXISTS):
            # Points and a sequence are not idempotent: an earlier run sent them, or may
            # have (its answer was lost). The rest of the row goes; they never twice.
            row = replace(row, points=0, sequence=None)
        try:
            with for_row(row.row):  # --log names the row of each call
                outcome = self._send(row, tally, history)
        except _Stopped:
            outcome = _stopped(row, tally)
        except Unsettled as exc:
            outcome = exc.outcome(row, tally)
        if self.known is not None and outcome.status in EXISTING:
            self.known.remember(row.lead)
        if once and history in (SETTLE, EXISTS):
            outcome = replace(outcome, withheld=True)
            if outcome.status in EXISTING:
                outcome = _not_sent_again(outcome, once, settle=history == SETTLE)
        return outcome

    def _send(self, row: LeadRow, tally: Tally, history: str) -> RowOutcome:
        """The calls the mode and the row's `history` ask for, in their order."""
        if self.lookup_only:
            return self._predict(row, tally)
        if self.mode == "edit":
            return _required(self._edit(row, tally))
        # Create mode only ever creates: a changed row whose lead exists fails with 244.
        upsert_existing = history == EXISTS or _addresses_existing(row)
        if self.mode == "upsert" and upsert_existing:
            return self._edit(row, tally, fallback=True) or _required(self._create(row, tally))
        if self.mode == "create":
            return _required(self._create(row, tally))
        if history == SETTLE:  # upsert: settle the earlier create first
            created = self._create(row, tally, fallback=True)
            return created or _required(self._edit(row, tally))
        return self._upsert(row, tally)

    def lookup(self, func: Callable[[], CallResult]) -> CallResult:
        """A read-only call (account look-ups) through the limiter and the retries.

        Reading changes nothing, so a lost answer is simply asked again.
        """
        tally = Tally(announce=self.notice is not None)
        result = self._call(tally, func)
        for _ in range(self.policy.unknown_attempts - 1):
            if result.outcome is not Outcome.UNKNOWN:
                break
            result = self._call(tally, func)
        return result

    def _predict(self, row: LeadRow, tally: Tally) -> RowOutcome:
        """What sending would do, asked of search_lead (read-only): would_create etc."""
        try:
            found = self.settler.find(tally, **_addressed(row.lead))
        except Unresolved as exc:
            if exc.result.kartra_type != LEAD_DELETED:
                raise
            return tally.outcome(row, RowStatus.WOULD_FAIL, "", LEAD_DELETED, "Lead is deleted")
        if found is None:
            if self.mode == "edit" or (row.lead.get("id") and not row.lead.get("email")):
                return tally.outcome(row, RowStatus.WOULD_FAIL, "", NO_LEAD, "No lead found")
            return tally.outcome(row, RowStatus.WOULD_CREATE)
        if self.mode == "create":
            message = "the lead already exists (create mode fails it; upsert would update it)"
            return tally.outcome(row, RowStatus.WOULD_FAIL, found, LEAD_EXISTS, message)
        return tally.outcome(row, RowStatus.WOULD_UPDATE, found)

    def _read_before(self, row: LeadRow, tally: Tally) -> None:
        """The lead as it is before this row's edit (get_lead, by the row's email: a row
        naming only an id has no backup), into `tally.before`."""
        email = str(row.lead.get("email") or "")
        if not email:
            return
        result = self.lookup(lambda: self.client.get_lead(email=email))
        tally.calls += 1
        details = lead_details(result) if result.outcome is Outcome.OK else None
        if details:
            tally.before = before_image(row, details)

    def _upsert(self, row: LeadRow, tally: Tally) -> RowOutcome:
        """Edit first or create first: as the known leads say, else as recent rows went.

        A hint is only a hint: a wrong one costs the fallback call, nothing else.
        """
        hint = self.known.exists(row.lead) if self.known is not None else None
        if hint is not None:
            if hint:
                return self._edit(row, tally, fallback=True) or _required(self._create(row, tally))
            return self._create(row, tally, fallback=True) or _required(self._edit(row, tally))
        if self.strategy.edit_first():
            outcome = self._edit(row, tally, fallback=True)
            if outcome is not None:
                self.strategy.observe(existed=True)
                return outcome
            self.strategy.observe(existed=False)
            return _required(self._create(row, tally))
        created = self._create(row, tally, fallback=True)
        if created is not None:
            self.strategy.observe(existed=False)
            return created
        self.strategy.observe(existed=True)
        return _required(self._edit(row, tally))

    def _create(self, row: LeadRow, tally: Tally, fallback: bool = False) -> RowOutcome | None:
        """create_lead; with `fallback`, None on 244 so that the caller edits instead.

        Once any attempt for this row may have landed, a 244 may be our own lead: a
        search decides, so that such a row is never reported failed.
        """
        lead = _create_payload(row.lead)
        then = _chained_actions(row)
        for _ in range(self.policy.unknown_attempts):
            if tally.maybe_written:
                try:
                    found = self.settler.find(tally, email=lead.get("email"))
                except Unresolved as exc:
                    if exc.result.kartra_type != LEAD_DELETED:
                        raise
                    return tally.finish(row, exc.result, RowStatus.CREATED)
                if found is not None:
                    email, upsert = str(lead.get("email")), self.mode == "upsert"
                    return self.settler.found_after_lost_create(
                        row, tally, found, email, then, upsert=upsert, fallback=fallback
                    )
            result = self._call(tally, self.client.create_lead, lead, then)
            if result.outcome is Outcome.UNKNOWN:
                continue  # the search at the top of the loop settles it
            if result.kartra_type == LEAD_EXISTS and tally.maybe_written:
                continue  # our own earlier attempt may have landed late: search again
            if fallback and result.kartra_type == LEAD_EXISTS:
                return None
            if result.lead_saved and result.lead_id and lead.get("email"):
                # Created between send and answer: a witness of Kartra's clock.
                tally.witness = Witness(
                    str(lead["email"]), tally.sent_at, tally.answered_at, result.lead_id
                )
                self.clock.witness(tally.witness)
            return tally.finish(row, result, RowStatus.CREATED)
        return tally.outcome(row, RowStatus.UNKNOWN, message="answer lost on every attempt")

    def _edit(self, row: LeadRow, tally: Tally, fallback: bool = False) -> RowOutcome | None:
        """edit_lead; with `fallback`, None on 243 so that the caller creates instead."""
        if self.backup and not tally.before:
            self._read_before(row, tally)
        then = _chained_actions(row)
        renamed_to = row.lead.get("new_email")
        if renamed_to and tally.maybe_written:
            # An earlier attempt may have renamed the lead already.
            landed = self.settler.rename_landed(tally, row.lead)
            if landed is not None:
                result = self.settler.edit_by_id(tally, row.lead, landed, then)
                return tally.finish(row, result, RowStatus.UPDATED)
        result = self.settler.edit(tally, _edit_payload(row.lead), then)
        if result.kartra_type == NO_LEAD and renamed_to:
            # The old address is gone: renamed by an earlier attempt or run, if the new
            # address now finds a lead.
            found = self.settler.find(tally, email=renamed_to)
            if found is not None:
                result = self.settler.edit_by_id(tally, row.lead, found, then)
        if fallback and result.kartra_type == NO_LEAD:
            return None
        return tally.finish(row, result, RowStatus.UPDATED)

    # -- one call ------------------------------------------------------------------

    def _call(
        self, tally: Tally, func: Callable[..., CallResult], *args: Any, **kw: Any
    ) -> CallResult:
        """One logical call: waits for the limiter, retries 429 and transient failures."""
        transient = rate_limited = 0
        while True:
            # A retry is a new call: once the run is stopping, none goes out. The first
            # attempt of a row under way may still go (until a second Ctrl-C: halt).
            if not self.limiter.acquire(self.stop if transient or rate_limited else self.halt):
                raise _Stopped
            tally.calls += 1
            tally.attempts += 1
            tally.sent_at = time.time()
            result = func(*args, **kw)
            tally.answered_at = time.time()
            if result.outcome in ANSWERED:
                self.limiter.accepted()  # Kartra took the call: the pace may rise a little
            if result.outcome is Outcome.FATAL:
                # Wherever it appears, a chained action included: every row would meet it.
                self.fatal = self.fatal or result
                self.halt.set()
                self.stop.set()
                return result
            if result.outcome is Outcome.UNKNOWN:
                tally.maybe_written = True
            elif result.lead_saved:
                return result  # a chained action was refused (even 429): never resend a write
            elif result.outcome is Outcome.TRANSIENT and result.http_status not in NOT_ACTED:
                # A 500, 502 or 504, or a 200 that is not JSON: the server may have acted.
                tally.maybe_written = True
                if _carries_once(args):
                    return result  # points or a sequence: never sent again blindly
            if result.outcome in RETRIED and self.stop.is_set():
                raise _Stopped  # stopping: no more retries; Kartra did not act on this one
            if result.outcome is Outcome.RATE_LIMITED:
                # Sent again at the next slot, at a slower pace; several in a row pause
                # the whole App (pacing.RateLimiter).
                rate_limited += 1
                self.stats.bump("rate_limited")
                self.limiter.throttled(self.policy.rate_limit_wait)
                if rate_limited < self.policy.rate_limited_attempts:
                    continue
            elif result.outcome is Outcome.TRANSIENT:
                transient += 1
                if transient < self.policy.transient_attempts:
                    self.stats.bump("retries")
                    if tally.announce and transient == 1 and self.notice is not None:
                        wait = self.policy.longest_wait()
                        self.notice(
                            f"{result.message or 'no answer'}; trying again for up to "
                            f"{wait:.0f} s (Ctrl-C stops)"
                        )
                    # `stop` is set by Ctrl-C and by halt alike: a backoff ends at either.
                    if self.stop.wait(self.policy.backoff(transient)):
                        raise _Stopped
                    continue
            return result


def _stopped(row: LeadRow, tally: Tally) -> RowOutcome:
    """A row the run stopped: never sent, or sent and not settled (`unknown`)."""
    if tally.maybe_written:
        message = "the run was stopped before this row was settled"
        return tally.outcome(row, RowStatus.UNKNOWN, message=message)
    return tally.outcome(row, RowStatus.NOT_SENT, message="not sent: the run was stopped")


def _addresses_existing(row: LeadRow) -> bool:
    """A row naming a lead id, or renaming one, is about an existing lead: edit first.

    Creating first would make a second lead (from the email, or the new address).
    """
    return bool(row.lead.get("id") or row.lead.get("new_email"))


def _addressed(lead: Mapping[str, Any]) -> dict[str, str]:
    """How an edit of `lead` finds it: by id when given (Kartra prefers it), else email."""
    return {"id": str(lead["id"])} if lead.get("id") else {"email": str(lead.get("email"))}


def _edit_payload(lead: Mapping[str, Any]) -> Mapping[str, Any]:
    """An edit by id sends no email: with both, Kartra goes by the id, and what it then
    does with the email is undocumented (perhaps a rename that skips new_email's 244)."""
    if lead.get("id") and "email" in lead:
        return {k: v for k, v in lead.items() if k != "email"}
    return lead


def _create_payload(lead: Mapping[str, Any]) -> dict[str, Any]:
    """create_lead takes neither an id nor a new_email; a new lead gets the new address."""
    payload = {k: v for k, v in lead.items() if k not in EDIT_ONLY_FIELDS}
    if lead.get("new_email"):
        payload["email"] = lead["new_email"]
    return payload


def _chained_actions(row: LeadRow) -> list[dict[str, Any]]:
    """The row's actions, chained after the lead command in the same call: tags added
    then removed, lists joined then left, points, then the sequence."""
    actions: list[dict[str, Any]] = [assign_tag(tag) for tag in row.tags]
    actions += [unassign_tag(tag) for tag in row.remove_tags]
    actions += [subscribe_lead_to_list(name) for name in row.lists]
    actions += [unsubscribe_lead_from_list(name) for name in row.remove_lists]
    if row.points > 0:
        actions.append(give_points_to_lead(row.points, row.expiration_days))
    elif row.points < 0:
        actions.append(remove_points_from_lead(-row.points))
    if row.sequence is not None:
        actions.append(subscribe_lead_to_sequence_at_step(*row.sequence))
    return actions


def _carries_once(args: Sequence[Any]) -> bool:
    """Whether a call's chained actions hold one that must never go twice (points, a
    sequence): any that is not idempotent."""
    for arg in args:
        if isinstance(arg, (list, tuple)) and any(
            isinstance(action, Mapping) and action.get("cmd") not in IDEMPOTENT_ACTIONS
            for action in arg
        ):
            return True
    return False


def _once_only(row: LeadRow) -> str:
    """What of the row must never be sent twice ("" when nothing): its points, its
    sequence (subscribing again may send the step's email again)."""
    once = []
    if row.points:
        once.append("points")
    if row.sequence is not None:
        once.append("sequence")
    return " and ".join(once)


def _not_sent_again(outcome: RowOutcome, once: str, *, settle: bool) -> RowOutcome:
    """A row whose points or sequence an earlier run sent (or may have sent): the rest
    was applied; a lost answer leaves it unknown, for the person to check in Kartra."""
    if settle:
        message = (
            f"an earlier run's answer was lost: its {once} may have been applied and are "
            "not sent again; check the lead in Kartra"
        )
        return replace(outcome, status=RowStatus.UNKNOWN, message=message)
    message = f"{once} not sent again: an earlier run sent them to this lead"
    return replace(outcome, message=outcome.message or message)


def _required(outcome: RowOutcome | None) -> RowOutcome:
    """Without `fallback`, the create and edit steps always reach an outcome."""
    assert outcome is not None
    return outcome
