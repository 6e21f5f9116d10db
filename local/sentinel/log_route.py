"""The pipeline's log route, run by the local pipeline executor, and the log model put in service.

For an execution started with ``DataKind=logs`` (StartPipelineFunction does so for uploads under
LogsTrainingPrefix) the executor calls :func:`run`, which does what the definition's log route does
on SageMaker, with the same scripts:

1. downloads ``InputDataUri`` (a file, or every object under a prefix) and ``LabelsUri``;
2. ``sentinel.logfit.fit`` — ``logs_prepare.py`` (drain3 → template table → sessions → vectors →
   channels), RCF (local forest) and PCA (``logs_pca.py``) tuned side by side (at most
   ``TuningMaxJobs`` trials each, as the executor bounds the numeric route), the better one on the
   evaluation channel;
3. ``logs_evaluate.py`` — the choice against the log model in service on the same real evaluation
   sessions, each read from the raw log through its own table → the approval verdict;
4. uploads the model directory (templates, vector spec, detector, PCA, RCF, ``log_baseline.json``,
   ``evaluation.json``) to ``pipeline/runs/<execution id>/Logs/model/`` — where the real route
   writes it — and registers it in the log model package group as ``logs_evaluate.registration``
   says: a PCA model approved or pending as judged; an RCF model judged better waits
   PendingManualApproval until the retraining state machine (rule TrainedLogModel) has put it on
   the log endpoint, and is approved then.

:func:`deploy_log_endpoint` puts an RCF model on the log endpoint by hand, as an earlier deployment
would have (tests use it to set the scene; the product path is the state machine).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anomaly_sentinel.contracts import METADATA_EXECUTION, METADATA_LOG_MODEL, parse_s3_uri
from anomaly_sentinel.drift.logs import LOG_BASELINE_FILE
from anomaly_sentinel.logs.artefacts import PCA_FILE, RCF_MODEL_FILE
from sentinel.emulator import local_client
from sentinel.moto_patches import record_pipeline_steps, registered_step
from sentinel.template import PROJECT_ROOT, Template

if TYPE_CHECKING:
    from sentinel.pipeline_executor import ExecutionResult, PipelineExecutor, TrainingPlan

#: The pipeline parameters of the log route (pipeline/build.py; anomaly_sentinel.training sends them).
DATA_KIND = "DataKind"
LOGS_KIND = "logs"
LOG_FORMAT = "LogFormat"
ROUTE = "Logs"
EVALUATION_FILE = "evaluation.json"
#: The real route's step names (the executor reads its group and endpoint from their arguments).
REGISTER_STEP = f"Register-{ROUTE}"
EVALUATE_STEP = f"Evaluate-{ROUTE}"


def is_log_run(parameters: Mapping[str, str]) -> bool:
    return parameters.get(DATA_KIND) == LOGS_KIND


def model_prefix(execution_id: str) -> str:
    """Where the route's model directory goes (the real route's ``run_uri(route, "model")``)."""
    return f"pipeline/runs/{execution_id}/{ROUTE}/model/"


def _named_step(definition: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    from sentinel.pipeline_executor import iter_steps

    return next((s for s in iter_steps(definition.get("Steps", [])) if s.get("Name") == name), None)


def _deployed(value: Any) -> str | None:
    return value if isinstance(value, str) and value and "${" not in value else None


def log_group(definition: Mapping[str, Any], template: Template) -> str:
    """The group the Register-Logs step names, else the template's LogsModelPackageGroupName."""
    step = _named_step(definition, REGISTER_STEP) or {}
    named = _deployed(step.get("Arguments", {}).get("ModelPackageGroupName"))
    return named or template.parameters["LogsModelPackageGroupName"]


def log_endpoint(definition: Mapping[str, Any], template: Template) -> str:
    """The endpoint the Evaluate-Logs step asks about an RCF incumbent, else LogsEndpointName."""
    step = _named_step(definition, EVALUATE_STEP) or {}
    arguments = step.get("Arguments", {}).get("AppSpecification", {}).get("ContainerArguments") or []
    for index, value in enumerate(arguments[:-1]):
        if value == "--endpoint" and _deployed(arguments[index + 1]):
            return str(arguments[index + 1])
    return template.parameters["LogsEndpointName"]


