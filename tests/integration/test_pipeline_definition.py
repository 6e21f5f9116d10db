"""The committed pipeline definition (pipeline/definition.json): fresh, offline, and wired as designed.

Structure is asserted from the JSON itself (what SageMaker receives), not from the builder's objects.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
from typing import Any

import pytest

from pipeline import build
from pipeline.publisher import app as publisher
from sentinel.template import PROJECT_ROOT

DEFINITION = json.loads(build.DEFINITION_PATH.read_text(encoding="utf-8"))
IMAGES = json.loads((build.PIPELINE_DIR / build.IMAGES_FILE).read_text(encoding="utf-8"))
ROUTES = ("Python", "Spark")


def route_steps(route: str) -> dict[str, dict[str, Any]]:
    condition = next(s for s in DEFINITION["Steps"] if s["Name"] == f"Route-{route}")
    return {step["Name"]: step for step in condition["Arguments"]["IfSteps"]}


def step(route: str, kind: str) -> dict[str, Any]:
    steps = route_steps(route)
    name = next(n for n in steps if n.startswith(f"{kind}-{route}"))
    return steps[name]


def channels(route: str) -> dict[str, dict[str, Any]]:
    config = step(route, "Tune")["Arguments"]["TrainingJobDefinition"]
    return {c["ChannelName"]: c for c in config["InputDataConfig"]}


def channels_output(route: str, name: str) -> dict[str, str]:
    return {"Get": f"Steps.Channels-{route}.ProcessingOutputConfig.Outputs['{name}'].S3Output.S3Uri"}


def evaluate(condition: dict[str, Any], parameters: dict[str, Any]) -> bool:
    """The two condition types the definition uses, as SageMaker evaluates them."""
    if condition["Type"] == "Not":
        return not evaluate(condition["Condition"], parameters)
    assert condition["Type"] == "Equals"
    left = condition["LeftValue"]
    value = parameters[left["Get"].removeprefix("Parameters.")] if isinstance(left, dict) else left
    return bool(value == condition["RightValue"])


# ---------------------------------------------------------------------------- freshness (golden file)


def test_committed_definition_and_images_are_what_the_builder_produces_offline(monkeypatch):
    # GIVEN no network at all: any connection attempt is recorded and refused
    attempts: list[Any] = []

    def refuse(self, address):
        attempts.append(address)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    # WHEN the builder runs (as `make pipeline` does)
    fresh = build.outputs(build.DEFINITION_PATH)
    # THEN it reached nothing, and the committed files are identical: rerun `make pipeline` if not
    assert attempts == []
    for path, text in fresh.items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run `make pipeline`"


def test_check_mode_reports_a_stale_file_and_leaves_it_alone(tmp_path, monkeypatch, capsys):
    # GIVEN a definition file that differs from what the builder produces (builder stubbed: the
    # real build is exercised above)
    stale = tmp_path / "definition.json"
    stale.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(build, "outputs", lambda out: {out: "fresh\n"})
    # WHEN checked THEN the builder says so and exits 1, without rewriting it
    assert build.main(["--out", str(stale), "--check"]) == 1
    assert "stale:" in capsys.readouterr().out
    assert stale.read_text() == "{}\n"
    # and `make pipeline` (no --check) rewrites it
    assert build.main(["--out", str(stale)]) == 0
    assert stale.read_text() == "fresh\n"


# ---------------------------------------------------------------------------- parameters and routes


def test_parameters_are_the_contract_with_their_defaults():
    parameters = {p["Name"]: p for p in DEFINITION["Parameters"]}
    # a run started with no parameters at all (monitoring-triggered retraining with the template's
    # defaults) trains on the recent window of the endpoint's production dataset
    assert (
        parameters["InputDataUri"]["DefaultValue"] == "s3://${DataBucket}/dataset/endpoint=${EndpointName}/"
    )
    assert (parameters["WindowDays"]["Type"], parameters["WindowDays"]["DefaultValue"]) == ("Integer", 14)
    assert (parameters["BlendShare"]["Type"], parameters["BlendShare"]["DefaultValue"]) == ("Float", 0.0)
    # "not given" is a non-empty value: SageMaker has rejected "" as a passed parameter value
    assert parameters["LabelsUri"]["DefaultValue"] == build.NONE
    assert parameters["BlendDataUri"]["DefaultValue"] == build.NONE
    assert all(p.get("DefaultValue") != "" for p in parameters.values())
    assert all("DefaultValue" in p for p in parameters.values())
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
    assert set(parameters["ModelApprovalStatus"]["EnumValues"]) == {
        "PendingManualApproval",
        "Approved",
        "Rejected",
    }
    assert (parameters["ShingleSize"]["Type"], parameters["ShingleSize"]["DefaultValue"]) == ("Integer", 48)
    assert (parameters["UseSpark"]["Type"], parameters["UseSpark"]["DefaultValue"]) == ("Boolean", False)
    assert parameters["TuningMaxJobs"]["Type"] == "Integer"
    for name in (
        "ProcessingInstanceType",
        "SparkInstanceType",
        "TrainingInstanceType",
        "TransformInstanceType",
    ):
        assert parameters[name]["DefaultValue"].startswith("ml.")


@pytest.mark.parametrize(
    ("use_spark", "labels", "kind"),
    list(itertools.product((False, True), (build.NONE, "s3://b/l.json"), ("numeric", "logs"))),
)
def test_exactly_one_route_runs_for_every_parameter_combination(use_spark, labels, kind):
    # GIVEN parameters WHEN the top-level ConditionSteps are evaluated
    parameters = {"UseSpark": use_spark, "LabelsUri": labels, "DataKind": kind}
    chosen = [
        s["Name"]
        for s in DEFINITION["Steps"]
        if all(evaluate(c, parameters) for c in s["Arguments"]["Conditions"])
    ]
    # THEN exactly one chain runs: the log route for logs, else the numeric one; on Spark iff
    # UseSpark (labels or not, every run tunes)
    if kind == "logs":
        expected = "LogsSpark" if use_spark else "Logs"
    else:
        expected = "Spark" if use_spark else "Python"
    assert chosen == [f"Route-{expected}"]


def test_route_conditions_use_only_forms_the_sdk_documents_and_never_an_empty_string():
    # SageMaker has rejected "" as a passed parameter value: optional URIs default to "none"; the
    # route switches are the Boolean UseSpark and the enum DataKind (ConditionEquals, ANDed)
    text = build.DEFINITION_PATH.read_text(encoding="utf-8")
    assert '"DefaultValue": ""' not in text
    assert '"RightValue": ""' not in text
    kinds = {p["Name"]: p for p in DEFINITION["Parameters"]}["DataKind"]
    assert (kinds["DefaultValue"], kinds["EnumValues"]) == ("numeric", ["numeric", "logs"])
    for condition_step in DEFINITION["Steps"]:
        for condition in condition_step["Arguments"]["Conditions"]:
            assert condition["Type"] == "Equals"
            switch = condition["LeftValue"]["Get"]
            assert switch in ("Parameters.UseSpark", "Parameters.DataKind")
            allowed = (True, False) if switch == "Parameters.UseSpark" else tuple(kinds["EnumValues"])
            assert condition["RightValue"] in allowed


def test_no_experiment_tracking_the_role_has_no_permission_for():
    # The SDK's default PipelineExperimentConfig creates an experiment and a trial per execution
    # (sagemaker:CreateExperiment, CreateTrial, AssociateTrialComponent); nothing here reads them.
    assert DEFINITION["PipelineExperimentConfig"] is None


def test_every_route_is_one_condition_with_the_whole_chain_in_order():
    assert [s["Type"] for s in DEFINITION["Steps"]] == ["Condition"] * 4  # Python, Spark, Logs, LogsSpark
    chain = [
        "Channels",
        "Tune",
        "Model",
        "Scores",
        "ScoreStats",
        "Baseline",
        "EvalScores",
        "Evaluate",
        "Register",
    ]
    for route in ROUTES:
        kinds = [name.split(f"-{route}")[0] for name in route_steps(route)]
        assert kinds == (["Preprocess", *chain] if route == "Spark" else chain)
        assert (
            next(s for s in DEFINITION["Steps"] if s["Name"] == f"Route-{route}")["Arguments"]["ElseSteps"]
            == []
        )


# ---------------------------------------------------------------------------- channels


@pytest.mark.parametrize("route", ROUTES)
def test_channels_read_the_data_themselves_and_write_train_validation_and_evaluation(route):
    arguments = step(route, "Channels")["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in arguments["ProcessingInputs"]}
    outputs = {o["OutputName"] for o in arguments["ProcessingOutputConfig"]["Outputs"]}
    app = arguments["AppSpecification"]
    args = app["ContainerArguments"]
    assert app["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/channels.py"]
    assert app["ImageUri"] == "${ProcessingImage}"
    # the data is never a processing input: a dataset prefix would download every day ever stored
    assert "data" not in inputs
    assert args[args.index("--input") + 1] == {"Get": "Parameters.InputDataUri"}
    assert args[args.index("--labels-uri") + 1] == {"Get": "Parameters.LabelsUri"}
    assert args[args.index("--blend") + 1] == {"Get": "Parameters.BlendDataUri"}
    assert join_values(args[args.index("--window-days") + 1]) == [{"Get": "Parameters.WindowDays"}]
    # the sibling scripts it imports (preprocess.py, inject.py) come as the whole code prefix
    assert inputs["lib"]["S3Uri"] == "s3://${DataBucket}/pipeline/code/${CodeDigest}/"
    assert outputs == {"train", "validation", "evaluation", "summary"}
    if route == "Spark":
        assert args[args.index("--rows") + 1] == "/opt/ml/processing/input/rows"
        assert step(route, "Channels")["DependsOn"] == ["Preprocess-Spark"]


def test_spark_preprocess_runs_the_spark_script_with_the_row_rules_as_py_files():
    arguments = step("Spark", "Preprocess")["Arguments"]
    app = arguments["AppSpecification"]
    assert app["ImageUri"] == "${SparkImage}"
    assert app["ContainerEntrypoint"][0] == "smspark-submit"
    assert app["ContainerEntrypoint"][1:3] == [
        "--py-files",
        "s3://${DataBucket}/pipeline/code/${CodeDigest}/preprocess.py",
    ]
    assert app["ContainerEntrypoint"][-1] == "/opt/ml/processing/input/code/preprocess_spark.py"
    inputs = {i["InputName"]: i["S3Input"] for i in arguments["ProcessingInputs"]}
    assert inputs["rules"]["S3Uri"] == "s3://${DataBucket}/pipeline/code/${CodeDigest}/preprocess.py"
    args = app["ContainerArguments"]
    assert args[args.index("--input") + 1] == {"Get": "Parameters.InputDataUri"}
    assert arguments["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == {
        "Get": "Parameters.SparkInstanceCount"
    }
    # its cleaned rows are the Spark route's Channels input
    rows = {i["InputName"]: i["S3Input"] for i in step("Spark", "Channels")["Arguments"]["ProcessingInputs"]}
    assert rows["rows"]["S3Uri"] == args[args.index("--train-output") + 1]


# ---------------------------------------------------------------------------- tuning


@pytest.mark.parametrize("route", ROUTES)
def test_every_run_tunes_on_the_labelled_validation_channel(route):
    found = channels(route)
    assert found["train"]["ContentType"] == "text/csv"
    assert found["train"]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert found["train"]["DataSource"]["S3DataSource"]["S3Uri"] == channels_output(route, "train")
    assert found["test"]["ContentType"] == "text/csv;label_size=1"
    assert found["test"]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"
    assert found["test"]["DataSource"]["S3DataSource"]["S3Uri"] == channels_output(route, "validation")


@pytest.mark.parametrize("route", ROUTES)
def test_tuning_maximises_test_f1_with_bayesian_search_within_a_bounded_budget(route):
    arguments = step(route, "Tune")["Arguments"]
    config = arguments["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"MetricName": "test:f1", "Type": "Maximize"}
    assert config["Strategy"] == "Bayesian"
    assert config["TrainingJobEarlyStoppingType"] == "Auto"
    assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == {"Get": "Parameters.TuningMaxJobs"}
    assert config["ResourceLimits"]["MaxParallelTrainingJobs"] == {"Get": "Parameters.TuningMaxParallelJobs"}
    ranges = {
        r["Name"]: (int(r["MinValue"]), int(r["MaxValue"]))
        for r in config["ParameterRanges"]["IntegerParameterRanges"]
    }
    assert ranges == {
        "num_trees": build.NUM_TREES_RANGE,
        "num_samples_per_tree": build.NUM_SAMPLES_PER_TREE_RANGE,
    }
    definition = arguments["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"]["TrainingImage"] == "${RcfImage}"
    (json_get,) = definition["StaticHyperParameters"]["feature_dim"]["Std:Join"]["Values"]
    assert json_get == {
        "Std:JsonGet": {
            "Path": "feature_dim",
            "PropertyFile": {"Get": f"Steps.Channels-{route}.PropertyFiles.Summary-{route}"},
        }
    }


# ------------------------------------------------------------------------ scores, evaluation, registration


def join_values(value: dict[str, Any]) -> list[Any]:
    return value["Std:Join"]["Values"]


@pytest.mark.parametrize("route", ROUTES)
def test_score_stats_and_evaluation_are_written_next_to_the_model_artifact(route):
    model = step(route, "Model")["Arguments"]["PrimaryContainer"]["ModelDataUrl"]
    assert join_values(model)[-2:] == ["output", "model.tar.gz"]
    for kind in ("ScoreStats", "Evaluate"):
        output = step(route, kind)["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        assert join_values(output) == join_values(model)[:-1]  # same directory


@pytest.mark.parametrize("route", ROUTES)
def test_the_data_quality_baseline_of_the_train_channel_goes_beside_the_model_and_is_registered(route):
    # GIVEN the Baseline step of the route
    arguments = step(route, "Baseline")["Arguments"]
    source = arguments["ProcessingInputs"][0]["S3Input"]
    output = arguments["ProcessingOutputConfig"]["Outputs"][0]
    stats = step(route, "ScoreStats")["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    # THEN it runs baseline.py on the train channel the model was trained on
    assert arguments["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/baseline.py",
    ]
    assert source["S3Uri"] == channels_output(route, "train")
    assert source["LocalPath"] == "/opt/ml/processing/input/train"
    # AND writes to {model dir}/baseline, the folder the drift monitor reads beside model.tar.gz
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/output/baseline"
    assert join_values(output["S3Output"]["S3Uri"]) == [stats["S3Uri"], "baseline"]
    # AND the model package records both files as its data-quality drift-check baseline
    quality = step(route, "Register")["Arguments"]["DriftCheckBaselines"]["ModelDataQuality"]
    written = {"Get": f"Steps.Baseline-{route}.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"}
    assert join_values(quality["Statistics"]["S3Uri"]) == [written, "statistics.json"]
    assert join_values(quality["Constraints"]["S3Uri"]) == [written, "constraints.json"]


@pytest.mark.parametrize("route", ROUTES)
def test_the_candidate_scores_its_train_channel_and_the_evaluation_set_by_batch_transform(route):
    for kind, source in (
        ("Scores", channels_output(route, "train")),
        (
            "EvalScores",
            {"Std:Join": {"On": "/", "Values": [channels_output(route, "evaluation"), "features.csv"]}},
        ),
    ):
        transform = step(route, kind)["Arguments"]
        assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == source
        assert transform["TransformInput"]["ContentType"] == "text/csv"
        assert transform["TransformInput"]["SplitType"] == "Line"
        assert transform["TransformOutput"]["Accept"] == "application/jsonlines"
    stats_input = step(route, "ScoreStats")["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert stats_input == {"Get": f"Steps.Scores-{route}.TransformOutput.S3OutputPath"}


@pytest.mark.parametrize("route", ROUTES)
def test_evaluate_compares_the_candidate_with_the_model_serving_the_stacks_endpoint(route):
    arguments = step(route, "Evaluate")["Arguments"]
    app = arguments["AppSpecification"]
    assert app["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/evaluate.py"]
    assert app["ContainerArguments"] == ["--endpoint", "${EndpointName}"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in arguments["ProcessingInputs"]}
    assert inputs["evaluation"] == channels_output(route, "evaluation")
    assert inputs["scores"] == {"Get": f"Steps.EvalScores-{route}.TransformOutput.S3OutputPath"}
    assert inputs["summary"] == channels_output(route, "summary")
    assert join_values(inputs["stats"])[-1] == "score_stats.json"


@pytest.mark.parametrize("route", ROUTES)
def test_registration_carries_the_evaluation_as_metrics_and_the_metadata_retraining_reads(route):
    arguments = step(route, "Register")["Arguments"]
    metadata = arguments["CustomerMetadataProperties"]
    stats_uri = {"Std:Join": {"On": "/", "Values": [
        {"Get": f"Steps.ScoreStats-{route}.ProcessingOutputConfig.Outputs['stats'].S3Output.S3Uri"},
        "score_stats.json",
    ]}}  # fmt: skip
    evaluation_uri = {"Std:Join": {"On": "/", "Values": [
        {"Get": f"Steps.Evaluate-{route}.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
        "evaluation.json",
    ]}}  # fmt: skip
    assert arguments["ModelPackageGroupName"] == "${ModelPackageGroupName}"
    assert arguments["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert metadata["pipeline_execution_arn"] == {"Get": "Execution.PipelineExecutionArn"}
    assert metadata["score_stats_uri"] == stats_uri
    assert metadata["evaluation_uri"] == evaluation_uri
    assert metadata["training_data"]["Std:JsonGet"]["Path"] == "training_data_label"
    metrics = arguments["ModelMetrics"]
    assert metrics["ModelQuality"]["Statistics"] == {
        "ContentType": "application/json",
        "S3Uri": evaluation_uri,
    }
    assert metrics["ModelDataQuality"]["Statistics"] == {
        "ContentType": "application/json",
        "S3Uri": stats_uri,
    }
    assert "text/csv" in arguments["InferenceSpecification"]["SupportedContentTypes"]
    assert metadata["objective_metric"] == "test:f1"
    assert join_values(metadata["objective_value"]) == [
        {"Get": f"Steps.Tune-{route}.BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric.Value"}
    ]


# ---------------------------------------------------------------------------- placeholders and scripts


def test_placeholders_are_exactly_what_the_publisher_fills():
    text = build.DEFINITION_PATH.read_text(encoding="utf-8")
    found = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text))
    assert found == set(build.PLACEHOLDERS)
    filled_by_deploy = set(publisher.REQUIRED_SUBSTITUTIONS) | {"CodeDigest"} | set(IMAGES["us-east-1"])
    assert found == filled_by_deploy
    assert "arn:aws:iam" not in text  # no account-specific value was baked in


def test_every_script_the_definition_runs_exists_in_pipeline_scripts():
    text = build.DEFINITION_PATH.read_text(encoding="utf-8")
    scripts = set(re.findall(r"pipeline/code/\$\{CodeDigest\}/([a-z_]+\.py)", text))
    assert scripts == {
        "baseline.py",
        "channels.py",
        "evaluate.py",
        "preprocess.py",
        "preprocess_spark.py",
        "score_stats.py",
        "logs_job.py",
    }
    for name in scripts:
        assert (PROJECT_ROOT / "pipeline" / "scripts" / name).is_file()


def test_images_cover_the_main_regions_with_the_built_in_rcf_image():
    for region in ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"):
        assert IMAGES[region]["RcfImage"].endswith(f".dkr.ecr.{region}.amazonaws.com/randomcutforest:1")
        assert "sagemaker-spark-processing:3.5" in IMAGES[region]["SparkImage"]
        assert "sagemaker-scikit-learn" in IMAGES[region]["ProcessingImage"]


def test_docs_describe_every_pipeline_parameter_and_no_other():
    text = (PROJECT_ROOT / "docs" / "PIPELINE.md").read_text(encoding="utf-8")
    section = text.split("## Parameters", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Za-z]+)` \|", section, flags=re.MULTILINE))
    assert documented == {p["Name"] for p in DEFINITION["Parameters"]}
