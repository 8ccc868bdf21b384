"""How much of the machine's CPU other processes used while a measurement ran.

The benchmark's times are wall-clock seconds on a shared machine: another server's autovacuum or a
build on the same cores inflates them. The same million-customer nightly run measured 0.093-0.103
of the notebook's time in three runs on a quiet machine and 0.112 beside another PostgreSQL server's
autovacuum. Reporting that share lets a reader tell a disturbed row from a slow one.

The measured processes are the worker and every process of the local servers it works on: the
backends serving it, their parallel workers (which live for one query, often between two samples
of the backends) and the servers' own checkpointer, WAL writer and autovacuum, whose work the
measured writes cause. Counting only the sampled backends as measured put 15-19% of every full
run under "other processes" on a quiet machine.
"""

from __future__ import annotations

import resource
from collections.abc import Callable, Iterable

import psutil

from segments.tools.server import Node

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


# Readings of a server's count tried before taking the last one (each takes about a millisecond).
READ_ATTEMPTS = 20


def postmasters(servers: Iterable[Node]) -> list[psutil.Process]:
    """The running postmasters of these local servers (a server that is not running has none)."""
    found = []
    for node in servers:
        try:
            pid = int((node.pgdata / "postmaster.pid").read_text().split()[0])
            found.append(psutil.Process(pid))
        except (OSError, ValueError, IndexError, psutil.Error):
            continue
    return found


def server_total(postmaster: psutil.Process, measure: Callable[[psutil.Process], float]) -> float:
    """A count of a server so far: `measure` of each of its running processes plus that of its
    postmaster, whose counts (the kernel's) hold the processes it has reaped, the backends and
    parallel workers that ended; 0 for a server that has stopped.

    A process reaped while the count is read would be missed (gone before it is measured) or
    counted twice (measured, then added to the postmaster's): a reading during which none of the
    processes listed first went away is the only one kept. A busy server's parallel workers end
    every few milliseconds; without this, 133 of 1,757 readings of a process tree doing the same
    came out lower than the one before.
    """
    total = 0.0
    for _ in range(READ_ATTEMPTS):
        try:
            children = postmaster.children(recursive=True)
            total = sum(measure(child) for child in children) + measure(postmaster)
            still_running = {child.pid for child in postmaster.children(recursive=True)}
        except psutil.NoSuchProcess:
            if not postmaster.is_running():
                return 0.0
            continue  # a child ended before it was measured
        if {child.pid for child in children} <= still_running:
            return total
    return total  # the last reading, however its processes changed


def _cpu_seconds(process: psutil.Process) -> float:
    """A process's CPU seconds, with those of the children it has reaped."""
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


class MachineShare:
    """Started before a measurement; `others` says, after it, what share of the machine's CPU went
    to processes other than the measured worker, the local `servers` it works on and the
    benchmark itself."""

    def __init__(self, servers: Iterable[Node] = ()) -> None:
        self.postmasters = postmasters(servers)
        self.servers_started = [server_total(postmaster, _cpu_seconds) for postmaster in self.postmasters]
        self.machine_started, self.own_started = _machine_busy_seconds(), _own_seconds()

    def others(self, wall_seconds: float, worker_cpu_seconds: float) -> float:
        busy = _machine_busy_seconds() - self.machine_started
        own = _own_seconds() - self.own_started
        servers = sum(server_total(postmaster, _cpu_seconds) - started
                      for postmaster, started in zip(self.postmasters, self.servers_started, strict=True))
        capacity = wall_seconds * (psutil.cpu_count() or 1)
        return max(0.0, busy - own - servers - worker_cpu_seconds) / capacity if capacity > 0 else 0.0
