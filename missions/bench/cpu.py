"""CPU time each process of the stack spends during a measurement, read from /proc.

On a 2-core machine the parts compete for the same cores, so the CPU time one request
costs in each process bounds the request rate the whole stack can reach.
"""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU seconds process `pid` used so far, 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name in brackets may contain spaces, so split after its closing bracket.
    fields = stat.rpartition(")")[2].split()
    # utime and stime are the 14th and 15th fields of the whole line.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_SECOND


class CpuMeter:
    """Measures the CPU seconds each named process spends between `start` and `stop`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = dict(pids)
        self._start: dict[str, float] = {}

    def start(self) -> None:
        self._start = {name: cpu_seconds(pid) for name, pid in self._pids.items()}

    def stop(self) -> dict[str, float]:
        return {
            name: round(cpu_seconds(pid) - self._start.get(name, 0.0), 2)
            for name, pid in self._pids.items()
        }
