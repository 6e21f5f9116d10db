"""The log route of the committed pipeline definition (pipeline/definition.json), read as SageMaker reads it.

The golden-file freshness check is test_pipeline_definition.py's (the whole file, log route included);
these assert the route's wiring: RCF and the custom PCA script tuned side by side on the same
channels, both judged in one Evaluate step, the winner registered in the log model package group.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pipeline import build, log_route
from sentinel.template import PROJECT_ROOT

DEFINITION = json.loads(build.DEFINITION_PATH.read_text(encoding="utf-8"))
CODE = "s3://${DataBucket}/pipeline/code/${CodeDigest}/"


def steps(route: str = "Logs") -> dict[str, dict[str, Any]]:
    condition = next(s for s in DEFINITION["Steps"] if s["Name"] == f"Route-{route}")
    return {step["Name"]: step for step in condition["Arguments"]["IfSteps"]}


def step(kind: str) -> dict[str, Any]:
    found = steps()
    return found[next(n for n in found if n.startswith(f"{kind}-Logs"))]


def prepared(channel: str) -> dict[str, Any]:
    written = {"Get": "Steps.Prepare-Logs.ProcessingOutputConfig.Outputs['prepared'].S3Output.S3Uri"}
    return {"Std:Join": {"On": "/", "Values": [written, channel]}}


def tuning_channels(kind: str) -> dict[str, dict[str, Any]]:
    config = step(kind)["Arguments"]["TrainingJobDefinition"]
    return {c["ChannelName"]: c for c in config["InputDataConfig"]}


def test_the_log_route_runs_only_for_logs_and_holds_the_whole_chain_in_order():
    condition = next(s for s in DEFINITION["Steps"] if s["Name"] == "Route-Logs")
    assert condition["Arguments"]["Conditions"] == [
        {"Type": "Equals", "LeftValue": {"Get": "Parameters.UseSpark"}, "RightValue": False},
        {"Type": "Equals", "LeftValue": {"Get": "Parameters.DataKind"}, "RightValue": "logs"},
    ]
    kinds = [name.split("-Logs")[0] for name in steps()]
    assert kinds == [
        "Prepare",
        "TuneRcf",
        "TunePca",
        "ModelRcf",
        "RcfTrainScores",
        "RcfValidationScores",
        "RcfEvaluationScores",
        "Evaluate",
        "Register",
    ]
    parameters = {p["Name"]: p for p in DEFINITION["Parameters"]}
    assert parameters["LogFormat"]["DefaultValue"] == "hdfs"


def test_prepare_parses_the_raw_log_with_the_runtime_package_and_the_given_format_and_labels():
    arguments = step("Prepare")["Arguments"]
    app = arguments["AppSpecification"]
    assert app["ImageUri"] == "${ProcessingImage}"
    assert app["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/logs_job.py"]
    args = app["ContainerArguments"]
    assert args[0] == "logs_prepare"
    assert args[args.index("--format") + 1] == {"Get": "Parameters.LogFormat"}
    assert args[args.index("--labels-uri") + 1] == {"Get": "Parameters.LabelsUri"}
    inputs = {i["InputName"]: i["S3Input"] for i in arguments["ProcessingInputs"]}
    # the runtime package (anomaly_sentinel/) comes with the code prefix, the log itself as an input
    assert inputs["lib"]["S3Uri"] == CODE
    assert inputs["logs"]["S3Uri"] == {"Get": "Parameters.InputDataUri"}
    assert args[args.index("--input") + 1] == inputs["logs"]["LocalPath"]
    assert step("Prepare")["PropertyFiles"][0]["FilePath"] == "report.json"


def test_rcf_and_pca_are_tuned_side_by_side_on_the_same_prepared_channels():
    rcf, pca = tuning_channels("TuneRcf"), tuning_channels("TunePca")
    for channels in (rcf, pca):
        assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == prepared("train")
        assert channels["train"]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert rcf["test"]["DataSource"]["S3DataSource"]["S3Uri"] == prepared("validation")
    assert rcf["test"]["ContentType"] == "text/csv;label_size=1"
    assert pca["validation"]["DataSource"]["S3DataSource"]["S3Uri"] == prepared("validation")
    # neither waits for the other: both depend on Prepare only
    for kind in ("TuneRcf", "TunePca"):
        assert "DependsOn" not in step(kind)


def test_the_built_in_rcf_is_tuned_on_test_f1_with_the_prepared_feature_dim():
    arguments = step("TuneRcf")["Arguments"]
    config = arguments["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"MetricName": "test:f1", "Type": "Maximize"}
    definition = arguments["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"]["TrainingImage"] == "${RcfImage}"
    (json_get,) = definition["StaticHyperParameters"]["feature_dim"]["Std:Join"]["Values"]
    assert json_get["Std:JsonGet"]["Path"] == "feature_dim"
    assert json_get["Std:JsonGet"]["PropertyFile"] == {"Get": "Steps.Prepare-Logs.PropertyFiles.Report-Logs"}


def test_the_custom_pca_script_is_tuned_on_the_metric_it_prints():
    arguments = step("TunePca")["Arguments"]
    config = arguments["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {
        "MetricName": "custom_metric_value",
        "Type": "Maximize",
    }
    ranges = config["ParameterRanges"]
    (components,) = ranges["IntegerParameterRanges"]
    assert (components["Name"], int(components["MinValue"]), int(components["MaxValue"])) == (
        "max_components",
        1,
        30,
    )
    (quantiles,) = ranges["CategoricalParameterRanges"]
    assert quantiles["Name"] == "threshold_quantile"
    assert "0.0" in quantiles["Values"]  # 0 = the Q-statistic (logs_pca.py)
    definition = arguments["TrainingJobDefinition"]
    spec = definition["AlgorithmSpecification"]
    assert spec["TrainingImage"] == "${ProcessingImage}"  # the scikit-learn image: no container to build
    (metric,) = spec["MetricDefinitions"]
    assert metric["Name"] == "custom_metric_value"
    # the regex reads exactly what the script prints (logs_pca.main: f"custom_metric_value: {f1:.6f}")
    source = (PROJECT_ROOT / "pipeline" / "scripts" / "logs_pca.py").read_text(encoding="utf-8")
    assert 'print(f"custom_metric_value: {result.f1:.6f}")' in source
    assert re.search(metric["Regex"], f"custom_metric_value: {0.912345:.6f}").group(1) == "0.912345"
    static = definition["StaticHyperParameters"]
    assert static["sagemaker_program"] == "logs_pca.py"
    assert static["sagemaker_submit_directory"] == CODE + "sourcedir.tar.gz"


def test_the_rcf_scores_every_channel_and_the_labelled_ones_without_their_label():
    for name, labelled in (("Train", False), ("Validation", True), ("Evaluation", True)):
        transform = step(f"Rcf{name}Scores")["Arguments"]
        source = transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        assert source == prepared(name.lower())
        assert transform["ModelName"] == {"Get": "Steps.ModelRcf-Logs-CreateModel.ModelName"}
        assert transform.get("DataProcessing", {}).get("InputFilter") == ("$[1:]" if labelled else None)


def test_evaluate_judges_both_and_the_model_in_service_then_register_takes_its_verdict():
    arguments = step("Evaluate")["Arguments"]
    app = arguments["AppSpecification"]
    args = app["ContainerArguments"]
    assert args[0] == "logs_evaluate"
    assert args[args.index("--group") + 1] == "${LogsModelPackageGroupName}"
    assert args[args.index("--endpoint") + 1] == "${LogsEndpointName}"
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in arguments["ProcessingInputs"]}
    assert set(inputs) == {
        "code",
        "lib",
        "logs",
        "prepared",
        "rcf-train",
        "rcf-validation",
        "rcf-evaluation",
        "rcf-model",
        "pca",
    }
    assert inputs["rcf-evaluation"] == {"Get": "Steps.RcfEvaluationScores-Logs.TransformOutput.S3OutputPath"}
    pca_job = {"Get": "Steps.TunePca-Logs.BestTrainingJob.TrainingJobName"}
    assert pca_job in inputs["pca"]["Std:Join"]["Values"]
    register = step("Register")["Arguments"]
    assert register["ModelPackageGroupName"] == "${LogsModelPackageGroupName}"
    evaluation = {"Get": "Steps.Evaluate-Logs.PropertyFiles.Evaluation-Logs"}

    def verdict(value: Any) -> str:
        assert value["Std:JsonGet"]["PropertyFile"] == evaluation
        return str(value["Std:JsonGet"]["Path"])

    assert verdict(register["ModelApprovalStatus"]) == "approval"
    (container,) = register["InferenceSpecification"]["Containers"]
    assert (verdict(container["Image"]), verdict(container["ModelDataUrl"])) == ("image", "model_data_url")
    metadata = register["CustomerMetadataProperties"]
    assert verdict(metadata["detector"]) == "detector"
    assert metadata["log_model_uri"]["Std:Join"]["Values"][-1] == "/"


def test_the_numeric_routes_never_run_for_logs():
    for name in ("Route-Python", "Route-Spark"):
        condition = next(s for s in DEFINITION["Steps"] if s["Name"] == name)
        assert {"Type": "Equals", "LeftValue": {"Get": "Parameters.DataKind"}, "RightValue": "numeric"} in (
            condition["Arguments"]["Conditions"]
        )
    assert log_route.DATA_KIND_VALUES == ["numeric", "logs"]


def test_the_spark_variant_prepares_on_a_spark_cluster_and_runs_the_same_chain_after():
    # GIVEN the two log routes of the definition
    python, spark = steps("Logs"), steps("LogsSpark")
    condition = next(s for s in DEFINITION["Steps"] if s["Name"] == "Route-LogsSpark")
    assert condition["Arguments"]["Conditions"][0]["RightValue"] is True
    # THEN the same steps, in the same order, named for their route
    assert [n.replace("-LogsSpark", "-Logs") for n in spark] == list(python)
    # AND Prepare runs logs_prepare_spark through logs_job.py in the Spark image, with the same
    # arguments as the Python route's logs_prepare, its scripts and the package in one --py-files zip
    prepare = spark["Prepare-LogsSpark"]["Arguments"]
    app = prepare["AppSpecification"]
    assert app["ImageUri"] == "${SparkImage}"
    assert app["ContainerEntrypoint"][0] == "smspark-submit"
    assert app["ContainerEntrypoint"][1:3] == ["--py-files", CODE + "code.zip"]
    assert app["ContainerEntrypoint"][-1].endswith("/logs_job.py")
    assert all(len(part) <= 256 for part in app["ContainerEntrypoint"])  # CreatePipeline's limit
    python_args = python["Prepare-Logs"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert app["ContainerArguments"] == ["logs_prepare_spark", *python_args[1:]]
    resources = prepare["ProcessingResources"]["ClusterConfig"]
    assert resources["InstanceCount"] == {"Get": "Parameters.SparkInstanceCount"}
    assert {i["InputName"] for i in prepare["ProcessingInputs"]} >= {"lib", "logs"}
    # AND the later steps read the Spark route's own Prepare output
    evaluate = json.dumps(spark["Evaluate-LogsSpark"])
    assert "Steps.Prepare-LogsSpark" in evaluate
    assert "Steps.Prepare-Logs." not in evaluate
