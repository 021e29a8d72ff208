"""Vertex AI: the region training and the Model Registry use, and an optional TensorBoard."""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable
from cdktn_provider_google.vertex_ai_tensorboard import VertexAiTensorboard
from constructs import Construct

from ml.environments import Environment


class MlPlatform(Construct):
    """Model versions and aliases are not Terraform resources: the publish flow owns them."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.region = env.region
        self.tensorboard: VertexAiTensorboard | None = None
        if env.tensorboard:
            self.tensorboard = VertexAiTensorboard(
                self,
                "tensorboard",
                project=env.project,
                region=env.region,
                display_name=f"mnist-pipeline-{env.name}",
                description="Training runs of the MNIST AutoML trainer.",
                labels=env.labels,
                depends_on=depends_on,
            )
