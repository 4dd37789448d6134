"""Settling lost answers: did a create or edit whose answer never came land in Kartra?

An answer is lost when the call may have reached Kartra and no answer came back (a
timeout, a dropped connection; a 500, 502 or 504; a 200 that is not JSON). Kartra may
or may not have acted, so nothing is sent blindly again:

- create has no idempotency key: before a create goes again, search_lead looks for a
  lead with the row's email. A lead found may be someone else's, there before this row
  was sent (the lost answer was then a 244); get_lead's date_joined, judged by what the
  run learned of Kartra's clock (kartra/clock.py), tells whose it is. When the clock is
  not known well enough yet, nobody guesses: the row waits for the end of the run
  (`Deferred`), or stays `unknown`;
- an edit that sets fields, tags and lists is idempotent: it is simply sent again. An
  edit that renames the lead (new_email) is not: searches decide whether it landed;
- a row is never reported `failed` while an earlier attempt may have written its lead
  and the last answer settled nothing (`Tally.finish`): the next run settles it first.

`Settler` does this for every row of a run. Its calls are the sender's (`Call`): paced,
retried and counted on the row like any other. sender.py decides what to send; this
module decides what a lost answer left behind, and the row's outcome from its answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bulk_loader.kartra.client import ActionResult, CallResult, Outcome, lead_details
from bulk_loader.kartra.clock import KartraClock, Verdict, stamp_seconds
from bulk_loader.outcomes import RowOutcome, RowStatus, Witness
from bulk_loader.validation.validator import LeadRow

__all__ = [
    "EDIT_ONLY_FIELDS",
    "LEAD_DELETED",
    "LEAD_EXISTS",
    "NO_LEAD",
    "Call",
    "Deferred",
    "Settler",
    "SettlingClient",
    "Tally",
    "Unresolved",
    "Unsettled",
]

NO_LEAD = "243"
LEAD_EXISTS = "244"
LEAD_DELETED = "245"
# Answers whose failure a later run may retry: the server did not act, or a fatal
# answer stopped the run.
PASSING = frozenset({Outcome.RATE_LIMITED, Outcome.TRANSIENT, Outcome.FATAL})
# Fields edit_lead accepts and create_lead does not.
EDIT_ONLY_FIELDS = ("id", "new_email")
IDEMPOTENT_ACTIONS = frozenset(
    {"assign_tag", "unassign_tag", "subscribe_lead_to_list", "unsubscribe_lead_from_list"}
)


@dataclass
class Tally:
    """What one row has spent, and what its lost answers may have left in Kartra."""

    calls: int = 0
    attempts: int = 0
    maybe_written: bool = False  # some answer was lost: Kartra may have acted
    resumed: bool = False  # an earlier run may have sent this row (its content since changed)
    since: float = 0.0  # when this row was first sent (epoch seconds): a lead found older
    may_defer: bool = False  # an unsure ownership may wait for later in the run
    sent_at: float = 0.0  # the last call: sent and answered (epoch seconds)
    answered_at: float = 0.0
    witness: Witness | None = None
    announce: bool = False  # tell the person when this call is retried (account look-ups)
    before: str = ""  # --backup: the lead as it was before this row's edit (JSON)

    def outcome(
        self,
        row: LeadRow,
        status: RowStatus,
        lead_id: str = "",
        error_type: str = "",
        message: str = "",
        retryable: bool = False,
    ) -> RowOutcome:
        """The row's final word, with what it spent (a created row, its witness)."""
        witness = self.witness if status == RowStatus.CREATED else None
        return RowOutcome(
            row.row,
            status,
            lead_id,
            error_type,
            message,
            self.attempts,
            self.calls,
            retryable,
            witness,
            self.since,
            self.before,
        )

    def finish(
        self, row: LeadRow, result: CallResult, success: RowStatus, lead_id: str = ""
    ) -> RowOutcome:
        """The row's outcome from its last answer: `success`, partial, failed or unknown."""
        lead_id = lead_id or result.lead_id or ""
        if result.lead_saved:
            failed = _first_failed_action(result)
            if result.outcome is Outcome.OK and failed is None:
                return self.outcome(row, success, lead_id=lead_id)
            error_type = (failed.type if failed else result.kartra_type) or ""
            message = f"{failed.cmd}: {failed.message}" if failed else result.message
            return self.outcome(row, RowStatus.PARTIAL, lead_id, error_type, message)
        # Never 'failed' while an earlier attempt may have written the lead and the last
        # answer settled nothing (a lost answer, then server errors until we gave up, or
        # a fatal answer): only a search can tell, so the next run settles it first.
        unsettled = result.outcome is Outcome.UNKNOWN or (
            self.maybe_written and result.outcome in PASSING
        )
        status = RowStatus.UNKNOWN if unsettled else RowStatus.FAILED
        error_type = result.kartra_type or ""
        retryable = result.outcome in PASSING
        return self.outcome(row, status, lead_id, error_type, result.message, retryable)


