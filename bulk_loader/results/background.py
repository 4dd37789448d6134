"""The results workbook rendered in a child process, fed rows through a pipe.

Rendering XLSX costs about as much CPU as reading the sheet; in a child it runs on
another core while the run reads and validates. The child is started isolated
(`python -I`) with a minimal environment: no credential, no other secret, no module
from the working folder reaches it (CHILD_ENVIRONMENT, _child_command).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from bulk_loader import scratch
from bulk_loader.errors import InputError
from bulk_loader.outcomes import Problem
from bulk_loader.results.sinks import create_results_file
from bulk_loader.results.workbook import ResultsWriter

__all__ = ["CHILD_ENVIRONMENT", "BackgroundResultsWriter", "open_results"]


def open_results(
    path: Path,
    headers: Sequence[str],
    *,
    attempts_column: bool = False,
    keep: Sequence[int] | None = None,
) -> ResultsWriter | BackgroundResultsWriter:
    """A results writer for `path`: XLSX is rendered in a child process, CSV right here."""
    if Path(path).suffix.lower() == ".csv":
        return ResultsWriter(path, headers, attempts_column=attempts_column, keep=keep)
    return BackgroundResultsWriter(path, headers, attempts_column=attempts_column, keep=keep)


class BackgroundResultsWriter:
    """A ResultsWriter running in a child process, fed rows through a pipe.

    Rendering XLSX costs about as much CPU as reading the sheet; in a child it runs on
    another core while this process reads and validates. A pipe holds less than one
    chunk of rows, so a thread feeds it from a bounded queue: this process hands over a
    whole chunk without waiting, and waits only if the child falls far behind.
    """

    _BATCH = 500
    _QUEUED_BATCHES = 16

    def __init__(
        self,
        path: Path,
        headers: Sequence[str],
        *,
        attempts_column: bool = False,
        keep: Sequence[int] | None = None,
    ) -> None:
        self.path = Path(path)
        keep = None if keep is None else list(keep)
        os.close(create_results_file(self.path))  # fail here, in one line, if it is unwritable
        self._errors = scratch.temporary_file()
        self._child = subprocess.Popen(
            _child_command(),
            stdin=subprocess.PIPE,
            stderr=self._errors,  # a file, not a pipe: a chatty child cannot block
            env=_child_environment(),
            cwd=scratch.folder(),
        )
        self._batch: list[tuple[Any, ...]] = []
        self._closed = False
        self._broken = False
        self._queue: queue.Queue[bytes | None] = queue.Queue(self._QUEUED_BATCHES)
        self._pump = threading.Thread(target=self._pump_pipe, daemon=True)
        self._pump.start()
        self._send(
            # Absolute: the child runs in the private temporary folder, not in ours.
            (
                "open",
                (
                    str(self.path.resolve()),
                    list(headers),
                    attempts_column,
                    keep,
                    str(scratch.folder()),
                ),
            )
        )

    def add(
        self,
        row: int,
        cells: Sequence[str],
        status: str,
        lead_id: str = "",
        error_type: str = "",
        message: str = "",
        problems: Sequence[Problem] = (),
        attempts: int | None = None,
    ) -> None:
        """As ResultsWriter.add; rows are sent to the child in batches."""
        self._batch.append(
            (row, cells, status, lead_id, error_type, message, tuple(problems), attempts)
        )
        if len(self._batch) >= self._BATCH:
            self._send(("rows", self._batch))
            self._batch = []

    def close(self, summary: Mapping[str, object] | None = None) -> None:
        """Send what is left and the summary; wait for the child to finish the file."""
        if self._closed:
            return
        self._closed = True
        if self._batch:
            self._send(("rows", self._batch))
        self._send(("close", dict(summary or {})))
        error = self._finish()
        if error is not None:
            raise error

    def _send(self, message: tuple[str, Any]) -> None:
        if self._broken:  # the child died: say why
            self._closed = True
            raise self._finish() or InputError(f"cannot write the results to {self.path}")
        self._queue.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def _pump_pipe(self) -> None:
        """Thread: move pickled batches from the queue into the child's stdin."""
        assert self._child.stdin is not None
        while (data := self._queue.get()) is not None:
            if not self._broken:
                try:
                    self._child.stdin.write(data)
                except (BrokenPipeError, ValueError):
                    self._broken = True  # keep draining so the producer never blocks
        with contextlib.suppress(BrokenPipeError, ValueError):
            self._child.stdin.close()

    def _finish(self) -> InputError | None:
        """Close the pipe, wait for the child; its last stderr line if it failed."""
        self._queue.put(None)
        self._pump.join()
        code = self._child.wait()
        self._errors.seek(0)
        lines = self._errors.read().decode("utf-8", "replace").strip().splitlines()
        self._errors.close()
        if code == 0:
            return None
        why = lines[-1] if lines else f"the writer process ended with code {code}"
        why = why.split(": ", 1)[1] if why.startswith("bulk_loader.errors.") else why
        if why.startswith("cannot write the results to "):  # the child said it all
            return InputError(why)
        return InputError(f"cannot write the results to {self.path}: {why}")

    def __enter__(self) -> BackgroundResultsWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        elif not self._closed:  # the run failed: stop the child, keep the first error
            self._closed = True
            self._child.kill()
            self._broken = True
            self._finish()


# What a child process inherits of the environment: enough to run Python and find its
# packages, nothing else. The App's credentials (KARTRA_*) and any other secret stay in
# this process.
CHILD_ENVIRONMENT = ("PATH", "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "LANG", "LC_ALL", "LC_CTYPE")


def _child_command() -> list[str]:
    """`python -I`: isolated, so no module from the working folder (a planted
    `xlsxwriter.py` beside the sheet) and no PYTHON* variable can run with our data.

    A source checkout that is not installed is found by appending (never prepending)
    the folder that holds this package.
    """
    home = str(Path(__file__).resolve().parents[2])
    code = (
        "import sys\n"
        "try:\n import bulk_loader.results.background as r\n"
        f"except ImportError:\n sys.path.append({home!r})\n"
        " import bulk_loader.results.background as r\n"
        "r._child()"
    )
    return [sys.executable, "-I", "-c", code]


def _child_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in CHILD_ENVIRONMENT if name in os.environ}


def _child() -> None:
    """The child's side: unpickle messages from the parent (trusted: it started us)."""
    stdin = sys.stdin.buffer
    kind, (path, headers, attempts, keep, folder) = pickle.load(stdin)
    scratch.adopt(Path(folder))
    writer = ResultsWriter(Path(path), headers, attempts_column=attempts, keep=keep)
    while True:
        try:
            kind, payload = pickle.load(stdin)
        except EOFError:  # the parent went away without closing: leave what is written
            writer.close({})
            return
        if kind == "rows":
            for args in payload:
                writer.add(*args)
        else:
            writer.close(payload)
            return
