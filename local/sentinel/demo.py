"""``sentinel demo``: the whole loop, offline, on one machine, through the real code.

Moto runs as a server on a free loopback port with Step Functions executing the real ASL file;
the stack's resources come from template.yaml; events travel through moto's EventBridge into the
router, which applies the template's rules and runs the real handlers; the RCF endpoint is a
local HTTP server answering whatever model the endpoint's current config points to; the pipeline
executor runs the pipeline's own preprocessing script and trains the local RCF. The story:

training upload → pipeline (channels, tuning, evaluation against the z-score baseline) → model
registered → approved, deployed → production traffic captured as base64 JSONL → decoded, scored and
kept in the production dataset → anomaly alert to a subscriber → traffic drifts (a level shift),
hour after hour → each hour's drift window raises violations and alerts; once the model's anomaly
rate has stayed beyond its budget for RetrainMinWindows windows, the policy starts the retraining
state machine → the pipeline, with the template's defaults, trains on the recent window of that
traffic, tunes, and judges candidate and incumbent on one labelled set → the better model, beyond
the set's noise, in a new endpoint config. Then the log story (sentinel.demo_logs): raw HDFS-like
logs uploaded → the pipeline's log route → a log model in service → a later log scored session by
session → alert.
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
from anomaly_sentinel.drift import drift_metric_name
from sentinel.dashboard import read_emf, write_dashboard
from sentinel.demo_logs import say_log_window, stage_logs
from sentinel.emulator import ACCOUNT, REGION, local_client
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
#: The drift: three weeks of January 2015 (up to the blizzard NAB labels from the 24th), demand up
#: by half the series mean, replayed as the weeks after the series ends, one capture file an hour
#: until the drift windows start a retraining (at most DRIFT_HOURS of them).
DRIFT_DAYS = 21
DRIFT_HOURS = 4
DRIFT_END = np.datetime64("2015-01-24T00:00")
DRIFT_SHIFT_OF_MEAN = 0.5
#: Local tuning trials per pipeline run (the real Tune step runs TuningMaxJobs).
DEMO_TRIALS = 3
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
    #: What MonitoringAlertFunction answered for each drift window, in order.
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    #: The handlers' log file (their EMF metrics: the drift monitor's distances).
    log: Any = None

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
    """Drain what the alerts topic delivered to the demo's subscriber queue; each alert, whole, is
    kept in ``out/alerts/NN-kind.txt`` (subject, attributes, body) and listed in the summary."""
    sqs = local_client("sqs")
    received: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=ctx.subscriber_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return received
        for message in batch:
            sqs.delete_message(QueueUrl=ctx.subscriber_url, ReceiptHandle=message["ReceiptHandle"])
            alert = json.loads(message["Body"])
            alert["file"] = _keep_alert(ctx, alert)
            received.append(alert)


def _keep_alert(ctx: DemoContext, alert: dict[str, Any]) -> str:
    kept = ctx.summary.setdefault("alerts", [])
    attributes = {k: v.get("Value") for k, v in (alert.get("MessageAttributes") or {}).items()}
    kind = str(attributes.get("kind") or "alert")
    path = ctx.out / "alerts" / f"{len(kept) + 1:02d}-{kind}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    shown = "\n".join(f"{k}: {v}" for k, v in sorted(attributes.items()))
    path.write_text(
        f"Subject: {alert.get('Subject')}\n{shown}\n\n{alert.get('Message', '')}\n", encoding="utf-8"
    )
    kept.append({"file": str(path), "subject": alert.get("Subject"), **attributes})
    return f"alerts/{path.name}"


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
        report = run.evaluation
        candidate, baseline, flag_all = report["candidate"], report["baseline"], report["flag_all"]
        timeline.say(
            stage.name,
            f"channels ({run.preprocess['train_rows']:,} train rows, injected validation and evaluation "
            f"sets) → {len(run.trials)} tuning trials → RCF {run.hyperparameters} → cutoff "
            f"{stats['cutoff']['value']:.3f} (quantile {stats['cutoff']['quantile']:g} of the training "
            f"scores; mean + 3 std would be {stats['mean'] + 3 * stats['std']:.3f}) → evaluation on "
            f"{report['set']['rows']:,} rows ({report['set']['positive_share']:.1%} anomalies): F1 "
            f"{candidate['f1']:.3f}, {candidate['false_alerts_per_day']:.2f} false alerts/day; flag-all "
            f"{flag_all['f1']:.3f}, z-score baseline {baseline['f1']:.3f} → registered "
            f"{(run.model_package_arn or '?').split('/', 1)[-1]}",
        )
        ctx.summary["first_model_evaluation"] = {
            "set": {k: report["set"].get(k) for k in ("rows", "positives", "positive_share", "genuine_rows")},
            "candidate": {k: candidate[k] for k in ("f1", "precision", "recall", "false_alerts_per_day")},
            "flag_all_f1": flag_all["f1"],
            "baseline_f1": baseline["f1"],
            "cutoff": stats["cutoff"],
        }

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
        decision = (output.get("evaluation") or {}).get("reason")
        timeline.say("decision", str(decision))
        ctx.summary["first_model_evaluation"]["decision"] = decision
        for alert in _subscriber_messages(ctx):  # the deployment report (not an anomaly alert)
            timeline.say("alert", f"subscriber received: {alert.get('Subject')} → {alert['file']}")


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
            timeline.say("alert", f"subscriber received: {alert.get('Subject')} → {alert['file']}")
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


def _monitor_window(ctx: DemoContext, timeline: Timeline, name: str, hour: datetime) -> list[dict[str, Any]]:
    """The drift monitor's run for one hour's window, then the monitoring responder's decision."""
    ctx.log.flush()
    since = ctx.log.tell()
    result = ctx.function("DriftMonitorFunction")(_tick(hour))
    found = _window_violations(result)
    kinds = sorted({v["constraint_check_type"] for v in found})
    series = _series_drift(found, _window_distances(ctx, since))
    timeline.say(
        "monitor",
        f"window {result['window_start']} ({name}): {result['records']:,} rows from "
        f"{result['files']} file(s) → {len(found)} violation(s) {kinds or ''}".rstrip(),
    )
    timeline.say("monitor", series["said"])
    if result.get("logs", {}).get("files"):  # the log detector's window (issue 21)
        say_log_window(ctx, timeline, result["logs"])
    handled = [d.result for d in _delivered(ctx.router.drain(), "MonitoringAlertFunction")]
    for alert in _subscriber_messages(ctx):
        timeline.say("alert", f"subscriber received: {alert.get('Subject')} → {alert['file']}")
    for outcome in handled:
        timeline.say("policy", f"retrain {outcome.get('retrain')} ({outcome.get('retrain_reason')})")
    ctx.summary.setdefault("drift_windows", []).append(
        {
            "window": result["window_start"],
            "traffic": name,
            "rows": result["records"],
            "check_types": result["check_types"],
            "series": {k: v for k, v in series.items() if k != "said"},
            "consecutive_windows_beyond_budget": max(
                (int(v.get("consecutive_windows", 0)) for v in found), default=0
            ),
            "retrain": any(o.get("retrain") for o in handled),
            "reasons": [o.get("retrain_reason") for o in handled],
        }
    )
    ctx.outcomes.extend(handled)
    return found


