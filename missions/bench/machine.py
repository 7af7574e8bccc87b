"""A description of the machine and software a benchmark ran on, for its results file."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any


def describe_machine(temporal_cli: str, server_flags: list[str], database: str) -> dict[str, Any]:
    """Return the CPU, memory, OS and versions that the figures depend on."""
    return {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": round(_memory_total_kib() / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "temporalio": version("temporalio"),
        "temporal_cli": _temporal_cli_version(temporal_cli),
        "temporal_server_flags": server_flags,
        "database": database,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total_kib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _temporal_cli_version(temporal_cli: str) -> str:
    try:
        output = subprocess.run(
            [temporal_cli, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return output.strip() or "unknown"
