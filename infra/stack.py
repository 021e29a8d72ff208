"""One stack class for every environment: what differs lives in `ml.environments.Environment`."""

from __future__ import annotations

from pathlib import Path

from cdktn import GcsBackend, LocalBackend, TerraformOutput, TerraformStack
from cdktn_provider_google.provider import GoogleProvider
from constructs import Construct

from infra.components import (
    AuditLogs,
    Buckets,
    Identities,
    MlPlatform,
    Monitoring,
    PredictFunction,
    ProjectApis,
    Training,
    Warehouse,
)
from infra.function_bundle import build_bundle
from ml.environments import Environment

STATE_PREFIX = "mnist-pipeline"
LOCAL_STATE = "../../../.local/terraform/local.tfstate"  # relative to cdktf.out/stacks/local


class PipelineStack(TerraformStack):
    """The pipeline's resources for `env`.

    An emulated environment (`local`) holds only what the emulators provide (the dataset, its
    tables and the buckets); `make up` creates those from this stack's synthesized JSON. The
    function runs there under functions-framework instead of being deployed.
    """

    def __init__(self, scope: Construct, env: Environment, *, build_dir: Path) -> None:
        super().__init__(scope, env.name)
        self.env = env
        GoogleProvider(
            self,
            "google",
            project=env.project,
            region=env.region,
            default_labels={"managed_by": "cdktn"},
        )
        if env.emulated:
            LocalBackend(self, path=LOCAL_STATE)
        else:
            GcsBackend(self, bucket=env.state_bucket, prefix=f"{STATE_PREFIX}/{env.name}")

        apis = None if env.emulated else ProjectApis(self, "apis", env=env)
        after_apis = list(apis.services) if apis else None
        self.warehouse = Warehouse(self, "warehouse", env=env, depends_on=after_apis)
        self.buckets = Buckets(self, "buckets", env=env, depends_on=after_apis)
        TerraformOutput(self, "dataset", value=self.warehouse.dataset.dataset_id)
        TerraformOutput(self, "models_bucket", value=self.buckets.models.name)
        if env.emulated:
            return

        AuditLogs(self, "audit", env=env, depends_on=after_apis)
        Identities(self, "identities", env=env, warehouse=self.warehouse, buckets=self.buckets)
        platform = MlPlatform(self, "ml-platform", env=env, depends_on=after_apis)
        serving = PredictFunction(
            self,
            "predict",
            env=env,
            bundle=build_bundle(build_dir),
            buckets=self.buckets,
            warehouse=self.warehouse,
            depends_on=after_apis,
        )
        training = Training(self, "training", env=env, depends_on=after_apis)
        monitoring = Monitoring(self, "monitoring", env=env, depends_on=after_apis)
        # The schedules' token is `scheduler`'s; jobs the deployer submits run as `trainer`.

        TerraformOutput(self, "vertex_region", value=platform.region)
        if platform.tensorboard is not None:
            TerraformOutput(self, "tensorboard", value=platform.tensorboard.name)
        TerraformOutput(self, "function_uri", value=serving.function.service_config.uri)
        TerraformOutput(self, "training_repository", value=training.repository.name)
        TerraformOutput(self, "retrain_schedule", value=training.schedule.name)
        TerraformOutput(self, "monitor_schedule", value=monitoring.schedule.name)
        for role in ("trainer", "invoker"):
            TerraformOutput(self, f"{role}_service_account", value=env.service_account_email(role))
