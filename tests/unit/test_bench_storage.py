"""The bench's disk reads of a server: its processes' own, those of the processes it has reaped,
and nothing negative when it stops meanwhile. A stand-in "server" here is a real process tree
(a parent that starts and reaps children), named by a postmaster.pid file as PostgreSQL does."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from segments.tools.bench.storage import StorageReads
from segments.tools.server import LOCAL_DIR, Node

# A parent that waits for a line on stdin, then starts a child reading the file named in it, reaps
# the child, says "done", and waits for the next line.
PARENT = """
import subprocess, sys
for line in sys.stdin:
    subprocess.run(["cat", line.strip()], stdout=subprocess.DEVNULL, check=True)
    print("done", flush=True)
"""


@pytest.fixture
def on_disk() -> Iterator[Path]:
    """A folder beside the servers' data, on a disk: the test's own temporary folder may be in memory."""
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=LOCAL_DIR) as folder:
        yield Path(folder)


def file_not_in_memory(folder: Path, mib: int) -> Path:
    path = folder / "data.bin"
    path.write_bytes(os.urandom(mib * 2**20))
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # clean pages, which the page cache can drop
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return path


def stand_in_server(folder: Path, script: str = "", *args: str) -> tuple[subprocess.Popen, Node]:
    """A process running `script` (PARENT by default), named as a server's postmaster."""
    parent = subprocess.Popen([sys.executable, "-c", script or PARENT, *args], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    (folder / "pgdata").mkdir()
    (folder / "pgdata" / "postmaster.pid").write_text(f"{parent.pid}\n")
    return parent, Node(folder / "pgdata", 0, folder / "log")


def test_what_a_reaped_child_of_the_server_read_from_disk_counts(tmp_path, on_disk):
    parent, node = stand_in_server(tmp_path)
    try:
        data = file_not_in_memory(on_disk, 32)
        reads = StorageReads([node])
        parent.stdin.write(f"{data}\n")
        parent.stdin.flush()
        assert parent.stdout.readline().strip() == "done"  # the child has read the file and been reaped
        assert reads.servers_mib() >= 0.9 * 32
        again = StorageReads([node])
        parent.stdin.write(f"{data}\n")
        parent.stdin.flush()
        assert parent.stdout.readline().strip() == "done"
        assert again.servers_mib() < 4, "the file was in memory the second time"
    finally:
        parent.kill()
        parent.wait()


def test_a_server_stopped_during_the_measurement_adds_nothing_rather_than_a_negative_count(tmp_path, on_disk):
    parent, node = stand_in_server(tmp_path)
    data = file_not_in_memory(on_disk, 8)
    parent.stdin.write(f"{data}\n")
    parent.stdin.flush()
    assert parent.stdout.readline().strip() == "done"
    reads = StorageReads([node])  # started with the 8 MiB the server has read so far
    parent.kill()
    parent.wait()
    time.sleep(0.1)
    assert reads.servers_mib() == 0.0


# A parent that keeps starting children, each reading a file dropped from the page cache first,
# and reaping them, as a server does with its parallel workers, until it is killed.
BUSY_PARENT = """
import subprocess, sys
read = "import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.read(fd, 1 << 20)"
while True:
    subprocess.run([sys.executable, "-c", read, sys.argv[1]], check=True)
"""


def test_a_servers_count_never_goes_down_while_it_reaps_its_children(tmp_path, on_disk):
    """A child that ends while the count is being read is counted once, in the child or in its
    parent, never missed (the count would drop) nor counted twice (it would jump by its reads and
    fall back)."""
    data = file_not_in_memory(on_disk, 1)
    parent, node = stand_in_server(tmp_path, BUSY_PARENT, str(data))
    try:
        reads = StorageReads([node])
        counts = []
        ends = time.monotonic() + 3
        while time.monotonic() < ends:
            counts.append(reads.servers_mib())
        assert counts[-1] > 5, "the children read the file, a MiB each, many times"
        drops = [(before, after) for before, after in zip(counts, counts[1:]) if after < before]
        assert drops == [], f"{len(drops)} of {len(counts)} readings went down, first {drops[:3]}"
    finally:
        parent.kill()
        parent.wait()