def _window_distances(ctx: DemoContext, since: int) -> dict[str, float]:
    """The CDF distance per feature the drift monitor published (its EMF metrics) for this window."""
    ctx.log.flush()
    with (ctx.out / "lambda.log").open(encoding="utf-8") as log:
        log.seek(since)
        points = read_emf(log)
    prefix = drift_metric_name("")
    return {p.name.removeprefix(prefix): p.value for p in points if p.name.startswith(prefix)}


def _series_drift(found: list[dict[str, Any]], distances: dict[str, float]) -> dict[str, Any]:
    """The model's 48 features are one series at 48 lags (its shingles), not 48 signals: what the
    window's violations say about that series, and about the model's anomaly rate."""
    lags = [f"_c{i}" for i in range(SHINGLE)]
    drifted = sorted(
        {v["feature_name"] for v in found if v["constraint_check_type"] == "baseline_drift_check"}
        & set(lags),
        key=lags.index,
    )
    other = sorted(
        {(v["feature_name"], v["constraint_check_type"]) for v in found if v["feature_name"] in lags}
    )
    largest = max(lags, key=lambda lag: distances.get(lag, 0.0))
    distance = distances.get(largest)
    rate = [v for v in found if v["constraint_check_type"] == "score_drift_check"]
    said = (
        f"NYC taxi passengers (features _c0.._c{SHINGLE - 1} are its last {SHINGLE} half-hours, one "
        f"series): {'drifted' if drifted else 'no drift'}"
        + (f" at {len(drifted)} of {SHINGLE} lags" if drifted else "")
        + (f", largest CDF distance {distance:.2f} ({largest})" if distance is not None else "")
        + "".join(f"; {kind} on {feature}" for feature, kind in other if kind != "baseline_drift_check")
        + ("; the model's anomaly rate is beyond its budget" if rate else "")
    )
    return {
        "source": "NYC taxi passengers",
        "features_are_lags": SHINGLE,
        "lags_drifted": len(drifted),
        "largest_distance": distance,
        "largest_at": largest if distance is not None else None,
        "other_checks": [f"{kind} on {feature}" for feature, kind in other if kind != "baseline_drift_check"],
        "anomaly_rate_beyond_budget": bool(rate),
        "said": said,
    }


