"""`run --log FILE`: one line per API call, for whoever watches an unattended run.

Each line is a JSON object: when the call was sent (UTC), the sheet (its file name) and
the row it was for (row null for the account look-ups and read-backs), Kartra's command,
the outcome, Kartra's error type and the HTTP status, and the latency in milliseconds.
Nothing else: no email, no name, no Kartra message (it may quote a value), never the
credentials. The file is owner-only and appended to, so a nightly job keeps one log.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bulk_loader.errors import InputError
from bulk_loader.kartra.answers import CallResult

__all__ = ["CallLog", "LoggedClient", "for_row"]

_current = threading.local()  # the row the calls on this thread are for


@contextmanager
def for_row(row: int) -> Iterator[None]:
    """The calls made on this thread inside are logged as row `row`'s."""
    before = getattr(_current, "row", None)
    _current.row = row
    try:
        yield
    finally:
        _current.row = before


class CallLog:
    """The log file: lines written whole, from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as exc:
            raise InputError(f"--log {path}: {exc.strerror or exc}") from exc
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        self._file: IO[str] = open(fd, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()
        # The error that stopped the logging (a full disk, say); the run went on.
        self.failed: OSError | None = None
        # The sheet the calls are for now (several sheets share one log); None: unsaid.
        self.sheet: str | None = None

    def write(self, cmd: str, result: CallResult | None, sent: float, seconds: float) -> None:
        line = {
            "time": datetime.fromtimestamp(sent, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "sheet": self.sheet,
            "row": getattr(_current, "row", None),
            "cmd": cmd,
            "outcome": str(result.outcome) if result is not None else "error",
            "type": result.kartra_type if result is not None else None,
            "http": result.http_status if result is not None else None,
            "ms": round(seconds * 1000, 1),
        }
        text = json.dumps(line) + "\n"
        with self._lock:
            if self.failed is not None:
                return
            try:
                self._file.write(text)
                self._file.flush()
            except OSError as exc:  # the log is a record, never a reason to lose a call
                self.failed = exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()


class LoggedClient:
    """A client whose every call is written to a CallLog; anything else passes through."""

    def __init__(self, client: Any, log: CallLog) -> None:
        self._client = client
        self._log = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @property
    def log(self) -> CallLog:
        return self._log

    def _logged(self, cmd: str, call: Callable[..., CallResult]) -> Callable[..., CallResult]:
        def logged(*args: Any, **kwargs: Any) -> CallResult:
            sent, started = time.time(), time.monotonic()
            result: CallResult | None = None
            try:
                result = call(*args, **kwargs)
                return result
            finally:
                self._log.write(cmd, result, sent, time.monotonic() - started)

        return logged

    # The members a run reads directly (a Protocol is not satisfied through __getattr__).
    @property
    def api_host(self) -> str:
        return str(self._client.api_host)

    @property
    def calls_made(self) -> int:
        return int(self._client.calls_made)

    @property
    def profile(self) -> str:
        return str(getattr(self._client, "profile", ""))

    def account_identity(self) -> dict[str, str]:
        return dict(self._client.account_identity())

    def create_lead(
        self, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]] = ()
    ) -> CallResult:
        return self._logged("create_lead", self._client.create_lead)(lead, then)

    def edit_lead(
        self, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]] = ()
    ) -> CallResult:
        return self._logged("edit_lead", self._client.edit_lead)(lead, then)

    def search_lead(self, *, email: str | None = None, id: str | None = None) -> CallResult:
        return self._logged("search_lead", self._client.search_lead)(email=email, id=id)

    def get_lead(self, *, email: str) -> CallResult:
        return self._logged("get_lead", self._client.get_lead)(email=email)

    def retrieve_custom_fields(self) -> CallResult:
        return self._logged("retrieve_custom_fields", self._client.retrieve_custom_fields)()

    def retrieve_account_tags(self) -> CallResult:
        return self._logged("retrieve_account_tags", self._client.retrieve_account_tags)()

    def retrieve_account_lists(self) -> CallResult:
        return self._logged("retrieve_account_lists", self._client.retrieve_account_lists)()

    def retrieve_account_sequences(self) -> CallResult:
        return self._logged("retrieve_account_sequences", self._client.retrieve_account_sequences)()
