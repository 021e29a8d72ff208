"""The machine types and accelerators Vertex AI custom training offers, and which go together.

From Google's "Configure compute resources for custom training". The command line checks a
job's machine here before it submits anything, and the local emulator refuses what Vertex
would refuse, so a typo fails in one line on `local` as in the cloud.
"""

from __future__ import annotations

from ml.errors import JobError

_SIZES = {
    "e2-standard": (4, 8, 16, 32),
    "e2-highmem": (2, 4, 8, 16),
    "e2-highcpu": (16, 32),
    "n1-standard": (4, 8, 16, 32, 64, 96),
    "n1-highmem": (2, 4, 8, 16, 32, 64, 96),
    "n1-highcpu": (16, 32, 64, 96),
    "n2-standard": (4, 8, 16, 32, 48, 64, 80),
    "n2-highmem": (2, 4, 8, 16, 32, 48, 64, 80),
    "n2-highcpu": (16, 32, 48, 64, 80, 96),
    "c2-standard": (4, 8, 16, 30, 60),
    "g2-standard": (4, 8, 12, 16, 24, 32, 48, 96),
}
_GPU_MACHINES = {
    # machine type -> (accelerator, the count the machine type comes with)
    **{f"a2-highgpu-{n}g": ("NVIDIA_TESLA_A100", n) for n in (1, 2, 4, 8)},
    "a2-megagpu-16g": ("NVIDIA_TESLA_A100", 16),
    **{f"a2-ultragpu-{n}g": ("NVIDIA_A100_80GB", n) for n in (1, 2, 4, 8)},
    "a3-highgpu-8g": ("NVIDIA_H100_80GB", 8),
    "a3-megagpu-8g": ("NVIDIA_H100_MEGA_80GB", 8),
}
_G2_GPUS = {4: 1, 8: 1, 12: 1, 16: 1, 24: 2, 32: 1, 48: 4, 96: 8}
_N1_GPUS = ("NVIDIA_TESLA_T4", "NVIDIA_TESLA_V100", "NVIDIA_TESLA_P100", "NVIDIA_TESLA_P4")

MACHINE_TYPES: tuple[str, ...] = (
    *(f"{family}-{size}" for family, sizes in _SIZES.items() for size in sizes),
    *_GPU_MACHINES,
)
ACCELERATORS: tuple[str, ...] = tuple(sorted({*_N1_GPUS, "NVIDIA_L4", *(a for a, _ in _GPU_MACHINES.values())}))


def check_machine(machine_type: str, accelerator: str | None = None, count: int = 0) -> None:
    """JobError naming the fix unless Vertex AI trains on `machine_type` with `count` `accelerator`s."""
    if machine_type not in MACHINE_TYPES:
        raise JobError(
            f"unknown machine type {machine_type!r}: use one Vertex AI trains on, e.g. n1-standard-8, e2-standard-4 "
            "or g2-standard-8 (--machine-type; all: ml/jobs/machine_types.py)"
        )
    allowed, counts = _accelerators(machine_type)
    if accelerator is None:
        if allowed and not machine_type.startswith("n1-"):  # GPU machine types come with theirs
            raise JobError(f"{machine_type} comes with {allowed[0]} x{counts[0]}: add --accelerator {allowed[0]}")
        return
    if accelerator not in ACCELERATORS:
        raise JobError(f"unknown accelerator {accelerator!r}: use one of {', '.join(ACCELERATORS)} (--accelerator)")
    if accelerator not in allowed:
        where = f"use one of {', '.join(allowed)}" if allowed else "choose an n1, g2, a2 or a3 machine type for GPUs"
        raise JobError(f"{machine_type} cannot take {accelerator}: {where}")
    if count not in counts:
        raise JobError(
            f"{machine_type} takes {accelerator} in counts of {', '.join(map(str, counts))}, not {count} "
            "(--accelerator-count)"
        )


def _accelerators(machine_type: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The accelerators a machine type may carry and in which counts (none: empty)."""
    if machine_type in _GPU_MACHINES:
        accelerator, count = _GPU_MACHINES[machine_type]
        return (accelerator,), (count,)
    if machine_type.startswith("g2-standard-"):
        return ("NVIDIA_L4",), (_G2_GPUS[int(machine_type.rsplit("-", 1)[1])],)
    if machine_type.startswith("n1-"):
        return _N1_GPUS, (1, 2, 4, 8)
    return (), ()
