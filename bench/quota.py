"""A slower machine, simulated: this process and what it starts under a CPU quota (cgroup v1 `cpu`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CPU_CONTROLLER = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000


@contextmanager
def cpu_quota(cpus: float | None) -> Iterator[None]:
    """Run the block with `cpus` CPUs' worth of time (0.66 of 2 cores: a machine three times slower).

    Children started inside it (the emulators) share the quota. Needs root and the cgroup v1
    `cpu` controller; None runs the block unlimited.
    """
    if cpus is None:
        yield
        return
    group = CPU_CONTROLLER / f"bench-{os.getpid()}"
    try:
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(int(cpus * PERIOD_US)))
        (group / "cgroup.procs").write_text(str(os.getpid()))
    except OSError as error:
        message = f"error: cannot set a CPU quota in {group} ({error}); run as root on a cgroup v1 machine"
        raise SystemExit(message) from None
    try:
        yield
    finally:
        (CPU_CONTROLLER / "cgroup.procs").write_text(str(os.getpid()))
        for pid in (group / "cgroup.procs").read_text().split():  # leftovers, if any, leave with us
            (CPU_CONTROLLER / "cgroup.procs").write_text(pid)
        group.rmdir()
