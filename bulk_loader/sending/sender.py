"""Send validated rows to Kartra: one call per row, retried only where that is safe.

`RowSender.send(row)` turns one validated row into its final outcome. It is the only
place that knows Kartra's sharp edges:

- create has no idempotency key: a create whose answer was lost is never sent blindly
  again; search_lead decides whether the first attempt landed;
- upsert has no API: create-then-edit or edit-then-create, whichever this run has found
  cheaper so far (`UpsertStrategy`);
- a rate-limited call waits at least a second and is sent again; a transient failure
  (the server did not act) backs off with jitter, a bounded number of times.

Every call, look-ups and retries included, passes through one shared `RateLimiter`
(pacing.py); pool.py runs a fixed pool of worker threads over a bounded window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from bulk_loader.kartra.client import ActionResult, CallResult, Outcome, lead_details
from bulk_loader.kartra.clock import KartraClock, Verdict, stamp_seconds
from bulk_loader.outcomes import RowOutcome, RowStatus, Witness
from bulk_loader.sending.known import KnownLeads
from bulk_loader.sending.pacing import RateLimiter, RetryPolicy, UpsertStrategy
from bulk_loader.validation.validator import LeadRow

__all__ = ["EXISTS", "SETTLE", "RowSender", "SendStats"]

NO_LEAD = "243"
LEAD_EXISTS = "244"
LEAD_DELETED = "245"
# What the journal knows of a row from earlier runs (RowSender.send's `history`).
SETTLE = "settle"
EXISTS = "exists"
# Answers retried within a call; and those whose failure a later run may retry.
RETRIED = frozenset({Outcome.RATE_LIMITED, Outcome.TRANSIENT})
PASSING = RETRIED | {Outcome.FATAL}
# Outcomes after which the row's lead exists in Kartra (created, edited, or found).
EXISTING = frozenset(
    {RowStatus.CREATED, RowStatus.UPDATED, RowStatus.PARTIAL, RowStatus.WOULD_UPDATE}
)
# Answers from Kartra itself that were not a 429: the call got through its rate counter.
ANSWERED = frozenset({Outcome.OK, Outcome.REJECTED, Outcome.FATAL})
# HTTP answers after which the server certainly did not act (no answer at all: None).
NOT_ACTED = frozenset({None, 429, 503})
# Fields edit_lead accepts and create_lead does not.
EDIT_ONLY_FIELDS = ("id", "new_email")


class LeadClient(Protocol):
    """The part of `kartra.KartraClient` the sender needs (a seam for tests)."""

    def create_lead(
        self, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]] = ()
    ) -> CallResult: ...

    def edit_lead(
        self, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]] = ()
    ) -> CallResult: ...

    def search_lead(self, *, email: str | None = None, id: str | None = None) -> CallResult: ...

    def get_lead(self, *, email: str) -> CallResult: ...


class _Stopped(Exception):
    """The run was stopped before this call was sent."""


class _Deferred(Exception):
    """A lead was found after a lost answer, and Kartra's clock is not yet known well
    enough to tell whether this row created it: settle the row later in the run."""


class _Unresolved(Exception):
    """A lost answer could not be settled by search_lead."""

    def __init__(self, result: CallResult) -> None:
        self.result = result


@dataclass
class _Tally:
    """Calls and attempts spent on one row."""

    calls: int = 0
    attempts: int = 0
    maybe_written: bool = False  # some answer was lost: Kartra may have acted
    resumed: bool = False  # an earlier run may have sent this row (its content since changed)
    since: float = 0.0  # when this row was first sent (epoch seconds): a lead found older
    may_defer: bool = False  # an unsure ownership may wait for later in the run
    sent_at: float = 0.0  # the last call: sent and answered (epoch seconds)
    answered_at: float = 0.0
    witness: Witness | None = None


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
        self.clock = KartraClock()
        self.stats = SendStats()
        self.fatal: CallResult | None = None
        self.crash: str | None = None  # a bug met while sending (pool.py stops the run)

    # -- one row -------------------------------------------------------------------

    def send(
        self,
        row: LeadRow,
        *,
        history: str = "",
        since: float | None = None,
        may_defer: bool = False,
    ) -> RowOutcome:
        """See `_send`; a lead that exists afterwards is remembered for later runs."""
        outcome = self._send(row, history=history, since=since, may_defer=may_defer)
        if self.known is not None and outcome.status in EXISTING:
            self.known.remember(row.lead)
        return outcome

    def _send(
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
        otherwise it is `unknown`.
        """
        tally = _Tally(
            maybe_written=history == SETTLE,
            resumed=history == SETTLE,
            since=since or time.time(),
            may_defer=may_defer,
        )
        try:
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
        except _Stopped:
            if tally.maybe_written:
                message = "the run was stopped before this row was settled"
                return self._outcome(row, tally, RowStatus.UNKNOWN, message=message)
            return self._outcome(
                row, tally, RowStatus.NOT_SENT, message="not sent: the run was stopped"
            )
        except _Unresolved as exc:
            message = f"answer lost, and the search to settle it failed: {exc.result.message}"
            return self._outcome(
                row, tally, RowStatus.UNKNOWN, "", exc.result.kartra_type or "", message
            )
        except _Deferred:
            if tally.may_defer:
                return self._outcome(
                    row, tally, RowStatus.DEFERRED, message="settled later in the run"
                )
            message = (
                "answer lost; a lead with this email exists, and whether this run created it "
                "cannot be told yet: run the same command again to settle it"
            )
            return self._outcome(row, tally, RowStatus.UNKNOWN, message=message)

    def lookup(self, func: Callable[[], CallResult]) -> CallResult:
        """A read-only call (account look-ups) through the limiter and the retries.

        Reading changes nothing, so a lost answer is simply asked again.
        """
        tally = _Tally()
        result = self._call(tally, func)
        for _ in range(self.policy.unknown_attempts - 1):
            if result.outcome is not Outcome.UNKNOWN:
                break
            result = self._call(tally, func)
        return result

    def _predict(self, row: LeadRow, tally: _Tally) -> RowOutcome:
        """What sending would do, asked of search_lead (read-only): would_create etc."""
        try:
            found = self._find(tally, **_addressed(row.lead))
        except _Unresolved as exc:
            if exc.result.kartra_type != LEAD_DELETED:
                raise
            return self._outcome(
                row, tally, RowStatus.WOULD_FAIL, "", LEAD_DELETED, "Lead is deleted"
            )
        if found is None:
            if self.mode == "edit" or (row.lead.get("id") and not row.lead.get("email")):
                return self._outcome(row, tally, RowStatus.WOULD_FAIL, "", NO_LEAD, "No lead found")
            return self._outcome(row, tally, RowStatus.WOULD_CREATE)
        if self.mode == "create":
            message = "the lead already exists (create mode fails it; upsert would update it)"
            return self._outcome(row, tally, RowStatus.WOULD_FAIL, found, LEAD_EXISTS, message)
        return self._outcome(row, tally, RowStatus.WOULD_UPDATE, found)

    def _upsert(self, row: LeadRow, tally: _Tally) -> RowOutcome:
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

    def _create(self, row: LeadRow, tally: _Tally, fallback: bool = False) -> RowOutcome | None:
        """create_lead; with `fallback`, None on 244 so that the caller edits instead.

        Once any attempt for this row may have landed, a 244 may be our own lead: a
        search decides, so that such a row is never reported failed.
        """
        lead = _create_payload(row.lead)
        then = _chained_actions(row)
        for _ in range(self.policy.unknown_attempts):
            if tally.maybe_written:
                try:
                    found = self._find_created(row, tally)
                except _Unresolved as exc:
                    if exc.result.kartra_type != LEAD_DELETED:
                        raise
                    return self._finish(row, tally, exc.result, RowStatus.CREATED)
                if found is not None:
                    return self._found_after_lost_create(
                        row, tally, found, str(lead.get("email")), fallback=fallback
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
            return self._finish(row, tally, result, RowStatus.CREATED)
        return self._outcome(row, tally, RowStatus.UNKNOWN, message="answer lost on every attempt")

    def _edit(self, row: LeadRow, tally: _Tally, fallback: bool = False) -> RowOutcome | None:
        """edit_lead; with `fallback`, None on 243 so that the caller creates instead."""
        then = _chained_actions(row)
        renamed_to = row.lead.get("new_email")
        if renamed_to and tally.maybe_written:
            landed = self._rename_landed(tally, row.lead)  # an earlier attempt may have done it
            if landed is not None:
                result = self._edit_by_id(tally, row.lead, landed, then)
                return self._finish(row, tally, result, RowStatus.UPDATED)
        result = self._edit_call(tally, _edit_payload(row.lead), then)
        if result.kartra_type == NO_LEAD and renamed_to:
            # The old address is gone: renamed by an earlier attempt or run, if the new
            # address now finds a lead.
            found = self._find(tally, email=renamed_to)
            if found is not None:
                result = self._edit_by_id(tally, row.lead, found, then)
        if fallback and result.kartra_type == NO_LEAD:
            return None
        return self._finish(row, tally, result, RowStatus.UPDATED)

    def _rename_landed(self, tally: _Tally, lead: Mapping[str, Any]) -> str | None:
        """The lead's id if a rename to new_email already happened, else None.

        The new address finding a lead is not enough: it may be someone else's (then
        the rename must fail with 244). It landed only if the old address is gone, or
        the lead id given finds that same lead.
        """
        found_new = self._find(tally, email=str(lead["new_email"]))
        if found_new is None:
            return None
        if lead.get("id"):
            return found_new if self._find(tally, id=str(lead["id"])) == found_new else None
        return found_new if self._find(tally, email=str(lead.get("email"))) is None else None

    def _edit_call(
        self, tally: _Tally, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]]
    ) -> CallResult:
        """edit_lead; a lost answer is settled before anything is sent again.

        Tags and lists are idempotent: such an edit is simply sent again. An edit that
        renames the lead (new_email) is not: a search for the new address decides.
        """
        result = self._call(tally, self.client.edit_lead, lead, then)
        for _ in range(self.policy.unknown_attempts - 1):
            if result.outcome is not Outcome.UNKNOWN or not _idempotent(then):
                break
            if lead.get("new_email"):
                landed = self._rename_landed(tally, lead)
                if landed is not None:
                    return self._edit_by_id(tally, lead, landed, then)
            result = self._call(tally, self.client.edit_lead, lead, then)
        return result

    def _edit_by_id(
        self,
        tally: _Tally,
        lead: Mapping[str, Any],
        lead_id: str,
        then: Sequence[Mapping[str, Any]],
    ) -> CallResult:
        """The row's fields and actions again, for the lead with this id (idempotent)."""
        fields = {k: v for k, v in lead.items() if k not in ("email", *EDIT_ONLY_FIELDS)}
        return self._edit_call(tally, {**fields, "id": lead_id}, then)

    def _find_created(self, row: LeadRow, tally: _Tally) -> str | None:
        """The lead a create of this row would have made, found by its email."""
        return self._find(tally, email=_create_payload(row.lead).get("email"))

    def _find(self, tally: _Tally, **who: Any) -> str | None:
        """search_lead: the lead's id, or None when Kartra has no such lead (243).

        Read-only, so a lost answer is asked again; anything else is _Unresolved.
        """
        if tally.maybe_written:
            self.stats.bump("reconciliations")  # settling what a lost answer may have done
        for _ in range(self.policy.unknown_attempts):
            result = self._call(tally, self.client.search_lead, **who)
            if result.outcome is Outcome.OK and result.lead_id:
                return result.lead_id
            if result.kartra_type == NO_LEAD:
                return None
            if result.outcome is not Outcome.UNKNOWN:
                break
        raise _Unresolved(result)

    def _found_after_lost_create(
        self, row: LeadRow, tally: _Tally, lead_id: str, email: str, fallback: bool = False
    ) -> RowOutcome | None:
        """A create whose answer was lost, or a row an earlier run left unsettled: search
        found a lead with its email. Was it ours?

        A lead that joined Kartra before this row was first sent existed already: the
        lost answer was a 244. Create mode then fails the row and touches nothing;
        upsert (`fallback`) edits it. A lead created after it is ours: create mode
        applies the chained actions, which may not have run, by an edit (the issue's
        rule), and a resumed row, which may have changed since, gets its fields again
        too. When Kartra's clock is not known well enough to tell, nothing is touched
        (_Deferred).
        """
        verdict = self._ownership(tally, email)
        if verdict is Verdict.UNSURE and not (self.mode == "upsert" and not tally.may_defer):
            raise _Deferred
        if verdict is Verdict.UNSURE:
            # Upsert, for the last time: ours or not, the row goes onto the lead by its
            # id all the same; only whether this run created it cannot be told.
            result = self._edit_by_id(tally, row.lead, lead_id, _chained_actions(row))
            message = "answer lost; the lead was found and updated (this run may have created it)"
            outcome = self._finish(row, tally, result, RowStatus.UPDATED, lead_id=lead_id)
            return replace(outcome, message=outcome.message or message)
        if verdict is Verdict.EXISTED:
            if fallback:
                return None  # upsert: the caller edits the existing lead
            message = "Lead already exists (it joined Kartra before this row was sent)"
            return self._outcome(row, tally, RowStatus.FAILED, lead_id, LEAD_EXISTS, message)
        then = _chained_actions(row)
        if self.mode == "upsert" or tally.resumed:
            result = self._edit_by_id(tally, row.lead, lead_id, then)
        elif then:
            result = self._edit_call(tally, {"id": lead_id}, then)
        else:
            message = "answer lost; lead found by search"
            return self._outcome(row, tally, RowStatus.CREATED, lead_id=lead_id, message=message)
        if not result.lead_saved:
            message = f"lead created, but this row may be only partly applied: {result.message}"
            return self._outcome(
                row, tally, RowStatus.PARTIAL, lead_id, result.kartra_type or "", message
            )
        return self._finish(row, tally, result, RowStatus.CREATED, lead_id=lead_id)

    def _ownership(self, tally: _Tally, email: str) -> Verdict:
        """Was the lead with this email created before this row was first sent?

        get_lead's date_joined, on Kartra's clock, is judged by what this run learned
        of that clock (kartra_clock.py). An answer that cannot be read tells nothing.
        """
        self._learn_clock(tally)
        details = self._details(tally, email)
        joined = stamp_seconds(details.get("date_joined")) if details is not None else None
        return self.clock.judge(joined, tally.since)

    def _learn_clock(self, tally: _Tally) -> None:
        """Read witnesses' date_joined until the clock is sharp or no witness is left.

        A read-back that is not the lead the witness created (another id under that
        email, a lead not made through the API) teaches nothing.
        """
        while (witness := self.clock.next_witness()) is not None:
            details = self._details(tally, witness.email)
            if details is None:
                continue
            same = not witness.lead_id or str(details.get("id", "")) == witness.lead_id
            joined = stamp_seconds(details.get("date_joined"))
            if same and details.get("source", "api") in ("api", "") and joined is not None:
                self.clock.learn(witness, joined)

    def _details(self, tally: _Tally, email: str) -> Mapping[str, Any] | None:
        """get_lead's lead_details for this email; None when it cannot be read."""
        result = self.lookup(lambda: self.client.get_lead(email=email))
        tally.calls += 1
        return lead_details(result) if result.outcome is Outcome.OK else None

    # -- one call ------------------------------------------------------------------

    def _call(
        self, tally: _Tally, func: Callable[..., CallResult], *args: Any, **kw: Any
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
                    # `stop` is set by Ctrl-C and by halt alike: a backoff ends at either.
                    if self.stop.wait(self.policy.backoff(transient)):
                        raise _Stopped
                    continue
            return result

    # -- outcomes ------------------------------------------------------------------

    def _finish(
        self, row: LeadRow, tally: _Tally, result: CallResult, success: RowStatus, lead_id: str = ""
    ) -> RowOutcome:
        lead_id = lead_id or result.lead_id or ""
        if result.outcome is Outcome.OK and result.lead_saved:
            failed = _first_failed_action(result)
            if failed is None:
                return self._outcome(row, tally, success, lead_id=lead_id)
            return self._outcome(
                row,
                tally,
                RowStatus.PARTIAL,
                lead_id,
                failed.type or "",
                f"{failed.cmd}: {failed.message}",
            )
        if result.lead_saved:
            failed = _first_failed_action(result)
            error_type = (failed.type if failed else result.kartra_type) or ""
            message = f"{failed.cmd}: {failed.message}" if failed else result.message
            return self._outcome(row, tally, RowStatus.PARTIAL, lead_id, error_type, message)
        # Never 'failed' while an earlier attempt may have written the lead and the last
        # answer settled nothing (a lost answer, then server errors until we gave up, or
        # a fatal answer): only a search can tell, so the next run settles it first.
        unsettled = result.outcome is Outcome.UNKNOWN or (
            tally.maybe_written and result.outcome in PASSING
        )
        status = RowStatus.UNKNOWN if unsettled else RowStatus.FAILED
        return self._outcome(
            row,
            tally,
            status,
            lead_id,
            result.kartra_type or "",
            result.message,
            retryable=result.outcome in PASSING,
        )

    def _outcome(
        self,
        row: LeadRow,
        tally: _Tally,
        status: RowStatus,
        lead_id: str = "",
        error_type: str = "",
        message: str = "",
        retryable: bool = False,
    ) -> RowOutcome:
        return RowOutcome(
            row.row,
            status,
            lead_id,
            error_type,
            message,
            tally.attempts,
            tally.calls,
            retryable,
            tally.witness if status == RowStatus.CREATED else None,
            tally.since,
        )


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


def _chained_actions(row: LeadRow) -> list[dict[str, str]]:
    actions = [{"cmd": "assign_tag", "tag_name": tag} for tag in row.tags]
    actions += [{"cmd": "subscribe_lead_to_list", "list_name": name} for name in row.lists]
    return actions


IDEMPOTENT_ACTIONS = frozenset(
    {"assign_tag", "unassign_tag", "subscribe_lead_to_list", "unsubscribe_lead_from_list"}
)


def _idempotent(actions: Sequence[Mapping[str, Any]]) -> bool:
    return all(action["cmd"] in IDEMPOTENT_ACTIONS for action in actions)


def _required(outcome: RowOutcome | None) -> RowOutcome:
    """Without `fallback`, the create and edit steps always reach an outcome."""
    assert outcome is not None
    return outcome


def _first_failed_action(result: CallResult) -> ActionResult | None:
    """The first chained action Kartra did not apply, if any (actions[0] is the lead)."""
    for action in result.actions[1:]:
        if action.status != "Success":
            return action
    return None
