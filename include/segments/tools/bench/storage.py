"""How much a measurement read from the storage device rather than from memory.

A nightly run reads a few pages of each customer it touches. Whether they come from memory or from
the disk depends on what the machine's memory still holds, not on the pipeline: after its full run
the bench's 10M-line warehouse (3 GB) stays in the system's page cache, the 50M-line one (12 GB,
beside a 6 GB source and the full run's WAL) does not. Rebuilding the same night's models took
0.62-0.71 s with the 10M warehouse cached and 1.13-1.25 s right after a restart with the system's
cache dropped. Reporting the bytes read from storage beside each time lets a reader tell a night
that does more work from one that waited for the disk.

The kernel counts them per process (`read_bytes` of /proc/PID/io: what was fetched from the device,
not what the page cache served); a server's count is summed over its processes by
interference.server_total, as its CPU seconds are. Reading another user's counts takes that user
or root; without the right, the reads are unknown, not zero.
"""

from __future__ import annotations

from collections.abc import Iterable

import psutil

from segments.tools.bench.interference import postmasters, server_total
from segments.tools.bench.memory import MIB
from segments.tools.server import Node


def _read_bytes(process: psutil.Process) -> int:
    """Bytes a process (with the children it has reaped) read from storage (raises psutil.AccessDenied)."""
    return process.io_counters().read_bytes


class StorageReads:
    """Started before a measurement; `servers_mib` says, after it, how many MiB (to 0.1) the local
    `servers` read from storage meanwhile (None when their processes' counts cannot be read)."""

    def __init__(self, servers: Iterable[Node]) -> None:
        self.postmasters = postmasters(servers)
        try:
            self.started: list[float] | None = [server_total(postmaster, _read_bytes) for postmaster in self.postmasters]
        except psutil.AccessDenied:
            self.started = None

    def servers_mib(self) -> float | None:
        if self.started is None:
            return None
        try:
            now = [server_total(postmaster, _read_bytes) for postmaster in self.postmasters]
        except psutil.AccessDenied:
            return None
        # A server stopped meanwhile reads 0 now: it adds nothing, rather than a negative count.
        read = sum(max(0, current - started) for current, started in zip(now, self.started, strict=True))
        return round(read / MIB, 1)
