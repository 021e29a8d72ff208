"""`python -m localcloud.vertex`: the emulator, as the local cloud starts it (localcloud/cloud.py)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from werkzeug.serving import make_server

from localcloud.vertex.app import create_app
from localcloud.vertex.jobs import CustomJobs
from localcloud.vertex.logs import Logs
from localcloud.vertex.models import Models
from localcloud.vertex.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m localcloud.vertex", description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--entrypoint", required=True, help="the training image's entry point here, a JSON list")
    parser.add_argument("--workdir", type=Path, required=True, help="where replicas run (the image's WORKDIR)")
    parser.add_argument("--function-log", type=Path, help="the local function's log: its JSON lines are served")
    parser.add_argument("--function-service", default="predict", help="the Cloud Run service those lines are of")
    args = parser.parse_args()

    store = Store(args.data_dir / "vertex.sqlite3")
    jobs = CustomJobs(store, args.project, json.loads(args.entrypoint), args.workdir)
    for name in jobs.recover():
        print(f"{name}: FAILED, it was running when the emulator stopped", file=sys.stderr)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in the log
    server = make_server(
        args.host,
        args.port,
        create_app(Models(store), jobs, Logs(store, args.project, args.function_log, args.function_service)),
        threaded=True,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        jobs.stop_all("The Vertex AI emulator was stopped (`make down`) while the job ran; submit it again.")
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
