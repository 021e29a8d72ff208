"""The CDK for Terraform app: one stack per environment of `ml.environments` (cdktf.json runs it)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def main() -> None:
    if shutil.which("node") is None:
        sys.exit("error: Node.js is not installed; cdktn needs it to synthesize: install Node.js 20 or newer")
    from cdktn import App

    from infra.stack import PipelineStack
    from ml.environments import ENVIRONMENTS

    app = App()
    for env in ENVIRONMENTS.values():
        PipelineStack(app, env, build_dir=ROOT / "build" / "function")
    app.synth()


if __name__ == "__main__":
    main()
