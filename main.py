"""The CDK for Terraform app (cdktf.json runs it): for every environment of `ml.environments`
its pipeline stack, and for each cloud environment its bootstrap and GitHub stacks.

BOOTSTRAP_LOCAL_STATE=1 synthesizes the bootstrap stacks with local state, for the first
apply before their state bucket exists (`make bootstrap` sets it when it must).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def main() -> None:
    if shutil.which("node") is None:
        sys.exit("error: Node.js is not installed; cdktn needs it to synthesize: install Node.js 20 or newer")
    from cdktn import App

    from infra.bootstrap_stack import BootstrapStack, GithubStack
    from infra.stack import PipelineStack
    from ml.environments import ENVIRONMENTS

    app = App()
    local_state = os.environ.get("BOOTSTRAP_LOCAL_STATE") == "1"
    for env in ENVIRONMENTS.values():
        pipeline = PipelineStack(app, env, build_dir=ROOT / "build" / "function")
        if not env.emulated:
            BootstrapStack(app, env, pipeline=pipeline, local_state=local_state)
            GithubStack(app, env, local_state=local_state)
    app.synth()


if __name__ == "__main__":
    main()
