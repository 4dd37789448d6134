"""Who may drive the sandbox: loopback Host only; the control endpoint needs the token."""

from __future__ import annotations

import http.client
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bulk_loader.kartra.client import Credentials, KartraClient, Outcome
from bulk_loader.kartra.formencode import encode_body
from bulk_loader.sandbox import TOKEN_HEADER, FaultPlan, RunningSandbox, serve_in_thread
from bulk_loader.sandbox.http import loopback_host

SAMPLE = Path(__file__).parent.parent / "samples" / "account.toml"
CREDS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
BREAK_EVERYTHING = {"op": "configure", "knobs": {"faults": {"error_5xx": 1.0}}}
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="no POSIX modes on Windows")


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with serve_in_thread(SAMPLE, rate=None) as running:
        yield running


def unchanged(sandbox: RunningSandbox) -> bool:
    return sandbox.sandbox.knobs.faults == FaultPlan()


def test_control_without_the_token_is_refused(sandbox: RunningSandbox) -> None:
    """A control POST without the token is 403 and leaves the fault plan as it was."""
    answer = httpx.post(sandbox.control_url, json=BREAK_EVERYTHING)
    assert answer.status_code == 403 and TOKEN_HEADER in answer.json()["error"]
    assert unchanged(sandbox)


def test_control_with_a_wrong_token_is_refused(sandbox: RunningSandbox) -> None:
    """A control POST with another token is 403 and leaves the fault plan as it was."""
    wrong = {TOKEN_HEADER: sandbox.token[:-1] + ("A" if sandbox.token[-1] != "A" else "B")}
    answer = httpx.post(sandbox.control_url, json=BREAK_EVERYTHING, headers=wrong)
    assert answer.status_code == 403
    assert unchanged(sandbox)


def test_control_with_the_token_works(sandbox: RunningSandbox) -> None:
    """With the start's token in X-Sandbox-Token a control POST changes the fault plan."""
    headers = {TOKEN_HEADER: sandbox.token}
    answer = httpx.post(sandbox.control_url, json=BREAK_EVERYTHING, headers=headers)
    assert answer.status_code == 200
    assert sandbox.sandbox.knobs.faults.error_5xx == 1.0


def test_every_start_makes_a_new_token(sandbox: RunningSandbox) -> None:
    """Two sandboxes never share a token, and a token is long enough not to be guessed."""
    with serve_in_thread(SAMPLE, rate=None) as other:
        assert other.token != sandbox.token
    assert len(sandbox.token) >= 32


@pytest.mark.parametrize("path", ["/_control", "/_control/dump"])
def test_reading_control_without_the_token_is_refused(sandbox: RunningSandbox, path: str) -> None:
    """GET stats and GET dump without the token are 403 and show no lead."""
    answer = httpx.get(sandbox.control_url.removesuffix("/_control") + path)
    assert answer.status_code == 403
    assert "maria.lopez" not in answer.text and "calls_total" not in answer.text


def test_dump_op_without_the_token_is_refused(sandbox: RunningSandbox) -> None:
    """POST {"op": "dump"} without the token is 403 and shows no lead."""
    answer = httpx.post(sandbox.control_url, json={"op": "dump"})
    assert answer.status_code == 403 and "maria.lopez" not in answer.text


def test_text_plain_control_post_is_refused(sandbox: RunningSandbox) -> None:
    """A text/plain POST (what a web page may send) is 415 even with the token; no change."""
    headers = {TOKEN_HEADER: sandbox.token, "Content-Type": "text/plain"}
    body = b'{"op": "configure", "knobs": {"faults": {"error_5xx": 1.0}}}'
    answer = httpx.post(sandbox.control_url, content=body, headers=headers)
    assert answer.status_code == 415
    assert unchanged(sandbox)


def test_foreign_host_is_refused_on_control(sandbox: RunningSandbox) -> None:
    """DNS rebinding: a foreign Host is 421 on control, even with the token; no change."""
    headers = {TOKEN_HEADER: sandbox.token, "Host": f"rebind.example:{sandbox.port}"}
    answer = httpx.post(sandbox.control_url, json=BREAK_EVERYTHING, headers=headers)
    assert answer.status_code == 421
    assert unchanged(sandbox)


def test_foreign_host_is_refused_on_api(sandbox: RunningSandbox) -> None:
    """DNS rebinding: a foreign Host is 421 on /api and the call is not carried out."""
    form = {"app_id": CREDS.app_id, "api_key": CREDS.api_key, "api_password": CREDS.api_password,
            "actions": [{"cmd": "create_lead", "lead": {"email": "r@x.co"}}]}  # fmt: skip
    headers = {"Host": "rebind.example", "Content-Type": "application/x-www-form-urlencoded"}
    answer = httpx.post(sandbox.url, content=encode_body(form), headers=headers)
    assert answer.status_code == 421
    assert sandbox.state.find(email="r@x.co") is None


def test_missing_host_is_refused(sandbox: RunningSandbox) -> None:
    """An HTTP/1.1 request without a Host header is refused (421)."""
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=10)
    try:
        conn.putrequest("GET", "/_control", skip_host=True)
        conn.putheader(TOKEN_HEADER, sandbox.token)
        conn.endheaders()
        assert conn.getresponse().status == 421
    finally:
        conn.close()


def test_loopback_host_names() -> None:
    """127.0.0.1, localhost and [::1], with or without a port, are the only Hosts served."""
    assert all(map(loopback_host, ["127.0.0.1", "127.0.0.1:8765", "localhost:1", "LOCALHOST",
                                   "[::1]", "[::1]:8765"]))  # fmt: skip
    assert not any(map(loopback_host, [None, "", "localhost.", "127.0.0.1.nip.io",
                                       "evil.localhost", "127.0.0.2", "::1", "localhost:x",
                                       "localhost:8765@evil", "0.0.0.0:8765"]))  # fmt: skip


@posix_only
def test_db_file_and_wal_are_owner_only(tmp_path: Path) -> None:
    """The --db file and its -wal and -shm are created 600 even under umask 022."""
    db = tmp_path / "sandbox.sqlite"
    previous = os.umask(0o022)
    try:
        with (
            serve_in_thread(SAMPLE, db=db) as running,
            KartraClient(CREDS, api_url=running.url, timeout=10) as client,
        ):
            assert client.create_lead({"email": "p@x.co"}).outcome is Outcome.OK
            files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
            modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files}
    finally:
        os.umask(previous)
    assert modes == {path.name: 0o600 for path in files}


@posix_only
def test_existing_db_and_wal_with_wider_modes_are_made_owner_only(tmp_path: Path) -> None:
    """A 644 --db file and a leftover 644 -wal (an older version's crash) become 600."""
    db = tmp_path / "sandbox.sqlite"
    wal = db.with_name(db.name + "-wal")
    with (
        serve_in_thread(SAMPLE, db=db) as running,
        KartraClient(CREDS, api_url=running.url, timeout=10) as client,
    ):
        client.create_lead({"email": "p@x.co"})
        leftover = wal.read_bytes()  # a clean stop removes the -wal: keep one as a crash would
    wal.write_bytes(leftover)
    for path in (db, wal):
        path.chmod(0o644)
    with serve_in_thread(SAMPLE, db=db):
        modes = [stat.S_IMODE(path.stat().st_mode) for path in (db, wal)]
    assert leftover and modes == [0o600, 0o600]
