"""ModelService: models, their versions and aliases, with Vertex's rules.

Version ids count from 1 and are never reused, even after a version is deleted; a model's
first version holds the alias `default`; an alias names one version of a model and moves
when merged onto another; `-alias` removes it; the default version cannot be deleted;
listing models shows each model's default version. Long-running operations finish at once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from localcloud.vertex.errors import ApiError, invalid, not_found
from localcloud.vertex.store import Json, Store

MODEL = "model_version"
DEFAULT = "default"
_ALIAS = re.compile(r"^[a-z][a-z0-9-]{0,126}[a-z0-9]$")
_MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_LABEL_FILTER = re.compile(r'^labels\.([a-z0-9_-]+)\s*=\s*"([^"]*)"$')


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Models:
    def __init__(self, store: Store) -> None:
        self.store = store

    def upload(self, parent: str, body: Json) -> Json:
        spec = dict(body.get("model") or {})
        if not spec.get("displayName"):
            raise invalid("model.display_name", "Model.display_name is required.")
        if spec.get("artifactUri") and not spec.get("containerSpec", {}).get("imageUri"):
            raise invalid("model.container_spec", "Model.container_spec is required when artifact_uri is set.")
        aliases = list(spec.pop("versionAliases", []))
        for alias in aliases:
            _check_alias(alias)
        with self.store.transaction():
            if parent_model := body.get("parentModel"):
                versions = self._versions(parent_model)
                name = parent_model
            else:
                model_id = body.get("modelId") or str(self.store.next_value(f"{parent}/models"))
                if not _MODEL_ID.match(model_id):
                    raise invalid("model_id", f"Model id {model_id!r} is invalid: lowercase letters, digits and '-'.")
                name = f"{parent}/models/{model_id}"
                if self.store.select(MODEL, name):
                    raise ApiError(409, f"Model {name} already exists.")
                versions, aliases = [], sorted({*aliases, DEFAULT})
            number = str(self.store.next_value(name))
            stamp = now()
            version = {
                **spec,
                "name": name,
                "versionId": number,
                "versionAliases": [],
                "createTime": versions[0]["createTime"] if versions else stamp,
                "updateTime": stamp,
                "versionCreateTime": stamp,
                "versionUpdateTime": stamp,
            }
            self.store.put(MODEL, f"{name}@{number}", name, version)
            self._merge(name, version, aliases)
        return {
            "@type": "type.googleapis.com/google.cloud.aiplatform.v1.UploadModelResponse",
            "model": name,
            "modelVersionId": number,
        }

    def list_models(self, parent: str, filter_: str) -> list[Json]:
        labels = _label_filter(filter_)
        return [
            version
            for version in self.store.select(MODEL)
            if version["name"].startswith(f"{parent}/models/")
            and DEFAULT in version["versionAliases"]
            and all(version.get("labels", {}).get(k) == v for k, v in labels.items())
        ]

    def list_versions(self, name: str) -> list[Json]:
        return self._versions(name)

    def get(self, name: str, which: str | None) -> Json:
        versions = self._versions(name)
        wanted = which or DEFAULT
        for version in versions:
            if version["versionId"] == wanted or wanted in version["versionAliases"]:
                return version
        raise not_found(f"Model version {name}@{wanted} not found.")

    def merge_aliases(self, name: str, which: str | None, aliases: list[str]) -> Json:
        for alias in aliases:
            _check_alias(alias.removeprefix("-"))
            if alias == f"-{DEFAULT}":
                raise invalid("version_aliases", "The default alias cannot be removed; merge it onto another version.")
        with self.store.transaction():
            version = self.get(name, which)
            return self._merge(name, version, aliases)

    def delete_version(self, name: str, which: str | None) -> Json:
        with self.store.transaction():
            version = self.get(name, which)
            if DEFAULT in version["versionAliases"]:
                raise ApiError(
                    400,
                    "The default version of a model cannot be deleted; move the default alias first.",
                    status="FAILED_PRECONDITION",
                )
            self.store.delete(MODEL, f"{name}@{version['versionId']}")
        return {"@type": "type.googleapis.com/google.protobuf.Empty"}

    def delete(self, name: str) -> Json:
        """The model and every version of it, aliases and all (Vertex AI's DeleteModel)."""
        with self.store.transaction():
            for version in self._versions(name):
                self.store.delete(MODEL, f"{name}@{version['versionId']}")
        return {"@type": "type.googleapis.com/google.protobuf.Empty"}

    def _versions(self, name: str) -> list[Json]:
        versions = self.store.select(MODEL, name)
        if not versions:
            raise not_found(f"Model {name} not found.")
        return sorted(versions, key=lambda v: int(v["versionId"]))

    def _merge(self, name: str, version: Json, aliases: list[str]) -> Json:
        """Within the caller's transaction: `alias` moves onto `version`, `-alias` leaves it."""
        others = {v["versionId"]: v for v in self.store.select(MODEL, name) if v["versionId"] != version["versionId"]}
        for alias in aliases:
            if alias.startswith("-"):
                version["versionAliases"] = [a for a in version["versionAliases"] if a != alias[1:]]
                continue
            for other in others.values():
                other["versionAliases"] = [a for a in other["versionAliases"] if a != alias]
            version["versionAliases"] = sorted({*version["versionAliases"], alias})
        stamp = now()
        for changed in [*others.values(), version]:
            changed["updateTime"] = changed["versionUpdateTime"] = stamp
            self.store.put(MODEL, f"{name}@{changed['versionId']}", name, changed)
        return version


def _check_alias(alias: str) -> None:
    if not _ALIAS.match(alias) or alias.isdigit():
        raise invalid(
            "version_aliases",
            f"Alias {alias!r} is invalid: 2-128 characters, lowercase letters, digits and '-', starting with a letter.",
        )


def _label_filter(filter_: str) -> dict[str, str]:
    """The subset of AIP-160 filters the pipeline sends: `labels.KEY="VALUE"` terms joined by AND."""
    labels: dict[str, Any] = {}
    for term in filter(None, (t.strip() for t in re.split(r"\s+AND\s+", filter_.strip()))):
        match = _LABEL_FILTER.match(term)
        if match is None:
            raise invalid("filter", f'Unsupported filter {term!r}: this emulator takes labels.KEY="VALUE" terms.')
        labels[match.group(1)] = match.group(2)
    return labels
