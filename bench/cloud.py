"""A private local cloud for a benchmark: its own emulators on free ports, wiped at the end."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from localcloud.cloud import LocalCloud
from ml.context import Context
from ml.emulators import ROOT, LocalEndpoints, stack_dir
from ml.environments import get_environment


@contextmanager
def private_cloud() -> Iterator[LocalCloud]:
    stack = stack_dir("local") / "cdk.tf.json"
    if not stack.is_file():
        subprocess.run([sys.executable, str(ROOT / "main.py")], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="bench-cloud-") as state_dir:
        context = Context(get_environment("local"), LocalEndpoints.on_free_ports(Path(state_dir)))
        cloud = LocalCloud(context, stack)
        try:
            cloud.up()
            yield cloud
        finally:
            cloud.destroy()
