"""The log route end to end on the emulator: upload → StartPipelineFunction → pipeline (local executor)
→ log model registered → a new log file scored by ScoreLogsFunction with that model.

Everything is the deployed stack's: template.yaml's functions and rules, the built definition as the
publisher rendered it (DataKind and LogFormat are its parameters), the project's generator for the
logs (sentinel.loggen, HDFS-like block lifecycles with labelled faults).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from anomaly_sentinel.contracts import METADATA_LOG_MODEL
from sentinel.loggen import HdfsLog
from sentinel.moto_patches import start_as_executing
from sentinel.template import Template
from tests.support import s3_object_created
from tests.support.logs import read_csv_rows

pytestmark = pytest.mark.slow

BLOCKS = 1200


@pytest.fixture
def executing(world: Any) -> Any:
    """Pipeline executions start "Executing" (the local executor moves them on), as on SageMaker."""
    with start_as_executing():
        yield


def upload(bucket: str, key: str, path: Path) -> dict[str, Any]:
    body = path.read_bytes()
    put = boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return s3_object_created(
        bucket, key, size=len(body), version_id=put["VersionId"], etag=put["ETag"].strip('"')
    )


def generated(tmp_path: Path, name: str, seed: int) -> tuple[Path, Path]:
    log, labels = tmp_path / f"{name}.log", tmp_path / f"{name}-labels.csv"
    HdfsLog(BLOCKS, seed=seed, anomaly_share=0.05).write(log, labels)
    return log, labels


def start(lambda_function: Any, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = lambda_function("StartPipelineFunction")(event)
    assert result["status"] == "started", result
    return result


def test_a_raw_log_upload_trains_registers_and_puts_a_log_model_in_service(
    stack: Template, world: Any, executing: Any, lambda_function: Any, tmp_path: Path
):
    # GIVEN the deployed stack and a generated HDFS log uploaded under LogsTrainingPrefix
    bucket = stack.ref("DataBucket")
    log, _ = generated(tmp_path, "train", seed=11)
    key = f"{stack.parameters['LogsTrainingPrefix']}hdfs-week-1.log"
    started = start(lambda_function, upload(bucket, key, log))
    # WHEN the pipeline execution the trigger started runs
    sagemaker = boto3.client("sagemaker")
    parameters = sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=started["pipeline_execution_arn"]
    )["PipelineParameters"]
    (run,) = world.pipelines.run_pending()
    # THEN it ran the log route (the trigger's parameters), named logs-… (never adopted by retraining)
    assert {p["Name"]: p["Value"] for p in parameters} == {
        "InputDataUri": f"s3://{bucket}/{key}",
        "DataKind": "logs",
        "LogFormat": "hdfs",
    }
    assert started["display_name"].startswith("logs-hdfs-week-1-")
    assert run.status == "Succeeded", run.failure_reason
    fit = run.log_fit
    assert fit["detector"] in ("rcf", "pca")
    assert fit["sessions"] == BLOCKS
    assert 0.0 <= fit["f1"] <= 1.0
    # ... and registered the winner in the log group, approved: there was no log model in service
    group = stack.parameters["LogsModelPackageGroupName"]
    (summary,) = sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    assert package["ModelApprovalStatus"] == "Approved"
    assert (fit["approval"], fit["reason"]) == ("Approved", "no log model in service")
    uri = package["CustomerMetadataProperties"][METADATA_LOG_MODEL]
    assert uri == f"s3://{bucket}/pipeline/runs/{run.execution_arn.rsplit('/', 1)[-1]}/Logs/model/"
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=uri.removeprefix(f"s3://{bucket}/"))
    names = {item["Key"].rsplit("/", 1)[-1] for item in listed["Contents"]}
    assert {"templates.json", "vector_spec.json", "detector.json", "pca.json", "model.tar.gz"} <= names
    assert {"log_baseline.json", "evaluation.json"} <= names
    artefact = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert artefact == uri + ("model.tar.gz" if fit["detector"] == "rcf" else "pca.json")
    # ... and nothing was registered in the numeric group
    numeric = sagemaker.list_model_packages(ModelPackageGroupName=stack.parameters["ModelPackageGroupName"])
    assert numeric["ModelPackageSummaryList"] == []


def test_a_second_run_is_judged_against_the_model_in_service_on_the_same_labelled_sessions(
    stack: Template, world: Any, executing: Any, lambda_function: Any, tmp_path: Path
):
    # GIVEN a first log model in service, trained with the log's labels
    bucket = stack.ref("DataBucket")
    log, labels = generated(tmp_path, "train", seed=11)
    boto3.client("s3").upload_file(str(labels), bucket, "labels/hdfs.csv")
    sagemaker = boto3.client("sagemaker")

    def run_with_labels() -> Any:
        sagemaker.start_pipeline_execution(
            PipelineName=stack.parameters["PipelineName"],
            PipelineExecutionDisplayName="logs-manual",
            PipelineParameters=[
                {"Name": "InputDataUri", "Value": f"s3://{bucket}/logs/training/hdfs.log"},
                {"Name": "DataKind", "Value": "logs"},
                {"Name": "LabelsUri", "Value": f"s3://{bucket}/labels/hdfs.csv"},
            ],
        )
        (run,) = world.pipelines.run_pending()
        assert run.status == "Succeeded", run.failure_reason
        return run

    boto3.client("s3").upload_file(str(log), bucket, "logs/training/hdfs.log")
    first = run_with_labels()
    # WHEN the same data is trained again
    second = run_with_labels()
    # THEN the candidate and the model in service were scored on the same real sessions, labels from
    # the file, each read through its own template table: equal, so the new one waits for a person
    evaluation = second.evaluation
    assert first.log_fit["labels"] == "labels-file"
    assert evaluation["incumbent_package"] == first.model_package_arn
    assert evaluation["sessions"] > 0
    assert evaluation["positives"] > 0
    assert evaluation["candidate"] == evaluation["incumbent"]
    assert evaluation["approval"] == "PendingManualApproval"
    described = sagemaker.describe_model_package(ModelPackageName=second.model_package_arn)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"


def test_a_new_log_file_is_scored_with_the_log_model_the_route_registered(
    stack: Template, world: Any, executing: Any, lambda_function: Any, tmp_path: Path
):
    # GIVEN a log model trained by the route and in service (a PCA winner here: no endpoint needed)
    bucket = stack.ref("DataBucket")
    log, _ = generated(tmp_path, "train", seed=11)
    start(lambda_function, upload(bucket, "logs/training/hdfs.log", log))
    (run,) = world.pipelines.run_pending()
    if run.log_fit["detector"] != "pca":
        pytest.skip("the RCF winner needs the log endpoint: covered by test_score_logs_handler")
    # WHEN a later log with faults lands under LogsPrefix
    later, labels = generated(tmp_path, "later", seed=12)
    result = lambda_function("ScoreLogsFunction")(upload(bucket, "logs/incoming/later.log", later))
    # THEN every block is a scored session and the flagged ones are mostly real faults
    assert result["status"] == "scored"
    assert (result["sessions"], result["scored"]) == (BLOCKS, BLOCKS)
    assert result["rejected_lines"] == 0
    faulty = {row.split(",")[0] for row in labels.read_text().splitlines()[1:] if ",Anomaly," in row}
    flagged = {r[0] for r in read_csv_rows(result["scores_uri"])[1:] if r[2] == "1"}
    assert len(flagged) == result["anomalies"] > 0
    assert len(flagged & faulty) / len(flagged) >= 0.5
    assert json.loads(json.dumps(result))["model_package"] == run.model_package_arn
