"""Watching the endpoint and the model: notification channels, alert policies and the scheduled monitor.

The endpoint's health is Cloud Run's own metrics (the function is a Cloud Run service): its share
of 5xx answers and its p95 latency. Rows the prediction log could not write are log lines
(`prediction_log.py` logs each failed batch), counted by a log-based metric. The model's health
is `python -m ml monitor`, run by Cloud Scheduler as a Vertex AI job on the training image
(`ml.jobs.spec.monitor_job`): it writes its figures as custom metrics, and an alert policy fires
when its `alerts` figure is above 0. Every condition is PromQL, which Cloud Monitoring now favours.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable
from cdktn_provider_google.logging_metric import LoggingMetric, LoggingMetricMetricDescriptor
from cdktn_provider_google.monitoring_alert_policy import (
    MonitoringAlertPolicy,
    MonitoringAlertPolicyAlertStrategy,
    MonitoringAlertPolicyConditions,
    MonitoringAlertPolicyConditionsConditionPrometheusQueryLanguage,
    MonitoringAlertPolicyDocumentation,
)
from cdktn_provider_google.monitoring_notification_channel import MonitoringNotificationChannel
from constructs import Construct

from infra.components.training import job_schedule
from infra.errors import StackError
from ml.contracts import LOG_WRITE_FAILED_EVENT
from ml.environments import Environment
from ml.jobs.spec import monitor_job
from ml.monitoring.metrics import ALERTS_METRIC, promql_name

MARGIN_S = 900
"""How late a scheduled monitor's figures may arrive (the job's start-up and queries) and still count."""


def schedule_period_s(schedule: str) -> int:
    """Seconds between two runs of a cron schedule that runs every N minutes, every N hours, or daily."""
    fields = schedule.split()
    if len(fields) == 5 and fields[2:] == ["*", "*", "*"]:
        minute, hour = fields[:2]
        if minute.startswith("*/") and hour == "*":
            return 60 * int(minute[2:])
        if minute.isdigit() and hour == "*":
            return 3600
        if minute.isdigit() and hour.startswith("*/"):
            return 3600 * int(hour[2:])
        if minute.isdigit() and hour.isdigit():
            return 86400
    raise StackError(
        f"the monitor's schedule {schedule!r} is not one the alert policy can time: use every N minutes "
        "('*/N * * * *'), every N hours ('M */N * * *') or daily ('M H * * *') as `[monitoring] schedule`"
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        limits = env.monitoring
        self.channels = [
            MonitoringNotificationChannel(
                self,
                f"email-{index}",
                project=env.project,
                display_name=f"MNIST pipeline ({env.name}): {address}",
                type="email",
                labels={"email_address": address},
                user_labels=env.labels,
                depends_on=depends_on,
            )
            for index, address in enumerate(limits.notification_emails)
        ]
        self.write_failures = LoggingMetric(
            self,
            "prediction-log-write-failures",
            project=env.project,
            name=f"{env.prefix}_prediction_log_write_failures",
            description="Batches of predictions the function could not write to BigQuery (prediction_log.py).",
            filter=(
                f'resource.type="cloud_run_revision" AND resource.labels.service_name="{env.function_name}" '
                f'AND jsonPayload.event="{LOG_WRITE_FAILED_EVENT}"'
            ),
            metric_descriptor=LoggingMetricMetricDescriptor(metric_kind="DELTA", value_type="INT64", unit="1"),
            depends_on=depends_on,
        )
        service = f'monitored_resource="cloud_run_revision",service_name="{env.function_name}"'
        requests = f"sum(rate(run_googleapis_com:request_count{{{service}}}[5m]))"
        errors = f'sum(rate(run_googleapis_com:request_count{{{service},response_code_class="5xx"}}[5m]))'
        latency = f"sum by (le) (rate(run_googleapis_com:request_latencies_bucket{{{service}}}[5m]))"
        failures = f"logging_googleapis_com:user_{self.write_failures.name}"
        self.policies = {
            "server-errors": self._policy(
                env,
                "server-errors",
                f"{env.function_name}: more than {limits.server_error_ratio:.0%} of answers are 5xx",
                f"{errors} / {requests} > {limits.server_error_ratio}",
                "The function answers 5xx: read its logs (`gcloud functions logs read` or the console's Logs).",
                depends_on,
            ),
            "latency": self._policy(
                env,
                "latency",
                f"{env.function_name}: p95 latency above {limits.latency_p95_ms:g} ms",
                f"histogram_quantile(0.95, {latency}) > {limits.latency_p95_ms}",
                "Requests are slow: check the instance count against max_instances and the request sizes.",
                depends_on,
            ),
            "log-write-failures": self._policy(
                env,
                "log-write-failures",
                f"{env.function_name}: predictions not written to BigQuery",
                f'sum(increase({failures}{{monitored_resource="cloud_run_revision"}}[10m])) > 0',
                "The prediction log cannot write to BigQuery: the function's logs name the error; the rows are lost "
                "for the monitor.",
                [*(depends_on or []), self.write_failures],
            ),
            "model": self._policy(
                env,
                "model",
                f"{env.model_name} ({env.name}): the monitor raised an alert",
                # The monitor writes its gauge once a run, and Prometheus sees a sample for about
                # five minutes: the last value within one period of the schedule (and a margin) is
                # what the monitor says now, until its next run writes 0 or 1 again.
                f"max by (figure, version) (last_over_time({promql_name(ALERTS_METRIC)}"
                f'{{monitored_resource="global"}}[{schedule_period_s(limits.schedule) + MARGIN_S}s])) > 0',
                "Drift, confidence or online accuracy crossed its threshold: run `make monitor ENV=" + env.name + "` "
                "and `make report ENV=" + env.name + "` to see which and since when.",
                depends_on,
            ),
        }
        self.schedule = job_schedule(
            self,
            "monitor",
            env=env,
            name=f"{env.prefix}-monitor",
            description="Runs `python -m ml monitor` on Vertex AI (ml/jobs/spec.py: monitor_job).",
            schedule=limits.schedule,
            paused=limits.schedule_paused,
            body=monitor_job(env),
            depends_on=depends_on,
        )

    def _policy(
        self,
        env: Environment,
        id_: str,
        name: str,
        query: str,
        what_to_do: str,
        depends_on: Sequence[ITerraformDependable] | None,
    ) -> MonitoringAlertPolicy:
        return MonitoringAlertPolicy(
            self,
            id_,
            project=env.project,
            display_name=name,
            combiner="OR",
            severity="WARNING" if env.name != "prod" else "ERROR",
            conditions=[
                MonitoringAlertPolicyConditions(
                    display_name=name,
                    condition_prometheus_query_language=MonitoringAlertPolicyConditionsConditionPrometheusQueryLanguage(
                        query=query,
                        duration="300s",
                        evaluation_interval="60s",
                        # The custom and log-based metrics exist only once written: the policy is
                        # declared before the first write.
                        disable_metric_validation=True,
                    ),
                )
            ],
            documentation=MonitoringAlertPolicyDocumentation(content=what_to_do, mime_type="text/markdown"),
            notification_channels=[channel.id for channel in self.channels],
            alert_strategy=MonitoringAlertPolicyAlertStrategy(auto_close="86400s"),
            user_labels=env.labels,
            depends_on=depends_on,
        )
