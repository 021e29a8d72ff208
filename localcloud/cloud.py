"""`LocalCloud`: the emulators of one machine and the `local` stack's resources in them."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from infra.errors import LocalCloudError
from infra.function_bundle import stage
from infra.terraform_json import load_stack
from localcloud.provision import Change, Provisioner, ResourceState
from localcloud.services import RunningService, ServiceManager, ServiceSpec
from ml.context import Context
from ml.emulators import ROOT
from ml.environments import Environment, FunctionSizing
from ml.publish.serving_manifest import serving_manifest_exists

# Storage Read API results arrive as one message per 65,536 rows (48 MB for MNIST's
# training set): the emulator's default request cap is far below that.
_BQ_MAX_REQUEST_BYTES = 128 * 1024 * 1024
# Extensions bqemulator loads at start; offline they must come from PyPI packages.
_DUCKDB_EXTENSIONS = ("spatial", "avro")


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    url: str
    ports: dict[str, int]
    pid: int | None


@dataclass(frozen=True)
class Status:
    services: list[ServiceStatus]
    resources: list[ResourceState] | None
    """None when the emulators are not running, so nothing can be asked."""


class LocalCloud:
    """Starts the emulators, provisions the stack into them, reports, stops and wipes them."""

    def __init__(self, context: Context, stack_file: Path) -> None:
        if context.endpoints is None:
            name = context.env.name
            raise LocalCloudError(f"the local cloud runs environment 'local', not {name!r}: use make deploy ENV={name}")
        self.context, self.endpoints = context, context.endpoints
        self.stack_file = stack_file
        # The registry goes with the bucket holding its artifacts: a wipe takes both.
        state = self.endpoints.state_dir
        self.data_dirs = (state / "bigquery", state / "storage", state / "vertex")
        self.services = ServiceManager(state / "run", state / "logs")

    def specs(self) -> list[ServiceSpec]:
        e, bin_dir = self.endpoints, Path(sys.executable).parent
        bigquery_dir, storage_dir, vertex_dir = self.data_dirs
        return [
            ServiceSpec(
                name="bigquery",
                command=(
                    str(bin_dir / "bqemulator"),
                    "start",
                    "--persistent",
                    "--data-dir",
                    str(bigquery_dir),
                    "--project",
                    self.env.project,
                    "--rest-host",
                    e.host,
                    "--rest-port",
                    str(e.bigquery_port),
                    "--grpc-host",
                    e.host,
                    "--grpc-port",
                    str(e.bigquery_grpc_port),
                    "--log-level",
                    "warning",
                    "--log-format",
                    "console",
                ),
                host=e.host,
                ports={"rest": e.bigquery_port, "grpc": e.bigquery_grpc_port},
                url=e.bigquery_url,
                ready_path=f"/bigquery/v2/projects/{self.env.project}/datasets",
                port_variables={"rest": "BQ_EMULATOR_PORT", "grpc": "BQ_EMULATOR_GRPC_PORT"},
                env={"BQEMU_WRITE_API_MAX_REQUEST_BYTES": str(_BQ_MAX_REQUEST_BYTES)},
            ),
            ServiceSpec(
                name="storage",
                command=(
                    str(bin_dir / "gcp-storage-emulator"),
                    "--data-dir",
                    str(storage_dir),
                    "start",
                    "--host",
                    e.host,
                    "--port",
                    str(e.storage_port),
                    "--quiet",
                ),
                host=e.host,
                ports={"http": e.storage_port},
                url=e.storage_url,
                ready_path=f"/storage/v1/b?project={self.env.project}",
                port_variables={"http": "GCS_EMULATOR_PORT"},
            ),
            ServiceSpec(
                name="vertex",
                command=(
                    sys.executable,
                    "-m",
                    "localcloud.vertex",
                    "--data-dir",
                    str(vertex_dir),
                    "--project",
                    self.env.project,
                    "--host",
                    e.host,
                    "--port",
                    str(e.vertex_port),
                    # The training image's ENTRYPOINT, run in this environment instead of the image.
                    "--entrypoint",
                    json.dumps(image_entrypoint()),
                    "--workdir",
                    str(ROOT),
                    # The function's log, served as Cloud Run's lines are (the monitor counts write failures).
                    "--function-log",
                    str(self.services.log_dir / "function.log"),
                    "--function-service",
                    self.env.function_name,
                ),
                host=e.host,
                ports={"http": e.vertex_port},
                url=e.vertex_url,
                ready_path=f"/v1/{self.env.location}/models",
                port_variables={"http": "VERTEX_EMULATOR_PORT"},
                # A job's replicas reach this local cloud as any command does.
                env={**e.to_environ(), "NO_GCE_CHECK": "true"},
            ),
        ]

    def function_spec(self, sizing: FunctionSizing | None = None) -> ServiceSpec:
        """The `predict` function under functions-framework, as Cloud Functions runs it, on the emulators.

        It runs the deployed bundle's files, staged under the state folder when it starts (`serve`).
        `sizing` runs it as another environment deploys it (its workers, threads and limits).
        """
        e, bin_dir = self.endpoints, Path(sys.executable).parent
        source = self.function_source / "main.py"
        return ServiceSpec(
            name="function",
            command=(
                str(bin_dir / "functions-framework"),
                "--target",
                "predict",
                "--source",
                str(source),
                "--host",
                e.host,
                "--port",
                str(e.function_port),
            ),
            host=e.host,
            ports={"http": e.function_port},
            url=e.function_url,
            ready_path="/healthz",
            port_variables={"http": "FUNCTION_PORT"},
            env={
                # What infra/components/serving.py sets in the cloud, pointed at the emulators.
                **replace(self.env, function=sizing or self.env.function).function_config(e).to_environ(),
                "NO_GCE_CHECK": "true",
            },
        )

    @property
    def env(self) -> Environment:
        return self.context.env

    @property
    def function_source(self) -> Path:
        return self.endpoints.state_dir / "function"

    def serve(self) -> tuple[RunningService, bool]:
        """Start the function if it is not running; (the service, whether this call started it)."""
        running = self.services.running("function")
        return (running, False) if running else (self.start_function(), True)

    def start_function(self, sizing: FunctionSizing | None = None) -> RunningService:
        """Stage the bundle's files and start the function on them (`function_spec`)."""
        stage(self.function_source)
        return self.services.start(self.function_spec(sizing))

    def has_served_model(self) -> bool:
        """Whether a serving manifest names a version for the function to serve."""
        return serving_manifest_exists(self.context, self.env.model_name)

    def provisioner(self) -> Provisioner:
        return Provisioner(self.context.bigquery, self.context.storage)

    def up(self) -> tuple[list[tuple[RunningService, bool]], list[Change]]:
        """Start what is not running, then create what the stack declares and is missing.

        Returns each service with whether this call started it, and each resource's change.
        The function starts too once a `production` version exists (`make train-publish`).
        If anything fails, the services this call started are stopped again.
        """
        resources = load_stack(self.stack_file)  # a broken stack fails before anything starts
        _install_duckdb_extensions()
        for directory in self.data_dirs:
            directory.mkdir(parents=True, exist_ok=True)
        services: list[tuple[RunningService, bool]] = []
        try:
            for spec in self.specs():
                running = self.services.running(spec.name)
                services.append((running, False) if running else (self.services.start(spec), True))
            changes = self.provisioner().apply(resources)
            if self.has_served_model():
                services.append(self.serve())
        except BaseException:
            for service, started in services:
                if started:
                    self.services.stop(service.name)
            raise
        return services, changes

    def down(self) -> list[str]:
        """Stop the emulators (their data stays); the names of those that were running."""
        return [spec.name for spec in [self.function_spec(), *self.specs()] if self.services.stop(spec.name)]

    def destroy(self) -> list[str]:
        """Stop the emulators and delete everything they held."""
        stopped = self.down()
        for directory in self.data_dirs:
            shutil.rmtree(directory, ignore_errors=True)
        return stopped

    def status(self) -> Status:
        services = []
        for spec in [*self.specs(), self.function_spec()]:
            running = self.services.running(spec.name)
            services.append(
                ServiceStatus(
                    name=spec.name,
                    running=running is not None,
                    url=spec.url,
                    ports=dict(spec.ports),
                    pid=running.pid if running else None,
                )
            )
        resources = None
        if all(s.running for s in services if s.name != "function"):
            resources = self.provisioner().inspect(load_stack(self.stack_file))
        return Status(services=services, resources=resources)


def image_entrypoint(dockerfile: Path = ROOT / "Dockerfile") -> list[str]:
    """The training image's ENTRYPOINT, in its JSON form: what the emulator runs a job's arguments with."""
    for line in dockerfile.read_text().splitlines():
        if line.startswith("ENTRYPOINT "):
            entrypoint = json.loads(line.removeprefix("ENTRYPOINT "))
            if isinstance(entrypoint, list) and all(isinstance(part, str) for part in entrypoint):
                return entrypoint
    raise LocalCloudError(f'{dockerfile} has no ENTRYPOINT in JSON form (ENTRYPOINT ["python", "-m", "ml"])')


def _install_duckdb_extensions() -> None:
    """Install bqemulator's DuckDB extensions from their PyPI packages (it cannot download them offline)."""
    import duckdb
    import duckdb_extensions

    installed = {
        name for (name,) in duckdb.sql("select extension_name from duckdb_extensions() where installed").fetchall()
    }
    for name in _DUCKDB_EXTENSIONS:
        if name not in installed:
            duckdb_extensions.import_extension(name)
