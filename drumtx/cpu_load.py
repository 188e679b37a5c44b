"""How many CPU cores other processes keep busy, to choose a command's default torch threads.

Why: the BiLSTM syncs its threads at every time step, and on a machine whose cores other jobs
keep busy each sync waits for a thread the OS has parked. A fresh user's trial measured a 29 s
file at 94 s with torch's default threads (2 on 2 busy cores) against 2.5 s with one thread;
idle, 2 threads are faster (102x against 73x real time for a 10-minute file,
experiments/default_model_v2 "Speed and memory"). So the default follows the load: torch's own
choice, less one thread per core others keep busy, at least one.

Linux only (``/proc/stat``); elsewhere :func:`default_threads` keeps torch's choice. The load is
the system's busy time, less this process's own CPU time, between :class:`LoadProbe`'s start
(module import, before torch is imported) and the measurement: no waiting of its own.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PROC_STAT = Path("/proc/stat")


def _busy_jiffies(stat: Path = PROC_STAT) -> int | None:
    """Busy time of all cores (every field of the ``cpu`` line but idle and iowait), in clock
    ticks, or None where there is no such file."""
    try:
        with open(stat) as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 6:
        return None
    values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(values) - values[3] - values[4]


class LoadProbe:
    """Started at construction; :meth:`busy_cores_of_others` measures since then."""

    def __init__(self, stat: Path = PROC_STAT) -> None:
        self.stat = stat
        self.wall0 = time.monotonic()
        self.own0 = time.process_time()
        self.busy0 = _busy_jiffies(stat)

    def busy_cores_of_others(self, min_seconds: float = 0.2) -> float | None:
        """Cores other processes kept busy on average since the start (0 on an idle machine),
        or None: no ``/proc/stat``, or under ``min_seconds`` of wall time to average over."""
        busy1 = _busy_jiffies(self.stat)
        wall = time.monotonic() - self.wall0
        if self.busy0 is None or busy1 is None or wall < min_seconds:
            return None
        hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        own = time.process_time() - self.own0
        return max(0.0, ((busy1 - self.busy0) / hz - own) / wall)


def default_threads(torch_threads: int, busy_cores: float | None) -> int:
    """Threads for a command that was given none: ``torch_threads`` (torch's own choice, one per
    core it may use) less one per core others keep busy (rounded), at least one; torch's choice
    when the load is unknown."""
    if busy_cores is None:
        return torch_threads
    return max(1, min(torch_threads, torch_threads - round(busy_cores)))
