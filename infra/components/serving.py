"""The `predict` endpoint: a Cloud Functions (2nd gen) function serving the production model."""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import AssetType, ITerraformDependable, TerraformAsset
from cdktn_provider_google.cloud_run_service_iam_member import CloudRunServiceIamMember
from cdktn_provider_google.cloudfunctions2_function import (
    Cloudfunctions2Function,
    Cloudfunctions2FunctionBuildConfig,
    Cloudfunctions2FunctionBuildConfigSource,
    Cloudfunctions2FunctionBuildConfigSourceStorageSource,
    Cloudfunctions2FunctionServiceConfig,
)
from cdktn_provider_google.storage_bucket_object import StorageBucketObject
from constructs import Construct

from infra.components.identity import Identities
from infra.components.storage import Buckets
from infra.components.warehouse import Warehouse
from infra.function_bundle import OBJECT_NAME, FunctionBundle
from infra.grants import granted
from ml.environments import Environment

RUNTIME = "python312"
ENTRY_POINT = "predict"


class PredictFunction(Construct):
    """Scales to zero; runs as `predictor`, is built as `builder`; only invokers may call it."""

    RUNS_AS, BUILT_AS = "predictor", "builder"
    """The accounts a deployment of the function acts as: the deployer may act as these only."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        bundle: FunctionBundle,
        buckets: Buckets,
        warehouse: Warehouse,
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        sizing = env.function
        asset = TerraformAsset(self, "bundle", path=str(bundle.path), type=AssetType.FILE)
        self.source = StorageBucketObject(
            self,
            "source",
            bucket=buckets.function_source.name,
            name=OBJECT_NAME,
            source=asset.path,
            content_type="application/zip",
        )
        self.function = Cloudfunctions2Function(
            self,
            "function",
            project=env.project,
            location=env.region,
            name=env.function_name,
            description="MNIST predictions from the model behind the serving alias.",
            labels=env.labels,
            build_config=Cloudfunctions2FunctionBuildConfig(
                runtime=RUNTIME,
                entry_point=ENTRY_POINT,
                service_account=f"projects/{env.project}/serviceAccounts/{env.service_account_email(self.BUILT_AS)}",
                source=Cloudfunctions2FunctionBuildConfigSource(
                    storage_source=Cloudfunctions2FunctionBuildConfigSourceStorageSource(
                        bucket=buckets.function_source.name,
                        object=self.source.name,
                        generation=self.source.generation,  # a new bundle, a new generation: redeploy
                    )
                ),
            ),
            service_config=Cloudfunctions2FunctionServiceConfig(
                min_instance_count=sizing.min_instances,
                max_instance_count=sizing.max_instances,
                max_instance_request_concurrency=sizing.concurrency,
                available_memory=sizing.memory,
                available_cpu=sizing.cpu,
                timeout_seconds=sizing.timeout_s,
                ingress_settings=sizing.ingress,
                all_traffic_on_latest_revision=True,
                service_account_email=env.service_account_email(self.RUNS_AS),
                environment_variables=env.function_config().to_environ(),
            ),
            # It reads the dataset and the bucket from its first request on: they exist before it.
            depends_on=[*(depends_on or []), warehouse.dataset, buckets.models],
        )
        # Callers must present an identity token of an allowed member, unless the
        # environment opts in to a public endpoint.
        callers = [Identities.member(env, grant.account) for grant in granted(env, on="function")]
        members = ["allUsers"] if sizing.public else [*callers, *sizing.invokers]
        for index, member in enumerate(members):
            CloudRunServiceIamMember(
                self,
                f"invoker-{index}",
                project=env.project,
                location=self.function.location,
                service=self.function.name,
                role="roles/run.invoker",
                member=member,
            )
