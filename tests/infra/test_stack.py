"""What each environment's synthesized stack declares, asserted on cdktn's `Testing.synth` JSON."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import cdktn
import pytest

from infra.components.monitoring import MARGIN_S, schedule_period_s
from infra.errors import StackError
from ml import schemas
from ml.environments import CLOUD_ENVIRONMENTS, ENVIRONMENTS
from tests.support.stacks import Stack, one, resources


@pytest.mark.parametrize("env_name", list(ENVIRONMENTS))
def test_dataset_and_tables_follow_the_schemas(stacks: dict[str, Stack], env_name: str) -> None:
    env, stack = ENVIRONMENTS[env_name], stacks[env_name]
    dataset = one(stack, "google_bigquery_dataset", dataset_id=env.dataset_id)
    assert dataset["location"] == env.bq_location
    tables = {t["table_id"]: t for t in resources(stack, "google_bigquery_table")}
    assert set(tables) == {"train", "valid", "test", "predictions", "feedback", "model_evaluations"}
    for table in schemas.TABLES:
        declared = tables[table.table_id]
        assert json.loads(declared["schema"]) == table.to_api_repr()
        assert declared["deletion_protection"] is env.protections.deletion_protection
    image = {c["name"]: c["type"] for c in json.loads(tables["train"]["schema"])}
    assert image == {"key": "INT64", "label": "INT64", "image": "BYTES"}


def test_schema_json_is_sorted_so_plans_show_no_perpetual_diff(stacks: dict[str, Stack]) -> None:
    for table in resources(stacks["prod"], "google_bigquery_table"):
        for column in json.loads(table["schema"]):
            assert list(column) == sorted(column)


@pytest.mark.parametrize("env_name", list(ENVIRONMENTS))
def test_predictions_are_partitioned_by_day_clustered_and_expire(stacks: dict[str, Stack], env_name: str) -> None:
    env = ENVIRONMENTS[env_name]
    predictions = one(stacks[env_name], "google_bigquery_table", table_id="predictions")
    assert predictions["time_partitioning"] == {
        "type": "DAY",
        "field": "prediction_time",
        "expiration_ms": env.predictions_partition_expiration_days * 86_400_000,
    }
    assert predictions["clustering"] == ["model_version"]
    feedback = one(stacks[env_name], "google_bigquery_table", table_id="feedback")
    assert feedback["time_partitioning"] == {**predictions["time_partitioning"], "field": "feedback_time"}


@pytest.mark.parametrize("env_name", list(ENVIRONMENTS))
def test_models_bucket_is_private_versioned_and_prunes_old_versions(stacks: dict[str, Stack], env_name: str) -> None:
    env = ENVIRONMENTS[env_name]
    bucket = one(stacks[env_name], "google_storage_bucket", name=env.models_bucket)
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["versioning"] == {"enabled": True}
    (rule,) = bucket["lifecycle_rule"]
    assert rule["condition"]["days_since_noncurrent_time"] == env.noncurrent_artifact_retention_days
    assert bucket["force_destroy"] is env.protections.force_destroy_buckets
    one(stacks[env_name], "google_storage_bucket", name=env.function_source_bucket)


def test_prod_is_protected_and_dev_is_teardown_friendly(stacks: dict[str, Stack]) -> None:
    for table in resources(stacks["prod"], "google_bigquery_table"):
        assert table["deletion_protection"] is True
    for bucket in resources(stacks["prod"], "google_storage_bucket"):
        assert bucket["force_destroy"] is False
    assert one(stacks["prod"], "google_bigquery_dataset")["delete_contents_on_destroy"] is False
    for table in resources(stacks["dev"], "google_bigquery_table"):
        assert table["deletion_protection"] is False
    for bucket in resources(stacks["dev"], "google_storage_bucket"):
        assert bucket["force_destroy"] is True


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_apis_are_enabled_and_never_disabled_on_destroy(stacks: dict[str, Stack], env_name: str) -> None:
    services = resources(stacks[env_name], "google_project_service")
    names = {s["service"] for s in services}
    assert {"bigquery.googleapis.com", "cloudfunctions.googleapis.com", "aiplatform.googleapis.com"} <= names
    assert all(s["disable_on_destroy"] is False for s in services)


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_function_is_sized_by_config_and_runs_as_its_own_accounts(stacks: dict[str, Stack], env_name: str) -> None:
    env, stack = ENVIRONMENTS[env_name], stacks[env_name]
    function = one(stack, "google_cloudfunctions2_function", name=env.function_name)
    service = function["service_config"]
    assert service["min_instance_count"] == 0
    assert service["max_instance_count"] == env.function.max_instances
    assert service["available_memory"] == env.function.memory
    assert service["timeout_seconds"] == env.function.timeout_s
    assert service["ingress_settings"] == env.function.ingress
    assert service["service_account_email"] == env.service_account_email("predictor")
    assert service["environment_variables"] == env.function_config().to_environ()
    assert set(service["environment_variables"]) == {
        "GOOGLE_CLOUD_PROJECT",
        "BQ_DATASET",
        "PREDICTIONS_TABLE",
        "FEEDBACK_TABLE",
        "MODELS_BUCKET",
        "MODEL_NAME",
        "MODEL_ALIAS",
        "MAX_REQUEST_INSTANCES",
        "MAX_REQUEST_BYTES",
        *env.function.server_environment,
    }
    assert service["environment_variables"]["MAX_REQUEST_INSTANCES"] == str(env.function.request_instances)
    assert service["available_cpu"] == env.function.cpu
    assert {k: service["environment_variables"][k] for k in env.function.server_environment} == (
        env.function.server_environment
    )
    build = function["build_config"]
    assert build["service_account"] == f"projects/{env.project}/serviceAccounts/{env.service_account_email('builder')}"
    source = one(stack, "google_storage_bucket_object")
    storage_source = build["source"]["storage_source"]
    assert storage_source["object"].startswith("${google_storage_bucket_object.")
    # One object name; each new bundle is a new generation, and the function names that generation.
    assert source["name"] == "predict.zip"
    assert storage_source["generation"] == storage_source["object"].replace(".name}", ".generation}")


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_replaced_bundles_expire_and_the_deployed_one_stays(stacks: dict[str, Stack], env_name: str) -> None:
    env = ENVIRONMENTS[env_name]
    buckets = {b["name"]: b for b in resources(stacks[env_name], "google_storage_bucket")}
    source = buckets[env.function_source_bucket]
    assert source["versioning"]["enabled"] is True
    rules = source["lifecycle_rule"]
    # Only noncurrent generations are deleted: no rule may delete by age the object a function builds from.
    assert all(r["condition"].get("with_state") == "ARCHIVED" for r in rules if r["action"]["type"] == "Delete")
    assert all("age" not in r["condition"] for r in rules)


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_only_named_invokers_may_call_the_function(stacks: dict[str, Stack], env_name: str) -> None:
    invokers = resources(stacks[env_name], "google_cloud_run_service_iam_member")
    assert invokers, "the function needs at least one invoker"
    assert all(i["role"] == "roles/run.invoker" for i in invokers)
    assert not {"allUsers", "allAuthenticatedUsers"} & {i["member"] for i in invokers}


def test_public_endpoint_is_an_explicit_opt_in(tmp_path: Path) -> None:
    from dataclasses import replace

    from infra.stack import PipelineStack

    env = ENVIRONMENTS["dev"]
    public = replace(env, function=replace(env.function, public=True))
    stack = json.loads(cdktn.Testing.synth(PipelineStack(cdktn.Testing.app(), public, build_dir=tmp_path)))
    (invoker,) = resources(stack, "google_cloud_run_service_iam_member")
    assert invoker["member"] == "allUsers"


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_grants_are_scoped_to_the_dataset_table_and_buckets(
    stacks: dict[str, Stack], bootstrap_stacks: dict[str, Stack], env_name: str
) -> None:
    stack = stacks[env_name]
    env = ENVIRONMENTS[env_name]
    # The pipeline stack grants nothing on the project: its deployer needs no project IAM admin.
    assert "google_project_iam_member" not in stack["resource"]
    project_roles = {
        (m["member"].split(".")[1].split("_")[1], m["role"])
        for m in resources(bootstrap_stacks[env_name], "google_project_iam_member")
        if m["member"].startswith("serviceAccount:${google_service_account.accounts_")
    }
    # What the trainer, predictor and builder hold on the whole project: nothing with data access.
    assert {r for who, r in project_roles if who == "trainer"} == {
        "roles/bigquery.jobUser",
        "roles/bigquery.readSessionUser",
        "roles/aiplatform.user",
    }
    # The function reads `predictions` to check feedback: it runs query jobs, on its tables only.
    assert {r for who, r in project_roles if who == "predictor"} == {"roles/bigquery.jobUser"}
    assert not any(role in ("roles/owner", "roles/editor", "roles/viewer") for _, role in project_roles)
    one(stack, "google_bigquery_dataset_iam_member", role="roles/bigquery.dataEditor")
    predictor = f"serviceAccount:{env.service_account_email('predictor')}"
    written = {
        g["table_id"].split(".")[1].rsplit("_", 1)[0]
        for g in resources(stack, "google_bigquery_table_iam_member")
        if g["member"] == predictor and g["role"] == "roles/bigquery.dataEditor"
    }
    assert written == {"warehouse_predictions", "warehouse_feedback"}
    viewer = one(
        stack,
        "google_storage_bucket_iam_member",
        role="roles/storage.objectViewer",
        member=f"serviceAccount:{env.service_account_email('predictor')}",
    )
    assert viewer["bucket"].startswith("${google_storage_bucket.buckets_models")


@pytest.mark.parametrize("env_name", list(ENVIRONMENTS))
def test_state_backend(stacks: dict[str, Stack], env_name: str) -> None:
    env, backend = ENVIRONMENTS[env_name], stacks[env_name]["terraform"]["backend"]
    if env.emulated:
        assert list(backend) == ["local"]
    else:
        assert backend == {"gcs": {"bucket": env.state_bucket, "prefix": f"mnist-pipeline/{env.name}"}}


def test_tensorboard_is_optional_per_environment(stacks: dict[str, Stack]) -> None:
    for name, env in ENVIRONMENTS.items():
        assert ("google_vertex_ai_tensorboard" in stacks[name]["resource"]) is (env.tensorboard and not env.emulated)


def test_local_stack_holds_only_what_the_emulators_provide(stacks: dict[str, Stack]) -> None:
    from localcloud.provision import Provisioner

    assert set(stacks["local"]["resource"]) == set(Provisioner.SUPPORTED)


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_the_builder_may_read_log_and_push_once_the_bootstrap_has_waited_for_its_grants(
    bootstrap_stacks: dict[str, Stack], env_name: str
) -> None:
    stack = bootstrap_stacks[env_name]
    builder = "serviceAccount:${google_service_account.accounts_builder_"
    grants = {
        key: grant
        for key, grant in stack["resource"]["google_project_iam_member"].items()
        if grant["member"].startswith(builder)
    }
    assert {g["role"] for g in grants.values()} == {
        "roles/logging.logWriter",
        "roles/artifactregistry.writer",
        "roles/storage.objectViewer",
    }
    (reader,) = (g for g in grants.values() if g["role"] == "roles/storage.objectViewer")
    # Cloud Functions copies the bundle into gcf-v2-sources-<number>-<region>; only those buckets.
    assert reader["condition"]["expression"] == "resource.name.startsWith('projects/_/buckets/gcf-v2-sources-')"
    (_, wait) = one_item(stack, "time_sleep")
    assert wait["create_duration"] == "60s"
    # The bootstrap ends only after every account's project grant has had time to propagate.
    accounts = {key for key in stack["resource"]["google_project_iam_member"] if key.startswith("grants_")}
    assert set(wait["depends_on"]) == {f"google_project_iam_member.{key}" for key in accounts}
    assert set(grants) <= accounts


def one_item(stack: Stack, type_: str) -> tuple[str, dict[str, Any]]:
    ((key, resource),) = stack["resource"][type_].items()
    return str(key), dict(resource)


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_the_schedule_posts_the_clis_job_request_as_scheduler(stacks: dict[str, Stack], env_name: str) -> None:
    from ml.jobs.spec import scheduled_job

    env = ENVIRONMENTS[env_name]
    schedule = one(stacks[env_name], "google_cloud_scheduler_job", name=f"{env.prefix}-retrain")
    target = schedule["http_target"]
    assert target["uri"] == (
        f"https://{env.region}-aiplatform.googleapis.com/v1/projects/{env.project}/locations/{env.region}/customJobs"
    )
    assert target["http_method"] == "POST"
    assert json.loads(base64.b64decode(target["body"])) == scheduled_job(env)  # one function, no drift
    assert target["oauth_token"]["service_account_email"] == env.service_account_email("scheduler")
    assert (schedule["schedule"], schedule["time_zone"]) == (env.training.schedule, env.training.time_zone)
    assert schedule["paused"] is (env_name == "dev")  # dev retrains only when someone resumes it


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_the_scheduler_may_only_submit_jobs(bootstrap_stacks: dict[str, Stack], env_name: str) -> None:
    env = ENVIRONMENTS[env_name]
    scheduler = "serviceAccount:${google_service_account.accounts_scheduler_"
    grants = [
        m["role"]
        for m in resources(bootstrap_stacks[env_name], "google_project_iam_member")
        if m["member"].startswith(scheduler)
    ]
    assert grants == [env.job_submitter_role]


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_the_training_image_repository_keeps_recent_images_and_prunes_old_ones(
    stacks: dict[str, Stack], env_name: str
) -> None:
    env = ENVIRONMENTS[env_name]
    repository = one(stacks[env_name], "google_artifact_registry_repository")
    assert (repository["repository_id"], repository["format"]) == (env.training_repository, "DOCKER")
    assert env.training_image.startswith(f"{env.region}-docker.pkg.dev/{env.project}/{env.training_repository}/")
    policies = {p["id"]: p for p in repository["cleanup_policies"]}
    assert policies["keep-recent"]["most_recent_versions"]["keep_count"] == 10
    assert policies["delete-old"]["condition"]["older_than"] == f"{30 * 24 * 3600}s"
    assert repository["cleanup_policy_dry_run"] is False


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_the_monitor_runs_on_its_schedule_as_monitor_and_retrains_where_configured(
    stacks: dict[str, Stack], bootstrap_stacks: dict[str, Stack], env_name: str
) -> None:
    from ml.jobs.spec import monitor_job

    env = ENVIRONMENTS[env_name]
    schedule = one(stacks[env_name], "google_cloud_scheduler_job", name=f"{env.prefix}-monitor")
    target = schedule["http_target"]
    body = json.loads(base64.b64decode(target["body"]))
    assert body == monitor_job(env)  # the same function the tests submit to the emulator
    assert body["jobSpec"]["serviceAccount"] == env.service_account_email("monitor")
    [pool] = body["jobSpec"]["workerPoolSpecs"]
    assert pool["containerSpec"]["args"][:4] == ["monitor", "--env", env_name, "--publish-metrics"]
    assert ("--retrain-on-alert" in pool["containerSpec"]["args"]) is env.monitoring.retrain_on_alert
    assert target["oauth_token"]["service_account_email"] == env.service_account_email("scheduler")
    assert (schedule["schedule"], schedule["paused"]) == (env.monitoring.schedule, env.monitoring.schedule_paused)

    monitor = f"serviceAccount:{env.service_account_email('monitor')}"
    roles = {
        m["role"]
        for m in resources(bootstrap_stacks[env_name], "google_project_iam_member")
        if m["member"].startswith("serviceAccount:${google_service_account.accounts_monitor_")
    }
    expected = {
        "roles/bigquery.jobUser",
        "roles/monitoring.metricWriter",
        "roles/aiplatform.viewer",
        "roles/logging.viewer",
    }
    assert roles == expected | ({env.job_submitter_role} if env.monitoring.retrain_on_alert else set())
    read = {
        g["table_id"].split(".")[1].rsplit("_", 1)[0]
        for g in resources(stacks[env_name], "google_bigquery_table_iam_member")
        if g["member"] == monitor
    }
    assert read == {"warehouse_predictions", "warehouse_feedback", "warehouse_model_evaluations"}


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [("*/15 * * * *", 900), ("0 * * * *", 3600), ("5 */6 * * *", 21600), ("0 3 * * *", 86400)],
)
def test_the_monitors_period_is_read_from_its_schedule(schedule: str, seconds: int) -> None:
    assert schedule_period_s(schedule) == seconds


def test_a_schedule_the_alert_cannot_time_is_refused_with_what_to_use() -> None:
    with pytest.raises(StackError, match=r"every N hours \('M \*/N \* \* \*'\)"):
        schedule_period_s("0 3 * * 1")


@pytest.mark.parametrize("env_name", CLOUD_ENVIRONMENTS)
def test_alert_policies_watch_errors_latency_log_writes_and_the_monitor(
    stacks: dict[str, Stack], env_name: str
) -> None:
    from ml.contracts import LOG_WRITE_FAILED_EVENT

    env = ENVIRONMENTS[env_name]
    limits = env.monitoring
    stack = stacks[env_name]
    channels = resources(stack, "google_monitoring_notification_channel")
    assert sorted(c["labels"]["email_address"] for c in channels) == sorted(limits.notification_emails)
    assert all(c["type"] == "email" for c in channels)

    metric = one(stack, "google_logging_metric")
    assert f'resource.labels.service_name="{env.function_name}"' in metric["filter"]
    assert f'jsonPayload.event="{LOG_WRITE_FAILED_EVENT}"' in metric["filter"]

    policies = {p["display_name"]: p for p in resources(stack, "google_monitoring_alert_policy")}
    assert len(policies) == 4
    queries = {name: p["conditions"][0]["condition_prometheus_query_language"]["query"] for name, p in policies.items()}
    by_subject = {
        "5xx": 'response_code_class="5xx"',
        "p95": "histogram_quantile(0.95",
        "written": "logging_googleapis_com:user_",
        "monitor": "custom_googleapis_com:mnist_monitor_alerts",
    }
    for subject, needle in by_subject.items():
        [query] = [q for q in queries.values() if needle in q]
        if subject == "5xx":
            assert query.endswith(f"> {limits.server_error_ratio}")
        if subject == "p95":
            assert query.endswith(f"> {limits.latency_p95_ms}")
        if subject in ("5xx", "p95"):
            assert f'service_name="{env.function_name}"' in query
        if subject == "monitor":
            # A run's gauge is one sample: the policy reads the last one within a period of the schedule.
            assert f"[{schedule_period_s(limits.schedule) + MARGIN_S}s]" in query
            assert query.startswith("max by (figure, version) (last_over_time(")
    for policy in policies.values():
        assert len(policy["notification_channels"]) == len(limits.notification_emails)
        assert policy["documentation"]["content"]
