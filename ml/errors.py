"""The one exception hierarchy of the `ml` package: every error says what happened and what to do."""

from __future__ import annotations


class MLError(Exception):
    """Root of every error the pipeline raises on purpose; its message is shown to the user as is."""


class ConfigError(MLError):
    """An environment or setting that does not exist or does not fit."""


class DataError(MLError):
    """Source files, mirrors or tables that cannot give the data asked for."""


class TrainingError(MLError):
    """Data the trainer cannot learn from, or a budget it cannot work within."""


class RegistryError(MLError):
    """A model, version or alias that does not exist or cannot change as asked."""


class ArtifactError(MLError):
    """An artifact missing from storage, or whose bytes are not the ones registered."""
