"""Progress lines on stderr, timed from the start of the benchmark.

Worker processes time theirs from the same start (passed in their spec), so that the lines of
the parent and of its workers read as one timeline.
"""

from __future__ import annotations

import sys
import time

_started = time.time()


def start_clock(at: float | None = None) -> float:
    """Time the progress lines from `at` (default: now); return that start."""
    global _started
    _started = time.time() if at is None else at
    return _started


def say(message: str) -> None:
    """A progress line on stderr, with the time since the benchmark started."""
    print(f"[bench +{time.time() - _started:7.1f}s] {message}", file=sys.stderr, flush=True)


def started_at() -> float:
    """When the benchmark started (for the workers' own progress lines)."""
    return _started