class Unsettled(Exception):
    """A lost answer this row cannot settle now; `outcome` is what the row ends as."""

    def outcome(self, row: LeadRow, tally: Tally) -> RowOutcome:
        raise NotImplementedError


class Unresolved(Unsettled):
    """A lost answer could not be settled by search_lead."""

    def __init__(self, result: CallResult) -> None:
        self.result = result

    def outcome(self, row: LeadRow, tally: Tally) -> RowOutcome:
        message = f"answer lost, and the search to settle it failed: {self.result.message}"
        return tally.outcome(row, RowStatus.UNKNOWN, "", self.result.kartra_type or "", message)


class Deferred(Unsettled):
    """A lead was found after a lost answer, and Kartra's clock is not yet known well
    enough to tell whether this row created it: settle the row later in the run."""

    def outcome(self, row: LeadRow, tally: Tally) -> RowOutcome:
        if tally.may_defer:
            return tally.outcome(row, RowStatus.DEFERRED, message="settled later in the run")
        message = (
            "answer lost; a lead with this email exists, and whether this run created it "
            "cannot be told yet: run the same command again to settle it"
        )
        return tally.outcome(row, RowStatus.UNKNOWN, message=message)


class SettlingClient(Protocol):
    """The calls settling makes (part of `kartra.KartraClient`; a seam for tests)."""

    def edit_lead(
        self, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]] = ()
    ) -> CallResult: ...

    def search_lead(self, *, email: str | None = None, id: str | None = None) -> CallResult: ...

    def get_lead(self, *, email: str) -> CallResult: ...


class Call(Protocol):
    """The sender's one logical call: paced, retried and counted on the row's tally.

    It raises when the run stops before the call goes out; settling lets that pass.
    """

    def __call__(
        self, tally: Tally, func: Callable[..., CallResult], /, *args: Any, **kw: Any
    ) -> CallResult: ...


