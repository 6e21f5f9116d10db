"""``sentinel demo``: the whole loop, offline, on one machine, through the real code.

Moto runs as a server on a free loopback port with Step Functions executing the real ASL file;
the stack's resources come from template.yaml; events travel through moto's EventBridge into the
router, which applies the template's rules and runs the real handlers; the RCF endpoint is a
local HTTP server answering whatever model the endpoint's current config points to; the pipeline
executor runs the pipeline's own preprocessing script and trains the local RCF. The story:

training upload → pipeline → model registered → evaluated, approved, deployed → production traffic
captured as base64 JSONL → decoded and scored → anomaly alert to a subscriber → traffic with a
level shift → the drift monitor's window raises violations → alert → retraining state machine → a
new endpoint config in service.
"""

from __future__ import annotations

import json
import os
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from anomaly_sentinel.contracts import parse_s3_uri
from sentinel.dashboard import write_dashboard
from sentinel.emulator import ACCOUNT, REGION, local_client, local_name
from sentinel.moto_patches import SageMakerExtras
from sentinel.pipeline_executor import PipelineExecutor
from sentinel.plot import plot_scores
from sentinel.rcf import shingle
from sentinel.router import Delivery, Router
from sentinel.series import NYC_TAXI, load_series, load_windows, shingle_timestamps
from sentinel.stepfunctions import wait_for_execution
from sentinel.template import Template
from sentinel.timeline import Timeline
from sentinel.traffic import capture_file, capture_key
from sentinel.world import local_world

DATA = Path(__file__).parent / "data"
TRAINING_KEY = "training/nyc_taxi.csv"
SHINGLE = 48  # one day of 30-minute buckets, as the AWS NYC taxi example does
SUBSCRIBER_QUEUE = "sentinel-demo-subscriber"


@dataclass
class DemoContext:
    """Everything the stages share while the emulator runs."""

    template: Template
    router: Router
    executor: PipelineExecutor
    extras: SageMakerExtras
    subscriber_url: str
    out: Path
    summary: dict[str, Any] = field(default_factory=dict)
    #: The template's functions (what the schedule invokes: the drift monitor's ticks).
    function: Any = None

    @property
    def bucket(self) -> str:
        return self.template.ref("DataBucket")

    @property
    def endpoint(self) -> str:
        return self.template.parameters["EndpointName"]


def _delivered(deliveries: list[Delivery], target: str) -> list[Delivery]:
    return [d for d in deliveries if d.target == target]


def _one(deliveries: list[Delivery], target: str) -> Delivery:
    found = _delivered(deliveries, target)
    if len(found) != 1:
        raise RuntimeError(
            f"expected one delivery to {target}, got {[(d.target, d.error) for d in deliveries]}"
        )
    if found[0].error:
        raise RuntimeError(f"{target} failed: {found[0].error}")
    return found[0]


def _subscriber_messages(ctx: DemoContext) -> list[dict[str, Any]]:
    """Drain what the alerts topic delivered to the demo's subscriber queue."""
    sqs = local_client("sqs")
    received: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=ctx.subscriber_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return received
        for message in batch:
            sqs.delete_message(QueueUrl=ctx.subscriber_url, ReceiptHandle=message["ReceiptHandle"])
            received.append(json.loads(message["Body"]))


def _retrain_runs(ctx: DemoContext) -> list[dict[str, str]]:
    sfn = local_client("stepfunctions")
    runs = sfn.list_executions(stateMachineArn=ctx.template.ref("RetrainStateMachine"))["executions"]
    return [{"name": r["name"], "status": r["status"]} for r in sorted(runs, key=lambda r: r["startDate"])]


def _wait_for_retraining(ctx: DemoContext, execution_arn: str) -> dict[str, Any]:
    described = wait_for_execution(local_client("stepfunctions"), execution_arn, timeout=120)
    output = json.loads(described.get("output") or "{}")
    if described["status"] != "SUCCEEDED":
        raise RuntimeError(f"retraining execution {execution_arn} ended {described['status']}: {output}")
    return output


def _outcome(output: dict[str, Any]) -> str:
    outcome = output.get("outcome", {})
    return str(outcome.get("status", outcome)) if isinstance(outcome, dict) else str(outcome)


def _endpoint_config(ctx: DemoContext) -> str:
    return str(local_client("sagemaker").describe_endpoint(EndpointName=ctx.endpoint)["EndpointConfigName"])


# ---------------------------------------------------------------------------- stages


