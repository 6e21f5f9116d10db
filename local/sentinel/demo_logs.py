"""The demo's log story (issue 21), through the same twin as the rest of ``sentinel demo``.

A generated HDFS-like log (``sentinel.loggen``: block lifecycles, about 3% of blocks failing in one
of eight ways) is uploaded under LogsTrainingPrefix → the LogsTrainingData rule → StartPipelineFunction
starts the pipeline's log route (``DataKind=logs``) → the local executor parses it (drain3 →
template table), groups block sessions, tunes RCF and PCA side by side, keeps the better on the
evaluation sessions and registers it in the log model package group (no log model was in service)
→ the run's end → the TrainedLogModel rule → the retraining state machine puts an RCF model on the
log endpoint and approves it (a PCA model, approved by the pipeline, needs no endpoint) → a later
log of the same cluster lands under LogsPrefix → the LogFile rule →
ScoreLogsFunction scores every block session with the model in service → one alert naming the top
templates and the new ones → the drift monitor's log window reports the unseen-line share.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinel.emulator import local_client
from sentinel.loggen import HdfsLog

if TYPE_CHECKING:
    from sentinel.demo import DemoContext
    from sentinel.timeline import Timeline

TRAINING_BLOCKS = 2000
LATER_BLOCKS = 600
TRAINING_SEED, LATER_SEED = 21, 22
TRAINING_KEY = "hdfs-2008-11-09.log"
LATER_KEY = "datanode-cluster/hdfs-2008-11-10.log"


def _faults(labels: Path) -> set[str]:
    with labels.open(encoding="utf-8", newline="") as handle:
        return {row["BlockId"] for row in csv.DictReader(handle) if row["Label"] == "Anomaly"}


def _flagged(scores_uri: str) -> set[str]:
    bucket, _, key = scores_uri.removeprefix("s3://").partition("/")
    body = local_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    rows = csv.DictReader(body.splitlines())
    return {row["session"] for row in rows if row["anomaly"] == "1"}


def stage_logs(ctx: DemoContext, timeline: Timeline) -> dict[str, Any]:
    """Train a log model from an upload, put it in service, score a later log; returns summary['logs']."""
    from sentinel.demo import _one, _outcome, _subscriber_messages, _wait_for_retraining

    template, s3 = ctx.template, local_client("s3")
    work = ctx.out / "logs"
    work.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    with timeline.stage("logs-upload") as stage:
        generated = HdfsLog(TRAINING_BLOCKS, seed=TRAINING_SEED).write(
            work / "training.log", work / "training-labels.csv"
        )
        key = template.parameters["LogsTrainingPrefix"] + TRAINING_KEY
        s3.upload_file(str(work / "training.log"), ctx.bucket, key)
        started = _one(ctx.router.drain(), "StartPipelineFunction")
        timeline.say(
            stage.name,
            f"{generated['lines']:,} HDFS lines, {generated['blocks']:,} blocks ({generated['anomalies']} "
            f"faulty, unlabelled) → s3://{ctx.bucket}/{key} → rule {started.rule} → "
            f"{started.result['display_name']}",
        )
    with timeline.stage("logs-pipeline") as stage:
        (run,) = ctx.executor.run_pending()
        if run.status != "Succeeded":
            raise RuntimeError(f"the log route failed: {run.failure_reason}")
        fit = run.log_fit
        detectors = run.evaluation.get("detectors") or {}
        timeline.say(
            stage.name,
            f"drain3 → {fit['templates']} templates, {fit['sessions']:,} block sessions; tuned side by side "
            "on the validation sessions (injected log-shaped anomalies), judged on the evaluation sessions: "
            + ", ".join(f"{name.upper()} F1 {m['f1']:.3f}" for name, m in detectors.items() if m)
            + f" → {fit['detector'].upper()} judged {fit['verdict']}, registered {fit['approval']} "
            f"({fit['reason']})",
        )
    with timeline.stage("logs-deploy") as stage:
        if fit["verdict"] != "Approved":
            raise RuntimeError(f"the first log model was not approved: {fit['reason']}")
        adopted = _one(ctx.router.drain(), "RetrainStateMachine")
        outcome = _outcome(_wait_for_retraining(ctx, adopted.result["executionArn"]))
        if outcome not in ("deployed", "in-service"):
            raise RuntimeError(f"the log model was not put in service: {outcome}")
        where = "scored inside ScoreLogsFunction (no endpoint)"
        if fit["detector"] == "rcf":
            served = local_client("sagemaker").describe_endpoint(
                EndpointName=template.parameters["LogsEndpointName"]
            )
            where = f"served on {template.parameters['LogsEndpointName']} ({served['EndpointConfigName']})"
        timeline.say(
            stage.name,
            f"rule {adopted.rule} → retraining state machine ({outcome}): log model in service: "
            f"{run.model_package_arn}: {where}",
        )
        for alert in _subscriber_messages(ctx):
            timeline.say("alert", f"subscriber received: {alert.get('Subject')}")
    with timeline.stage("logs-scoring") as stage:
        later = HdfsLog(LATER_BLOCKS, seed=LATER_SEED).write(work / "later.log", work / "later-labels.csv")
        key = template.parameters["LogsPrefix"] + LATER_KEY
        s3.upload_file(str(work / "later.log"), ctx.bucket, key)
        report = _one(ctx.router.drain(), "ScoreLogsFunction").result
        faults, flagged = _faults(work / "later-labels.csv"), _flagged(report["scores_uri"])
        caught = len(flagged & faults)
        timeline.say(
            stage.name,
            f"{report['lines']:,} lines ({report['rejected_lines']} rejected) → {report['sessions']} "
            f"sessions, {report['anomalies']} anomalous above {report['cutoff']:.4g}; of the log's "
            f"{later['anomalies']} faulty blocks {caught} flagged, {len(flagged) - caught} false alerts; "
            f"unseen lines {report['unseen_lines']} ({(report['oov_share'] or 0):.2%})",
        )
        alerts = [
            a
            for a in _subscriber_messages(ctx)
            if a.get("MessageAttributes", {}).get("endpoint", {}).get("Value")
            == template.parameters["LogsEndpointName"]
        ]
        for alert in alerts:
            timeline.say("alert", f"subscriber received: {alert.get('Subject')}")
        if report["anomalies"] and not alerts:
            raise RuntimeError("log anomalies were found but no alert reached the subscriber")
        (ctx.out / "log-scores.csv").write_bytes(
            local_client("s3")
            .get_object(Bucket=ctx.bucket, Key=report["scores_uri"].split("/", 3)[3])["Body"]
            .read()
        )
        if alerts:
            (ctx.out / "log-alert.txt").write_text(str(alerts[0].get("Message", "")), encoding="utf-8")
    summary.update(
        training_lines=generated["lines"],
        training_sessions=fit["sessions"],
        templates=fit["templates"],
        detector=fit["detector"],
        f1=float(fit["f1"]),
        precision=float(fit["precision"]),
        recall=float(fit["recall"]),
        detectors={
            name: {k: m[k] for k in ("f1", "precision", "recall")} for name, m in detectors.items() if m
        },
        model_package=run.model_package_arn,
        approval=fit["approval"],
        put_in_service=outcome,
        lines=report["lines"],
        lines_rejected=report["rejected_lines"],
        sessions=report["sessions"],
        anomalies=report["anomalies"],
        faulty_blocks=later["anomalies"],
        faulty_blocks_flagged=caught,
        false_alerts=len(flagged) - caught,
        unseen_lines=report["unseen_lines"],
        alert_subject=alerts[0].get("Subject") if alerts else None,
        scores=str(ctx.out / "log-scores.csv"),
    )
    return summary


def say_log_window(ctx: DemoContext, timeline: Timeline, window: dict[str, Any]) -> None:
    """The drift monitor's log window on the timeline, and in summary['logs']['drift']."""
    share = window.get("oov_share")
    timeline.say(
        "monitor",
        f"log window ({window['detector']}): {window['lines']:,} lines from {window['files']} file(s), "
        f"unseen share {share if share is None else f'{share:.2%}'} (baseline "
        f"{window.get('baseline_oov_share')}), {window['new_templates']} new template(s) → "
        f"{window['violations']} violation(s) {window['check_types'] or ''}".rstrip(),
    )
    logs = ctx.summary.setdefault("logs", {})
    logs["drift"] = {
        k: window[k] for k in ("status", "lines", "oov_share", "new_templates", "violations", "check_types")
    }