class Settler:
    """Settles the lost answers of every row of a run; shared by all the workers.

    `call` sends a call for a row, `lookup` a read-only one (asked again when its answer
    is lost); `attempts` bounds the lost answers settled per row; `reconciling()` counts
    each search made to settle one. `clock` is what the run learned of Kartra's clock.
    """

    def __init__(
        self,
        client: SettlingClient,
        call: Call,
        lookup: Callable[[Callable[[], CallResult]], CallResult],
        *,
        attempts: int,
        reconciling: Callable[[], None],
    ) -> None:
        self.client = client
        self.call = call
        self.lookup = lookup
        self.attempts = attempts
        self.reconciling = reconciling
        self.clock = KartraClock()

    # -- is the lead there? ---------------------------------------------------------

    def find(self, tally: Tally, **who: Any) -> str | None:
        """search_lead: the lead's id, or None when Kartra has no such lead (243).

        Read-only, so a lost answer is asked again; anything else is Unresolved.
        """
        if tally.maybe_written:
            self.reconciling()  # settling what a lost answer may have done
        for _ in range(self.attempts):
            result = self.call(tally, self.client.search_lead, **who)
            if result.outcome is Outcome.OK and result.lead_id:
                return result.lead_id
            if result.kartra_type == NO_LEAD:
                return None
            if result.outcome is not Outcome.UNKNOWN:
                break
        raise Unresolved(result)

    def rename_landed(self, tally: Tally, lead: Mapping[str, Any]) -> str | None:
        """The lead's id if a rename to new_email already happened, else None.

        The new address finding a lead is not enough: it may be someone else's (then
        the rename must fail with 244). It landed only if the old address is gone, or
        the lead id given finds that same lead.
        """
        found_new = self.find(tally, email=str(lead["new_email"]))
        if found_new is None:
            return None
        if lead.get("id"):
            return found_new if self.find(tally, id=str(lead["id"])) == found_new else None
        return found_new if self.find(tally, email=str(lead.get("email"))) is None else None

    # -- edits that may be sent again ------------------------------------------------

    def edit(
        self, tally: Tally, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]]
    ) -> CallResult:
        """edit_lead; a lost answer is settled before anything is sent again.

        Tags and lists are idempotent: such an edit is simply sent again. An edit that
        renames the lead (new_email) is not: a search for the new address decides.
        """
        result = self.call(tally, self.client.edit_lead, lead, then)
        for _ in range(self.attempts - 1):
            if result.outcome is not Outcome.UNKNOWN or not _idempotent(then):
                break
            if lead.get("new_email"):
                landed = self.rename_landed(tally, lead)
                if landed is not None:
                    return self.edit_by_id(tally, lead, landed, then)
            result = self.call(tally, self.client.edit_lead, lead, then)
        return result

    def edit_by_id(
        self,
        tally: Tally,
        lead: Mapping[str, Any],
        lead_id: str,
        then: Sequence[Mapping[str, Any]],
    ) -> CallResult:
        """The row's fields and actions again, for the lead with this id (idempotent)."""
        fields = {k: v for k, v in lead.items() if k not in ("email", *EDIT_ONLY_FIELDS)}
        return self.edit(tally, {**fields, "id": lead_id}, then)

    # -- a lead found after a lost create --------------------------------------------

    def found_after_lost_create(
        self,
        row: LeadRow,
        tally: Tally,
        lead_id: str,
        email: str,
        then: Sequence[Mapping[str, Any]],
        *,
        upsert: bool,
        fallback: bool = False,
    ) -> RowOutcome | None:
        """A create whose answer was lost, or a row an earlier run left unsettled: search
        found a lead with its email. Was it ours?

        A lead that joined Kartra before this row was first sent existed already: the
        lost answer was a 244. Create mode then fails the row and touches nothing;
        upsert (`fallback`) edits it. A lead created after it is ours: create mode
        applies the chained actions `then`, which may not have run, by an edit (the
        issue's rule), and a resumed row, which may have changed since, gets its fields
        again too. When Kartra's clock is not known well enough to tell, nothing is
        touched (Deferred).
        """
        verdict = self._ownership(tally, email)
        if verdict is Verdict.UNSURE and not (upsert and not tally.may_defer):
            raise Deferred
        if verdict is not Verdict.EXISTED and not _idempotent(then):
            # Ours, or perhaps: the lost create may have applied the points or the
            # sequence chained to it, so only the rest is sent again, and the row stays
            # unknown for the person to check (they are never sent twice).
            again = [action for action in then if action["cmd"] in IDEMPOTENT_ACTIONS]
            outcome = self._apply_found(row, tally, lead_id, verdict, again, upsert, fallback)
            if outcome is None or outcome.status not in (RowStatus.CREATED, RowStatus.UPDATED):
                return outcome
            message = (
                "answer lost; the lead was found, and its points or sequence may have been "
                "applied: not sent again, check the lead in Kartra"
            )
            return replace(outcome, status=RowStatus.UNKNOWN, message=message)
        return self._apply_found(row, tally, lead_id, verdict, then, upsert, fallback)

    def _apply_found(
        self,
        row: LeadRow,
        tally: Tally,
        lead_id: str,
        verdict: Verdict,
        then: Sequence[Mapping[str, Any]],
        upsert: bool,
        fallback: bool,
    ) -> RowOutcome | None:
        """found_after_lost_create's verdict acted on: `then` sent with the row."""
        if verdict is Verdict.UNSURE:
            # Upsert, for the last time: ours or not, the row goes onto the lead by its
            # id all the same; only whether this run created it cannot be told.
            result = self.edit_by_id(tally, row.lead, lead_id, then)
            message = "answer lost; the lead was found and updated (this run may have created it)"
            outcome = tally.finish(row, result, RowStatus.UPDATED, lead_id=lead_id)
            return replace(outcome, message=outcome.message or message)
        if verdict is Verdict.EXISTED:
            if fallback:
                return None  # upsert: the caller edits the existing lead
            message = "Lead already exists (it joined Kartra before this row was sent)"
            return tally.outcome(row, RowStatus.FAILED, lead_id, LEAD_EXISTS, message)
        if upsert or tally.resumed:
            result = self.edit_by_id(tally, row.lead, lead_id, then)
        elif then:
            result = self.edit(tally, {"id": lead_id}, then)
        else:
            message = "answer lost; lead found by search"
            return tally.outcome(row, RowStatus.CREATED, lead_id=lead_id, message=message)
        if not result.lead_saved:
            message = f"lead created, but this row may be only partly applied: {result.message}"
            error_type = result.kartra_type or ""
            return tally.outcome(row, RowStatus.PARTIAL, lead_id, error_type, message)
        return tally.finish(row, result, RowStatus.CREATED, lead_id=lead_id)

    def _ownership(self, tally: Tally, email: str) -> Verdict:
        """Was the lead with this email created before this row was first sent?

        get_lead's date_joined, on Kartra's clock, is judged by what this run learned
        of that clock (kartra/clock.py). An answer that cannot be read tells nothing.
        """
        self._learn_clock(tally)
        details = self._details(tally, email)
        joined = stamp_seconds(details.get("date_joined")) if details is not None else None
        return self.clock.judge(joined, tally.since)

    def _learn_clock(self, tally: Tally) -> None:
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

    def _details(self, tally: Tally, email: str) -> Mapping[str, Any] | None:
        """get_lead's lead_details for this email; None when it cannot be read."""
        result = self.lookup(lambda: self.client.get_lead(email=email))
        tally.calls += 1
        return lead_details(result) if result.outcome is Outcome.OK else None


def _idempotent(actions: Sequence[Mapping[str, Any]]) -> bool:
    return all(action["cmd"] in IDEMPOTENT_ACTIONS for action in actions)


def _first_failed_action(result: CallResult) -> ActionResult | None:
    """The first chained action Kartra did not apply, if any (actions[0] is the lead)."""
    for action in result.actions[1:]:
        if action.status != "Success":
            return action
    return None
