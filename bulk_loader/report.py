"""Problems found in rows, as values, and the report that gathers them.

A problem never raises: readers and validators return them, the report counts them,
the CLI and the results workbook render them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Problem", "Report", "without_value"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one cell (or one row, when `column` is empty).

    `row` is the row number a person sees in Excel: the header is row 1.
    `code` is stable (tests and users may match on it); `message` is for people.
    """

    row: int
    column: str
    value: str
    code: str
    message: str


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
            bad_rows.add(problem.row)
            self.counts[problem.code] += 1
            self.examples.setdefault(problem.code, problem)
            rows = self.first_rows.setdefault(problem.code, [])
            if len(rows) < self.keep_rows and (not rows or rows[-1] != problem.row):
                rows.append(problem.row)
        self.rows_invalid += len(bad_rows)

    def top(self, n: int = 10) -> list[tuple[str, int, list[int], Problem]]:
        """The `n` most frequent problem codes: (code, count, first rows, an example)."""
        return [
            (code, count, self.first_rows[code], self.examples[code])
            for code, count in self.counts.most_common(n)
        ]
