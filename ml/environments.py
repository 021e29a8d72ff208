"""The deployment environments (`local`, `dev`, `prod`), typed, and the names derived from them.

What a person sets lives in `environments/<name>.toml`, one file per environment, read into
these types and checked on load (ml/environment_files.py): edit `environments/dev.toml` and
`prod.toml` to point them at your own projects and repository. What nobody sets per
environment (the server's tuning, the names derived from the settings) stays here, in code.
Every resource name the pipeline uses is computed here, once, so the infrastructure that
creates a bucket and the code that writes to it can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

from ml.contracts import FunctionConfig
from ml.environment_files import DIRECTORY, load
from ml.errors import ConfigError
from ml.schemas import FEEDBACK, PREDICTIONS, TableSchema

if TYPE_CHECKING:
    from ml.emulators import LocalEndpoints

EnvironmentName = Literal["local", "dev", "prod"]
Ingress = Literal["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"]


@dataclass(frozen=True)
class FunctionSizing:
    """Cloud Functions (2nd gen) capacity for the `predict` endpoint."""

    memory: str = "512Mi"
    cpu: str = "2"
    min_instances: int = 0
    max_instances: int = 3
    concurrency: int = 8
    timeout_s: int = 60
    ingress: Ingress = "ALLOW_ALL"
    public: bool = False
    """Grant `roles/run.invoker` to `allUsers`; otherwise only the listed invokers may call."""
    invokers: tuple[str, ...] = ()
    """IAM members (e.g. `group:ml@example.com`) allowed to call the endpoint, and to impersonate
    the environment's `invoker` account for an ID token. The environment's `operators` may too."""
    request_instances: int = 500
    """Instances one request may hold; more are refused with 413."""
    request_bytes: int = 4 * 2**20
    """Largest request body; 500 images as nested lists of integers take about 1.6 MB."""

    @property
    def memory_bytes(self) -> int:
        """`memory` in bytes; Cloud Run takes Kubernetes quantities (512Mi, 1Gi, 2G)."""
        units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}
        for suffix, factor in units.items():
            if self.memory.endswith(suffix):
                return int(float(self.memory.removesuffix(suffix)) * factor)
        return int(self.memory)

    @property
    def server_environment(self) -> dict[str, str]:
        """The server's variables for this size: gunicorn's workers and threads, and glibc's allocator.

        A worker process per vCPU: a Python process handles its requests under one interpreter
        lock, so one process uses one vCPU however many threads it has; the threads of all
        workers together take `concurrency` requests.
        """
        workers = max(1, int(float(self.cpu)))
        return {
            "WORKERS": str(workers),
            "THREADS": str(-(-self.concurrency // workers)),
            # glibc keeps what threads free in per-thread arenas and, once a large buffer was
            # freed, serves the next ones from them too: a worker's memory then ratchets up
            # with every large request. Large buffers always mapped (and so returned), two
            # arenas: measured under the worst case in dev, 404-414 MiB became 358-363 MiB.
            "MALLOC_ARENA_MAX": "2",
            "MALLOC_MMAP_THRESHOLD_": "131072",
            "MALLOC_TRIM_THRESHOLD_": "131072",
        }


Runner = Literal["inprocess", "vertex"]


@dataclass(frozen=True)
class TrainingJobs:
    """Where `train-publish` trains, and on what (flags override each field)."""

    runner: Runner = "vertex"
    """`vertex`: a Vertex AI CustomJob running the training image as `trainer`; `inprocess`: this machine."""
    machine_type: str = "n1-standard-8"
    """A Vertex AI training machine type (ml/jobs/machine_types.py lists them)."""
    accelerator: str | None = None
    """e.g. NVIDIA_TESLA_T4; None for CPU only."""
    accelerator_count: int = 0
    replicas: int = 1
    """Replicas of that machine a search spreads each iteration's candidates over (ml/automl/cluster.py):
    the chief and `replicas - 1` workers."""
    schedule: str = "0 3 * * 1"
    """When Cloud Scheduler submits a retraining job (cron; cloud environments only)."""
    time_zone: str = "Etc/UTC"
    schedule_paused: bool = False
    """A paused schedule submits nothing. Terraform owns it: change it here and deploy (a `gcloud scheduler
    jobs resume` is undone by the next deploy, and the daily drift check reports it)."""
    scheduled_budget_s: int = 1800
    """The scheduled train-publish's budget, in seconds."""


