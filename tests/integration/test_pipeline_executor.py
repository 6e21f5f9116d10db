"""The local pipeline executor on moto: preprocess → train → score_stats → register, with status events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from sentinel.moto_patches import start_as_executing
from sentinel.pipeline_executor import (
    STATUS_EVENT,
    DefinitionError,
    PipelineExecutor,
    evaluation_endpoint,
    resolve_value,
    tuning_ranges,
)
from sentinel.rcf import RandomCutForest
from sentinel.series import NYC_TAXI
from sentinel.template import PROJECT_ROOT, PhysicalResource, Template
from tests.support import load_event

PIPELINE = "executor-test"
BUCKET = "executor-data"
GROUP = "executor-test-group"
RCF_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1"


def sdk_definition(feature_dim: Any = None) -> dict[str, Any]:
    """Shaped as sagemaker 2.257.7 writes it: parameters, a ConditionStep holding the Tune step, and
    a RegisterModel step (only what the executor reads is filled in)."""
    static = feature_dim or {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.ShingleSize"}]}}
    return {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [
            {"Name": "InputDataUri", "Type": "String", "DefaultValue": "s3://nowhere/data.csv"},
            {"Name": "LabelsUri", "Type": "String", "DefaultValue": "none"},
            {"Name": "ShingleSize", "Type": "Integer", "DefaultValue": 48},
            {"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": "PendingManualApproval"},
        ],
        "Steps": [
            {
                "Name": "Route",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [],
                    "IfSteps": [
                        {"Name": "Channels", "Type": "Processing", "Arguments": {}},
                        {
                            "Name": "Tune",
                            "Type": "Tuning",
                            "Arguments": {
                                "HyperParameterTuningJobConfig": {
                                    "ParameterRanges": {
                                        "IntegerParameterRanges": [
                                            {"Name": "num_trees", "MinValue": "20", "MaxValue": "100"},
                                            {
                                                "Name": "num_samples_per_tree",
                                                "MinValue": "64",
                                                "MaxValue": "256",
                                            },
                                        ]
                                    }
                                },
                                "TrainingJobDefinition": {
                                    "StaticHyperParameters": {"feature_dim": static},
                                    "AlgorithmSpecification": {"TrainingImage": RCF_IMAGE},
                                },
                            },
                        },
                    ],
                    "ElseSteps": [],
                },
            },
            {
                "Name": "Register",
                "Type": "RegisterModel",
                "Arguments": {
                    "ModelPackageGroupName": GROUP,
                    "ModelApprovalStatus": {"Get": "Parameters.ModelApprovalStatus"},
                },
            },
        ],
    }


@pytest.fixture
def stack(aws: None) -> Template:
    """Only what the executor reads from the stack: the template's parameters and a data bucket.
    (The full LocalStack deploy is the e2e tests' business; these tests stay independent of it.)"""
    template = Template(physical={"DataBucket": PhysicalResource(BUCKET, {"Arn": f"arn:aws:s3:::{BUCKET}"})})
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return template


@pytest.fixture
def setup(stack: Template) -> dict[str, Any]:
    """A pipeline with an SDK-shaped definition, its model package group, one week of NYC taxi
    uploaded, and a queue receiving every aws.sagemaker event on the default bus."""
    sagemaker, s3 = boto3.client("sagemaker"), boto3.client("s3")
    sagemaker.create_pipeline(
        PipelineName=PIPELINE,
        PipelineDefinition=json.dumps(sdk_definition()),
        RoleArn="arn:aws:iam::123456789012:role/sentinel-pipeline",
    )
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    bucket = stack.ref("DataBucket")
    week = "".join(NYC_TAXI.read_text(encoding="utf-8").splitlines(keepends=True)[: 1 + 7 * 48])
    s3.put_object(Bucket=bucket, Key="training/week.csv", Body=week.encode())
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue = sqs.create_queue(QueueName="sagemaker-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="sagemaker-events", EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
    events.put_targets(Rule="sagemaker-events", Targets=[{"Id": "q", "Arn": arn}])
    return {"stack": stack, "bucket": bucket, "queue": queue, "input": f"s3://{bucket}/training/week.csv"}


def start(**parameters: str) -> str:
    response = boto3.client("sagemaker").start_pipeline_execution(
        PipelineName=PIPELINE,
        PipelineExecutionDisplayName="upload-week",
        PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
    )
    return str(response["PipelineExecutionArn"])


def received_events(queue: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def describe_status(arn: str) -> str:
    return str(
        boto3.client("sagemaker").describe_pipeline_execution(PipelineExecutionArn=arn)[
            "PipelineExecutionStatus"
        ]
    )


def test_executor_tunes_evaluates_registers_and_succeeds_within_the_definitions_ranges(setup):
    # GIVEN an execution started with InputDataUri and a ShingleSize overriding the default 48
    arn = start(InputDataUri=setup["input"], ShingleSize="24")
    executor = PipelineExecutor(setup["stack"], pipeline_name=PIPELINE)
    # WHEN the executor runs what is pending
    (result,) = executor.run_pending()
    # THEN it succeeded through Executing, and moto says so
    assert result.status == "Succeeded", result.failure_reason
    assert result.statuses == ["Executing", "Succeeded"]
    assert describe_status(arn) == "Succeeded"
    # AND it searched the local grid clamped into the Tune step's ranges and to the 219 rows of the
    # train channel (a tree cannot draw more samples than there are rows: 256 and 512 are one
    # forest here, tried once), keeping the best trial
    tried = [(t["num_trees"], t["num_samples_per_tree"]) for t in result.trials]
    assert tried == [(50, 219), (100, 219), (50, 128)]
    best = max(result.trials, key=lambda t: t["f1"])
    assert result.hyperparameters == {
        "feature_dim": 24,
        "num_trees": best["num_trees"],
        "num_samples_per_tree": best["num_samples_per_tree"],
        "shingle_size": 24,
    }
    execution_id = arn.rsplit("/", 1)[-1]
    s3 = boto3.client("s3")
    model_key = f"models/{execution_id}/model.tar.gz"
    assert result.model_data_url == f"s3://{setup['bucket']}/{model_key}"
    model = RandomCutForest.from_bytes(s3.get_object(Bucket=setup["bucket"], Key=model_key)["Body"].read())
    assert (model.feature_dim, model.num_trees) == (24, best["num_trees"])
    # AND score_stats.json sits next to it, computed on the train channel (the oldest 70 % of rows)
    stats = json.loads(
        s3.get_object(Bucket=setup["bucket"], Key=f"models/{execution_id}/score_stats.json")["Body"].read()
    )
    rows = 7 * 48 - 24 + 1
    assert stats["count"] == result.preprocess["train_rows"] == rows - 2 * round(rows * 0.15)
    assert set(stats["quantiles"]) >= {"0.5", "0.9", "0.95", "0.99", "0.999"}
    # AND evaluation.json judges it against the z-score baseline (nothing serves yet)
    evaluation = json.loads(
        s3.get_object(Bucket=setup["bucket"], Key=f"models/{execution_id}/evaluation.json")["Body"].read()
    )
    assert evaluation["reference"] == "baseline"
    assert evaluation["incumbent"] is None
    assert evaluation["set"]["training_data"]["source"] == "upload"
    assert set(evaluation["candidate"]) >= {"f1", "precision", "recall", "cutoff"}
    # AND a model package is registered pending approval, naming statistics, evaluation and data
    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=result.model_package_arn)
    assert package["ModelPackageGroupName"] == GROUP
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["InferenceSpecification"]["Containers"][0] == {
        "Image": RCF_IMAGE,
        "ModelDataUrl": result.model_data_url,
    }
    metadata = package["CustomerMetadataProperties"]
    assert metadata["pipeline_execution_arn"] == arn
    assert metadata["score_stats_uri"] == f"s3://{setup['bucket']}/models/{execution_id}/score_stats.json"
    assert metadata["evaluation_uri"] == f"s3://{setup['bucket']}/models/{execution_id}/evaluation.json"
    assert metadata["training_data"] == f"upload {setup['input']}"
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == result.evaluation_uri
    assert package["ModelMetrics"]["ModelDataQuality"]["Statistics"]["S3Uri"] == result.score_stats_uri
    # AND the data-quality baseline of the train channel sits beside the model, registered with it
    baseline = f"models/{execution_id}/baseline"
    quality = package["DriftCheckBaselines"]["ModelDataQuality"]
    assert quality["Statistics"]["S3Uri"] == f"s3://{setup['bucket']}/{baseline}/statistics.json"
    assert quality["Constraints"]["S3Uri"] == f"s3://{setup['bucket']}/{baseline}/constraints.json"
    statistics = json.loads(
        s3.get_object(Bucket=setup["bucket"], Key=f"{baseline}/statistics.json")["Body"].read()
    )
    assert statistics["dataset"]["item_count"] == result.preprocess["train_rows"]  # the train channel
    assert [f["name"] for f in statistics["features"]] == [f"_c{i}" for i in range(24)]


def test_executor_emits_one_status_event_per_change_shaped_like_sagemakers(setup):
    # GIVEN a started execution
    arn = start(InputDataUri=setup["input"], ShingleSize="12")
    # WHEN it runs
    PipelineExecutor(setup["stack"], pipeline_name=PIPELINE).run_pending()
    # THEN two status-change events reach the default bus: Executing, then Succeeded after Executing
    events = received_events(setup["queue"])
    assert [e["detail"]["currentPipelineExecutionStatus"] for e in events] == ["Executing", "Succeeded"]
    assert events[1]["detail"]["previousPipelineExecutionStatus"] == "Executing"
    # AND each is shaped as the real event fixture (same source, type, resources, detail keys)
    real = load_event("SageMakerModelBuildingPipelineExecutionStatusChange")
    for event in events:
        assert event["source"] == real["source"]
        assert event["detail-type"] == real["detail-type"] == STATUS_EVENT
        assert event["resources"] == [arn.split("/execution/")[0], arn]
        assert event["detail"]["pipelineExecutionArn"] == arn
        assert event["detail"]["pipelineExecutionDisplayName"] == "upload-week"
        assert set(event["detail"]) <= set(real["detail"])
    assert set(events[1]["detail"]) == set(real["detail"])


def test_executor_runs_each_execution_once(setup):
    # GIVEN an execution the executor has already run
    start(InputDataUri=setup["input"], ShingleSize="12")
    executor = PipelineExecutor(setup["stack"], pipeline_name=PIPELINE)
    executor.run_pending()
    # WHEN it is asked again, and a second execution starts
    again = executor.run_pending()
    second = start(InputDataUri=setup["input"], ShingleSize="12", ModelApprovalStatus="Approved")
    (result,) = executor.run_pending()
    # THEN nothing is rerun, the new one runs, with the approval status its parameters asked for
    assert again == []
    assert result.execution_arn == second
    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=result.model_package_arn)
    assert package["ModelApprovalStatus"] == "Approved"


def test_an_upload_named_like_a_browser_download_registers_with_metadata_sagemaker_accepts(setup):
    # GIVEN an upload named as a browser saves a second copy: "data (1).csv" (parentheses and a
    # space; SageMaker's CustomerMetadataValue allows letters, spaces, digits and _.:/=+-@ only)
    s3 = boto3.client("s3")
    week = s3.get_object(Bucket=setup["bucket"], Key="training/week.csv")["Body"].read()
    s3.put_object(Bucket=setup["bucket"], Key="training/data (1).csv", Body=week)
    uri = f"s3://{setup['bucket']}/training/data (1).csv"
    start(InputDataUri=uri, ShingleSize="12")
    # WHEN the strict twin runs it to registration
    (result,) = PipelineExecutor(setup["stack"], pipeline_name=PIPELINE).run_pending()
    # THEN it registered: the metadata names the file with the refused characters replaced
    assert result.status == "Succeeded", result.failure_reason
    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=result.model_package_arn)
    assert package["CustomerMetadataProperties"]["training_data"] == (
        f"upload s3://{setup['bucket']}/training/data _1_.csv"
    )
    # AND the exact location is kept where the metadata points: evaluation.json
    evaluation_key = package["CustomerMetadataProperties"]["evaluation_uri"].split("/", 3)[3]
    evaluation = json.loads(s3.get_object(Bucket=setup["bucket"], Key=evaluation_key)["Body"].read())
    assert evaluation["set"]["training_data"]["uri"] == uri


