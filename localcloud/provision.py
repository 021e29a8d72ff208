"""Creating a stack's datasets, tables and buckets through the real Google Cloud clients.

This plays `terraform apply` for the resource types the emulators implement: it creates
what is missing and leaves what exists alone, so applying twice changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import google.cloud.storage as storage
from google.api_core.exceptions import Conflict, NotFound
from google.cloud import bigquery

from infra.errors import StackError
from infra.terraform_json import Attributes, Resource
from ml.records import JsonObject

Action = Literal["created", "unchanged"]


@dataclass(frozen=True)
class ResourceState:
    address: str
    kind: str
    id: str
    exists: bool


@dataclass(frozen=True)
class Change:
    address: str
    id: str
    action: Action


class Provisioner:
    """Applies and inspects the emulated resource types of a synthesized stack."""

    # Creation order: a table needs its dataset.
    SUPPORTED: tuple[str, ...] = ("google_bigquery_dataset", "google_bigquery_table", "google_storage_bucket")

    def __init__(self, bigquery_client: bigquery.Client, storage_client: storage.Client) -> None:
        self._bq = bigquery_client
        self._gcs = storage_client

    def check(self, resources: Iterable[Resource]) -> list[Resource]:
        """The resources in creation order, or a StackError naming one no emulator provides."""
        resources = list(resources)
        unsupported = sorted({r.type for r in resources} - set(self.SUPPORTED))
        if unsupported:
            raise StackError(
                f"the local stack declares {', '.join(unsupported)}, which no local emulator provides: "
                "declare it for cloud environments only (see PipelineStack)"
            )
        return sorted(resources, key=lambda r: self.SUPPORTED.index(r.type))

    def apply(self, resources: Iterable[Resource]) -> list[Change]:
        changes = []
        for resource in self.check(resources):
            create: Callable[[Attributes], bool] = getattr(self, f"_create_{resource.type.removeprefix('google_')}")
            created = create(resource.attributes)
            changes.append(Change(resource.address, _resource_id(resource), "created" if created else "unchanged"))
        return changes

    def inspect(self, resources: Iterable[Resource]) -> list[ResourceState]:
        states = []
        for resource in self.check(resources):
            exists: Callable[[Attributes], bool] = getattr(self, f"_exists_{resource.type.removeprefix('google_')}")
            states.append(
                ResourceState(resource.address, resource.type, _resource_id(resource), exists(resource.attributes))
            )
        return states

    # -- BigQuery ------------------------------------------------------------------------

    def _create_bigquery_dataset(self, a: Attributes) -> bool:
        dataset = bigquery.Dataset(f"{a['project']}.{a['dataset_id']}")
        dataset.location = a.get("location")
        dataset.description = a.get("description")
        dataset.labels = a.get("labels", {})
        return _created(lambda: self._bq.create_dataset(dataset))

    def _exists_bigquery_dataset(self, a: Attributes) -> bool:
        return _found(lambda: self._bq.get_dataset(f"{a['project']}.{a['dataset_id']}"))

    def _create_bigquery_table(self, a: Attributes) -> bool:
        schema = [bigquery.SchemaField.from_api_repr(f) for f in json.loads(a["schema"])]
        table = bigquery.Table(f"{a['project']}.{a['dataset_id']}.{a['table_id']}", schema=schema)
        table.description = a.get("description")
        table.labels = a.get("labels", {})
        if partitioning := a.get("time_partitioning"):
            table.time_partitioning = bigquery.TimePartitioning(
                type_=partitioning["type"],
                field=partitioning.get("field"),
                expiration_ms=partitioning.get("expiration_ms"),
            )
        if clustering := a.get("clustering"):
            table.clustering_fields = clustering
        return _created(lambda: self._bq.create_table(table))

    def _exists_bigquery_table(self, a: Attributes) -> bool:
        return _found(lambda: self._bq.get_table(f"{a['project']}.{a['dataset_id']}.{a['table_id']}"))

    # -- Cloud Storage -------------------------------------------------------------------

    def _create_storage_bucket(self, a: Attributes) -> bool:
        bucket = self._gcs.bucket(a["name"])
        bucket.labels = a.get("labels", {})
        bucket.versioning_enabled = bool(a.get("versioning", {}).get("enabled", False))
        bucket.iam_configuration.uniform_bucket_level_access_enabled = bool(a.get("uniform_bucket_level_access"))
        if prevention := a.get("public_access_prevention"):
            bucket.iam_configuration.public_access_prevention = prevention
        bucket.lifecycle_rules = [_lifecycle_rule(rule) for rule in a.get("lifecycle_rule", [])]
        return _created(lambda: self._gcs.create_bucket(bucket, project=a.get("project"), location=a.get("location")))

    def _exists_storage_bucket(self, a: Attributes) -> bool:
        return _found(lambda: self._gcs.get_bucket(a["name"]))


def _resource_id(resource: Resource) -> str:
    a = resource.attributes
    if resource.type == "google_bigquery_dataset":
        return f"{a['project']}.{a['dataset_id']}"
    if resource.type == "google_bigquery_table":
        return f"{a['project']}.{a['dataset_id']}.{a['table_id']}"
    return f"gs://{a['name']}"


def _lifecycle_rule(rule: Attributes) -> JsonObject:
    """A Terraform `lifecycle_rule` block as the Cloud Storage JSON API spells it."""
    names = {
        "age": "age",
        "days_since_noncurrent_time": "daysSinceNoncurrentTime",
        "num_newer_versions": "numNewerVersions",
        "with_state": "isLive",
    }
    condition: JsonObject = {}
    for key, value in rule.get("condition", {}).items():
        if key == "with_state":
            if value != "ANY":
                condition["isLive"] = value == "LIVE"
        elif key in names:
            condition[names[key]] = value
        else:
            raise StackError(f"lifecycle condition {key!r} is not emulated: add it to localcloud/provision.py")
    action = {"type": rule["action"]["type"]}
    if storage_class := rule["action"].get("storage_class"):
        action["storageClass"] = storage_class
    return {"action": action, "condition": condition}


def _created(create: Callable[[], object]) -> bool:
    try:
        create()
    except Conflict:
        return False
    return True


def _found(get: Callable[[], object]) -> bool:
    try:
        get()
    except NotFound:
        return False
    return True
