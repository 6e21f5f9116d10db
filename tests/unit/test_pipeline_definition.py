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
ROUTES = {f"{e}-{m}": (e, m) for e, m in itertools.product(("Python", "Spark"), ("Labelled", "Unlabelled"))}


def route_steps(route: str) -> dict[str, dict[str, Any]]:
    condition = next(s for s in DEFINITION["Steps"] if s["Name"] == f"Route-{route}")
    return {step["Name"]: step for step in condition["Arguments"]["IfSteps"]}


def step(route: str, kind: str) -> dict[str, Any]:
    steps = route_steps(route)
    name = next(n for n in steps if n.startswith(f"{kind}-{route}"))
    return steps[name]


def channels(route: str) -> dict[str, dict[str, Any]]:
    kind = "Tune" if route.endswith("-Labelled") else "Train"
    arguments = step(route, kind)["Arguments"]
    config = arguments["TrainingJobDefinition"] if kind == "Tune" else arguments
    return {c["ChannelName"]: c for c in config["InputDataConfig"]}


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
    assert "DefaultValue" not in parameters["InputDataUri"]  # always sent by StartPipelineFunction
    assert parameters["LabelsUri"]["DefaultValue"] == build.NO_LABELS
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
    assert set(parameters["ModelApprovalStatus"]["EnumValues"]) == {
        "PendingManualApproval",
        "Approved",
        "Rejected",
    }
    assert (parameters["ShingleSize"]["Type"], parameters["ShingleSize"]["DefaultValue"]) == ("Integer", 48)
    assert (parameters["UseSpark"]["Type"], parameters["UseSpark"]["DefaultValue"]) == ("Boolean", False)
    assert parameters["NumTrees"]["DefaultValue"] == 50
    assert parameters["NumSamplesPerTree"]["DefaultValue"] == 512
    assert parameters["TuningMaxJobs"]["Type"] == "Integer"
    for name in (
        "ProcessingInstanceType",
        "SparkInstanceType",
        "TrainingInstanceType",
        "TransformInstanceType",
    ):
        assert parameters[name]["DefaultValue"].startswith("ml.")


@pytest.mark.parametrize(
    ("use_spark", "labels"), list(itertools.product((False, True), (None, "s3://b/l.json")))
)
def test_exactly_one_route_runs_for_every_parameter_combination(use_spark, labels):
    # GIVEN parameters as a start request sends them (LabelsUri left out: its default applies)
    defaults = {p["Name"]: p.get("DefaultValue") for p in DEFINITION["Parameters"]}
    parameters = {**defaults, "UseSpark": use_spark} | ({"LabelsUri": labels} if labels else {})
    # WHEN the four top-level ConditionSteps are evaluated
    chosen = [
        s["Name"]
        for s in DEFINITION["Steps"]
        if all(evaluate(c, parameters) for c in s["Arguments"]["Conditions"])
    ]
    # THEN exactly one chain runs: Spark iff UseSpark, tuning iff labels
    engine = "Spark" if use_spark else "Python"
    mode = "Labelled" if labels else "Unlabelled"
    assert chosen == [f"Route-{engine}-{mode}"]


def test_the_labels_switch_uses_only_forms_the_sdk_documents_and_never_an_empty_string():
    # SageMaker has rejected "" as a passed parameter value: the "no labels" route compares a
    # String parameter with its non-empty default (ParameterString + ConditionEquals).
    text = build.DEFINITION_PATH.read_text(encoding="utf-8")
    assert '"DefaultValue": ""' not in text
    assert '"RightValue": ""' not in text
    labels = next(p for p in DEFINITION["Parameters"] if p["Name"] == "LabelsUri")
    assert labels == {"Name": "LabelsUri", "Type": "String", "DefaultValue": build.NO_LABELS}
    for condition_step in DEFINITION["Steps"]:
        for condition in condition_step["Arguments"]["Conditions"]:
            inner = condition.get("Condition", condition)
            assert inner["Type"] == "Equals"
            if inner["LeftValue"] == {"Get": "Parameters.LabelsUri"}:
                assert inner["RightValue"] == build.NO_LABELS


def test_no_experiment_tracking_the_role_has_no_permission_for():
    # The SDK's default PipelineExperimentConfig creates an experiment and a trial per execution
    # (sagemaker:CreateExperiment, CreateTrial, AssociateTrialComponent); nothing here reads them.
    assert DEFINITION["PipelineExperimentConfig"] is None