def stage_training(ctx: DemoContext, timeline: Timeline) -> None:
    with timeline.stage("upload") as stage:
        body = NYC_TAXI.read_bytes()
        local_client("s3").put_object(Bucket=ctx.bucket, Key=TRAINING_KEY, Body=body)
        timeline.say(stage.name, f"s3://{ctx.bucket}/{TRAINING_KEY} ({len(body):,} bytes, NAB NYC taxi)")
        started = _one(ctx.router.drain(), "StartPipelineFunction")
        result = started.result
        timeline.say(
            "trigger",
            f"rule {started.rule} → StartPipelineFunction: started {result['display_name']}",
        )
        again = ctx.router.deliver(started.event)
        same = again[0].result["pipeline_execution_arn"] == result["pipeline_execution_arn"]
        executions = local_client("sagemaker").list_pipeline_executions(
            PipelineName=ctx.template.parameters["PipelineName"]
        )["PipelineExecutionSummaries"]
        timeline.say(
            "duplicate",
            f"same event delivered again → {'absorbed: same execution' if same else 'NEW EXECUTION (bug)'}, "
            f"{len(executions)} execution(s) in total",
        )
        if not same or len(executions) != 1:
            raise RuntimeError("a duplicate delivery started a second pipeline execution")
        ctx.summary["pipeline_executions_started"] = len(executions)
        ctx.summary["duplicate_delivery"] = "absorbed" if same else "started again"
        local_client("s3").put_object(Bucket=ctx.bucket, Key="training/README.txt", Body=b"notes")
        ignored = _one(ctx.router.drain(), "StartPipelineFunction").result
        timeline.say("ignored", f"training/README.txt → {ignored['status']}: {ignored['reason']}")
        ctx.summary["ignored_uploads"] = [ignored["reason"]]

    with timeline.stage("pipeline") as stage:
        (run,) = ctx.executor.run_pending()
        if run.status != "Succeeded":
            raise RuntimeError(f"pipeline execution failed: {run.failure_reason}")
        stats = run.score_stats
        timeline.say(
            stage.name,
            f"preprocess → train RCF {run.hyperparameters} → score stats mean {stats['mean']:.3f} "
            f"std {stats['std']:.3f} → registered {(run.model_package_arn or '?').split('/', 1)[-1]}",
        )

    with timeline.stage("deploy") as stage:
        deliveries = ctx.router.drain()
        adopted = _delivered(deliveries, "RetrainStateMachine")
        if not adopted or adopted[0].error:
            raise RuntimeError(f"pipeline success did not start the deployment: {deliveries}")
        output = _wait_for_retraining(ctx, adopted[0].result["executionArn"])
        timeline.say(
            stage.name,
            f"pipeline Succeeded event → state machine: evaluate, approve, deploy → "
            f"{ctx.endpoint} InService on {_endpoint_config(ctx)} ({_outcome(output)})",
        )
        _subscriber_messages(ctx)  # the deployment report is not part of the anomaly count


def stage_traffic(ctx: DemoContext, timeline: Timeline) -> dict[str, Any]:
    with timeline.stage("traffic") as stage:
        series = load_series(NYC_TAXI)
        rows = shingle(series.values, SHINGLE)
        stamps = shingle_timestamps(series.timestamps, SHINGLE)
        body = capture_file(stamps, rows)
        now = datetime.now(UTC)
        hour = now.replace(minute=0, second=0, microsecond=0)
        key = capture_key(ctx.template.parameters["CapturePrefix"], ctx.endpoint, now, "replay-nyc-taxi")
        local_client("s3").put_object(Bucket=ctx.bucket, Key=key, Body=body)
        timeline.say(
            stage.name, f"{len(rows) + 3:,} capture records (base64 CSV, 3 broken) → s3://{ctx.bucket}/{key}"
        )

    with timeline.stage("scoring") as stage:
        report = _one(ctx.router.drain(), "ScoreCaptureFunction").result
        timeline.say(
            stage.name,
            f"{report['records']:,} records: {report['scored']:,} scored, {report['rejected']} rejected "
            f"{report['reasons']}, {report['anomalies']} anomalies above {report['cutoff']:.3f} "
            f"({report['cutoff_source']}), {report['calls']} endpoint calls",
        )
        alerts = _subscriber_messages(ctx)
        anomaly_alerts = [
            a for a in alerts if a.get("MessageAttributes", {}).get("kind", {}).get("Value") == "anomaly"
        ]
        for alert in anomaly_alerts:
            timeline.say("alert", f"subscriber received: {alert.get('Subject')}")
        if report["anomalies"] and not anomaly_alerts:
            raise RuntimeError("anomalies were found but no alert reached the subscriber")
        ctx.summary.update(
            capture_records=report["records"],
            records_scored=report["scored"],
            records_rejected=report["rejected"],
            anomalies=report["anomalies"],
            alerts_delivered=len(anomaly_alerts),
            cutoff=report["cutoff"],
            cutoff_source=report["cutoff_source"],
        )
        return {"report": report, "timestamps": stamps, "series": series, "hour": hour}