@pytest.mark.parametrize(
    ("key", "body", "reason"),
    [
        ("training/missing.csv", None, "cannot download s3://"),
        ("training/empty.csv", b"timestamp,value\n", "EmptyInputError"),
        ("training/text.csv", b"timestamp,value\n2014-07-01 00:00:00,abc\n", "NoNumericColumnError"),
    ],
)
def test_executor_failure_marks_the_execution_failed_with_the_reason(setup, key, body, reason):
    # GIVEN an execution whose input is missing, empty or not numeric
    if body is not None:
        boto3.client("s3").put_object(Bucket=setup["bucket"], Key=key, Body=body)
    arn = start(InputDataUri=f"s3://{setup['bucket']}/{key}", ShingleSize="12")
    # WHEN it runs
    (result,) = PipelineExecutor(setup["stack"], pipeline_name=PIPELINE).run_pending()
    # THEN it failed, saying why, and nothing was registered
    assert result.status == "Failed"
    assert reason in (result.failure_reason or "")
    assert result.model_package_arn is None
    assert describe_status(arn) == "Failed"
    summary = boto3.client("sagemaker").list_pipeline_executions(PipelineName=PIPELINE)
    assert reason in summary["PipelineExecutionSummaries"][0]["PipelineExecutionFailureReason"]
    # AND the bus saw Executing then Failed
    events = received_events(setup["queue"])
    assert [e["detail"]["currentPipelineExecutionStatus"] for e in events] == ["Executing", "Failed"]


