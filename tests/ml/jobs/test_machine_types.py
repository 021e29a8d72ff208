"""Which machines and accelerators a job may ask for, checked before anything is submitted."""

from __future__ import annotations

import pytest

from ml.errors import JobError
from ml.jobs.machine_types import check_machine


@pytest.mark.parametrize(
    ("machine", "accelerator", "count"),
    [
        ("n1-standard-8", None, 0),
        ("n1-standard-8", "NVIDIA_TESLA_T4", 1),
        ("n1-highmem-16", "NVIDIA_TESLA_V100", 4),
        ("g2-standard-24", "NVIDIA_L4", 2),
        ("a2-highgpu-2g", "NVIDIA_TESLA_A100", 2),
        ("e2-standard-4", None, 0),
    ],
)
def test_machines_vertex_trains_on_pass(machine: str, accelerator: str | None, count: int) -> None:
    check_machine(machine, accelerator, count)


@pytest.mark.parametrize(
    ("machine", "accelerator", "count", "message"),
    [
        ("n1-standard-5", None, 0, "unknown machine type 'n1-standard-5'"),
        ("n1-standard-8", "NVIDIA_TESLA_T9", 1, "unknown accelerator 'NVIDIA_TESLA_T9'"),
        ("e2-standard-4", "NVIDIA_TESLA_T4", 1, "e2-standard-4 cannot take NVIDIA_TESLA_T4"),
        ("n1-standard-8", "NVIDIA_L4", 1, "n1-standard-8 cannot take NVIDIA_L4: use one of"),
        ("n1-standard-8", "NVIDIA_TESLA_T4", 3, "in counts of 1, 2, 4, 8, not 3"),
        ("g2-standard-24", "NVIDIA_L4", 1, "in counts of 2, not 1"),
        ("a2-highgpu-1g", None, 0, "comes with NVIDIA_TESLA_A100 x1: add --accelerator NVIDIA_TESLA_A100"),
    ],
)
def test_a_machine_vertex_would_refuse_is_one_line_naming_the_fix(
    machine: str, accelerator: str | None, count: int, message: str
) -> None:
    with pytest.raises(JobError, match=message) as error:
        check_machine(machine, accelerator, count)
    assert "\n" not in str(error.value)
