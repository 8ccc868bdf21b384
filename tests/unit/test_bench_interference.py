"""The benchmark tells a measurement disturbed by other processes from a slow one."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from segments.tools.bench.interference import BUSY_MACHINE_SHARE, MachineShare
from segments.tools.bench.measure import disturbed_measurements

# A process keeping one core busy for a few seconds.
BUSY_LOOP = "import time\nend = time.monotonic() + 4\nwhile time.monotonic() < end: pass"


def shares_while(busy: bool) -> tuple[float, float]:
    """The share of the machine's CPU used by others during two seconds, with the busy process
    counted among the others, then counted as the measured one."""
    burner = subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) if busy else None
    try:
        time.sleep(0.5)  # the busy loop is running
        burner_started = psutil.Process(burner.pid).cpu_times() if burner else None
        machine = MachineShare()
        started = time.perf_counter()
        time.sleep(2)
        wall = time.perf_counter() - started
        burner_cpu = 0.0
        if burner:
            now = psutil.Process(burner.pid).cpu_times()
            burner_cpu = (now.user + now.system) - (burner_started.user + burner_started.system)
        return machine.others(wall, 0.0), machine.others(wall, burner_cpu)
    finally:
        if burner:
            burner.wait()


def test_a_busy_process_beside_the_measurement_counts_as_others_and_the_measured_one_does_not():
    one_core = 1 / psutil.cpu_count()
    beside, measured = shares_while(busy=True)
    # Whatever else the machine runs adds to both; the busy loop is about one core of it.
    assert beside > 0.6 * one_core, "a busy loop beside the measurement is about one core of the machine"
    assert measured < beside - 0.6 * one_core, "the measured processes' own CPU is not counted as others'"
    quiet, _ = shares_while(busy=False)
    assert quiet < beside


def test_a_measurement_taken_on_a_busy_machine_is_warned_about_and_a_quiet_one_is_not():
    record = {"full": {"other_processes_cpu_share": 0.02}, "notebook": {"error": "killed"},
              "nightly": {"other_processes_cpu_share": 0.31}}
    (warning,) = disturbed_measurements(record)
    assert warning.startswith("other processes used 31% of the machine's CPU during the nightly measurement")
    assert disturbed_measurements({"full": {"other_processes_cpu_share": BUSY_MACHINE_SHARE}}) == []
