"""How a run reports to whoever started it: a `Progress` object, or a plain callable.

The CLI renders it (messages, a tqdm bar); a caller from Python may pass any object
with these methods, or just a function called with each row's outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bulk_loader.outcomes import RowOutcome

__all__ = ["Progress", "RowCallback", "SilentProgress", "as_progress"]

RowCallback = Callable[[RowOutcome], None]


class Progress(Protocol):
    """How the import reports to a person."""

    def message(self, text: str) -> None:
        """A line for the person: the estimate, the journal's path, a stop, a warning."""

    def start(self, total: int) -> None:
        """Sending begins: `total` rows are to be sent."""

    def advance(self, outcome: RowOutcome) -> None:
        """One row is settled."""

    def pace(self, rate: float, rate_limited: int) -> None:
        """The App's pace now (calls/s; 0: no limit) and the 429s answered so far."""

    def close(self) -> None:
        """Sending has ended."""


class SilentProgress:
    """Reports nothing: the default, and a base class that overrides only what it needs."""

    def message(self, text: str) -> None:
        pass

    def start(self, total: int) -> None:
        pass

    def advance(self, outcome: RowOutcome) -> None:
        pass

    def pace(self, rate: float, rate_limited: int) -> None:
        pass

    def close(self) -> None:
        pass


class _EachRow(SilentProgress):
    def __init__(self, callback: RowCallback) -> None:
        self._callback = callback

    def advance(self, outcome: RowOutcome) -> None:
        self._callback(outcome)


def as_progress(progress: Progress | RowCallback | None) -> Progress:
    """A Progress for whatever the caller passed: nothing, a Progress, or a function of
    each row's outcome."""
    if progress is None:
        return SilentProgress()
    if callable(progress) and not hasattr(progress, "advance"):
        return _EachRow(progress)
    return progress  # type: ignore[return-value]