def test_executor_refuses_a_feature_dim_that_does_not_match_the_train_channel(setup):
    # GIVEN a pipeline whose training step fixes feature_dim at 48 while the data is shingled by 12
    boto3.client("sagemaker").update_pipeline(
        PipelineName=PIPELINE, PipelineDefinition=json.dumps(sdk_definition(feature_dim="48"))
    )
    start(InputDataUri=setup["input"], ShingleSize="12")
    # WHEN it runs
    (result,) = PipelineExecutor(setup["stack"], pipeline_name=PIPELINE).run_pending()
    # THEN it fails as the built-in would, naming both numbers
    assert result.status == "Failed"
    assert "feature_dim 48 does not match the 12 columns" in (result.failure_reason or "")


def test_executor_start_as_executing_hides_motos_instant_success(setup):
    # GIVEN moto patched so that new executions start Executing
    with start_as_executing():
        arn = start(InputDataUri=setup["input"], ShingleSize="12")
        # WHEN a poller looks before the executor ran
        early = describe_status(arn)
        PipelineExecutor(setup["stack"], pipeline_name=PIPELINE).run_pending()
    # THEN it saw Executing, and Succeeded only once the model was registered
    assert early == "Executing"
    assert describe_status(arn) == "Succeeded"


@pytest.fixture(scope="module")
def real_definition() -> str:
    """The pipeline definition pipeline/build.py builds (committed file, else built with the SDK offline)."""
    committed = PROJECT_ROOT / "pipeline" / "definition.json"
    if committed.exists():
        return committed.read_text(encoding="utf-8")
    from pipeline.build import build_definition

    return json.dumps(build_definition())


