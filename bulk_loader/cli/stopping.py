"""Ctrl-C and SIGTERM during `run`: the person's way to stop, turned into the run's events.

Before the sending starts and after it ends, a signal stops the command at once (a
KeyboardInterrupt: the scan is one transaction, the journal stays as it was). While
rows are being sent, the first signal finishes the calls in flight and starts no new
row; a later one sends nothing more at all. A repeat within a second is the same
request (`timeout` and shells may deliver one signal to the process and its group).
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType, TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bulk_loader import Progress, RowOutcome

__all__ = ["REPEAT_SIGNAL_GRACE", "SignalStop"]

REPEAT_SIGNAL_GRACE = 1.0  # seconds within which a second signal is the first one again
# Ctrl-C everywhere (on Windows too: CTRL_C_EVENT arrives as SIGINT); SIGTERM where the
# platform has it.
SIGNALS = tuple(sig for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if sig is not None)


class SignalStop:
    """The run's Progress, passed through, with signals armed while rows are sent."""

    def __init__(self, progress: Progress) -> None:
        self.stop = threading.Event()  # finish the calls in flight, start no new row
        self.halt = threading.Event()  # send nothing more at all
        self._progress = progress
        self._sending = False
        self._first: float | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._signalled) for sig in SIGNALS}
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def _signalled(self, signum: int, frame: FrameType | None) -> None:
        if not self._sending:
            raise KeyboardInterrupt
        now = time.monotonic()
        if self._first is None:
            self._first = now
            self.stop.set()
            self._progress.message(
                "stopping: finishing the calls in flight (Ctrl-C again to stop now)"
            )
        elif now - self._first >= REPEAT_SIGNAL_GRACE:
            self.halt.set()
            raise KeyboardInterrupt

    # -- Progress, passed through ----------------------------------------------------

    def message(self, text: str) -> None:
        self._progress.message(text)

    def start(self, total: int) -> None:
        self._sending = True
        self._progress.start(total)

    def advance(self, outcome: RowOutcome) -> None:
        self._progress.advance(outcome)

    def pace(self, rate: float, rate_limited: int) -> None:
        self._progress.pace(rate, rate_limited)

    def close(self) -> None:
        self._sending = False
        self._progress.close()
