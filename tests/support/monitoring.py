"""Builders shared by the monitoring tests: a model in service with its baseline, the drift monitor's
windows and events, Model Monitor runs and reports, the retraining executions they start."""

from __future__ import annotations

import json
import random

import boto3

from anomaly_sentinel import drift
from anomaly_sentinel.contracts.messages import DriftWindowEvent, Violation
from pipeline.scripts import baseline as baseline_script
from tests.support import drift_window_delivery
from tests.support.retrain import serve

HOUR = "2026/11/30/01"
SCHEDULED = "2026-11-30T02:15:00Z"  # the template's cron: 15 minutes after the 01:00-02:00 window
FEATURES = 4


def rows(count: int, seed: int, shift_c2: float = 0.0) -> list[str]:
    rng = random.Random(seed)
    return [
        ",".join(f"{rng.gauss(shift_c2 if c == 2 else 0.0, 1):.5f}" for c in range(FEATURES))
        for _ in range(count)
    ]


def scheduled_event(time: str = SCHEDULED) -> dict:
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/sentinel-DriftMonitorFunctionWindow"],
        "detail": {},
    }


class Deployment:
    """A model in service on the template's endpoint, with its baseline beside the artefact."""

    def __init__(self, stack) -> None:
        self.stack = stack
        self.bucket = stack.ref("DataBucket")
        self.endpoint = stack.parameters["EndpointName"]
        self.s3 = boto3.client("s3")
        statistics, constraints = baseline_script.baseline(rows(5_000, 1))
        for name, document in (("statistics.json", statistics), ("constraints.json", constraints)):
            self.s3.put_object(
                Bucket=self.bucket, Key=f"models/run-1/baseline/{name}", Body=json.dumps(document)
            )
        self.baseline = drift.Baseline.from_documents(statistics, constraints)
        serve(stack, {"model_data_url": f"s3://{self.bucket}/models/run-1/model.tar.gz"})

    def capture_statistics(self, name: str, file_rows: list[str], hour: str = HOUR) -> str:
        builder = drift.FileStatisticsBuilder(self.baseline, seed=name)
        for row in file_rows:
            builder.offer([row])
        key = f"statistics/{self.endpoint}/{hour}/{name}.json"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=builder.finish().to_bytes())
        return key

    def report(self, name: str) -> dict:
        key = f"drift-reports/{self.endpoint}/{HOUR}/{name}"
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())


def window_report(stack, hour: str, violations: list[Violation]) -> str:
    """A drift monitor report as DriftMonitorFunction writes it; returns its folder URI."""
    bucket, endpoint = stack.ref("DataBucket"), stack.parameters["EndpointName"]
    prefix = f"drift-reports/{endpoint}/{hour}/"
    boto3.client("s3").put_object(
        Bucket=bucket,
        Key=prefix + drift.VIOLATIONS_FILE,
        Body=drift.dumps(drift.violations_document(violations)),
    )
    return f"s3://{bucket}/{prefix}"


def drift_event(stack, hour: str = "2026/11/30/01", report_uri: str | None = None, **detail) -> dict:
    endpoint = stack.parameters["EndpointName"]
    start = hour.replace("/", "-", 2).replace("/", "T") + ":00:00Z"
    body = DriftWindowEvent(
        execution=f"drift-monitor/{endpoint}/{start}",
        endpoint=endpoint,
        window_start=start,
        window_end=start.replace(":00:00Z", ":59:59Z"),
        status="CompletedWithViolations",
        files=1,
        records=1000,
        effective_records=1000.0,
        violations=2,
        check_types={},
        report_uri=report_uri,
        baseline_uri=None,
    ).detail()
    body.update(detail)
    return drift_window_delivery(body, f"drift-{start}")


#: A window where the data moved and the model is wrong: its anomaly rate beyond its budget for the
#: third window running (the template's RetrainMinWindows).
DRIFTED = [
    Violation(
        feature_name="_c0",
        check_type="baseline_drift_check",
        description="Numerical distance: 0.31 exceeds numerical threshold: 0.1",
        distance=0.31,
        threshold=0.1,
    ),
    Violation(
        feature_name="anomaly_rate",
        check_type="score_drift_check",
        description="Anomaly rate: 0.4 exceeds the rate the model's score statistics predict: 0.001 "
        "(one-sided binomial p-value 2.5e-12 < 0.001), for 3 consecutive window(s)",
        value=0.4,
        threshold=0.001,
        p_value=2.5e-12,
        consecutive_windows=3,
    ),
]
SCHEDULE = "anomaly-sentinel-data-quality"
JOB = "model-monitoring-202611220100-3b7f0e8c4d5a6b7c8d9e0f1a"


def report_uri(stack, run="2026/11/22/01"):
    return f"s3://{stack.ref('DataBucket')}/monitoring/{SCHEDULE}/{run}"


def put_report(stack, body, name="constraint_violations.json", run="2026/11/22/01"):
    key = f"monitoring/{SCHEDULE}/{run}/{name}"
    boto3.client("s3").put_object(Bucket=stack.ref("DataBucket"), Key=key, Body=body)


def monitoring_run(stack, extras, status="CompletedWithViolations", job=JOB, **kwargs):
    return extras.monitoring_execution(
        job_name=job,
        schedule_name=SCHEDULE,
        endpoint_name=stack.parameters["EndpointName"],
        report_uri=report_uri(stack),
        status=status,
        **kwargs,
    )


def executions(stack):
    sfn = boto3.client("stepfunctions")
    return sfn.list_executions(stateMachineArn=stack.ref("RetrainStateMachine"))["executions"]
