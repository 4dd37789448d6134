"""One App, one budget: runs on this machine that use the same App share its pace."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

from bulk_loader.sending.budget import SharedPace
from bulk_loader.sending.pacing import RateLimiter

RESERVE = """
import json, sys, time
from pathlib import Path
from bulk_loader.sending.budget import SharedPace
from bulk_loader.sending.pacing import RateLimiter
shared = SharedPace("api.example", "app-1", 20, folder=Path(sys.argv[1]))
limiter = RateLimiter(20, clock=time.time, store=shared)
print("joined", flush=True)
sys.stdin.readline()  # both processes joined: go
slots = [shared.update(limiter._reserve) for _ in range(40)]
print(json.dumps({"slots": slots, "others": shared.others}))
shared.close()
"""


def test_two_processes_share_one_app_s_slots(tmp_path: Path) -> None:
    """Two runs reserve slots at once: together they keep the App's spacing."""
    command = [sys.executable, "-c", RESERVE, str(tmp_path)]
    children = [
        subprocess.Popen(command, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    for child in children:  # both have joined the App's budget
        assert child.stdout is not None and child.stdout.readline() == "joined\n"
    for child in children:  # then both go at once
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    outputs = [child.communicate(timeout=120)[0] for child in children]
    results = [json.loads(output) for output in outputs]
    slots = sorted(slot for result in results for slot in result["slots"])
    interval = 1 / (20 * RateLimiter.START)
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert len(slots) == 80 and min(gaps) >= interval * 0.999
    assert max(result["others"] for result in results) == 1  # each saw the other


def test_different_apps_do_not_share(tmp_path: Path) -> None:
    """Another App id (or host) is another budget: another file."""
    one = SharedPace("api.example", "app-1", 20, folder=tmp_path)
    two = SharedPace("api.example", "app-2", 20, folder=tmp_path)
    three = SharedPace("other.example", "app-1", 20, folder=tmp_path)
    try:
        assert len({one.path, two.path, three.path}) == 3
        assert "app-1" not in one.path.name and one.path.stat().st_mode & 0o077 == 0
    finally:
        for shared in (one, two, three):
            shared.close()


def test_a_cut_seen_by_one_run_slows_every_run_of_the_app(tmp_path: Path) -> None:
    """The pace is shared, not only the slots: a 429 in one run slows the other too."""
    first = RateLimiter(20, store=SharedPace("api.example", "app-1", 20, folder=tmp_path))
    second = RateLimiter(20, store=SharedPace("api.example", "app-1", 20, folder=tmp_path))
    before = second.rate
    first.throttled()
    assert second.rate < before


def test_a_run_joining_alone_never_reuses_slots_already_handed_out(tmp_path: Path) -> None:
    """A run that just ended may have calls still going out: its slots stay taken."""
    first = SharedPace("api.example", "app-1", 20, folder=tmp_path)
    ahead = RateLimiter(20, clock=lambda: 1000.0, store=first)
    taken = [first.update(ahead._reserve) for _ in range(10)]
    first.close()
    second = SharedPace("api.example", "app-1", 20, folder=tmp_path)
    later = RateLimiter(20, clock=lambda: 1000.0, store=second)
    assert second.update(later._reserve) > max(taken)
    second.close()


def test_a_run_never_paces_past_its_own_rate_when_sharing(tmp_path: Path) -> None:
    """A run at --rate 40 pushes the shared pace up; one at --rate 10 keeps to 10."""
    slow_store = SharedPace("api.example", "app-1", 10, folder=tmp_path)
    fast = RateLimiter(40, clock=lambda: 0.0, store=SharedPace("api.example", "app-1", 40,
                                                              folder=tmp_path))  # fmt: skip
    for _ in range(5000):
        fast.accepted()
    slow = RateLimiter(10, clock=lambda: 0.0, store=slow_store)
    first, second = (slow_store.update(slow._reserve) for _ in range(2))
    assert second - first >= 1 / (10 * RateLimiter.CEILING) * 0.999
    assert slow.rate <= 10


def test_a_clock_set_back_does_not_stall_the_app(tmp_path: Path) -> None:
    """A slot ten minutes ahead (the wall clock went back): clamped to a minute at most."""
    import time

    store = SharedPace("api.example", "app-1", 20, folder=tmp_path)
    store.update(lambda pace: setattr(pace, "next_slot", time.time() + 600))
    limiter = RateLimiter(20, clock=time.time, store=store)
    assert store.update(limiter._reserve) <= time.time() + 61


def test_a_budget_file_that_fails_mid_run_leaves_the_run_pacing_alone(tmp_path: Path) -> None:
    """Locked for long, disk full: the run goes on at the last pace it saw, and says so."""
    store = SharedPace("api.example", "app-1", 20, folder=tmp_path)
    limiter = RateLimiter(20, clock=lambda: 0.0, store=store)
    before = limiter.rate
    store._db.close()  # every further use of the file fails
    limiter.throttled()
    assert limiter.rate < before and "pacing this run alone" in store.alone


def test_budget_files_are_owner_only_and_never_a_link(tmp_path: Path) -> None:
    """A budget file left at 644 is made 600; a link where it goes is refused."""
    import pytest

    from bulk_loader.errors import ConfigError

    first = SharedPace("api.example", "app-1", 20, folder=tmp_path)
    first.close()
    first.path.chmod(0o644)
    SharedPace("api.example", "app-1", 20, folder=tmp_path).close()
    assert first.path.stat().st_mode & 0o077 == 0
    first.path.unlink()
    first.path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="is a link"):
        SharedPace("api.example", "app-1", 20, folder=tmp_path)
