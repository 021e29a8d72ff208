"""`python -m infra.smoke ENV` (`make smoke ENV=local|dev|prod`): after a deploy, does everything answer?

Every dataset, table and bucket the synthesized stack declares must exist and answer the
identity that uses it: the warehouse and the models bucket `trainer` (whose access a cloud
check borrows by impersonating it), the other buckets the caller. The function's `/healthz`
must answer through `invoker`'s identity token, and the registry must answer its listing.
One line per resource; the exit status is 1 when anything is missing, and the last line
names what. A function with no version to serve yet is reported, not failed: that is a
fresh environment before its first `make train-publish`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import requests

from infra.errors import InfraError
from infra.local.terraform_json import load_stack
from ml.cloud import ROOT, LocalEndpoints, bigquery_client, stack_output, storage_client
from ml.environments import Environment, get_environment
from ml.errors import MLError

Status = Literal["ok", "missing", "notice"]


@dataclass(frozen=True)
class Check:
    resource: str
    status: Status
    detail: str


def _check(resource: str, probe: Callable[[], str]) -> Check:
    """`probe` returns what it saw; any error it raises is the resource's failure, in one line."""
    try:
        return Check(resource, "ok", probe())
    except Exception as error:  # a smoke test reports every failure, whatever raised it
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        return Check(resource, "missing", " ".join(str(message).split())[:200])


def _as(env: Environment, role: str) -> Any:
    """Credentials of the pipeline's `role` account in the cloud (impersonated by the caller); None locally."""
    if env.emulated:
        return None
    from ml.client.auth import impersonated

    return impersonated(env.service_account_email(role))


def run(env: Environment, stack: Path, local: LocalEndpoints | None) -> list[Check]:
    declared = load_stack(stack, types={"google_bigquery_dataset", "google_bigquery_table", "google_storage_bucket"})
    trainer = _as(env, "trainer")
    bq = bigquery_client(env, local, credentials=trainer)
    as_trainer, as_you = storage_client(env, local, credentials=trainer), storage_client(env, local)
    checks = []
    for resource in declared:
        a = resource.attributes
        if resource.type == "google_bigquery_dataset":
            checks.append(_check(f"dataset {a['dataset_id']}", partial(_read_dataset, bq, a["dataset_id"])))
        elif resource.type == "google_bigquery_table":
            name = f"{a['dataset_id']}.{a['table_id']}"
            checks.append(_check(f"table {name}", partial(_read_table, bq, name)))
        else:
            who, gcs = ("trainer", as_trainer) if a["name"] == env.models_bucket else ("you", as_you)
            checks.append(_check(f"bucket {a['name']}", partial(_read_bucket, gcs, a["name"], who)))
    checks.append(_function(env, local))
    checks.append(_check(f"registry {env.model_name}", lambda: _registry(env, local)))
    return checks


def _read_dataset(bq: Any, name: str) -> str:
    return f"in {bq.get_dataset(name).location}, as trainer"


def _read_table(bq: Any, name: str) -> str:
    rows = bq.list_rows(name, max_results=1)
    return f"readable ({len(list(rows))} row read), as trainer"


def _read_bucket(gcs: Any, name: str, who: str) -> str:
    return f"readable ({len(list(gcs.list_blobs(name, max_results=1)))} object listed), as {who}"


def _registry(env: Environment, local: LocalEndpoints | None) -> str:
    from ml.registry import registry_for

    models = {m.name: m for m in registry_for(env, local).list_models()}
    model = models.get(env.model_name)
    return f"{model.versions} version(s), aliases {model.aliases}" if model else "answers; no version published yet"


def _function(env: Environment, local: LocalEndpoints | None) -> Check:
    resource = f"function {env.function_name}"
    if env.emulated:
        url = (local or LocalEndpoints.from_env()).function_url
        session: Any = requests.Session()
    else:
        found = stack_output(env.name, "function_uri")
        if not found:
            return Check(
                resource, "missing", f"no stack output function_uri: deploy first (make deploy ENV={env.name})"
            )
        url = found
        from google.auth.transport.requests import AuthorizedSession

        from ml.client.auth import id_token_credentials

        session = AuthorizedSession(id_token_credentials(url, env.service_account_email("invoker")))  # type: ignore[no-untyped-call]
    try:
        health = session.get(f"{url}/healthz", timeout=30)
    except Exception as error:
        if env.emulated and not _has_version_to_serve(env, local):
            return Check(resource, "notice", "not started: no version to serve yet (make train-publish)")
        hint = " (make serve)" if env.emulated else ""
        return Check(resource, "missing", f"{url} does not answer{hint}: {type(error).__name__}")
    if health.status_code != 200:
        return Check(resource, "missing", f"{url}/healthz answered {health.status_code} through invoker")
    version = health.json().get("model_version")
    if version is None:
        return Check(resource, "notice", f"answers at {url}; no version to serve yet (make train-publish)")
    return Check(resource, "ok", f"answers at {url}, serving version {version}")


def _has_version_to_serve(env: Environment, local: LocalEndpoints | None) -> bool:
    """Whether the serving manifest the function reads exists (`make up` starts the function only then)."""
    from ml.publish.serving_manifest import manifest_name

    return bool(
        storage_client(env, local)
        .bucket(env.models_bucket)
        .blob(manifest_name(env.model_name, env.serving_alias))
        .exists()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.smoke", description=__doc__.splitlines()[0])
    parser.add_argument("env", help="local, dev or prod")
    parser.add_argument("--stack", type=Path, help="synthesized stack (default: cdktf.out/stacks/ENV/cdk.tf.json)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on standard output")
    args = parser.parse_args(argv)
    try:
        env = get_environment(args.env)
        stack = args.stack or ROOT / "cdktf.out" / "stacks" / env.name / "cdk.tf.json"
        checks = run(env, stack, LocalEndpoints.from_env() if env.emulated else None)
    except (InfraError, MLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    missing = [c.resource for c in checks if c.status == "missing"]
    if args.json:
        print(json.dumps({"env": env.name, "checks": [asdict(c) for c in checks], "missing": missing}, indent=2))
    else:
        for check in checks:
            print(f"{check.status:<8} {check.resource:<40} {check.detail}")
    if missing:
        print(
            f"error: {env.name} lacks {', '.join(missing)}: deploy again (make up / make deploy ENV={env.name})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