@pytest.mark.slow
def test_executor_runs_the_real_pipeline_definition_as_deployed(setup, real_definition):
    # GIVEN the real definition, rendered as the publisher renders it at deploy time
    from pipeline.publisher.app import render

    rendered = render(
        real_definition,
        {
            "DataBucket": setup["bucket"],
            "SageMakerExecutionRoleArn": "arn:aws:iam::123456789012:role/sentinel-sagemaker",
            "ModelPackageGroupName": GROUP,
            "EndpointName": "executor-test-endpoint",
            "CodeDigest": "0" * 12,
            "RcfImage": RCF_IMAGE,
            "ProcessingImage": "sklearn-image",
            "SparkImage": "spark-image",
            "LogsModelPackageGroupName": "executor-test-logs",
            "LogsEndpointName": "executor-test-logs",
        },
    )
    boto3.client("sagemaker").create_pipeline(
        PipelineName="real", PipelineDefinition=rendered, RoleArn="arn:aws:iam::123456789012:role/r"
    )
    boto3.client("sagemaker").start_pipeline_execution(
        PipelineName="real",
        PipelineParameters=[
            {"Name": "InputDataUri", "Value": setup["input"]},
            {"Name": "ShingleSize", "Value": "24"},
            {"Name": "TuningMaxJobs", "Value": "2"},
        ],
    )
    # WHEN the executor runs it
    (result,) = PipelineExecutor(setup["stack"], pipeline_name="real").run_pending()
    # THEN feature_dim came from the channels summary (JsonGet), the search from the Tune step's
    # ranges within TuningMaxJobs, and the Evaluate step's endpoint (none yet) gave no incumbent
    assert result.status == "Succeeded", result.failure_reason
    assert result.hyperparameters["feature_dim"] == 24
    # (samples per tree at most the train channel's 219 rows, so 256 and 512 are one trial)
    assert [(t["num_trees"], t["num_samples_per_tree"]) for t in result.trials] == [(50, 219), (100, 219)]
    assert result.evaluation["reference"] == "baseline"
    # AND the package went to the rendered group, with the rendered image, pending approval
    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=result.model_package_arn)
    assert package["ModelPackageGroupName"] == GROUP
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["InferenceSpecification"]["Containers"][0]["Image"] == RCF_IMAGE


# ---------------------------------------------------------------------------- definition parsing


