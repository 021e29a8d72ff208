"""After a deploy, does everything answer? (`make smoke ENV=local|dev|prod`, `python -m ml smoke`)

Every dataset, table and bucket the synthesized stack declares must exist and answer the
identity that uses it: the warehouse and the models bucket `trainer` (whose access a cloud
check borrows by impersonating it), the other buckets the caller. The function's `/healthz`
must answer through `invoker`'s identity token, and the registry must answer its listing.
One `Check` per resource; the command exits 1 when anything is missing, and names what. A
function with no version to serve yet is reported, not failed: that is a fresh environment
before its first `make train-publish`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

import requests

from infra.terraform_json import load_stack
from ml.cloud import stack_output
from ml.context import Context
from ml.environments import Environment
from ml.publish.serving_manifest import serving_manifest_exists

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
    from ml.client.auth import check_impersonation, impersonated

    account = env.service_account_email(role)
    return check_impersonation(impersonated(account), account, env.name)


def run(context: Context, stack: Path) -> list[Check]:
    env = context.env
    declared = load_stack(stack, types={"google_bigquery_dataset", "google_bigquery_table", "google_storage_bucket"})
    trainer = replace(context, credentials=_as(env, "trainer"))
    bq, as_trainer, as_you = trainer.bigquery, trainer.storage, context.storage
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
    checks.append(_function(context))
    checks.append(_check(f"registry {env.model_name}", lambda: _registry(context)))
    return checks


def _read_dataset(bq: Any, name: str) -> str:
    return f"in {bq.get_dataset(name).location}, as trainer"


def _read_table(bq: Any, name: str) -> str:
    rows = bq.list_rows(name, max_results=1)
    return f"readable ({len(list(rows))} row read), as trainer"


def _read_bucket(gcs: Any, name: str, who: str) -> str:
    return f"readable ({len(list(gcs.list_blobs(name, max_results=1)))} object listed), as {who}"


def _registry(context: Context) -> str:
    models = {m.name: m for m in context.registry.list_models()}
    model = models.get(context.env.model_name)
    return f"{model.versions} version(s), aliases {model.aliases}" if model else "answers; no version published yet"


def _function(context: Context) -> Check:
    env = context.env
    resource = f"function {env.function_name}"
    if context.endpoints is not None:
        url = context.endpoints.function_url
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
        if env.emulated and not serving_manifest_exists(context, env.model_name):
            return Check(resource, "notice", "not started: no version to serve yet (make train-publish)")
        hint = " (make serve)" if env.emulated else ""
        return Check(resource, "missing", f"{url} does not answer{hint}: {type(error).__name__}")
    if health.status_code != 200:
        return Check(resource, "missing", f"{url}/healthz answered {health.status_code} through invoker")
    version = health.json().get("model_version")
    if version is None:
        return Check(resource, "notice", f"answers at {url}; no version to serve yet (make train-publish)")
    return Check(resource, "ok", f"answers at {url}, serving version {version}")