def test_every_route_is_one_condition_with_the_whole_chain_in_order():
    assert [s["Type"] for s in DEFINITION["Steps"]] == ["Condition"] * 4
    for route, (_, mode) in ROUTES.items():
        kinds = [name.removesuffix(f"-{route}").split(f"-{route}")[0] for name in route_steps(route)]
        trainer = "Tune" if mode == "Labelled" else "Train"
        assert kinds == ["Preprocess", trainer, "Model", "Scores", "ScoreStats", "Baseline", "Register"]
        assert (
            next(s for s in DEFINITION["Steps"] if s["Name"] == f"Route-{route}")["Arguments"]["ElseSteps"]
            == []
        )


# ---------------------------------------------------------------------------- preprocess


@pytest.mark.parametrize("route", ["Python-Labelled", "Python-Unlabelled"])
def test_python_preprocess_reads_the_upload_and_labels_only_when_labelled(route):
    arguments = step(route, "Preprocess")["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in arguments["ProcessingInputs"]}
    outputs = {o["OutputName"] for o in arguments["ProcessingOutputConfig"]["Outputs"]}
    app = arguments["AppSpecification"]
    assert inputs["data"]["S3Uri"] == {"Get": "Parameters.InputDataUri"}
    assert app["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/preprocess.py"]
    assert app["ImageUri"] == "${ProcessingImage}"
    args = app["ContainerArguments"]
    assert args[:2] == [
        "--shingle-size",
        {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.ShingleSize"}]}},
    ]
    # S3Prefix inputs bring every key that starts with the URI: the script is told which object to read
    assert inputs["data"]["S3DataType"] == "S3Prefix"
    assert args[args.index("--input-uri") + 1] == {"Get": "Parameters.InputDataUri"}
    if route.endswith("-Labelled"):
        assert inputs["labels"]["S3Uri"] == {"Get": "Parameters.LabelsUri"}
        assert args[args.index("--labels-uri") + 1] == {"Get": "Parameters.LabelsUri"}
        assert outputs == {"train", "test", "summary"}
    else:
        assert "labels" not in inputs  # the "no labels" sentinel must never reach a processing input
        assert outputs == {"train", "summary"}


@pytest.mark.parametrize("route", ["Spark-Labelled", "Spark-Unlabelled"])
def test_spark_preprocess_runs_the_spark_script_with_the_row_rules_as_py_files(route):
    arguments = step(route, "Preprocess")["Arguments"]
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
    assert inputs["rules"]["LocalPath"] == "/opt/ml/processing/input/rules"
    args = app["ContainerArguments"]
    assert args[args.index("--input") + 1] == {"Get": "Parameters.InputDataUri"}
    assert ("--labels" in args) is route.endswith("-Labelled")
    assert ("--labels-uri" in args) is route.endswith("-Labelled")
    assert arguments["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == {
        "Get": "Parameters.SparkInstanceCount"
    }
    # the trainer waits for Spark explicitly: its channels are S3 paths, not step properties
    trainer = step(route, "Tune" if route.endswith("-Labelled") else "Train")
    assert trainer["DependsOn"] == [f"Preprocess-{route}"]


# ---------------------------------------------------------------------------- training and tuning


@pytest.mark.parametrize("route", list(ROUTES))
def test_train_channel_is_csv_sharded_by_key_and_test_channel_is_labelled_csv(route):
    found = channels(route)
    assert found["train"]["ContentType"] == "text/csv"
    assert found["train"]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    if route.endswith("-Labelled"):
        assert found["test"]["ContentType"] == "text/csv;label_size=1"
        assert found["test"]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"
    else:
        assert set(found) == {"train"}


@pytest.mark.parametrize("route", ["Python-Labelled", "Spark-Labelled"])
def test_tuning_maximises_test_f1_with_bayesian_search_and_auto_early_stopping(route):
    arguments = step(route, "Tune")["Arguments"]
    config = arguments["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"MetricName": "test:f1", "Type": "Maximize"}
    assert config["Strategy"] == "Bayesian"
    assert config["TrainingJobEarlyStoppingType"] == "Auto"
    assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == {"Get": "Parameters.TuningMaxJobs"}
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
    assert set(definition["StaticHyperParameters"]) == {"feature_dim"}


@pytest.mark.parametrize("route", list(ROUTES))
def test_feature_dim_comes_from_the_same_routes_preprocess_summary(route):
    trainer = step(route, "Tune" if route.endswith("-Labelled") else "Train")["Arguments"]
    hyper = trainer.get("HyperParameters") or trainer["TrainingJobDefinition"]["StaticHyperParameters"]
    (json_get,) = hyper["feature_dim"]["Std:Join"]["Values"]
    assert json_get == {
        "Std:JsonGet": {
            "Path": "feature_dim",
            "PropertyFile": {"Get": f"Steps.Preprocess-{route}.PropertyFiles.Summary-{route}"},
        }
    }
    summary_file = step(route, "Preprocess")["PropertyFiles"][0]
    assert (summary_file["OutputName"], summary_file["FilePath"]) == ("summary", "summary.json")


@pytest.mark.parametrize("route", ["Python-Unlabelled", "Spark-Unlabelled"])
def test_untuned_training_uses_the_num_trees_and_samples_parameters(route):
    hyper = step(route, "Train")["Arguments"]["HyperParameters"]
    assert hyper["num_trees"] == {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.NumTrees"}]}}
    assert hyper["num_samples_per_tree"] == {
        "Std:Join": {"On": "", "Values": [{"Get": "Parameters.NumSamplesPerTree"}]}
    }


# ------------------------------------------------------------------------ scores, statistics, registration


def join_values(value: dict[str, Any]) -> list[Any]:
    return value["Std:Join"]["Values"]


@pytest.mark.parametrize("route", list(ROUTES))
def test_score_stats_are_written_next_to_the_model_artifact(route):
    model = step(route, "Model")["Arguments"]["PrimaryContainer"]["ModelDataUrl"]
    stats = step(route, "ScoreStats")["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"][
        "S3Uri"
    ]
    if route.endswith("-Labelled"):
        assert join_values(model)[-2:] == ["output", "model.tar.gz"]
        assert join_values(stats) == join_values(model)[:-1]  # same directory
    else:
        assert model == {"Get": f"Steps.Train-{route}.ModelArtifacts.S3ModelArtifacts"}
        assert join_values(stats)[1:] == [{"Get": f"Steps.Train-{route}.TrainingJobName"}, "output"]
        train_output = step(route, "Train")["Arguments"]["OutputDataConfig"]["S3OutputPath"]
        assert join_values(stats)[0] == train_output


@pytest.mark.parametrize("route", list(ROUTES))
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
    assert source["S3Uri"] == channels(route)["train"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert source["LocalPath"] == "/opt/ml/processing/input/train"
    # AND writes to {model dir}/baseline, the folder the drift monitor reads beside model.tar.gz
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/output/baseline"
    assert join_values(output["S3Output"]["S3Uri"]) == [stats["S3Uri"], "baseline"]
    # AND the model package records both files as its data-quality drift-check baseline
    quality = step(route, "Register")["Arguments"]["DriftCheckBaselines"]["ModelDataQuality"]
    written = {"Get": f"Steps.Baseline-{route}.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"}
    assert join_values(quality["Statistics"]["S3Uri"]) == [written, "statistics.json"]
    assert join_values(quality["Constraints"]["S3Uri"]) == [written, "constraints.json"]


@pytest.mark.parametrize("route", list(ROUTES))
def test_scores_come_from_a_batch_transform_of_the_training_channel(route):
    transform = step(route, "Scores")["Arguments"]
    source = transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert source == channels(route)["train"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert transform["TransformInput"]["ContentType"] == "text/csv"
    assert transform["TransformInput"]["SplitType"] == "Line"
    assert transform["TransformOutput"]["Accept"] == "application/jsonlines"
    stats_input = step(route, "ScoreStats")["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert stats_input == {"Get": f"Steps.Scores-{route}.TransformOutput.S3OutputPath"}


@pytest.mark.parametrize("route", list(ROUTES))
def test_registration_carries_status_metrics_and_the_metadata_retraining_looks_for(route):
    arguments = step(route, "Register")["Arguments"]
    metadata = arguments["CustomerMetadataProperties"]
    stats_uri = {"Std:Join": {"On": "/", "Values": [
        {"Get": f"Steps.ScoreStats-{route}.ProcessingOutputConfig.Outputs['stats'].S3Output.S3Uri"},
        "score_stats.json",
    ]}}  # fmt: skip
    assert arguments["ModelPackageGroupName"] == "${ModelPackageGroupName}"
    assert arguments["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert metadata["pipeline_execution_arn"] == {"Get": "Execution.PipelineExecutionArn"}
    assert metadata["score_stats_uri"] == stats_uri
    assert arguments["ModelMetrics"]["ModelQuality"]["Statistics"] == {
        "ContentType": "application/json",
        "S3Uri": stats_uri,
    }
    assert "text/csv" in arguments["InferenceSpecification"]["SupportedContentTypes"]
    if route.endswith("-Labelled"):
        assert metadata["objective_metric"] == "test:f1"
        assert join_values(metadata["objective_value"]) == [
            {"Get": f"Steps.Tune-{route}.BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric.Value"}
        ]
    else:
        assert "objective_metric" not in metadata


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
    assert scripts == {"preprocess.py", "preprocess_spark.py", "score_stats.py", "baseline.py"}
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
