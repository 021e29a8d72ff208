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


class TooFewStepsError(TrainingError):
    """Training by time that, timed over its first steps, cannot reach the steps it needs."""

    def __init__(self, reachable: int, needed: int, step_s: float, tracing_s: float) -> None:
        self.reachable, self.needed, self.step_s, self.tracing_s = reachable, needed, step_s, tracing_s
        super().__init__(
            f"training can reach about {reachable} of the {needed} steps it needs ({step_s:.2g} s a step after "
            f"{tracing_s:.0f} s of tracing); give it more time"
        )

    @property
    def missing_s(self) -> float:
        """The training time it lacks."""
        return (self.needed - self.reachable) * self.step_s


class RegistryError(MLError):
    """A model, version or alias that does not exist or cannot change as asked."""


class MissingRecordError(RegistryError):
    """A version whose record in the models bucket is gone (an emptied bucket, a torn-down environment)."""


class ArtifactError(MLError):
    """An artifact missing from storage, or whose bytes are not the ones registered."""


class JobError(MLError):
    """A training job that cannot be submitted as asked, that failed, or that does not exist."""


class ClusterError(TrainingError):
    """Replicas of one training job that cannot search together: a restarted chief, tables that
    differ between replicas, or a chief gone silent."""


class MonitorError(MLError):
    """The monitor could not read what it judges by: an outage, not an alert."""