def stage_report(ctx: DemoContext, timeline: Timeline, scored: dict[str, Any]) -> None:
    with timeline.stage("report") as stage:
        report = scored["report"]
        bucket, _, key = report["scores_uri"].removeprefix("s3://").partition("/")
        body = local_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        (ctx.out / "scores.jsonl").write_text(body, encoding="utf-8")
        by_time = {}
        for line in body.splitlines():
            if line.strip():
                item = json.loads(line)
                by_time[item["inferenceTime"]] = item["score"]
        series = scored["series"]
        stamps = [np.datetime64(t).astype("datetime64[s]") for t in series.timestamps]
        scores = np.array(
            [by_time.get(f"{np.datetime_as_string(t, unit='s')}Z", np.nan) for t in stamps], dtype=np.float64
        )
        path = plot_scores(
            ctx.out / "scores.png",
            series.timestamps,
            series.values,
            scores,
            float(report["cutoff"]),
            windows=load_windows(),
            title=f"NYC taxi replayed through {ctx.endpoint}: RCF scores, cutoff and anomalies",
        )
        ctx.summary["report"] = str(path)
        timeline.say(stage.name, f"plot of {np.isfinite(scores).sum():,} scores → {path}")


#: The drift phase's traffic: the series' last four weeks at 1.3x their level (a documented level
#: shift, as if demand rose 30%), captured in the hour after the replay, so the two are two windows.
DRIFT_POINTS = 48 * 28
DRIFT_FACTOR = 1.3


def _tick(window_start: datetime) -> dict[str, Any]:
    """The drift monitor's schedule tick for the window from ``window_start`` (15 min after its end)."""
    when = window_start + timedelta(hours=1, minutes=15)
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"drift-tick-{when:%Y%m%d%H}")),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": f"{when:%Y-%m-%dT%H:%M:%SZ}",
        "region": REGION,
        "resources": [],
        "detail": {},
    }


def _window_violations(result: dict[str, Any]) -> list[dict[str, str]]:
    """The violations a drift window's report lists (feature and check type)."""
    bucket, key = parse_s3_uri(result["report_uri"] + "constraint_violations.json")
    found = json.loads(local_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())["violations"]
    return [
        {"feature_name": v["feature_name"], "constraint_check_type": v["constraint_check_type"]}
        for v in found
    ]


def stage_drift(ctx: DemoContext, timeline: Timeline, scored: dict[str, Any]) -> None:
    with timeline.stage("drift") as stage:
        series = scored["series"]
        values = np.round(series.values[-DRIFT_POINTS:] * DRIFT_FACTOR)  # passengers are whole
        rows = shingle(values, SHINGLE)
        stamps = shingle_timestamps(series.timestamps[-DRIFT_POINTS:], SHINGLE)
        traffic_hour = scored["hour"]
        drift_hour = traffic_hour + timedelta(hours=1)
        key = capture_key(
            ctx.template.parameters["CapturePrefix"], ctx.endpoint, drift_hour, "shifted-nyc-taxi"
        )
        local_client("s3").put_object(
            Bucket=ctx.bucket, Key=key, Body=capture_file(stamps, rows, broken=False)
        )
        report = _one(ctx.router.drain(), "ScoreCaptureFunction").result
        _subscriber_messages(ctx)  # the shifted traffic's anomaly alert is not the drift phase's
        ctx.summary["drift_records_scored"] = report["scored"]
        timeline.say(
            stage.name,
            f"{len(rows):,} records of the last {DRIFT_POINTS // 48} days at {DRIFT_FACTOR}x the level → "
            f"scored ({report['anomalies']} anomalies), statistics → {report['statistics_uri']}",
        )
        monitor = ctx.function("DriftMonitorFunction")
        windows = {}
        for name, hour in (("replay", traffic_hour), ("shifted", drift_hour)):
            result = monitor(_tick(hour))
            found = _window_violations(result)
            windows[name] = found
            kinds = sorted({v["constraint_check_type"] for v in found})
            features = sorted({v["feature_name"] for v in found}, key=lambda f: (len(f), f))
            shown = ", ".join(features[:4]) + (", …" if len(features) > 4 else "")
            timeline.say(
                "monitor",
                f"window {result['window_start']} ({name}): {result['records']:,} rows from "
                f"{result['files']} file(s) → {len(found)} violation(s) {kinds or ''} {shown}".rstrip(),
            )
        if any(v["constraint_check_type"] == "baseline_drift_check" for v in windows["replay"]):
            raise RuntimeError(
                f"the replayed training traffic drifted from its own baseline: {windows['replay']}"
            )
        if not any(v["constraint_check_type"] == "baseline_drift_check" for v in windows["shifted"]):
            raise RuntimeError(f"the shifted traffic raised no baseline drift: {windows['shifted']}")
        ctx.summary["drift_violations"] = windows["shifted"]
        ctx.summary["drift_violations_replay"] = windows["replay"]
        before = _endpoint_config(ctx)
        handled = [d.result for d in _delivered(ctx.router.drain(), "MonitoringAlertFunction")]
        for alert in _subscriber_messages(ctx):
            timeline.say("alert", f"subscriber received: {alert.get('Subject')}")
        for outcome in handled:
            timeline.say(
                "policy",
                f"{outcome.get('job_arn')}: retrain {outcome.get('retrain')} "
                f"({outcome.get('retrain_reason')})",
            )
        execution = next(
            ((o.get("execution") or {}).get("execution_arn") for o in handled if o.get("execution")), None
        )
        if not execution:
            raise RuntimeError(f"drift violations did not start a retraining run: {handled}")
        timeline.say("retrain", f"retraining state machine started: {execution.rsplit(':', 1)[-1]}")
        output = _wait_for_retraining(ctx, execution)
        after = _endpoint_config(ctx)
        for alert in _subscriber_messages(ctx):
            timeline.say("alert", f"subscriber received: {alert.get('Subject')}")
        timeline.say(
            "retrain",
            f"pipeline → evaluate → approve → deploy: endpoint config {before} → {after} "
            f"({_outcome(output)})",
        )
        if after == before:
            raise RuntimeError("retraining finished but the endpoint config did not change")
        ctx.summary["endpoint_config"] = after
        ctx.summary["retrain_executions"] = _retrain_runs(ctx)


