"""Set-up time from a fresh clone: `make venv` (uv, from uv.lock) against the pip install it replaced, side by side.

Each variant runs in its own fresh clone of this repository's HEAD with empty package caches
(uv's and pip's) and no uv on PATH, so `make venv` also fetches uv itself:

- pip: `python -m venv .venv`, `pip install --upgrade pip`, `pip install -e '.[<extras>]'`
  (the set-up before uv.lock);
- uv, cold: `make venv` with an empty cache;
- uv, warm: `make venv` again after deleting `.venv` (its cache kept): a recreate;
- with `--demo`: `make demo` in a further fresh clone with empty caches, venv included.

    .venv/bin/python -m bench.setup [--demo] [--mnist-dir ../shared/data/mnist]

Targets: uv cold <= 30 s on 2 cores; `make demo` from a fresh clone <= 210 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from ml.emulators import ROOT

EXTRAS = "infra,local,train,serve,dev"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()} x {os.cpu_count()}"
    return f"unknown CPU x {os.cpu_count()}"


def size_mb(path: Path) -> float:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def clean_environment(caches: Path) -> dict[str, str]:
    """The caller's environment with empty caches and no uv on PATH: a machine that never installed this."""
    path = [d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "uv").exists()]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV", "VIRTUAL_ENV"))}
    caches_env = {"UV_CACHE_DIR": str(caches / "uv"), "PIP_CACHE_DIR": str(caches / "pip")}
    return env | caches_env | {"PATH": os.pathsep.join(path)}


def timed(command: str, cwd: Path, env: Mapping[str, str]) -> float:
    print(f"  $ {command}", flush=True)
    start = time.perf_counter()
    subprocess.run(command, shell=True, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def fresh_clone(work: Path, name: str) -> tuple[Path, dict[str, str]]:
    clone = work / name / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    caches = work / name / "caches"
    caches.mkdir()
    return clone, clean_environment(caches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="also time `make demo` from a fresh clone")
    parser.add_argument("--mnist-dir", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    args = parser.parse_args()

    head = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True).strip()
    print(f"CPU: {cpu_model()}; HEAD {head}")
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as tmp:
        work = Path(tmp)

        clone, env = fresh_clone(work, "pip")
        print("pip, empty cache:")
        seconds = timed("python3 -m venv .venv", clone, env)
        seconds += timed(".venv/bin/pip install --quiet --upgrade pip", clone, env)
        seconds += timed(f".venv/bin/pip install --quiet -e '.[{EXTRAS}]'", clone, env)
        rows.append(("pip install -e (before uv.lock)", seconds, size_mb(clone / ".venv")))
        shutil.rmtree(clone.parent)

        clone, env = fresh_clone(work, "uv")
        print("uv, empty cache:")
        rows.append(("make venv, empty cache", timed("make venv", clone, env), size_mb(clone / ".venv")))
        shutil.rmtree(clone / ".venv")
        print("uv, cache kept:")
        rows.append(("make venv, recreated", timed("make venv", clone, env), size_mb(clone / ".venv")))
        shutil.rmtree(clone.parent)

        if args.demo:
            clone, env = fresh_clone(work, "demo")
            print("make demo, empty caches:")
            if args.mnist_dir.is_dir():  # else the demo downloads MNIST from the mirrors, as a user's clone does
                env["MNIST_DIR"] = str(args.mnist_dir.resolve())
            rows.append(("make demo from a fresh clone", timed("make demo", clone, env), size_mb(clone / ".venv")))
            subprocess.run(["make", "destroy"], cwd=clone, env=env, check=False, stdout=subprocess.DEVNULL)

    baseline = rows[0][1]
    print(f"\n{'set-up':34} {'seconds':>8} {'pip / this':>11} {'venv MB':>8}")
    for name, seconds, megabytes in rows:
        print(f"{name:34} {seconds:8.1f} {baseline / seconds:10.1f}x {megabytes:8.0f}")


if __name__ == "__main__":
    main()
