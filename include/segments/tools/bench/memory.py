"""Memory measurements: the PostgreSQL backends serving a worker, sampled while it runs, and a
worker's own address space (its peak, and the limit that lets a too-big notebook fail alone)."""

from __future__ import annotations

import resource
import threading
import time
from pathlib import Path

import psutil
import psycopg

from segments import queries
from segments.tools.bench.progress import say

SAMPLE_SECONDS = 0.25
# How often a long measurement says it is still running.
HEARTBEAT_SECONDS = 30.0
MIB = 1024 * 1024


class BackendSampler(threading.Thread):
    """Samples the memory and CPU time of the PostgreSQL backends (and their parallel workers) serving a worker.

    Backends are found by the worker's `application_name`; their RSS includes the shared
    buffers they touched, their USS (private memory) is what the work itself allocated.
    Without an application name it only says, now and then, that the worker is still running.
    """

    def __init__(self, admin_url: str, app_name: str | None, label: str) -> None:
        super().__init__(daemon=True)
        self.admin_url, self.app_name, self.label = admin_url, app_name, label
        self.stopping = threading.Event()
        self.peak_uss = self.peak_rss = 0
        self.samples = 0
        self.error: str | None = None

    def run(self) -> None:
        started = last_beat = time.monotonic()
        try:
            conn = psycopg.connect(self.admin_url, autocommit=True) if self.app_name else None
        except psycopg.Error as error:
            conn, self.error = None, str(error)
        try:
            while not self.stopping.wait(SAMPLE_SECONDS):
                if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    say(f"  {self.label}: still running ({last_beat - started:.0f} s)")
                if conn is not None:
                    self._sample(conn)
        except Exception as error:  # noqa: BLE001 - sampling is best effort, the run goes on
            self.error = f"{type(error).__name__}: {error}"
        finally:
            if conn is not None:
                conn.close()

    def _sample(self, conn: psycopg.Connection) -> None:
        rows = queries.fetch_all(conn, "reads/bench_backend_pids.sql", {"application_name": self.app_name})
        uss = rss = 0
        for row in rows:
            try:
                backend = psutil.Process(row["pid"])
                info = backend.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            uss, rss = uss + info.uss, rss + info.rss
        if rows:
            self.samples += 1
            self.peak_uss, self.peak_rss = max(self.peak_uss, uss), max(self.peak_rss, rss)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def limit_address_space(limit_bytes: int | None) -> None:
    """Cap this process's address space, so that running out of memory raises MemoryError here
    instead of waking the OOM killer on the whole machine."""
    if limit_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


def peak_virtual_mib() -> float | None:
    """This process's peak address space (what the notebook's memory limit applies to)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmPeak:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None
