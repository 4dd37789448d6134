"""How many calls per second the sandbox serves on one core with its limits off.

Run: .venv/bin/python bench/bench_sandbox.py [--seconds 5] [--threads 8]
Target (issue 3): at least 1,500 calls/s, so the sandbox never bounds a benchmark.
The server runs in its own process pinned to core 0; the load comes from raw keep-alive
http.client connections in this process, pinned to the other core where there is one.
Half the calls create a lead with custom fields and a tag, half search one.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import threading
import time
from itertools import count
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))
from _server import cpu_seconds, standing_sandbox

from bulk_loader.kartra.formencode import encode_body

AUTH = {"app_id": "sandbox-app", "api_key": "sandbox-key", "api_password": "sandbox-password"}
SEARCH = encode_body(
    {**AUTH, "lead": {"email": "maria.lopez@example.com"}, "actions": [{"cmd": "search_lead"}]}
)


def create_body(number: int) -> bytes:
    lead = {
        "email": f"bench{number}@example.com",
        "first_name": "Bench",
        "custom_fields": [
            {"field_identifier": "color", "field_value": [620, 621]},
            {"field_identifier": "plan", "field_value": 631},
        ],
    }
    actions = [{"cmd": "create_lead"}, {"cmd": "assign_tag", "tag_name": "VIP"}]
    return encode_body({**AUTH, "lead": lead, "actions": actions})


def load(url: str, seconds: float, threads: int) -> int:
    """Send calls from `threads` keep-alive connections for `seconds`; return calls answered."""
    parts = urlsplit(url)
    numbers, done, lock = count(), [0], threading.Lock()
    deadline = time.monotonic() + seconds
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        answered = 0
        while time.monotonic() < deadline:
            number = next(numbers)
            body = create_body(number) if number % 2 else SEARCH
            conn.request("POST", parts.path, body, headers)
            response = conn.getresponse()
            response.read()
            answered += response.status == 200
        conn.close()
        with lock:
            done[0] += answered

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return done[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    with standing_sandbox(core=0) as (url, pid):
        load(url, 0.5, 2)  # warm up: imports, first connections
        cpu_before, start = cpu_seconds(pid), time.perf_counter()
        calls = load(url, args.seconds, args.threads)
        wall, cpu = time.perf_counter() - start, cpu_seconds(pid) - cpu_before
    print(f"sandbox: {calls} calls in {wall:.2f} s with {args.threads} connections")
    print(f"  throughput      {calls / wall:8.0f} calls/s (wall, server pinned to one core)")
    print(
        f"  server CPU      {cpu:8.2f} s  -> {calls / cpu if cpu else 0:8.0f} calls per CPU-second"
    )
    print(f"  target          {1500:8d} calls/s: {'met' if calls / wall >= 1500 else 'NOT met'}")


if __name__ == "__main__":
    main()