def _window_violations(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The violations a drift window's report lists (feature, check type, persistence)."""
    bucket, key = parse_s3_uri(result["report_uri"] + "constraint_violations.json")
    found = json.loads(local_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())["violations"]
    return [
        {k: v[k] for k in ("feature_name", "constraint_check_type", "consecutive_windows") if k in v}
        for v in found
    ]


def drift_shift(values: Any) -> float:
    """Demand up by about half the mean, in whole passengers."""
    return float(round(DRIFT_SHIFT_OF_MEAN * float(values.mean())))


def _shifted_capture(ctx: DemoContext, series: Any, index: int, hour: datetime) -> dict[str, Any]:
    """The index-th three weeks after the series' end, demand up by half, captured in ``hour``."""
    points = DRIFT_DAYS * 48 + SHINGLE - 1
    step = np.timedelta64(30, "m")
    start = series.timestamps[-1] + step + step * DRIFT_DAYS * 48 * index
    stamps = start + step * np.arange(points)
    end = int(np.searchsorted(series.timestamps, DRIFT_END))
    # a whole number of passengers added: the counts stay whole, so the drift monitor's type check
    # has nothing to say (a fractional shift would read as data_type_check on every feature)
    values = series.values[end - points : end] + drift_shift(series.values)
    key = capture_key(ctx.template.parameters["CapturePrefix"], ctx.endpoint, hour, f"replay-drift-{index}")
    body = capture_file(shingle_timestamps(stamps, SHINGLE), shingle(values, SHINGLE), broken=False)
    local_client("s3").put_object(Bucket=ctx.bucket, Key=key, Body=body)
    report: dict[str, Any] = _one(ctx.router.drain(), "ScoreCaptureFunction").result
    # the shifted traffic's anomaly alert (kept with the others; the drift phase counts its own)
    report["alert_files"] = [alert["file"] for alert in _subscriber_messages(ctx)]
    return report


def stage_drift(ctx: DemoContext, timeline: Timeline, scored: dict[str, Any]) -> None:
    """Traffic after a regime change, one file an hour after the replay: scored by the model in
    service, kept in the production dataset, compared by the drift monitor with the model's baseline
    window by window, until the policy says the model is wrong."""
    with timeline.stage("drift") as stage:
        series = scored["series"]
        traffic_hour = scored["hour"]
        before = _endpoint_config(ctx)
        replay = _monitor_window(ctx, timeline, "replay", traffic_hour)
        if any(v["constraint_check_type"] == "baseline_drift_check" for v in replay):
            raise RuntimeError(f"the replayed training traffic drifted from its own baseline: {replay}")
        ctx.summary["drift_violations_replay"] = replay
        ctx.summary["drift_records"] = ctx.summary["drift_anomalies"] = 0
        execution = None
        for index in range(DRIFT_HOURS):
            hour = traffic_hour + timedelta(hours=1 + index)
            report = _shifted_capture(ctx, series, index, hour)
            timeline.say(
                stage.name,
                f"hour {index + 1}: {DRIFT_DAYS} more days, demand +{drift_shift(series.values):,.0f} "
                f"passengers a half-hour (about {DRIFT_SHIFT_OF_MEAN:.0%} of the mean): "
                f"{report['scored']:,} records scored, {report['anomalies']:,} above the model's cutoff "
                f"{report['cutoff']:.3f} (alert → {', '.join(report['alert_files']) or 'none'}); "
                f"{report['dataset_rows']:,} rows kept in s3://{ctx.bucket}/dataset/endpoint={ctx.endpoint}/",
            )
            ctx.summary["drift_records"] += report["scored"]
            ctx.summary["drift_anomalies"] += report["anomalies"]
            found = _monitor_window(ctx, timeline, f"shifted, hour {index + 1}", hour)
            if not any(v["constraint_check_type"] == "baseline_drift_check" for v in found):
                raise RuntimeError(f"the shifted traffic raised no baseline drift: {found}")
            ctx.summary["drift_violations"] = found
            handled = ctx.outcomes[-1:]
            execution = next(
                ((o.get("execution") or {}).get("execution_arn") for o in handled if o.get("execution")), None
            )
            if execution:
                break
        if not execution:
            raise RuntimeError(f"{DRIFT_HOURS} drifted hours did not start a retraining run")
        timeline.say("retrain", f"retraining state machine started: {execution.rsplit(':', 1)[-1]}")
        output = _wait_for_retraining(ctx, execution)
        after = _endpoint_config(ctx)
        for alert in _subscriber_messages(ctx):
            timeline.say("alert", f"subscriber received: {alert.get('Subject')} → {alert['file']}")
            if str(alert.get("Subject", "")).startswith("Retraining"):
                ctx.summary["retrain_alert"] = alert.get("Message")
        timeline.say(
            "retrain",
            f"pipeline → evaluate → decide → deploy: endpoint config {before} → {after} ({_outcome(output)})",
        )
        _report_retraining(ctx, timeline, output)
        if after == before:
            raise RuntimeError(
                f"retraining finished but the endpoint config did not change: {output.get('evaluation')}"
            )
        ctx.summary["endpoint_config"] = after
        ctx.summary["retrain_executions"] = _retrain_runs(ctx)


def _report_retraining(ctx: DemoContext, timeline: Timeline, output: dict[str, Any]) -> None:
    """The last retraining run's tuning trials, comparison and training data, on the timeline."""
    run = ctx.executor.results[-1]
    evaluation = output.get("evaluation") or {}
    train_rows = int(run.preprocess.get("train_rows", 0))
    timeline.say(
        "tuning",
        f"{len(run.trials)} trials on {train_rows:,} train rows (a tree draws at most that many samples)",
    )
    for trial in run.trials:
        timeline.say(
            "tuning",
            f"trial {trial['num_trees']} trees x {trial['num_samples_per_tree']} samples: validation F1 "
            f"{trial['f1']:.3f} (precision {trial['precision']:.3f}, recall {trial['recall']:.3f})",
        )
    for line in str(evaluation.get("comparison") or "").splitlines():
        timeline.say("evaluate", line)
    timeline.say("trained on", str(evaluation.get("trainingData")))
    timeline.say("decision", str(evaluation.get("reason")))
    ctx.summary["tuning_trials"] = run.trials
    ctx.summary["tuning_train_rows"] = train_rows
    ctx.summary["evaluation"] = evidence = _evidence(evaluation)
    evidence["how_sure"] = _how_sure(evidence)
    timeline.say("how sure", evidence["how_sure"])
    ctx.summary["retrain_training_data"] = run.training_data
    # What the state machine sent the pipeline: nothing beyond the definition's defaults.
    ctx.summary["retrain_pipeline_parameters"] = (
        local_client("sagemaker")
        .list_pipeline_parameters_for_execution(PipelineExecutionArn=run.execution_arn)
        .get("PipelineParameters", [])
    )


def _how_sure(evidence: dict[str, Any]) -> str:
    """What a set of this size can tell, in one sentence (its figures are in the evidence)."""
    found = evidence.get("set") or {}
    positives, genuine = int(found.get("positives") or 0), int(found.get("genuine_rows") or 0)
    reduction = evidence.get("false_alert_reduction") or {}
    step = f"{1 / positives:.0%}" if positives else "undefined"
    interval = (
        f"{reduction['low']:+.0%}..{reduction['high']:+.0%} ({reduction['confidence']:.0%} interval)"
        if reduction.get("low") is not None
        else "no interval"
    )
    return (
        f"{found.get('rows', 0):,} rows: {positives} labelled anomalies, so recall moves in steps of {step} "
        f"and F1 alone would decide little; the decision rests on the false alerts over {genuine:,} "
        f"genuine rows, reduced by {interval}"
    )


def _evidence(evaluation: dict[str, Any]) -> dict[str, Any]:
    """What a decision rested on (the evaluate step's summary): set, references, figures, margin."""
    figures = evaluation.get("figures") or {}
    comparison = figures.get("comparison") or {}
    return {
        "candidate": figures.get("candidate"),
        "incumbent": figures.get("incumbent"),
        "baseline": figures.get("baseline"),
        "flag_all": figures.get("flag_all"),
        "set": figures.get("set"),
        "false_alert_reduction": {k: comparison.get(k) for k in ("gain", "low", "high", "confidence")}
        if comparison
        else None,
        "min_improvement": figures.get("min_improvement"),
        "margin": figures.get("margin"),
        "decision": evaluation.get("reason"),
        "approved": bool(evaluation.get("approve")),
    }


# ---------------------------------------------------------------------------- orchestration


def run_demo(out: Path, timeline: Timeline | None = None) -> dict[str, Any]:
    """Run the whole loop; returns the summary (also written to ``out/summary.json``)."""
    timeline = timeline or Timeline()
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    with ExitStack() as stack:
        with timeline.stage("emulator") as stage:
            # The template's defaults: retraining trains on the recent window of scored traffic.
            # The handlers' own output (Powertools logs, EMF metrics) goes to a log file.
            lambda_log = stack.enter_context((out / "lambda.log").open("w", encoding="utf-8"))
            world = stack.enter_context(
                local_world(
                    server=True,
                    run_pipelines=True,
                    serve_endpoint=True,
                    route_events=True,
                    function_log=lambda_log,
                    seed=0,
                )
            )
            os.environ.update(world.endpoint_environ)
            world.pipelines.max_trials = DEMO_TRIALS
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
                log=lambda_log,
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
            # issue 21: the log story (sentinel.demo_logs); the drift stage's windows then hold its files
            summary["logs"] = stage_logs(ctx, timeline)
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