# ---------------------------------------------------------------------------- orchestration


def run_demo(out: Path, timeline: Timeline | None = None) -> dict[str, Any]:
    """Run the whole loop; returns the summary (also written to ``out/summary.json``)."""
    timeline = timeline or Timeline()
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    with ExitStack() as stack:
        with timeline.stage("emulator") as stage:
            # Monitoring-triggered retraining trains on the demo's training upload.
            retrain_input = f"s3://{local_name('DataBucket')}/{TRAINING_KEY}"
            # The handlers' own output (Powertools logs, EMF metrics) goes to a log file.
            lambda_log = stack.enter_context((out / "lambda.log").open("w", encoding="utf-8"))
            world = stack.enter_context(
                local_world(
                    server=True,
                    run_pipelines=True,
                    serve_endpoint=True,
                    route_events=True,
                    parameters={"RetrainInputDataUri": retrain_input},
                    function_log=lambda_log,
                    seed=0,
                )
            )
            os.environ.update(world.endpoint_environ)
            template, router, endpoint = world.template, world.router, world.endpoint
            assert router is not None
            assert endpoint is not None
            assert world.pool is not None
            ctx = DemoContext(
                template,
                router,
                world.pipelines,
                world.extras,
                _subscribe(template),
                out,
                summary,
                world.pool,
            )
            timeline.say(
                stage.name,
                f"moto server {world.url}, local RCF endpoint {endpoint.url}, "
                f"{len(template.resources)} template resources, {len(router.rules)} rules",
            )
        try:
            stage_training(ctx, timeline)
            scored = stage_traffic(ctx, timeline)
            stage_report(ctx, timeline, scored)
            stage_drift(ctx, timeline, scored)
            ctx.router.drain()  # late events (the retraining run's end) reach their functions too
            lambda_log.flush()
            clients = {name: local_client(name) for name in ("stepfunctions", "sqs")}
            dashboard = write_dashboard(template, out / "lambda.log", out / "dashboard.png", clients)
            summary["dashboard"] = str(dashboard)
        finally:
            summary["stages"] = [
                {"name": s.name, "ok": s.ok, "seconds": round(s.seconds, 2), "error": s.error}
                for s in timeline.stages
            ]
            (out / "summary.json").write_text(
                json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8"
            )
    return summary


def _subscribe(template: Template) -> str:
    """An SQS subscriber on the alerts topic, showing what subscribers receive."""
    sqs, sns = local_client("sqs"), local_client("sns")
    url = sqs.create_queue(QueueName=SUBSCRIBER_QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=template.ref("AlertsTopic"), Protocol="sqs", Endpoint=arn)
    return str(url)