def processing_image(region: str) -> str:
    """The scikit-learn image a PCA log model is registered with (it is never deployed: scored in Lambda)."""
    images = json.loads((PROJECT_ROOT / "pipeline" / "images.json").read_text(encoding="utf-8"))
    return str(images.get(region, {}).get("ProcessingImage", "sklearn:local"))


def run(executor: PipelineExecutor, result: ExecutionResult, plan: TrainingPlan, execution_id: str) -> None:
    """The log route of one execution (module doc); fills ``result`` like the numeric route does."""
    from sentinel import logfit
    from sentinel.pipeline_executor import PipelineExecutionError, load_script

    judge = load_script("logs_evaluate")
    log_format = plan.parameters.get(LOG_FORMAT, "hdfs")
    definition, template = plan.definition, executor.template
    group, endpoint = log_group(definition, template), log_endpoint(definition, template)
    with tempfile.TemporaryDirectory(dir=executor.work_dir, prefix=f"logs-{execution_id}-") as tmp:
        work = Path(tmp)
        source = _download_input(executor, plan.input_uri, work / "input")
        labels = executor._download(plan.labels_uri, work / "labels") if plan.labels_uri else None
        model_dir, prepared = work / "model", work / "prepared"
        try:
            fit = logfit.fit(
                source,
                log_format,
                labels,
                model_dir,
                seed=executor.seed if executor.seed is not None else logfit.DEFAULT_SEED,
                budget=max(1, min(plan.tuning_max_jobs, executor.max_trials)),
                work_dir=prepared,
            )
        except logfit.LogFitError as exc:
            raise PipelineExecutionError(f"log route: {exc}") from exc
        inputs = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        sessions = judge.real_sessions(prepared / "sessions" / "evaluation.csv")
        keys = {key for _, key, _ in sessions}
        candidate_files = judge.LogModelFiles.read(lambda name: (model_dir / name).read_bytes())
        candidate = judge.session_scores(
            candidate_files, inputs, keys, _candidate_scorer(candidate_files, model_dir)
        )
        found = judge.registry_incumbent(
            executor.client("sagemaker"),
            executor.client("s3"),
            executor.client("sagemaker-runtime"),
            group,
            endpoint,
        )
        incumbent = judge.session_scores(found[1], inputs, keys, found[2]) if found else None
        verdict = judge.compare(
            sessions, candidate, fit.measured.cutoff, incumbent, found[1].choice.cutoff if found else None
        )
        (model_dir / LOG_BASELINE_FILE).write_text(
            json.dumps(judge.oov_baseline(fit.report)), encoding="utf-8"
        )
        evaluation = {
            "detector": fit.detector,
            "detectors": {"rcf": fit.rcf.get("evaluation"), "pca": fit.pca.get("evaluation")},
            "incumbent_package": found[0] if found else None,
            **verdict,
            **judge.registration(fit.detector, verdict),
        }
        (model_dir / EVALUATION_FILE).write_text(json.dumps(evaluation, indent=2), encoding="utf-8")
        uri = _upload_dir(executor, model_dir, model_prefix(execution_id))
    result.preprocess = dict(fit.report)
    result.evaluation = evaluation
    result.trials = list(fit.rcf.get("trials") or [])
    result.hyperparameters = {
        "feature_dim": int(fit.report.get("feature_dim", 0)),
        **{k: int(v) for k, v in fit.rcf.items() if k in ("num_trees", "num_samples_per_tree")},
    }
    result.log_fit = {
        "detector": fit.detector,
        "f1": fit.f1,
        "precision": fit.measured.precision,
        "recall": fit.measured.recall,
        "false_alerts_per_10k": fit.measured.false_alerts_per_10k,
        "sessions": fit.sessions,
        "templates": fit.templates,
        "lines": fit.report.get("lines"),
        "labels": (fit.report.get("labels") or {}).get("source"),
        "model_uri": uri,
        "approval": evaluation["approval"],
        "verdict": evaluation["verdict"],
        "reason": evaluation["reason"],
    }
    image = plan.image_uri if fit.detector == "rcf" else processing_image(executor.region)
    _register(
        executor,
        result,
        group=group,
        uri=uri,
        image=image,
        detector=fit.detector,
        f1=fit.f1,
        approval=evaluation["approval"],
    )


