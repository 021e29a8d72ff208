"""The registry contract, which `VertexRegistry` honours on Vertex AI and on the local emulator (tests/ml/registry/)."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod

from ml.errors import MissingRecordError, RegistryError
from ml.registry.versions import PREVIOUS, PRODUCTION, Model, ModelVersion, VersionRecord, check_alias


class Registry(ABC):
    """Models, their versions and aliases.

    - `create_version` creates the model on its first publish; version ids increase from 1;
      the first version gets the alias `default`. Publishing a record whose `run_id` is
      already a version of the model returns that version instead of a duplicate.
    - An alias names at most one version of a model; `set_alias` moves it there.
    - `delete_version` refuses while an alias points at the version.
    """

    @abstractmethod
    def create_version(self, model: str, record: VersionRecord) -> ModelVersion: ...

    @abstractmethod
    def list_models(self) -> list[Model]: ...

    @abstractmethod
    def list_versions(self, model: str) -> list[ModelVersion]:
        """Oldest first; RegistryError for an unknown model."""

    @abstractmethod
    def get_version(self, model: str, version: str) -> ModelVersion: ...

    @abstractmethod
    def alias_target(self, model: str, alias: str) -> str | None:
        """The version `alias` names, or None."""

    @abstractmethod
    def set_alias(self, model: str, alias: str, version: str) -> None: ...

    @abstractmethod
    def delete_version(self, model: str, version: str) -> None: ...

    @abstractmethod
    def delete_model(self, model: str) -> None:
        """The model with every version and alias (an environment's teardown)."""

    def promote(self, model: str, version: str) -> str | None:
        """Move `production` to `version`, keeping the version it leaves as `previous`; returns that one.

        `previous` moves first, so a process stopped in between leaves both aliases on existing
        versions; it stays where it was when the version it would name has lost its record.
        Rolling back is promoting `previous`.
        """
        self.get_version(model, version)
        current = self.alias_target(model, PRODUCTION)
        if current is not None and current != version:
            # A version whose record is gone (an emptied bucket) can serve nothing: no one's fallback.
            with contextlib.suppress(MissingRecordError):
                self.set_alias(model, PREVIOUS, current)
        self.set_alias(model, PRODUCTION, version)
        return current

    def resolve(self, model: str, alias: str) -> ModelVersion:
        version = self.alias_target(model, check_alias(alias))
        if version is None:
            raise RegistryError(
                f"model {model!r} has no version with alias {alias!r}; see `python -m ml models versions {model}`"
            )
        return self.get_version(model, version)

    def get(self, reference: str) -> ModelVersion:
        """`NAME@ALIAS` or `NAME@VERSION`."""
        model, sep, which = reference.partition("@")
        if not sep or not which:
            raise RegistryError(f"{reference!r} is not NAME@ALIAS or NAME@VERSION, e.g. mnist@production or mnist@3")
        return self.get_version(model, which) if which.isdigit() else self.resolve(model, which)
