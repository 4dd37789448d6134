"""Shared fixtures: build small sheets on the fly instead of shipping binary fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.errors
import pytest
from hypothesis import HealthCheck, settings
from openpyxl import Workbook

# Every @given test runs under this profile (a loaded 2-core CI machine): no per-example
# deadline and no "too slow" health check. Work is bounded by example sizes, not seconds.
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci")

MakeXlsx = Callable[..., Path]


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test's own cache and data folders (budgets, memories, journals), never the user's.

    Set in the environment, so that the CLI run in a subprocess uses it too.
    """
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("BULK_LOADER_CACHE", str(folder))
    monkeypatch.setenv("BULK_LOADER_DATA", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("BULK_LOADER_CONFIG", str(tmp_path_factory.mktemp("config")))
    monkeypatch.delenv("KARTRA_PROFILE", raising=False)
    return folder


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring in memory: no test reads or writes the user's real one."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.kept.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.kept[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.kept.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Each test's own keyring, in memory."""
    previous = keyring.get_keyring()
    kept = MemoryKeyring()
    keyring.set_keyring(kept)
    yield kept
    keyring.set_keyring(previous)


@pytest.fixture
def sandbox() -> Iterator[Any]:
    """The sample account's sandbox on 127.0.0.1, not paced (a module needing another
    account or pace defines its own `sandbox`)."""
    from bulk_loader.sandbox import serve_in_thread

    root = Path(__file__).resolve().parent.parent
    with serve_in_thread(root / "samples" / "account.toml", rate=None) as running:
        yield running


@pytest.fixture
def client(sandbox: Any) -> Iterator[Any]:
    """A client of the test module's own `sandbox` fixture, as the sample App."""
    from bulk_loader.kartra.client import Credentials, KartraClient

    credentials = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
    with KartraClient(credentials, api_url=sandbox.url, timeout=5) as kartra:
        yield kartra


@pytest.fixture
def make_xlsx(tmp_path: Path) -> MakeXlsx:
    """Write an XLSX with openpyxl and return its path.

    make_xlsx(rows, name="leads.xlsx", title="Sheet1", formats={"B2": "00000"},
              sheets={"Other": rows}) -- `rows` go to the first worksheet, `formats` maps
    a cell of it to a number format, `sheets` adds more worksheets after it.
    """

    def make(
        rows: Sequence[Sequence[object]],
        *,
        name: str = "leads.xlsx",
        title: str = "Sheet1",
        formats: Mapping[str, str] | None = None,
        sheets: Mapping[str, Sequence[Sequence[object]]] | None = None,
    ) -> Path:
        workbook = Workbook()
        first = workbook.active
        assert first is not None
        first.title = title
        for row in rows:
            first.append(list(row))
        for coordinate, number_format in (formats or {}).items():
            first[coordinate].number_format = number_format
        for sheet_title, sheet_rows in (sheets or {}).items():
            worksheet = workbook.create_sheet(sheet_title)
            for row in sheet_rows:
                worksheet.append(list(row))
        path = tmp_path / name
        workbook.save(path)
        return path

    return make