@dataclass(frozen=True)
class Monitoring:
    """What the served model is judged by (`python -m ml monitor`), and who hears when it fires.

    Drift is measured against the version's own prediction profile on `test`, recorded when it
    was published: Jensen-Shannon divergence (base 2: 0 same, 1 disjoint) and L-infinity (the
    largest difference of one class's share), as Vertex AI Model Monitoring v2 measures them.
    """

    window: str = "24h"
    """The monitor's window unless `--window` says otherwise (s, m, h or d)."""
    class_drift_js: float = 0.05
    """Alert above this divergence of the predicted-class distribution from the baseline's."""
    class_drift_linf: float = 0.1
    confidence_drift_js: float = 0.05
    """Alert above this divergence of the 10-bin confidence histogram from the baseline's."""
    low_confidence_share: float = 0.1
    """Alert when more than this share of instances has a top probability below 0.5."""
    min_online_accuracy: float = 0.95
    """Alert when the accuracy on instances with feedback falls below this."""
    latency_p95_ms: float = 1000.0
    """Alert when the 95th percentile of requests' latency (inside the function) passes this."""
    server_error_ratio: float = 0.01
    """The cloud's alert policy on the function's share of 5xx answers."""
    min_instances: int = 200
    """Fewer instances in the window: drift and confidence are reported but not judged (too few to tell)."""
    min_labels: int = 50
    """Fewer instances with feedback: online accuracy is reported but not judged."""
    notification_emails: tuple[str, ...] = ()
    """Who the cloud's alert policies e-mail (a notification channel each)."""
    schedule: str = "0 */6 * * *"
    """When the cloud runs the monitor as a Vertex AI job (cron, in `TrainingJobs.time_zone`): each run is a
    billed start-up of the smallest Vertex AI machine pulling the training image, so every 6 hours (120 a month)
    rather than hourly (720); the alert policy holds each run's verdict until the next."""
    schedule_paused: bool = False
    """Terraform owns it: change it here and deploy (a `gcloud scheduler jobs resume` is undone by the next deploy)."""
    retrain_on_alert: bool = False
    """The scheduled monitor submits a train-publish job when drift, confidence or online accuracy fires."""


@dataclass(frozen=True)
class Protections:
    """What stops an environment from being destroyed by accident."""

    deletion_protection: bool
    """BigQuery tables refuse `terraform destroy` while this is set."""
    force_destroy_buckets: bool
    """Buckets are emptied and removed on destroy (teardown-friendly environments only)."""


