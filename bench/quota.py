"""A slower machine, simulated: processes under a CPU quota (cgroup v1 `cpu`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

CPU_CONTROLLER = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000


@contextmanager
def cpu_group(cpus: float | None) -> Iterator[Callable[[], None] | None]:
    """A cgroup with `cpus` CPUs' worth of time; yields what moves the calling process into it.

    Call it in the process itself, or pass it as `subprocess.Popen(preexec_fn=...)` to start a
    child inside (what the child forks stays inside). Needs root and the cgroup v1 `cpu`
    controller; None yields None and limits nothing.
    """
    if cpus is None:
        yield None
        return
    group = CPU_CONTROLLER / f"bench-{os.getpid()}"
    try:
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(int(cpus * PERIOD_US)))
    except OSError as error:
        message = f"error: cannot set a CPU quota in {group} ({error}); run as root on a cgroup v1 machine"
        raise SystemExit(message) from None
    try:

        def join() -> None:
            (group / "cgroup.procs").write_text(str(os.getpid()))

        yield join
    finally:
        for pid in (group / "cgroup.procs").read_text().split():  # leftovers, if any, leave the group
            with suppress(OSError):  # exited meanwhile
                (CPU_CONTROLLER / "cgroup.procs").write_text(pid)
        group.rmdir()


@contextmanager
def cpu_quota(cpus: float | None) -> Iterator[None]:
    """Run the block, and what it starts (the emulators), with `cpus` CPUs' worth of time (0.66 of
    2 cores: a machine three times slower); None runs it unlimited."""
    with cpu_group(cpus) as join:
        if join is not None:
            join()
        yield