def _candidate_scorer(files: Any, model_dir: Path) -> Any:
    """PCA from its file; RCF with the local forest of ``model.tar.gz`` (what the endpoint would serve)."""
    if files.pca is not None:
        return files.scorer(None)
    import numpy as np

    from sentinel.rcf import RandomCutForest

    forest = RandomCutForest.from_bytes((model_dir / RCF_MODEL_FILE).read_bytes())
    return lambda rows: [float(s) for s in forest.score_array(np.asarray(rows, dtype=np.float64))]


def _download_input(executor: PipelineExecutor, uri: str, folder: Path) -> Path:
    """A file, or every object under a prefix (``s3://b/logs/training/``) into a folder."""
    bucket, key = parse_s3_uri(uri, key_required=False)
    if key and not key.endswith("/"):
        return executor._download(uri, folder)
    folder.mkdir(parents=True, exist_ok=True)
    s3 = executor.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for item in page.get("Contents", []):
            target = folder / item["Key"][len(key) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(target))
    return folder


def _upload_dir(executor: PipelineExecutor, folder: Path, prefix: str) -> str:
    s3 = executor.client("s3")
    for path in sorted(folder.iterdir()):
        if path.is_file():
            kind = "application/json" if path.suffix == ".json" else "application/octet-stream"
            s3.put_object(
                Bucket=executor.bucket, Key=prefix + path.name, Body=path.read_bytes(), ContentType=kind
            )
    return f"s3://{executor.bucket}/{prefix}"


def _register(
    executor: PipelineExecutor,
    result: ExecutionResult,
    *,
    group: str,
    uri: str,
    image: str,
    detector: str,
    f1: float,
    approval: str,
) -> None:
    """The package as Register-Logs makes it: the winner's artefact, the directory in the metadata."""
    rcf = detector == "rcf"
    result.model_data_url = uri + (RCF_MODEL_FILE if rcf else PCA_FILE)
    result.evaluation_uri = uri + EVALUATION_FILE
    package = executor.client("sagemaker").create_model_package(
        ModelPackageGroupName=group,
        ModelPackageDescription=f"Log {detector.upper()} model of pipeline execution "
        f"{result.execution_arn.rsplit('/', 1)[-1]}",
        InferenceSpecification={
            "Containers": [{"Image": image, "ModelDataUrl": result.model_data_url}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus=approval,
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": result.evaluation_uri}
            }
        },
        CustomerMetadataProperties={
            METADATA_EXECUTION: result.execution_arn,
            METADATA_LOG_MODEL: uri,
            "route": f"{ROUTE}-Local",
            "detector": detector,
            "objective_metric": "evaluation:f1",
            "objective_value": f"{f1:.6g}",
        },
    )
    result.model_package_arn = package["ModelPackageArn"]
    record_pipeline_steps(result.execution_arn, [registered_step(result.model_package_arn, REGISTER_STEP)])


def deploy_log_endpoint(template: Template, model_data_url: str, image: str = "rcf:local") -> str:
    """Serve an RCF log model on the log endpoint (create, or point it at a new config); its config name."""
    sagemaker = local_client("sagemaker")
    name = template.parameters["LogsEndpointName"]
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    sagemaker.create_model(
        ModelName=f"{name}-m-{stamp}",
        PrimaryContainer={"Image": image, "ModelDataUrl": model_data_url},
        ExecutionRoleArn=template.get_att("SageMakerExecutionRole", "Arn"),
    )
    config = f"{name}-c-{stamp}"
    sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-m-{stamp}",
                "ServerlessConfig": {
                    "MemorySizeInMB": int(template.parameters["ServerlessMemorySizeInMB"]),
                    "MaxConcurrency": int(template.parameters["ServerlessMaxConcurrency"]),
                },
            }
        ],
    )
    try:
        sagemaker.describe_endpoint(EndpointName=name)
    except sagemaker.exceptions.ClientError:
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)
    else:  # UpdateEndpoint: moto lacks it; sentinel.moto_patches adds it to the twin
        sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=config)
    return config


# ---------------------------------------------------------------------------- a log model in service

