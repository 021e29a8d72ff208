"""Emulator processes: started detached, tracked by pid file, stopped by that pid only.

A pid file records the pid and the process's start time; a process is ours only if both
still match, so a recycled pid is never signalled and nothing is ever looked up by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from infra.errors import LocalCloudError


@dataclass(frozen=True)
class ServiceSpec:
    """How to start one emulator and how to tell that it answers."""

    name: str
    command: tuple[str, ...]
    host: str
    ports: Mapping[str, int]
    """Every port the service listens on, by what it serves (e.g. rest, grpc)."""
    url: str
    """Base URL of the service's HTTP API."""
    ready_path: str
    """Path under `url` that answers 200 once the service is ready."""
    port_variables: Mapping[str, str]
    """The variable that moves each port, named in the busy-port message."""
    env: Mapping[str, str] = field(default_factory=dict)
    start_timeout_s: float = 60.0

    @property
    def ready_url(self) -> str:
        return self.url + self.ready_path


@dataclass(frozen=True)
class RunningService:
    name: str
    pid: int
    url: str
    ports: Mapping[str, int]
    log: Path


class ServiceManager:
    """Starts, finds and stops the emulators whose pid files live in `run_dir`."""

    def __init__(self, run_dir: Path, log_dir: Path) -> None:
        self.run_dir = run_dir
        self.log_dir = log_dir

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def running(self, name: str) -> RunningService | None:
        """The service if its recorded process is alive and is the one we started."""
        path = self._pid_file(name)
        try:
            record = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if _process(record["pid"], record["create_time"]) is None:
            path.unlink(missing_ok=True)  # the process is gone: the record is stale
            return None
        return RunningService(
            name=name, pid=record["pid"], url=record["url"], ports=record["ports"], log=Path(record["log"])
        )

    def start(self, spec: ServiceSpec) -> RunningService:
        """Start `spec` detached and wait until it answers; on any failure nothing is left running."""
        for what, port in spec.ports.items():
            if not _port_free(spec.host, port):
                variable = spec.port_variables.get(what, "")
                raise LocalCloudError(
                    f"port {port} ({spec.name} {what}) on {spec.host} is busy: stop what listens there"
                    + (f" or choose another port with {variable}=..." if variable else "")
                )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{spec.name}.log"
        with log.open("ab") as sink:
            process = subprocess.Popen(
                spec.command,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, **spec.env},
                start_new_session=True,  # its own process group: stopped as a whole, outlives `make`
            )
        service = RunningService(name=spec.name, pid=process.pid, url=spec.url, ports=dict(spec.ports), log=log)
        record = {
            "pid": process.pid,
            "create_time": psutil.Process(process.pid).create_time(),
            "url": service.url,
            "ports": dict(spec.ports),
            "log": str(log),
            "command": list(spec.command),
        }
        self._pid_file(spec.name).write_text(json.dumps(record, indent=2))
        try:
            self._wait_ready(spec, process, log)
        except LocalCloudError:
            self.stop(spec.name)
            raise
        return service

    def _wait_ready(self, spec: ServiceSpec, process: subprocess.Popen[bytes], log: Path) -> None:
        deadline = time.monotonic() + spec.start_timeout_s
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                raise LocalCloudError(
                    f"the {spec.name} emulator exited on start (exit code {code}): {_last_line(log)} (full log: {log})"
                )
            if _answers(spec.ready_url) and all(_listening(spec.host, p) for p in spec.ports.values()):
                return
            time.sleep(0.1)
        raise LocalCloudError(
            f"the {spec.name} emulator did not answer on {spec.ready_url} within {spec.start_timeout_s:.0f} s: "
            f"see {log}"
        )

    def stop(self, name: str, timeout_s: float = 10.0) -> bool:
        """Stop the service's process group; True if something was running."""
        path = self._pid_file(name)
        try:
            record = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            path.unlink(missing_ok=True)
            return False
        process = _process(record["pid"], record["create_time"])
        if process is None:
            path.unlink(missing_ok=True)
            return False
        group = [process, *process.children(recursive=True)]
        _signal_group(record["pid"], signal.SIGTERM)
        _, alive = psutil.wait_procs(group, timeout=timeout_s)
        if alive:
            _signal_group(record["pid"], signal.SIGKILL)
            for leftover in alive:
                leftover.kill()
            psutil.wait_procs(alive, timeout=timeout_s)
        path.unlink(missing_ok=True)
        return True


def resident_memory(pid: int) -> dict[int, int]:
    """Memory in bytes of process `pid` and of every process below it, by pid, as a container counts it.

    Each page once, whatever shares it, so that the sum is what the memory cgroup enforcing a
    container's limit charges, and is the same whatever else runs on the machine:
    - anonymous memory (the heap, buffers, tensors) as its proportional share: a page the
      gunicorn workers still share with the arbiter they were forked from is split among them;
    - pages of mapped files (the interpreter, NumPy, LiteRT and the other libraries) in full,
      once: the tree's processes map the same files, so they go with the process that maps the
      most. (Their proportional share would shrink whenever another process on the machine
      maps the same files; summed resident sizes would count them once per process.)
    """
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {}
    anonymous, files = {}, {}
    for process in processes:
        with contextlib.suppress(psutil.Error, OSError):  # ended between listing and reading
            rollup = _smaps_rollup(process.pid)
            anonymous[process.pid] = rollup["Pss_Anon"] + rollup["Pss_Shmem"]
            files[process.pid] = rollup["Rss"] - rollup["Anonymous"] - rollup["Pss_Shmem"]
    if files:
        widest = max(files, key=files.__getitem__)
        anonymous[widest] += files[widest]
    return anonymous


def _smaps_rollup(pid: int) -> dict[str, int]:
    """/proc/PID/smaps_rollup's sizes, in bytes."""
    sizes = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, value = line.partition(":")
        sizes[name] = int(value.split()[0]) * 1024
    return sizes


class MemoryWatch:
    """Samples a process tree's memory (`resident_memory`) in a thread: the peak of each process and of their sum.

    What a container's memory limit is held against is the sum: a server whose workers each
    stay small can still be killed together.
    """

    def __init__(self, pid: int, interval_s: float = 0.02) -> None:
        self.pid, self.interval_s = pid, interval_s
        self.peak_total = 0
        self.peak: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-watch", daemon=True)

    def __enter__(self) -> MemoryWatch:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def sample(self) -> None:
        sizes = resident_memory(self.pid)
        self.last = sizes
        self.peak_total = max(self.peak_total, sum(sizes.values()))
        for pid, size in sizes.items():
            self.peak[pid] = max(self.peak.get(pid, 0), size)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()


def _process(pid: int, create_time: float) -> psutil.Process | None:
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - create_time) > 0.01 or process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except psutil.Error:
        return None


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As servers do: connections of a process just stopped (TIME_WAIT) do not block a bind.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"