def test_executor_resolves_sdk_expressions_against_parameters_and_the_summary():
    # GIVEN the expressions the SDK writes for a hyperparameter bound to a parameter or to a JsonGet
    joined = {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.ShingleSize"}]}}
    json_get = {"Std:JsonGet": {"Path": "feature_dim", "PropertyFile": {"Get": "Steps.P.PropertyFiles.S"}}}
    # WHEN / THEN they resolve against the execution's parameters and the preprocess summary
    assert resolve_value(joined, {"ShingleSize": "24"}) == "24"
    assert resolve_value("50", {}) == "50"
    assert resolve_value({"Std:Join": {"On": "", "Values": [json_get]}}, {}, {"feature_dim": 7}) == "7"
    # AND what only SageMaker knows (step properties) is refused by name
    with pytest.raises(DefinitionError, match="feature_dim"):
        resolve_value(json_get, {}, {})
    with pytest.raises(DefinitionError, match=r"Steps\.Train"):
        resolve_value({"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}, {})


def test_executor_reads_the_tuning_ranges_and_the_evaluate_steps_endpoint_from_the_definition(
    real_definition,
):
    definition = json.loads(real_definition)
    # WHEN the definition is read THEN the Tune step's ranges and the Evaluate step's endpoint are found
    assert tuning_ranges(definition, {}) == {"num_trees": (50, 400), "num_samples_per_tree": (128, 2048)}
    rendered = json.loads(real_definition.replace("${EndpointName}", "the-endpoint"))
    assert evaluation_endpoint(rendered, {}) == "the-endpoint"
    # an unrendered placeholder is not an endpoint name
    assert evaluation_endpoint(definition, {}) is None


@pytest.mark.slow
def test_a_run_started_with_no_parameters_trains_on_the_recent_window_not_the_upload(setup, real_definition):
    # GIVEN the real definition as deployed, an upload in the bucket, and 10 days of scored traffic
    # in the production dataset (rows of 8 features: what clients send the endpoint)
    from anomaly_sentinel.dataset import DatasetWriter
    from pipeline.publisher.app import render

    bucket, endpoint = setup["bucket"], "executor-test-endpoint"
    values = {
        "DataBucket": bucket,
        "SageMakerExecutionRoleArn": "arn:aws:iam::123456789012:role/sentinel-sagemaker",
        "ModelPackageGroupName": GROUP,
        "EndpointName": endpoint,
        "CodeDigest": "0" * 12,
        "RcfImage": RCF_IMAGE,
        "ProcessingImage": "sklearn-image",
        "SparkImage": "spark-image",
        "LogsModelPackageGroupName": "executor-test-logs",
        "LogsEndpointName": "executor-test-logs",
    }
    sagemaker, s3 = boto3.client("sagemaker"), boto3.client("s3")
    sagemaker.create_pipeline(
        PipelineName="real",
        PipelineDefinition=render(real_definition, values),
        RoleArn="arn:aws:iam::123456789012:role/sentinel-sagemaker",  # AWS: 12-digit account
    )
    first = datetime(2026, 11, 1, tzinfo=UTC)
    for day in range(20):
        start_of_day = first + timedelta(days=day)
        with DatasetWriter(
            endpoint, source_uri=f"s3://bucket/capture/{day}.jsonl", fallback_time=start_of_day
        ) as writer:
            for hour in range(24):
                moment = start_of_day + timedelta(hours=hour)
                row = ",".join(f"{10 + day + (hour + j) % 24 / 10:g}" for j in range(8))
                writer.add(moment.isoformat(), 1.0, row)
            for file in writer.files():
                s3.put_object(Bucket=bucket, Key=file.key, Body=file.handle.read())
    # WHEN the pipeline is started as monitoring-triggered retraining starts it: with no parameters
    arn = sagemaker.start_pipeline_execution(PipelineName="real")["PipelineExecutionArn"]
    (result,) = PipelineExecutor(setup["stack"], pipeline_name="real", max_trials=2).run_pending()
    # THEN it succeeded on the last 14 days of stored traffic, rows as stored (no shingling)
    assert result.status == "Succeeded", result.failure_reason
    data = result.training_data
    assert data["source"] == "production-window"
    assert data["uri"] == f"s3://{bucket}/dataset/endpoint={endpoint}/"
    assert (data["start"], data["end"]) == ("2026-11-06T23:00:00Z", "2026-11-20T23:00:00Z")
    assert data["rows_read"] - data["rows_outside_window"] == 14 * 24
    # AND the evaluation knows a day holds 24 rows, so false alerts are counted per day
    assert result.evaluation["set"]["rows_per_day"] == 24.0
    assert result.hyperparameters["feature_dim"] == 8
    # AND the package says so
    package = sagemaker.describe_model_package(ModelPackageName=result.model_package_arn)
    assert package["CustomerMetadataProperties"]["training_data"].startswith(
        "production 14-day window 2026-11-06T23:00:00Z..2026-11-20T23:00:00Z of "
    )
    assert "upload" not in package["CustomerMetadataProperties"]["training_data"]
    assert arn == result.execution_arn