#: What ``sentinel invoke ScoreLogsFunction`` trains first: a generated HDFS log (sentinel.loggen).
SERVE_BLOCKS = 1000
SERVE_SEED = 5


def scores_logs(environment: Mapping[str, str]) -> bool:
    """Whether a function (by its template environment) scores log files: it needs a log model."""
    return "LOGS_PREFIX" in environment


def serve_log_model(world: Any, say: Any) -> dict[str, str]:
    """Train a log model through the real route (a raw log uploaded under LogsTrainingPrefix, the
    pipeline started as StartPipelineFunction starts it, the local executor), approved by the route
    since nothing is in service; an RCF winner is also put on the log endpoint. Returns the variables
    that reach the local endpoint."""
    from sentinel.loggen import HdfsLog

    template = world.template
    with tempfile.TemporaryDirectory(prefix="serve-log-model-") as tmp:
        path = Path(tmp) / "hdfs.log"
        HdfsLog(SERVE_BLOCKS, seed=SERVE_SEED).write(path)
        bucket, key = (
            template.ref("DataBucket"),
            template.parameters["LogsTrainingPrefix"] + "invoke-hdfs.log",
        )
        local_client("s3").upload_file(str(path), bucket, key)
    arn = local_client("sagemaker").start_pipeline_execution(
        PipelineName=template.parameters["PipelineName"],
        PipelineExecutionDisplayName="logs-invoke-serve-model",
        PipelineParameters=[
            {"Name": "InputDataUri", "Value": f"s3://{bucket}/{key}"},
            {"Name": DATA_KIND, "Value": LOGS_KIND},
            {"Name": LOG_FORMAT, "Value": "hdfs"},
        ],
    )["PipelineExecutionArn"]
    result = world.pipelines.run(arn)
    if result.status != "Succeeded" or not result.model_package_arn:
        from sentinel.world import TrainingFailed

        raise TrainingFailed(f"log route execution {arn} failed: {result.failure_reason}")
    fit = result.log_fit
    say(
        f"log route trained on s3://{bucket}/{key} ({SERVE_BLOCKS} generated HDFS blocks): "
        f"{fit['templates']} templates, {fit['detector'].upper()} F1 {fit['f1']:.3f}, "
        f"{result.model_package_arn} {fit['approval']}"
    )
    if fit["detector"] == "rcf":
        say(f"{deploy_through_retraining(world, result.execution_arn)} (retraining state machine)")
    return dict(world.endpoint_environ)


def deploy_through_retraining(world: Any, execution_arn: str) -> str:
    """Run the retraining state machine's real ASL on a log route run (``kind: logs``), as the
    TrainedLogModel rule does after a log upload; returns its outcome, or raises TrainingFailed."""
    from sentinel.stepfunctions import run_execution
    from sentinel.world import TrainingFailed

    name = f"serve-logs-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
    payload = {"pipelineExecutionArn": execution_arn, "kind": LOGS_KIND, "trigger": "manual",
               "reason": "sentinel invoke: a log model to score with"}  # fmt: skip
    described = run_execution(
        local_client("stepfunctions"), world.template.ref("RetrainStateMachine"), name, payload
    )
    output = described.get("output") if described["status"] == "SUCCEEDED" else None
    outcome = str(((output or {}).get("outcome") or {}).get("status", ""))
    if outcome not in ("deployed", "in-service"):
        raise TrainingFailed(
            f"log model deployment {name} ended {described['status']} ({outcome or described.get('error')})"
        )
    return f"{world.template.parameters['LogsEndpointName']}: {outcome}"


#: events/objects/hdfs-sample.log: 40 generated blocks, a high fault share so the sample shows faults.
SAMPLE_BLOCKS, SAMPLE_SEED, SAMPLE_SHARE = 40, 7, 0.15


def log_sample() -> bytes:
    """The sample log of events/log-object-created.json (a test keeps the committed file equal)."""
    from sentinel.loggen import HdfsLog

    log = HdfsLog(SAMPLE_BLOCKS, seed=SAMPLE_SEED, anomaly_share=SAMPLE_SHARE)
    return b"".join(line.text.encode("utf-8") + b"\n" for line in log.lines())
