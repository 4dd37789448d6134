"""The words a person sees: row statuses, problem codes, and the values that carry them.

A neutral module: every stage (sheets, validation, sending, journal, results, cli)
imports it and it imports none of them. A problem never raises: readers and validators
return them, the report counts them, the CLI and the results workbook render them.
The enums are `StrEnum`s: each member is its plain word, so journals, results files and
anything that matched on the strings before read the same.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "ATTENTION",
    "GOOD",
    "WARNINGS",
    "Problem",
    "ProblemCode",
    "Report",
    "RowOutcome",
    "RowStatus",
    "Witness",
    "blocking",
    "problem_text",
    "without_value",
]


class RowStatus(StrEnum):
    """What became of a row, as the results workbook and the terminal say it."""

    VALID = "valid"  # a dry run: the row would be sent
    INVALID = "invalid"  # a problem in the row: never sent
    CREATED = "created"
    UPDATED = "updated"
    PARTIAL = "partial"  # the lead was saved, a chained tag or list was refused
    FAILED = "failed"  # Kartra refused the call
    UNKNOWN = "unknown"  # the answer was lost and nothing could settle it
    NOT_SENT = "not_sent"  # the run stopped before this row
    SENDING = "sending"  # in flight in a run still going (results rebuilt meanwhile)
    WOULD_CREATE = "would_create"  # a --lookup dry run
    WOULD_UPDATE = "would_update"
    WOULD_FAIL = "would_fail"
    # Only between the sender and the pool: settle this row later in the run.
    DEFERRED = "deferred"


# Statuses that end a row as the person wanted, and those that need a person (they go
# to the failed-rows file and are highlighted in the results).
GOOD = frozenset(
    {RowStatus.CREATED, RowStatus.UPDATED, RowStatus.WOULD_CREATE, RowStatus.WOULD_UPDATE}
)
ATTENTION = frozenset(
    {
        RowStatus.INVALID,
        RowStatus.FAILED,
        RowStatus.PARTIAL,
        RowStatus.UNKNOWN,
        RowStatus.NOT_SENT,
    }
)


class ProblemCode(StrEnum):
    """Why a row is invalid: stable codes that people and scripts may match on."""

    # the sheet (sheets/)
    EXTRA_CELLS = "extra_cells"
    EXCEL_ERROR = "excel_error"
    UNREPRESENTABLE_TEXT = "unrepresentable_text"
    CONTROL_CHARACTER = "control_character"
    # a cell against its field (validation/checks.py)
    MISSING_EMAIL = "missing_email"
    MISSING_ID = "missing_id"
    INVALID_EMAIL = "invalid_email"
    INVALID_ID = "invalid_id"
    INVALID_IP = "invalid_ip"
    INVALID_URL = "invalid_url"
    INVALID_PHONE_COUNTRY_CODE = "invalid_phone_country_code"
    INVALID_BUSINESS_TYPE = "invalid_business_type"
    UNKNOWN_TIME_ZONE = "unknown_time_zone"
    UNKNOWN_OPTION = "unknown_option"
    TOO_LONG = "too_long"
    INVALID_POINTS = "invalid_points"
    INVALID_STEP = "invalid_step"
    STEP_WITHOUT_SEQUENCE = "step_without_sequence"
    # rows against each other (validation/validator.py)
    DUPLICATE_LEAD = "duplicate_lead"
    NEW_EMAIL_CONFLICT = "new_email_conflict"
    # rows against the account (validation/account.py)
    UNKNOWN_CUSTOM_FIELD = "unknown_custom_field"
    CUSTOM_FIELD_TYPE = "custom_field_type"
    UNKNOWN_TAG = "unknown_tag"
    UNKNOWN_LIST = "unknown_list"
    UNKNOWN_SEQUENCE = "unknown_sequence"
    # Warnings: the lead is sent, the cell is noted (WARNINGS below).
    PHONE_NOT_PARSED = "phone_not_parsed"
    COUNTRY_NOT_RECOGNISED = "country_not_recognised"
    ADDRESS_NOT_SPLIT = "address_not_split"
    DATE_NOT_READ = "date_not_read"
    CELL_IS_A_DATE = "cell_is_a_date"


# Codes that note a cell without stopping its row: the lead is sent as the cell reads.
WARNINGS = frozenset(
    {
        ProblemCode.PHONE_NOT_PARSED,
        ProblemCode.COUNTRY_NOT_RECOGNISED,
        ProblemCode.ADDRESS_NOT_SPLIT,
        ProblemCode.DATE_NOT_READ,
        ProblemCode.CELL_IS_A_DATE,
    }
)


@dataclass(frozen=True, slots=True)
class Witness:
    """A lead this tool created: its email, when the create was sent and answered, and
    the id Kartra gave it (a read-back of another lead under that email is no witness)."""

    email: str
    sent: float
    answered: float
    lead_id: str = ""


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """The final word on one sent row, as the results workbook shows it."""

    row: int
    status: RowStatus
    lead_id: str = ""
    error_type: str = ""
    message: str = ""
    attempts: int = 0
    calls: int = 0
    # Failed for a passing reason (the server never acted, or the run was stopped by a
    # fatal answer): a resumed run sends the row again.
    retryable: bool = False
    # This row's create, sent and answered: what teaches the run Kartra's clock.
    witness: Witness | None = None
    since: float = 0.0  # when this row was first sent (epoch seconds)
    before: str = ""  # --backup: the lead's before-image (JSON), read just before the edit
    withheld: bool = False  # its points and sequence were not sent (sent by an earlier run)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one cell (or one row, when `column` is empty).

    `row` is the row number a person sees in Excel: the header is row 1.
    `code` is stable (tests and users may match on it); `message` is for people.
    """

    row: int
    column: str
    value: str
    code: ProblemCode
    message: str

    @property
    def is_warning(self) -> bool:
        """A warning notes the cell; the row is still sent."""
        return self.code in WARNINGS


