"""The Kartra client's own CPU per call: encoding, httpx, reading the answer.

Run: .venv/bin/python bench/bench_client.py [--calls 5000] [--threads 4]
Target (issue 3): under 1 ms of client CPU per call. Two measures:
- in process: httpx.MockTransport with a canned answer, so only client work is timed;
- over a socket: 4 worker threads sharing one client against a standing sandbox in
  another process (pinned to another core); this process's CPU time per call.
Each call is a create_lead with two custom fields and two chained actions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from itertools import count
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _server import standing_sandbox

from bulk_loader.kartra.actions import assign_tag, subscribe_lead_to_list
from bulk_loader.kartra.client import Credentials, KartraClient, Outcome

CREDS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
THEN = [assign_tag("VIP"), subscribe_lead_to_list("Events")]
CANNED = json.dumps(
    {
        "status": "Success",
        "actions": [
            {"create_lead": {"status": "Success", "lead_details": {"id": "1234"}}},
            {"assign_tag": {"status": "Success", "type": "103", "message": "Tag assigned"}},
            {"subscribe_lead_to_list": {"status": "Success", "type": "101", "message": "ok"}},
        ],
    }
).encode()


def lead(number: int) -> dict[str, object]:
    return {
        "email": f"client{number}@example.com",
        "first_name": "Client",
        "custom_fields": [
            {"field_identifier": "color", "field_value": [620, 621]},
            {"field_identifier": "plan", "field_value": 631},
        ],
    }


def in_process(calls: int) -> float:
    """Client CPU seconds per call with a canned answer and no socket."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=CANNED))
    http = httpx.Client(transport=transport)
    with KartraClient(CREDS, api_url="https://kartra.test/api", http=http) as client:
        start = time.process_time()
        for number in range(calls):
            assert client.create_lead(lead(number), then=THEN).outcome is Outcome.OK
        return (time.process_time() - start) / calls


def over_socket(calls: int, threads: int) -> tuple[float, float]:
    """(client CPU seconds per call, calls/s) against a standing sandbox."""
    numbers = count()
    with standing_sandbox(core=0) as (url, _pid), KartraClient(CREDS, api_url=url) as client:
        client.search_lead(email="maria.lopez@example.com")  # warm up

        def worker() -> None:
            for number in iter(lambda: next(numbers), None):
                if number >= calls:
                    return
                assert client.create_lead(lead(number), then=THEN).outcome is Outcome.OK

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        start_cpu, start = time.process_time(), time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        return (time.process_time() - start_cpu) / calls, calls / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    in_proc = in_process(args.calls)
    socket_cpu, rate = over_socket(args.calls, args.threads)
    print(f"client CPU per call, in process:  {in_proc * 1e6:7.0f} us  ({args.calls} calls)")
    print(f"client CPU per call, over socket: {socket_cpu * 1e6:7.0f} us  "
          f"({args.threads} threads, {rate:.0f} calls/s)")  # fmt: skip
    worst = max(in_proc, socket_cpu)
    print(f"target: under 1000 us per call: {'met' if worst < 1e-3 else 'NOT met'}")


if __name__ == "__main__":
    main()
