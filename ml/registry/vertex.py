"""`VertexRegistry`: Vertex AI Model Registry, through `google-cloud-aiplatform`'s ModelService client.

A model is `projects/<p>/locations/<region>/models/<name>`; its first publish creates it (version
1, alias `default`), each later one uploads a version under it (`parent_model`) without
moving `default`. A version carries the SavedModel's URI and the prebuilt TensorFlow
prediction container, the environment's labels and a `run_id` label; everything else a
version holds (artifact digests, metrics, lineage) is a JSON record in the models bucket at
`registry/<model>/runs/<run_id>.json`, written before the upload, so no version lacks it.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ml.contracts import registry_record_path
from ml.environments import Environment
from ml.errors import MissingRecordError, RegistryError
from ml.registry.base import Registry
from ml.registry.versions import DEFAULT, Model, ModelVersion, VersionRecord, check_alias, check_model_name

if TYPE_CHECKING:
    import google.cloud.storage as storage
    from google.cloud.aiplatform_v1 import ModelServiceClient

TF_PREDICTION_IMAGE = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
"""The newest prebuilt TensorFlow prediction container (see DESIGN.md: its support ends in 2026)."""


def _label(value: str) -> str:
    """A Vertex label value: lowercase letters, digits, '-' and '_', at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "-", value.lower())[:63]


def _iso(timestamp: Any) -> str:
    """proto-plus gives timestamps as datetimes."""
    return str(timestamp.isoformat())


class VertexRegistry(Registry):
    def __init__(
        self,
        env: Environment,
        *,
        gcs: storage.Client,
        client: ModelServiceClient,
    ) -> None:
        """`gcs` reaches the models bucket, where the version records live; `client` Vertex AI (ml/cloud.py)."""
        self.env = env
        self.parent = env.location
        self.client = client
        self.bucket = gcs.bucket(env.models_bucket)

    def _name(self, model: str) -> str:
        return f"{self.parent}/models/{model}"

    def create_version(self, model: str, record: VersionRecord) -> ModelVersion:
        from google.api_core.exceptions import Conflict, NotFound
        from google.cloud.aiplatform_v1 import types

        check_model_name(model)
        try:
            existing = self._vertex_versions(model)
        except RegistryError:
            existing = []
        for version in existing:
            if version.labels.get("run_id") == _label(record.run_id):
                return self._version(model, version)
        self.bucket.blob(self._record_name(model, record.run_id)).upload_from_string(
            json.dumps(record.to_json_object()), content_type="application/json"
        )
        labels = {
            **self.env.labels,
            **{k: _label(v) for k, v in record.labels.items()},
            "run_id": _label(record.run_id),
        }
        spec = types.Model(
            display_name=model,
            artifact_uri=record.artifacts["saved_model"].uri,
            container_spec=types.ModelContainerSpec(image_uri=TF_PREDICTION_IMAGE),
            labels=labels,
            version_description=f"run {record.run_id}, test accuracy {record.metrics.accuracy}",
        )
        try:
            try:
                version = self._upload(spec, model, first=not existing)
            except Conflict:  # another publish created the model since we looked: be a version under it
                version = self._upload(spec, model, first=False)
        except NotFound as error:
            raise RegistryError(f"Vertex AI refused the upload ({error}); check the project and the region") from None
        return self.get_version(model, version)

    def _upload(self, spec: Any, model: str, *, first: bool) -> str:
        """Upload `spec` as the model's first version (`default`) or as a new one under it; its version id."""
        from google.cloud.aiplatform_v1 import types

        if first:
            spec.version_aliases = [DEFAULT]
            request = types.UploadModelRequest(parent=self.parent, model=spec, model_id=model)
        else:
            spec.version_aliases = []
            request = types.UploadModelRequest(parent=self.parent, model=spec, parent_model=self._name(model))
        response = self.client.upload_model(request=request).result(timeout=1800)  # type: ignore[no-untyped-call]
        return str(response.model_version_id)

    def list_models(self) -> list[Model]:
        query = {"parent": self.parent, "filter": f'labels.app="{self.env.labels["app"]}"'}
        models = self.client.list_models(request=query)
        result = []
        for m in models:
            name = m.name.rsplit("/", 1)[-1]
            versions = self._vertex_versions(name)
            aliases = {a: v.version_id for v in versions for a in v.version_aliases}
            result.append(Model(name, _iso(m.create_time), len(versions), dict(sorted(aliases.items()))))
        return result

    def list_versions(self, model: str) -> list[ModelVersion]:
        return [self._version(model, v) for v in self._vertex_versions(model)]

    def get_version(self, model: str, version: str) -> ModelVersion:
        from google.api_core.exceptions import NotFound

        if not str(version).isdigit():
            raise RegistryError(f"{version!r} is not a version id of {model!r}: versions are numbers (1, 2, ...)")
        try:
            found = self.client.get_model(name=f"{self._name(model)}@{version}")
        except NotFound:
            self._vertex_versions(model)  # an unknown model says so
            raise RegistryError(
                f"model {model!r} has no version {version}; see `python -m ml models versions {model}`"
            ) from None
        return self._version(model, found)

    def alias_target(self, model: str, alias: str) -> str | None:
        for version in self._vertex_versions(model):
            if alias in version.version_aliases:
                return str(version.version_id)
        return None

    def set_alias(self, model: str, alias: str, version: str) -> None:
        check_alias(alias)
        self.get_version(model, version)
        self.client.merge_version_aliases(name=f"{self._name(model)}@{version}", version_aliases=[alias])

    def delete_version(self, model: str, version: str) -> None:
        target = self.get_version(model, version)
        if target.aliases:
            raise RegistryError(
                f"version {version} of {model!r} is still {', '.join(sorted(target.aliases))}: move those aliases "
                "to another version first (`python -m ml models promote` or `rollback`)"
            )
        operation = self.client.delete_model_version(name=f"{self._name(model)}@{version}")
        operation.result(timeout=600)  # type: ignore[no-untyped-call]

    def delete_model(self, model: str) -> None:
        self._vertex_versions(model)  # an unknown model says so
        self.client.delete_model(name=self._name(model)).result(timeout=600)  # type: ignore[no-untyped-call]

    def _vertex_versions(self, model: str) -> list[Any]:
        from google.api_core.exceptions import NotFound

        try:
            versions = list(self.client.list_model_versions(name=self._name(model)))
        except NotFound:
            raise RegistryError(f"unknown model {model!r}; see `python -m ml models list`") from None
        return sorted(versions, key=lambda v: int(v.version_id))

    def _version(self, model: str, found: Any) -> ModelVersion:
        """The pipeline's view of a Vertex version; one uploaded by other means has no record to show."""
        from google.api_core.exceptions import NotFound

        name = self._record_name(model, found.labels.get("run_id", "<none>"))
        try:
            if "run_id" not in found.labels:
                raise NotFound(name)  # type: ignore[no-untyped-call]
            record = VersionRecord.from_json_object(json.loads(self.bucket.blob(name).download_as_text()))
        except NotFound:
            raise MissingRecordError(
                f"version {found.version_id} of {model!r} has no record at gs://{self.bucket.name}/{name}: it was "
                "not published by this pipeline, or its bucket was emptied; delete it in Vertex AI "
                "(`python -m ml models delete-all` for a torn-down environment), or publish its run again"
            ) from None
        aliases = tuple(sorted(found.version_aliases))
        return ModelVersion(model, str(found.version_id), _iso(found.version_create_time), aliases, record)

    def _record_name(self, model: str, run_id: str) -> str:
        return registry_record_path(model, _label(run_id))