def blocking(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that stop their row (warnings left out)."""
    return [problem for problem in problems if not problem.is_warning]


def problem_text(problem: Problem) -> str:
    """How one problem reads in result_message and on the terminal: the column first."""
    return f"{problem.column}: {problem.message}" if problem.column else problem.message


def without_value(problem: Problem) -> Problem:
    """The problem with its cell's value taken out (keys-only journals and results).

    Messages quote the value (`'premium' is not an option`); each quoted form of it
    becomes "the value", and the value itself is dropped.
    """
    value = problem.value
    if not value:
        return problem
    message = problem.message
    # The whole cell, and each item of a list cell (checkbox options, tags), longest
    # first so that a part never leaves the rest of a longer form behind.
    shown = {value, value.strip(), *(part.strip() for part in re.split(r"[;,|\n]", value))}
    for text in sorted(filter(None, shown), key=len, reverse=True):
        for quoted in (repr(text), f"'{text}'", f'"{text}"'):
            message = message.replace(quoted, "the value")
    return Problem(problem.row, problem.column, "", problem.code, message)


@dataclass
class Report:
    """Counts of rows and problems across a whole sheet, fed chunk by chunk.

    Keeps only counts and the first few rows per code, so memory does not grow with
    the number of rows; the full list of problems goes to the results file as it is found.
    """

    rows_read: int = 0
    rows_invalid: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    first_rows: dict[str, list[int]] = field(default_factory=dict)
    examples: dict[str, Problem] = field(default_factory=dict)
    keep_rows: int = 5
    # Things about the whole sheet or template a person should read (not problems).
    notes: list[str] = field(default_factory=list)

    @property
    def rows_valid(self) -> int:
        return self.rows_read - self.rows_invalid

    def add_rows(self, count: int) -> None:
        self.rows_read += count

    def add_problems(self, problems: Iterable[Problem]) -> None:
        """Count `problems`; call once per chunk so invalid rows are counted once."""
        bad_rows: set[int] = set()
        for problem in problems:
            if not problem.is_warning:
                bad_rows.add(problem.row)
            self.counts[problem.code] += 1
            self.examples.setdefault(problem.code, problem)
            rows = self.first_rows.setdefault(problem.code, [])
            if len(rows) < self.keep_rows and (not rows or rows[-1] != problem.row):
                rows.append(problem.row)
        self.rows_invalid += len(bad_rows)

    def top(
        self, n: int = 10, *, warnings: bool = False
    ) -> list[tuple[str, int, list[int], Problem]]:
        """The `n` most frequent problem codes (or, `warnings`, warning codes):
        (code, count, first rows, an example)."""
        return [
            (code, count, self.first_rows[code], self.examples[code])
            for code, count in self.counts.most_common()
            if (code in WARNINGS) == warnings
        ][:n]
