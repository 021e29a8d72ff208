"""Which machine this is: the CPU, the cores the process may use and its CPU quota (`records.Machine`)."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Mapping
from pathlib import Path

from ml.records import Machine


def this_machine(steps_per_second: Mapping[str, float] | None = None, device: str = "CPU") -> Machine:
    return Machine(
        cpu_model=_cpu_model(),
        cpu_count=len(os.sched_getaffinity(0)),
        cpu_quota=cpu_quota(),
        steps_per_second={name: round(s, 2) for name, s in (steps_per_second or {}).items()},
        device=device,
    )


def usable_cpus(quota: float | None) -> int:
    """The CPUs' worth of time this process may use: its cores, or fewer under a CPU `quota` (rounded
    up, as Go's runtime and the JVM round a container's limit)."""
    cores = len(os.sched_getaffinity(0))
    return cores if quota is None else max(1, min(cores, math.ceil(quota)))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_quota(proc: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (cgroup v1 `cpu.cfs_quota_us / cpu.cfs_period_us`,
    or v2 `cpu.max`); None when there is none or it cannot be read."""
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):  # cgroup v1
            folder = root / "cpu" / path.lstrip("/")
            try:
                quota = int((folder / "cpu.cfs_quota_us").read_text())
                period = int((folder / "cpu.cfs_period_us").read_text())
            except (OSError, ValueError):
                return None
            return quota / period if quota > 0 else None
        if controllers == "":  # cgroup v2
            try:
                quota_text, period_text = (root / path.lstrip("/") / "cpu.max").read_text().split()
            except (OSError, ValueError):
                return None
            return None if quota_text == "max" else int(quota_text) / int(period_text)
    return None
