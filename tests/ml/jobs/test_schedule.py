"""The retraining request as Cloud Scheduler posts it, run by the local Vertex AI emulator to a published version."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import requests

from localcloud.cloud import LocalCloud
from ml.environments import ENVIRONMENTS
from ml.jobs import service
from ml.jobs.follow import read_report

DEV = ENVIRONMENTS["dev"]
LOCAL = ENVIRONMENTS["local"]


def test_the_synthesized_schedule_body_runs_a_job_that_publishes(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]], stacks: dict[str, dict[str, Any]]
) -> None:
    """dev's request from its synthesized stack, with what names dev swapped for local's and a tiny budget."""
    cloud, _ = mnist_cloud
    (schedule,) = [
        s for s in stacks["dev"]["resource"]["google_cloud_scheduler_job"].values() if s["name"] == "dev-retrain"
    ]
    target = schedule["http_target"]
    text = base64.b64decode(target["body"]).decode()
    for name in ("project", "prefix", "name"):
        text = text.replace(getattr(DEV, name), getattr(LOCAL, name))
    body = json.loads(text)
    (pool,) = body["jobSpec"]["workerPoolSpecs"]
    model = f"scheduled-{time.time_ns()}"
    pool["containerSpec"]["args"] = [
        *(a for a in pool["containerSpec"]["args"] if not a.startswith("--budget")),
        *("--budget=60", "--iterations=1", "--iteration-steps=100", "--limit=3000", "--generators=dnn"),
        f"--model={model}",
    ]
    path = target["uri"].split("googleapis.com", 1)[1].replace(DEV.project, LOCAL.project)
    response = requests.post(
        cloud.endpoints.vertex_url + path, data=json.dumps(body), headers=target["headers"], timeout=30
    )
    assert response.status_code == 200, response.text
    job = service.get(cloud.context, response.json()["name"].rsplit("/", 1)[1])
    deadline = time.monotonic() + 300
    while not (job := service.get(cloud.context, job.id)).done:
        assert time.monotonic() < deadline, f"the scheduled job is still {job.state}"
        time.sleep(0.5)
    assert job.state == "SUCCEEDED", job.error
    assert job.labels["trigger"] == "schedule"
    report = read_report(cloud.context, job.id)
    assert report is not None
    assert (report["version"], report["production"]) == ("1", "1")
    assert cloud.context.registry.get_version(model, "1").aliases == ("default", "production")
