"""What the stack costs a month for a stated workload, from the template and the price tables.

The SageMaker jobs are priced with the table the stack itself uses for its run-cost alerts
(``anomaly_sentinel.pipeline_runs.INSTANCE_PRICES_USD_PER_HOUR``); how many jobs a run starts and on
which instance types is read from ``pipeline/definition.json`` (the Python route, its defaults), and
memory sizes, keys, alarms and the dashboard from ``template.yaml`` with its default parameters. The
other unit prices are below, in one table. Nothing was checked against a bill: the stack has never
run on AWS, and how long a SageMaker job is billed (start-up included) is an assumption stated in
:class:`Workload`, not a measurement.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anomaly_sentinel.pipeline_runs import INSTANCE_PRICES_USD_PER_HOUR
from sentinel.template import PROJECT_ROOT, Template

DEFINITION = PROJECT_ROOT / "pipeline" / "definition.json"

#: us-east-1 on-demand list prices (USD) of what the stack uses besides SageMaker jobs, from AWS's
#: pricing pages; other regions differ. Free tiers are ignored (an estimate that needs one is wrong
#: for the account that has used it up).
UNIT_PRICES_USD: Mapping[str, float] = {
    "serverless_inference_gb_second": 0.00002,  # SageMaker Serverless Inference, per GB-second
    "lambda_gb_second": 0.0000166667,  # Lambda x86, per GB-second
    "lambda_request": 0.0000002,  # Lambda, per request ($0.20 per million)
    "kms_key_month": 1.0,  # a customer managed KMS key
    "alarm_month": 0.10,  # a standard-resolution CloudWatch metric alarm
    "composite_alarm_month": 0.50,
    "dashboard_month": 3.0,  # beyond an account's first three dashboards
    "custom_metric_month": 0.30,  # a CloudWatch custom metric (name + dimensions), first 10,000
}

#: SageMaker step types that start billed jobs, and the parameter naming their instance type.
_STEP_JOBS = {
    "Processing": ("processing", "ProcessingResources"),
    "Transform": ("transform", "TransformResources"),
}

NOT_ESTIMATED = (
    "S3 storage and requests, DynamoDB, SNS, SQS, EventBridge, Step Functions transitions, "
    "CloudWatch Logs ingestion, KMS requests, data transfer"
)


@dataclass(frozen=True)
class Workload:
    """What the estimate assumes a month brings."""

    #: pipeline runs a month: one training upload and four retrainings
    pipeline_runs: int = 5
    #: minutes SageMaker bills each job of a run (assumed: small data, start-up included)
    job_minutes: float = 10.0
    #: capture files scored a month: one an hour
    capture_files: int = 720
    #: endpoint requests per capture file (a file under 4 MB of rows is one request)
    requests_per_file: int = 1
    #: seconds the serverless endpoint is billed per request (assumed)
    endpoint_seconds: float = 1.0
    #: seconds ScoreCaptureFunction runs per capture file (assumed)
    scoring_seconds: float = 2.0
    #: seconds DriftMonitorFunction runs per window (assumed)
    drift_seconds: float = 2.0
    #: distinct custom metrics (name + dimensions) the functions publish: 85 in `make demo` (48 of
    #: them per-feature drift, one per model input column); ``sentinel cost --metrics-from
    #: out/demo/lambda.log`` counts them in any EMF log
    custom_metrics: int = 85

    def describe(self, template: Template) -> str:
        windows = self.drift_windows(template)
        return (
            f"{self.pipeline_runs} pipeline runs a month (Python route, template defaults), each "
            f"SageMaker job billed {self.job_minutes:g} minutes; {self.capture_files} capture files "
            f"a month (one an hour), {self.requests_per_file} endpoint request of "
            f"{self.endpoint_seconds:g} s each; ScoreCaptureFunction {self.scoring_seconds:g} s per "
            f"file; {windows} drift windows ({self.drift_seconds:g} s each); {self.custom_metrics} "
            "custom metrics"
        )

    @staticmethod
    def drift_windows(template: Template) -> int:
        return 30 * 24 // int(template.parameters["DriftWindowHours"])


@dataclass(frozen=True)
class Line:
    item: str
    quantity: str
    usd: float


def pipeline_jobs(definition: Mapping[str, Any], parameters: Mapping[str, Any]) -> Counter[tuple[str, str]]:
    """Billed jobs one run of the Python route starts: ``(kind, instance type) -> count``."""

    def value(spec: Any) -> Any:
        return parameters[spec["Get"].removeprefix("Parameters.")] if isinstance(spec, dict) else spec

    route = next(step for step in definition["Steps"] if step["Name"] == "Route-Python")
    jobs: Counter[tuple[str, str]] = Counter()
    for step in route["Arguments"]["IfSteps"]:
        arguments = step["Arguments"]
        if step["Type"] == "Tuning":
            limits = arguments["HyperParameterTuningJobConfig"]["ResourceLimits"]
            instance = value(
                arguments["TrainingJobDefinition"]["HyperParameterTuningResourceConfig"]["InstanceType"]
            )
            jobs["training", instance] += int(value(limits["MaxNumberOfTrainingJobs"]))
        elif step["Type"] in _STEP_JOBS:
            kind, resources = _STEP_JOBS[step["Type"]]
            config = arguments[resources].get("ClusterConfig", arguments[resources])
            jobs[kind, value(config["InstanceType"])] += int(value(config["InstanceCount"]))
    return jobs


def _deployed(template: Template, resource_type: str) -> int:
    return sum(
        1
        for resource in template.resources_of_type(resource_type).values()
        if "Condition" not in resource or template.condition(resource["Condition"])
    )


def estimate(workload: Workload = Workload(), template: Template | None = None) -> list[Line]:
    """One line per priced item; the total is their sum."""
    template = template or Template()
    definition = json.loads(DEFINITION.read_text(encoding="utf-8"))
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    prices = UNIT_PRICES_USD
    lines: list[Line] = []
    for (kind, instance), count in sorted(pipeline_jobs(definition, defaults).items()):
        hours = workload.pipeline_runs * count * workload.job_minutes / 60
        lines.append(
            Line(
                f"SageMaker {kind} jobs ({instance})",
                f"{workload.pipeline_runs} runs x {count} jobs x {workload.job_minutes:g} min",
                hours * INSTANCE_PRICES_USD_PER_HOUR[instance],
            )
        )
    memory_gb = int(template.parameters["ServerlessMemorySizeInMB"]) / 1024
    requests = workload.capture_files * workload.requests_per_file
    lines.append(
        Line(
            "Serverless endpoint",
            f"{requests} requests x {workload.endpoint_seconds:g} s x {memory_gb:g} GB",
            requests * workload.endpoint_seconds * memory_gb * prices["serverless_inference_gb_second"],
        )
    )
    windows = workload.drift_windows(template)
    lambda_usd = 0.0
    for logical_id, runs, seconds in (
        ("ScoreCaptureFunction", workload.capture_files, workload.scoring_seconds),
        ("DriftMonitorFunction", windows, workload.drift_seconds),
    ):
        gb = template.function(logical_id).memory_mb / 1024
        lambda_usd += runs * (seconds * gb * prices["lambda_gb_second"] + prices["lambda_request"])
    lines.append(
        Line("Lambda (scoring, drift)", f"{workload.capture_files + windows} invocations", lambda_usd)
    )
    lines.append(
        Line(
            "CloudWatch custom metrics (EMF)",
            f"{workload.custom_metrics}",
            workload.custom_metrics * prices["custom_metric_month"],
        )
    )
    for label, resource_type, price in (
        ("KMS keys", "AWS::KMS::Key", "kms_key_month"),
        ("CloudWatch alarms", "AWS::CloudWatch::Alarm", "alarm_month"),
        ("Composite alarm", "AWS::CloudWatch::CompositeAlarm", "composite_alarm_month"),
        ("Dashboard", "AWS::CloudWatch::Dashboard", "dashboard_month"),
    ):
        count = _deployed(template, resource_type)
        lines.append(Line(label, f"{count}", count * prices[price]))
    return lines


def table(lines: list[Line]) -> Iterator[str]:
    """The estimate as a Markdown table (what README.md shows; a test compares the two)."""
    yield "| item | quantity a month | USD a month |"
    yield "|---|---|---:|"
    for line in lines:
        yield f"| {line.item} | {line.quantity} | {line.usd:.2f} |"
    yield f"| **total** | | **{sum(line.usd for line in lines):.2f}** |"


def report(workload: Workload = Workload()) -> str:
    template = Template()
    return "\n".join(
        [
            f"Workload: {workload.describe(template)}.",
            "",
            *table(estimate(workload, template)),
            "",
            f"Not estimated: {NOT_ESTIMATED}.",
        ]
    )


def count_metrics(log: Path) -> int:
    """Distinct custom metrics (namespace, name, dimensions) in the EMF lines of a log file."""
    from sentinel.dashboard import read_emf

    with log.open(encoding="utf-8", errors="replace") as lines:
        return len({(p.namespace, p.name, p.dimensions) for p in read_emf(lines)})


def readme_block(path: Path = PROJECT_ROOT / "README.md") -> str:
    """The estimate README.md shows, between its ``cost estimate`` markers."""
    text = path.read_text(encoding="utf-8")
    return text.split("<!-- cost estimate -->\n", 1)[1].split("\n<!-- /cost estimate -->", 1)[0]
