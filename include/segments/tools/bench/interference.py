"""How much of the machine's CPU other processes used while a measurement ran.

The benchmark's times are wall-clock seconds on a shared machine: another server's autovacuum or a
build on the same cores inflates them. The same million-customer nightly run measured 0.093-0.103
of the notebook's time in three runs on a quiet machine and 0.112 beside another PostgreSQL server's
autovacuum. Reporting that share lets a reader tell a disturbed row from a slow one.
"""

from __future__ import annotations

import resource

import psutil

# Above this share of the machine's CPU used by other processes, a measurement is flagged.
BUSY_MACHINE_SHARE = 0.15


def _machine_busy_seconds() -> float:
    """CPU seconds every core spent on any work since boot (Linux counts guests inside user)."""
    times = psutil.cpu_times()
    return sum(getattr(times, field, 0.0) for field in ("user", "nice", "system", "irq", "softirq", "steal"))


def _own_seconds() -> float:
    """CPU seconds of this process (the benchmark's parent and its sampling thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class MachineShare:
    """Started before a measurement; `others` says, after it, what share of the machine's CPU went
    to processes other than the measured ones and the benchmark itself."""

    def __init__(self) -> None:
        self.machine_started, self.own_started = _machine_busy_seconds(), _own_seconds()

    def others(self, wall_seconds: float, measured_cpu_seconds: float) -> float:
        busy = _machine_busy_seconds() - self.machine_started
        own = _own_seconds() - self.own_started
        capacity = wall_seconds * (psutil.cpu_count() or 1)
        return max(0.0, busy - own - measured_cpu_seconds) / capacity if capacity > 0 else 0.0