@dataclass(frozen=True)
class Environment:
    """One deployment of the pipeline: where it lives and how it is sized and protected."""

    name: EnvironmentName
    project: str
    region: str
    bq_location: str
    prefix: str
    protections: Protections
    function: FunctionSizing = field(default_factory=FunctionSizing)
    predictions_partition_expiration_days: int = 90
    noncurrent_artifact_retention_days: int = 30
    tensorboard: bool = False
    github_repository: str | None = None
    """`owner/name` whose workflows plan and deploy this environment (Workload Identity Federation)."""
    github_repository_id: int | None = None
    """That repository's numeric id (`gh api repos/OWNER/NAME --jq .id`): a repository deleted and
    re-created under the same name by someone else gets another id, and is not trusted."""
    operators: tuple[str, ...] = ()
    """People (`user:you@example.com`, `group:ml@example.com`) who run `make smoke` and `make predict` from a
    laptop: they may mint tokens as `invoker` (to call the function) and as `trainer` (whose access
    `make smoke` checks). Project Owner does not include this. The grants live in the
    bootstrap stack: after a change here, run `make bootstrap ENV=...` again."""
    placeholders: tuple[str, ...] = ()
    """Keys its file still holds as `{ placeholder = ... }` examples: a real project refuses them
    (`make bootstrap`, `plan` and `deploy` stop naming the first)."""
    deploy_branch: str = "main"
    """The only branch whose workflows may deploy (impersonate `deployer`)."""
    model_name: str = "mnist"
    training: TrainingJobs = field(default_factory=TrainingJobs)
    monitoring: Monitoring = field(default_factory=Monitoring)

    @property
    def emulated(self) -> bool:
        """True when the environment runs on this machine's emulators, not on Google Cloud."""
        return self.name == "local"

    @property
    def labels(self) -> dict[str, str]:
        """Labels on every resource that takes them: what it belongs to, in which environment."""
        return {"app": "mnist-pipeline", "env": self.name}

    @property
    def dataset_id(self) -> str:
        return f"{self.prefix}_mnist".replace("-", "_")

    @property
    def bucket_prefix(self) -> str:
        """What the name of every bucket of the environment starts with (not the bootstrap's state buckets)."""
        return f"{self.project}-{self.prefix}-"

    @property
    def models_bucket(self) -> str:
        return f"{self.bucket_prefix}models"

    @property
    def function_source_bucket(self) -> str:
        return f"{self.bucket_prefix}function-source"

    @property
    def state_bucket(self) -> str:
        """Terraform's state for this environment, in its own project (made by `make bootstrap`)."""
        return f"{self.project}-tfstate"

    @property
    def bootstrap_state_bucket(self) -> str:
        """The bootstrap stacks' own state: only the project's administrators reach it, not CI."""
        return f"{self.project}-bootstrap-tfstate"

    @property
    def location(self) -> str:
        """`projects/<project>/locations/<region>`: the parent of its Vertex AI models, jobs and repositories."""
        return f"projects/{self.project}/locations/{self.region}"

    @property
    def training_repository(self) -> str:
        """The Artifact Registry Docker repository of the training image."""
        return f"{self.prefix}-training"

    @property
    def job_submitter_role(self) -> str:
        """The custom role that may create Vertex AI custom jobs and nothing else (the `scheduler`'s)."""
        return f"projects/{self.project}/roles/{self.prefix.replace('-', '_')}_jobSubmitter"

    @property
    def training_image(self) -> str:
        """The training image in the environment's Artifact Registry repository, without tag or digest."""
        return f"{self.region}-docker.pkg.dev/{self.project}/{self.training_repository}/trainer"

    @property
    def function_name(self) -> str:
        return f"{self.prefix}-predict"

    def table(self, schema: TableSchema) -> str:
        """The table's fully qualified id, `project.dataset.table`."""
        return f"{self.project}.{self.dataset_id}.{schema.table_id}"

    def function_config(self, endpoints: LocalEndpoints | None = None) -> FunctionConfig:
        """What the predict function is configured with: by `infra/components/serving.py` in the
        cloud, by the local cloud on `endpoints` (its emulators, and how often to re-read the manifest)."""
        return FunctionConfig(
            project=self.project,
            dataset=self.dataset_id,
            predictions_table=PREDICTIONS.table_id,
            feedback_table=FEEDBACK.table_id,
            models_bucket=self.models_bucket,
            model=self.model_name,
            max_request_instances=self.function.request_instances,
            max_request_bytes=self.function.request_bytes,
            manifest_refresh_s=None if endpoints is None else endpoints.function_refresh_s,
            storage_emulator=None if endpoints is None else endpoints.storage_url,
            bigquery_emulator=None if endpoints is None else endpoints.bigquery_url,
            server=tuple(self.function.server_environment.items()),
        )

    def service_account_id(self, role: str) -> str:
        """Account id (6-30 chars) for one of the pipeline's identities: trainer, predictor, ..."""
        return f"{self.prefix}-{role}"[:30]

    def service_account_email(self, role: str) -> str:
        return f"{self.service_account_id(role)}@{self.project}.iam.gserviceaccount.com"


ENVIRONMENTS: dict[str, Environment] = {
    name: load(Environment, DIRECTORY / f"{name}.toml") for name in get_args(EnvironmentName)
}
"""Each environment as its file in `environments/` says (ml/environment_files.py reads and checks them)."""

CLOUD_ENVIRONMENTS: tuple[str, ...] = tuple(n for n, e in ENVIRONMENTS.items() if not e.emulated)


def get_environment(name: str) -> Environment:
    """The environment called `name`, or a ConfigError listing the valid names."""
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        valid = ", ".join(ENVIRONMENTS)
        raise ConfigError(f"unknown environment {name!r}: use one of {valid} (ENV=...)") from None
