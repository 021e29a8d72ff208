"""Who may do what: every grant to an environment's service accounts, in one table.

Each row is an account, a role, what it holds the role on, and why. The constructs grant the
rows of their scope: `components/identity.py` those on the dataset, tables and buckets,
`components/serving.py` those on the function, `components/accounts.py` acting as another
account, `components/project_grants.py` and `components/ci_access.py` those on the project and
on the state bucket. `python -m ml iam` prints the table, and tests/infra/test_grants.py holds
it against the synthesized stacks. Grants to people and to GitHub's tokens (the environment's
`operators` and `invokers`, Workload Identity) are settings of the environment, not of an
account: they stay with the constructs that make them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml import schemas
from ml.environments import Environment

ACCOUNTS: dict[str, str] = {
    "trainer": "Loads MNIST into BigQuery, trains, evaluates and publishes.",
    "predictor": "Runtime identity of the predict function.",
    "builder": "Builds the predict function's container (Cloud Build).",
    "invoker": "Calls the predict function; people and jobs impersonate it for an ID token.",
    "scheduler": "Submits the scheduled retraining and monitor jobs to Vertex AI (Cloud Scheduler's token).",
    "monitor": "Runs the scheduled monitor: reads the prediction log, writes metrics, may submit retraining.",
    "planner": "Plans infrastructure changes (read-only).",
    "deployer": "Applies infrastructure changes from the deploy branch.",
}
"""Every service account of a cloud environment, with its purpose (made by the bootstrap stack)."""

CI_ACCOUNTS = ("planner", "deployer")
"""CI's accounts: their grants are made with Workload Identity (`components/ci_access.py`)."""
DEPLOYS_AS = ("predictor", "builder", "scheduler", "trainer")
"""The accounts the pipeline stack deploys resources to run as: the function's, its build's, the
schedule's and the jobs'; `deployer` may act as these and no other."""

PLANNER_ROLES: dict[str, str] = {
    "roles/aiplatform.viewer": "reads the Vertex AI region's settings",
    "roles/artifactregistry.reader": "the training image's repository",
    "roles/bigquery.metadataViewer": "the dataset and tables",
    "roles/cloudfunctions.viewer": "the function",
    "roles/cloudscheduler.viewer": "the schedules",
    "roles/iam.securityReviewer": "the IAM policies of the project, buckets, tables and the service",
    "roles/logging.viewer": "the log-based metric",
    "roles/monitoring.viewer": "alert policies and notification channels",
    "roles/run.viewer": "the function's Cloud Run service",
    "roles/serviceusage.serviceUsageViewer": "the enabled APIs",
    "roles/storage.bucketViewer": "the buckets",
}
"""Read-only roles for exactly the resource kinds the pipeline stack declares (refreshed by `plan`)."""

DEPLOYER_ROLES: dict[str, str] = {
    "roles/aiplatform.user": "the Vertex AI resources",
    "roles/artifactregistry.admin": "the training image's repository and its cleanup policies",
    "roles/bigquery.dataOwner": "datasets, tables and their grants",
    "roles/cloudbuild.builds.editor": "the first deploy builds the training image (as `builder`)",
    "roles/cloudfunctions.developer": "the function",
    "roles/cloudscheduler.admin": "the schedules",
    "roles/logging.configWriter": "the log-based metric",
    "roles/monitoring.editor": "alert policies and notification channels",
    "roles/run.admin": "sets the invoker policy on the function's Cloud Run service",
    "roles/serviceusage.serviceUsageAdmin": "enables the APIs the stack declares",
}
"""What applying the pipeline stack takes, beside Cloud Storage admin on the environment's own buckets."""

GCF_SOURCES = "resource.name.startsWith('projects/_/buckets/gcf-v2-sources-')"
"""The buckets Cloud Functions copies function sources into (`gcf-v2-sources-<number>-<region>`)."""


@dataclass(frozen=True)
class Condition:
    """An IAM condition narrowing a grant."""

    title: str
    expression: str
    description: str | None = None


@dataclass(frozen=True)
class Grant:
    account: str
    """The account that holds the role: a key of `ACCOUNTS`."""
    role: str
    on: str
    """What it holds the role on: `project`, `dataset`, `table:<id>`, `bucket:models`,
    `bucket:function-source`, `bucket:state` (the environment's Terraform state), `function`,
    or `account:<name>` (acting as that account)."""
    why: str
    id: str
    """The construct id that grants it: a Terraform address, kept so no grant is ever re-created."""
    condition: Condition | None = None


