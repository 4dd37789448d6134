"""A Kartra-compatible sandbox: the API's rules in plain Python, served on 127.0.0.1.

    model.SandboxState   leads and Kartra's rules; raises KartraError with Kartra's types
    service.Sandbox      state + knobs (latency, rate limit, faults) + stats
    http                 a threaded HTTP/1.1 server that carries out the Sandbox's replies;
                         its /_control needs the start's token (RunningSandbox.token)
    transport()          the same Sandbox behind an httpx.MockTransport, no socket

The sandbox never imports the client (bulk_loader.kartra): they agree through Kartra's
documents and the contract tests, not through shared code.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import httpx

from bulk_loader.sandbox.account import AccountError, AccountProblem, SandboxAccount, load_account
from bulk_loader.sandbox.http import TOKEN_HEADER, RunningSandbox, run_forever
from bulk_loader.sandbox.leads import TIME_ZONES, Lead
from bulk_loader.sandbox.model import KartraError, LeadStore, SandboxState
from bulk_loader.sandbox.service import FaultPlan, Knobs, Sandbox, Stats, parse_faults

__all__ = [
    "TIME_ZONES",
    "TOKEN_HEADER",
    "AccountError",
    "AccountProblem",
    "FaultPlan",
    "KartraError",
    "Knobs",
    "Lead",
    "RunningSandbox",
    "Sandbox",
    "SandboxAccount",
    "SandboxState",
    "Stats",
    "build_sandbox",
    "load_account",
    "parse_faults",
    "run_forever",
    "serve_in_thread",
    "transport",
]


def build_sandbox(
    account: Path | str | SandboxAccount, *, db: Path | None = None, **knobs: Any
) -> Sandbox:
    """A Sandbox for this account (file or object), its leads in SQLite when `db` is given."""
    if not isinstance(account, SandboxAccount):
        account = load_account(Path(account))
    store: LeadStore | None = None
    if db is not None:
        from bulk_loader.sandbox.store import SqliteLeadStore

        store = SqliteLeadStore(db)
    return Sandbox(SandboxState(account, store), Knobs(**knobs))


def serve_in_thread(
    account: Path | str | SandboxAccount,
    *,
    rate: float | None = 20,
    rate_style: Literal["status", "body"] = "status",
    latency_ms: float = 0,
    jitter_ms: float = 0,
    faults: FaultPlan | None = None,
    db: Path | None = None,
    port: int = 0,
    **knobs: Any,
) -> RunningSandbox:
    """Start a sandbox on 127.0.0.1 (a free port unless given); use it as a context manager."""
    sandbox = build_sandbox(
        account, db=db, rate=rate, rate_style=rate_style, latency_ms=latency_ms,
        jitter_ms=jitter_ms, faults=faults or FaultPlan(), **knobs,
    )  # fmt: skip
    return RunningSandbox(sandbox, port, on_stop=sandbox.state.close)


def transport(target: Sandbox | SandboxState | RunningSandbox, **knobs: Any) -> httpx.MockTransport:
    """An in-process transport for `httpx.Client(transport=...)`, no socket involved.

    Requests go through `Sandbox.handle`, the very code the HTTP server runs. A bare
    SandboxState gets a Sandbox with the rate limit off unless `knobs` say otherwise.
    Faults become the httpx errors a real socket would raise: "reset" a ReadError,
    "lost" a RemoteProtocolError.
    """
    if isinstance(target, RunningSandbox):
        sandbox = target.sandbox
    elif isinstance(target, SandboxState):
        sandbox = Sandbox(target, Knobs(rate=None))
    else:
        sandbox = target
    if knobs:
        sandbox.configure(**knobs)

    def handle(request: httpx.Request) -> httpx.Response:
        reply = sandbox.handle(request.read())
        if reply.fault == "reset":
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.fault == "lost":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.Response(
            reply.status, content=reply.body, headers={"Content-Type": reply.content_type}
        )

    return httpx.MockTransport(handle)