def grants(env: Environment) -> list[Grant]:
    """Every grant to `env`'s service accounts, with its reason."""
    table = [
        # trainer: loads, trains, evaluates and publishes
        Grant(
            "trainer",
            "roles/bigquery.dataEditor",
            "dataset",
            "loads the tables and reads them",
            "trainer-dataset-editor",
        ),
        Grant(
            "trainer",
            "roles/storage.objectAdmin",
            "bucket:models",
            "run artifacts and versions",
            "trainer-models-admin",
        ),
        *_project(
            "trainer",
            {
                "roles/bigquery.jobUser": "load and query jobs on the dataset it edits",
                "roles/bigquery.readSessionUser": "reads the tables through the Storage Read API",
                "roles/aiplatform.user": "the Model Registry and its own training jobs",
            },
        ),
        # predictor: the function
        Grant(
            "predictor",
            "roles/storage.objectViewer",
            "bucket:models",
            "reads the serving manifest and models",
            "predictor-models-viewer",
        ),
        *(
            Grant(
                "predictor", "roles/bigquery.dataEditor", f"table:{t.table_id}", why, f"predictor-{t.table_id}-writer"
            )
            for t, why in (
                (schemas.PREDICTIONS, "appends the prediction log, and reads it to check feedback"),
                (schemas.FEEDBACK, "appends the labels sent back"),
            )
        ),
        *_project("predictor", {"roles/bigquery.jobUser": "the query that finds a request feedback names"}),
        # builder: the function's and the training image's builds
        Grant(
            "builder",
            "roles/storage.objectViewer",
            "bucket:function-source",
            "the staged build context",
            "builder-source-viewer",
        ),
        *_project(
            "builder",
            {
                "roles/logging.logWriter": "the build's logs",
                "roles/artifactregistry.writer": "pushes the function's and the training image",
            },
        ),
        Grant(
            "builder",
            "roles/storage.objectViewer",
            "project",
            "reads the function's copied source",
            "builder-storage.objectViewer",
            Condition("reads the function's copied source", GCF_SOURCES),
        ),
        # scheduler: submits the scheduled jobs
        Grant(
            "scheduler",
            env.job_submitter_role,
            "project",
            "submits the scheduled jobs, and nothing else",
            f"scheduler-{env.job_submitter_role.rsplit('/', 1)[1]}",
        ),
        Grant(
            "scheduler",
            "roles/iam.serviceAccountUser",
            "account:trainer",
            "the scheduled jobs run as trainer",
            "scheduler-acts-as-trainer",
        ),
        Grant(
            "scheduler",
            "roles/iam.serviceAccountUser",
            "account:monitor",
            "the scheduled monitor runs as monitor",
            "scheduler-acts-as-monitor",
        ),
        # monitor: the scheduled monitor
        *(
            Grant(
                "monitor",
                "roles/bigquery.dataViewer",
                f"table:{t.table_id}",
                "the monitor's figures",
                f"monitor-{t.table_id}-reader",
            )
            for t in (schemas.PREDICTIONS, schemas.FEEDBACK, schemas.MODEL_EVALUATIONS)
        ),
        *_project(
            "monitor",
            {
                "roles/bigquery.jobUser": "the monitor's queries",
                "roles/monitoring.metricWriter": "the monitor's figures as custom metrics",
                "roles/aiplatform.viewer": "the registry (--version)",
                "roles/logging.viewer": "the function's log lines of failed writes",
            },
        ),
        # planner: pull-request plans and the drift check, read-only
        Grant(
            "planner",
            "roles/storage.objectViewer",
            "bucket:function-source",
            "`plan` compares the function's bundle",
            "planner-source-viewer",
        ),
        Grant(
            "planner",
            "roles/storage.objectViewer",
            "bucket:state",
            "plans read the state without its lock",
            "planner-state-reader",
        ),
        *_project("planner", PLANNER_ROLES),
        # deployer: applies the pipeline stack from the deploy branch
        *_project("deployer", DEPLOYER_ROLES),
        Grant(
            "deployer",
            "roles/storage.admin",
            "project",
            "creates the environment's buckets and manages only those",
            "deployer-storage-admin",
            Condition(
                "the environment's own buckets",
                own_buckets(env),
                "Creates the project's buckets named for this environment and manages only those.",
            ),
        ),
        Grant(
            "deployer",
            "roles/storage.objectUser",
            "bucket:state",
            "applies hold the state and its lock",
            "deployer-state-writer",
        ),
        *(
            Grant(
                "deployer",
                "roles/iam.serviceAccountUser",
                f"account:{a}",
                "deploys what runs as it",
                f"deployer-acts-as-{a}",
            )
            for a in DEPLOYS_AS
        ),
    ]
    if not env.function.public:  # otherwise allUsers may call it, and no account needs to
        table += [
            Grant(
                "trainer", "roles/run.invoker", "function", "the pipeline calls the endpoint as trainer", "invoker-0"
            ),
            Grant("invoker", "roles/run.invoker", "function", "people and jobs call the endpoint as it", "invoker-1"),
        ]
    if env.monitoring.retrain_on_alert:
        table += [
            Grant(
                "monitor",
                env.job_submitter_role,
                "project",
                "submits a retraining job on an alert",
                f"monitor-{env.job_submitter_role.rsplit('/', 1)[1]}",
            ),
            Grant(
                "monitor",
                "roles/iam.serviceAccountUser",
                "account:trainer",
                "the retraining job runs as trainer",
                "monitor-acts-as-trainer",
            ),
        ]
    return table


def own_buckets(env: Environment) -> str:
    """CEL: the project itself (creating and listing buckets), and the buckets named for `env`
    (`<project>-<prefix>-...`) with their objects; never the state buckets the bootstrap made."""
    return (
        "resource.type == 'cloudresourcemanager.googleapis.com/Project' || "
        f"resource.name.startsWith('projects/_/buckets/{env.bucket_prefix}')"
    )


def granted(env: Environment, *, on: str) -> list[Grant]:
    """The rows on `on`: `project`, `dataset`, `table`, `bucket`, `function` or `account`."""
    return [g for g in grants(env) if g.on.split(":")[0] == on]


def _project(account: str, roles: dict[str, str]) -> list[Grant]:
    return [Grant(account, role, "project", why, f"{account}-{role.rsplit('/', 1)[1]}") for role, why in roles.items()]
