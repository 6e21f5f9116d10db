"""Build the SageMaker pipeline definition offline: preprocess, tune or train RCF, score stats, register.

    python -m pipeline.build --out pipeline/definition.json   # what `make pipeline` runs
    python -m pipeline.build --check                          # exit 1 when the committed files are stale

Build time only (``sagemaker==2.257.7``, the ``pipeline`` extra): nothing here is shipped to Lambda.
The output has ``${Name}`` placeholders for what only the deployment knows (bucket, role, model package
group, the region's images, the code prefix); ``pipeline/publisher/app.py`` fills them in when the
stack deploys (see docs/PIPELINE.md). Beside the definition it writes ``images.json``: the built-in
RCF, scikit-learn and Spark processing images of every region, read from the SDK's own tables.

SageMaker Pipelines cannot re-join branches after a ConditionStep, nor nest condition steps, so each
of the two routes (engine Python or Spark) is one ConditionStep at the top whose ``if`` branch holds
the whole chain: [Preprocess (Spark)] -> Channels -> Tune -> Model -> Scores (batch transform of the
train channel) -> ScoreStats -> Baseline (the train channel's data-quality baseline in Model
Monitor's format) -> EvalScores (batch transform of the evaluation set) -> Evaluate (candidate vs the
model serving the endpoint) -> Register. The conditions are mutually exclusive, so
exactly one chain runs. Every run tunes: the Channels step makes a labelled validation channel by
injecting anomalies when no labels come with the data. "No value" of an optional URI parameter is the
non-empty ``NONE`` (SageMaker has rejected ``""`` as a passed parameter value).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.log_route import DATA_KIND_VALUES, LOG_FORMAT_DEFAULT, log_chain
from pipeline.log_route import ROUTES as LOG_ROUTES

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

PIPELINE_DIR = Path(__file__).resolve().parent
#: Every key the definition names is composed by the layer's contracts.layout (pure: pydantic and
#: the standard library), imported from the source tree at build time.
LAYER_DIR = PIPELINE_DIR.parent / "layers" / "common"
if str(LAYER_DIR) not in sys.path:
    sys.path.append(str(LAYER_DIR))
from anomaly_sentinel.contracts import layout  # noqa: E402

DEFINITION_PATH = PIPELINE_DIR / "definition.json"
IMAGES_FILE = "images.json"

#: Only used for the SDK's session; images are placeholders filled per region at deploy time.
BUILD_REGION = "us-east-1"
SKLEARN_VERSION = "1.4-2"
SPARK_VERSION = "3.5"
SPARK_PY_VERSION = "py312"
#: The value of an optional URI parameter that is not given (LabelsUri, BlendDataUri).
NONE = "none"
#: Placeholders the publisher substitutes at deploy time (docs/PIPELINE.md lists their sources).
PLACEHOLDERS = (
    "DataBucket",
    "SageMakerExecutionRoleArn",
    "ModelPackageGroupName",
    "EndpointName",
    "CodeDigest",
    "RcfImage",
    "ProcessingImage",
    "SparkImage",
    "LogsModelPackageGroupName",
    "LogsEndpointName",
)

# Local paths inside the processing containers.
LABELS_DIR = "/opt/ml/processing/input/labels"
SCORES_DIR = "/opt/ml/processing/input/scores"
TRAIN_DIR = "/opt/ml/processing/input/train"
RULES_DIR = "/opt/ml/processing/input/rules"
LIB_DIR = "/opt/ml/processing/input/lib"
ROWS_DIR = "/opt/ml/processing/input/rows"
INPUT_DIR = "/opt/ml/processing/input"
OUTPUT_DIR = "/opt/ml/processing/output"

#: Tuning ranges (Bayesian search on test:f1 over the labelled validation channel).
NUM_TREES_RANGE = (50, 400)
NUM_SAMPLES_PER_TREE_RANGE = (128, 2048)
OBJECTIVE_METRIC = "test:f1"

TRAIN_CONTENT_TYPE = "text/csv"
TEST_CONTENT_TYPE = "text/csv;label_size=1"
SCORES_ACCEPT = "application/jsonlines"
MAX_JOB_SECONDS = 4 * 3600


def placeholder(name: str) -> str:
    if name not in PLACEHOLDERS:
        raise KeyError(f"unknown placeholder {name}")
    return "${" + name + "}"


#: Where the production dataset of the stack's endpoint lives (anomaly_sentinel.dataset's layout):
#: the default InputDataUri, so a run started with no parameters retrains on recent traffic.
DATASET_URI = f"s3://{placeholder('DataBucket')}/" + layout.dataset_endpoint_prefix(
    placeholder("EndpointName")
)


def code_uri(script: str = "") -> str:
    """Where the publisher puts each job script: a content-addressed prefix, so a new deployment never
    changes the code of a running execution. The file name stays last (the SDK derives the path in
    the container from it). No script: the prefix itself (the ``lib`` input: every script)."""
    return layout.pipeline_code_uri(placeholder("DataBucket"), placeholder("CodeDigest"), script)


@dataclass(frozen=True)
class Route:
    """One of the two mutually exclusive chains."""

    spark: bool

    @property
    def slug(self) -> str:
        return "Spark" if self.spark else "Python"

    def step(self, kind: str) -> str:
        """Step names are ``{Kind}-{Engine}``, e.g. ``Tune-Spark``."""
        return f"{kind}-{self.slug}"


ROUTES = (Route(spark=False), Route(spark=True))


class Parameters:
    """Pipeline parameters (names are a contract: StartPipelineFunction sends InputDataUri)."""

    def __init__(self) -> None:
        from sagemaker.workflow.parameters import (
            ParameterBoolean,
            ParameterFloat,
            ParameterInteger,
            ParameterString,
        )

        self.input_data_uri = ParameterString("InputDataUri", default_value=DATASET_URI)
        self.window_days = ParameterInteger("WindowDays", default_value=14)
        self.blend_data_uri = ParameterString("BlendDataUri", default_value=NONE)
        self.blend_share = ParameterFloat("BlendShare", default_value=0.0)
        self.labels_uri = ParameterString("LabelsUri", default_value=NONE)
        self.model_approval_status = ParameterString(
            "ModelApprovalStatus",
            default_value="PendingManualApproval",
            enum_values=["PendingManualApproval", "Approved", "Rejected"],
        )
        self.shingle_size = ParameterInteger("ShingleSize", default_value=48)
        self.use_spark = ParameterBoolean("UseSpark", default_value=False)
        self.processing_instance_type = ParameterString(
            "ProcessingInstanceType", default_value="ml.m5.xlarge"
        )
        self.spark_instance_type = ParameterString("SparkInstanceType", default_value="ml.m5.xlarge")
        self.spark_instance_count = ParameterInteger("SparkInstanceCount", default_value=2)
        self.training_instance_type = ParameterString("TrainingInstanceType", default_value="ml.m5.large")
        self.transform_instance_type = ParameterString("TransformInstanceType", default_value="ml.m5.large")
        self.tuning_max_jobs = ParameterInteger("TuningMaxJobs", default_value=6)
        self.tuning_max_parallel_jobs = ParameterInteger("TuningMaxParallelJobs", default_value=2)
        # The log route (pipeline/log_route.py): raw logs in, a log model out.
        self.data_kind = ParameterString("DataKind", default_value="numeric", enum_values=DATA_KIND_VALUES)
        self.log_format = ParameterString("LogFormat", default_value=LOG_FORMAT_DEFAULT)

    def all(self) -> list[Any]:
        return list(vars(self).values())


class Builder:
    """Builds one chain per route against an offline PipelineSession."""

    def __init__(self) -> None:
        import boto3
        from sagemaker.workflow.pipeline_context import PipelineSession

        boto_session = boto3.Session(
            region_name=BUILD_REGION,
            aws_access_key_id="offline",
            aws_secret_access_key="offline",  # noqa: S106 - dummy: an offline build must not reach AWS
        )
        self.session = PipelineSession(boto_session=boto_session, default_bucket=placeholder("DataBucket"))
        # No SDK defaults from config files. (A non-empty config would be schema-validated on every
        # lookup: a 3 s build becomes 30 s. Telemetry is switched off in build_definition instead.)
        self.session.sagemaker_config = {}
        # Never let the SDK look for (or create) a default bucket: every S3 location is explicit.
        self.session._default_bucket = placeholder("DataBucket")
        # The role is a placeholder, not a name to look up in IAM (the SDK would call iam:GetRole).
        self.session.expand_role = lambda role: role  # type: ignore[method-assign]
        self.role = placeholder("SageMakerExecutionRoleArn")
        self.p = Parameters()

    # ------------------------------------------------------------------ locations
    def run_uri(self, route: Route, what: str) -> Any:
        """``s3://{bucket}/pipeline/runs/{execution id}/{route}/{what}``: one place per execution."""
        from sagemaker.workflow.execution_variables import ExecutionVariables
        from sagemaker.workflow.functions import Join

        execution = ExecutionVariables.PIPELINE_EXECUTION_ID
        return Join(
            on="/", values=layout.pipeline_run_parts(placeholder("DataBucket"), execution, route.slug, what)
        )

    def script_processor(self, base_job_name: str) -> Any:
        """The Python processing jobs (preprocess, score statistics) share image, size and limits."""
        from sagemaker.processing import ScriptProcessor

        return ScriptProcessor(
            role=self.role,
            image_uri=placeholder("ProcessingImage"),
            command=["python3"],
            instance_count=1,
            instance_type=self.p.processing_instance_type,
            base_job_name=base_job_name,
            max_runtime_in_seconds=MAX_JOB_SECONDS,
            sagemaker_session=self.session,
        )

    def retry(self) -> list[Any]:
        from sagemaker.workflow.retry import StepExceptionTypeEnum, StepRetryPolicy

        return [
            StepRetryPolicy(
                exception_types=[StepExceptionTypeEnum.SERVICE_FAULT, StepExceptionTypeEnum.THROTTLING],
                interval_seconds=30,
                backoff_rate=2.0,
                max_attempts=3,
            )
        ]

    # ------------------------------------------------------------------ steps
    def channels(self, route: Route) -> tuple[list[Any], Any, Any]:
        """[Spark preprocess,] the Channels step, and the Channels step's summary property file.

        The Channels step (``channels.py``) reads ``InputDataUri`` itself — an uploaded object, or the
        recent window of the production dataset, listing only the window's day partitions — and
        writes train, validation (labelled, for tuning) and evaluation channels. The sibling scripts
        it imports come as the ``lib`` input (the whole content-addressed code prefix).
        """
        from sagemaker.processing import ProcessingInput, ProcessingOutput
        from sagemaker.spark.processing import PySparkProcessor
        from sagemaker.workflow.properties import PropertyFile
        from sagemaker.workflow.steps import ProcessingStep

        steps: list[Any] = []
        inputs = [ProcessingInput(input_name="lib", source=code_uri(), destination=LIB_DIR)]
        arguments: list[Any] = ["--input", self.p.input_data_uri]
        if route.spark:
            rows_uri = self.run_uri(route, "rows")
            spark = PySparkProcessor(
                role=self.role,
                image_uri=placeholder("SparkImage"),
                framework_version=SPARK_VERSION,
                py_version=SPARK_PY_VERSION,
                instance_count=self.p.spark_instance_count,
                instance_type=self.p.spark_instance_type,
                base_job_name="sentinel-preprocess-spark",
                max_runtime_in_seconds=MAX_JOB_SECONDS,
                sagemaker_session=self.session,
            )
            # The row rules also come in as a processing input, in case the driver's path lacks them.
            rules = ProcessingInput(
                input_name="rules", source=code_uri("preprocess.py"), destination=RULES_DIR
            )
            spark_args = ["--input", self.p.input_data_uri, "--train-output", rows_uri]
            spark_args += ["--shingle-size", self.p.shingle_size.to_string()]
            step_args = spark.run(
                submit_app=code_uri("preprocess_spark.py"),
                submit_py_files=[code_uri("preprocess.py")],
                arguments=spark_args,
                inputs=[rules],
                outputs=[
                    ProcessingOutput(
                        output_name="summary",
                        source=f"{OUTPUT_DIR}/summary",
                        destination=self.run_uri(route, "spark-summary"),
                    )
                ],
                # No `configuration=`: the SDK would upload it at build time. The script sets its own.
            )
            spark_step = ProcessingStep(
                name=route.step("Preprocess"), step_args=step_args, retry_policies=self.retry()
            )
            steps.append(spark_step)
            inputs.append(ProcessingInput(input_name="rows", source=rows_uri, destination=ROWS_DIR))
            arguments += ["--rows", ROWS_DIR]
        arguments += [
            "--labels-uri",
            self.p.labels_uri,
            "--window-days",
            self.p.window_days.to_string(),
            "--blend",
            self.p.blend_data_uri,
            "--blend-share",
            self.p.blend_share.to_string(),
            "--shingle-size",
            self.p.shingle_size.to_string(),
        ]
        summary = PropertyFile(name=f"Summary-{route.slug}", output_name="summary", path="summary.json")
        outputs = [
            ProcessingOutput(
                output_name=name, source=f"{OUTPUT_DIR}/{name}", destination=self.run_uri(route, name)
            )
            for name in ("train", "validation", "evaluation", "summary")
        ]
        step_args = self.script_processor("sentinel-channels").run(
            code=code_uri("channels.py"), inputs=inputs, outputs=outputs, arguments=arguments
        )
        step = ProcessingStep(
            name=route.step("Channels"),
            step_args=step_args,
            property_files=[summary],
            retry_policies=self.retry(),
            depends_on=steps or None,
        )
        return [*steps, step], step, summary

    def estimator(self, route: Route, feature_dim: Any) -> Any:
        from sagemaker.estimator import Estimator

        return Estimator(
            image_uri=placeholder("RcfImage"),
            role=self.role,
            instance_count=1,
            instance_type=self.p.training_instance_type,
            output_path=self.run_uri(route, "model"),
            base_job_name="sentinel-rcf",
            max_run=MAX_JOB_SECONDS,
            hyperparameters={"feature_dim": feature_dim},
            # Debugger and Profiler do not apply to the built-in RCF image.
            debugger_hook_config=False,
            disable_profiler=True,
            sagemaker_session=self.session,
        )

    def transform(
        self, route: Any, model_name: Any, data: Any, what: str, step: str, *, input_filter: str | None = None
    ) -> Any:
        """A batch transform of ``data`` (feature rows) with the candidate: one score per line.

        ``input_filter`` (e.g. ``$[1:]``) drops columns of each CSV line first (a label column)."""
        from sagemaker.transformer import Transformer
        from sagemaker.workflow.steps import TransformStep

        transformer = Transformer(
            model_name=model_name,
            instance_count=1,
            instance_type=self.p.transform_instance_type,
            output_path=self.run_uri(route, what),
            accept=SCORES_ACCEPT,
            assemble_with="Line",
            strategy="MultiRecord",
            max_payload=6,
            base_transform_job_name="sentinel-scores",
            sagemaker_session=self.session,
        )
        return TransformStep(
            name=route.step(step),
            step_args=transformer.transform(
                data=data,
                data_type="S3Prefix",
                content_type=TRAIN_CONTENT_TYPE,
                split_type="Line",
                **({"input_filter": input_filter} if input_filter else {}),
            ),
            retry_policies=self.retry(),
        )

    def chain(self, route: Route) -> list[Any]:
        """Every step of one route, in order."""
        from sagemaker.drift_check_baselines import DriftCheckBaselines
        from sagemaker.inputs import TrainingInput
        from sagemaker.model import Model
        from sagemaker.model_metrics import MetricsSource, ModelMetrics
        from sagemaker.processing import ProcessingInput, ProcessingOutput
        from sagemaker.tuner import HyperparameterTuner, IntegerParameter
        from sagemaker.workflow.execution_variables import ExecutionVariables
        from sagemaker.workflow.functions import Join, JsonGet
        from sagemaker.workflow.model_step import ModelStep
        from sagemaker.workflow.properties import PropertyFile
        from sagemaker.workflow.steps import ProcessingStep, TuningStep

        first, channels, summary = self.channels(route)
        outputs = channels.properties.ProcessingOutputConfig.Outputs

        def output(name: str) -> Any:
            return outputs[name].S3Output.S3Uri

        # feature_dim is data-driven (shingle size, or the number of feature columns): read it from
        # the channels summary, as a string as hyperparameters must be.
        feature_dim = JsonGet(
            step_name=channels.name, property_file=summary, json_path="feature_dim"
        ).to_string()
        tuner = HyperparameterTuner(
            estimator=self.estimator(route, feature_dim),
            objective_metric_name=OBJECTIVE_METRIC,
            objective_type="Maximize",
            hyperparameter_ranges={
                "num_trees": IntegerParameter(*NUM_TREES_RANGE),
                "num_samples_per_tree": IntegerParameter(*NUM_SAMPLES_PER_TREE_RANGE),
            },
            strategy="Bayesian",
            early_stopping_type="Auto",
            max_jobs=self.p.tuning_max_jobs,
            max_parallel_jobs=self.p.tuning_max_parallel_jobs,
            base_tuning_job_name="sentinel-rcf",
        )
        train_channel = TrainingInput(
            s3_data=output("train"), content_type=TRAIN_CONTENT_TYPE, distribution="ShardedByS3Key"
        )
        # RCF's test channel: the labelled validation set (injected anomalies and any real labels).
        test_channel = TrainingInput(
            s3_data=output("validation"), content_type=TEST_CONTENT_TYPE, distribution="FullyReplicated"
        )
        tune = TuningStep(
            name=route.step("Tune"),
            step_args=tuner.fit(
                inputs={"train": train_channel, "test": test_channel}, include_cls_metadata=False
            ),
            retry_policies=self.retry(),
        )
        best = tune.properties.BestTrainingJob
        job_name = best.TrainingJobName
        # score_stats.json and evaluation.json go next to model.tar.gz: {model prefix}/{job}/output/.
        model_dir_parts = layout.training_output_parts(self.run_uri(route, "model"), job_name)
        model_data = Join(on="/", values=[*model_dir_parts, layout.MODEL_ARTEFACT_FILE])
        model = Model(
            image_uri=placeholder("RcfImage"),
            model_data=model_data,
            role=self.role,
            sagemaker_session=self.session,
        )
        create = ModelStep(
            name=route.step("Model"),
            step_args=model.create(instance_type=self.p.transform_instance_type),
            retry_policies=self.retry(),
        )
        model_name = create.properties.ModelName
        scores = self.transform(route, model_name, output("train"), "scores", "Scores")
        model_dir = Join(on="/", values=model_dir_parts)
        stats_file = PropertyFile(
            name=f"ScoreStats-{route.slug}", output_name="stats", path=layout.SCORE_STATS_FILE
        )
        stats = ProcessingStep(
            name=route.step("ScoreStats"),
            step_args=self.script_processor("sentinel-score-stats").run(
                code=code_uri("score_stats.py"),
                inputs=[
                    ProcessingInput(
                        input_name="scores",
                        source=scores.properties.TransformOutput.S3OutputPath,
                        destination=SCORES_DIR,
                    )
                ],
                outputs=[
                    ProcessingOutput(output_name="stats", source=f"{OUTPUT_DIR}/stats", destination=model_dir)
                ],
                # Recorded in score_stats.json: the scoring function's expected width.
                arguments=["--feature-dim", feature_dim],
            ),
            property_files=[stats_file],
            retry_policies=self.retry(),
        )
        stats_uri = Join(
            on="/",
            values=[
                stats.properties.ProcessingOutputConfig.Outputs["stats"].S3Output.S3Uri,
                layout.SCORE_STATS_FILE,
            ],
        )
        # The data-quality baseline of the train channel (Model Monitor's format) goes beside the
        # model too ({model dir}/baseline/): the drift monitor finds it from the model in service,
        # and the model package records it as its drift-check baseline.
        baseline = ProcessingStep(
            name=route.step("Baseline"),
            step_args=self.script_processor("sentinel-baseline").run(
                code=code_uri("baseline.py"),
                inputs=[ProcessingInput(input_name="train", source=output("train"), destination=TRAIN_DIR)],
                outputs=[
                    ProcessingOutput(
                        output_name="baseline",
                        source=f"{OUTPUT_DIR}/baseline",
                        destination=Join(on="/", values=[model_dir, layout.BASELINE_FOLDER]),
                    )
                ],
            ),
            retry_policies=self.retry(),
        )
        baseline_uri = baseline.properties.ProcessingOutputConfig.Outputs["baseline"].S3Output.S3Uri
        # The evaluation set's feature rows (evaluation/features.csv), scored by the candidate.
        eval_scores = self.transform(
            route,
            model_name,
            Join(on="/", values=[output("evaluation"), "features.csv"]),
            "eval-scores",
            "EvalScores",
        )
        evaluation_file = PropertyFile(
            name=f"Evaluation-{route.slug}", output_name="evaluation", path=layout.EVALUATION_FILE
        )
        evaluate = ProcessingStep(
            name=route.step("Evaluate"),
            step_args=self.script_processor("sentinel-evaluate").run(
                code=code_uri("evaluate.py"),
                inputs=[
                    ProcessingInput(input_name="lib", source=code_uri(), destination=LIB_DIR),
                    ProcessingInput(
                        input_name="evaluation",
                        source=output("evaluation"),
                        destination=f"{INPUT_DIR}/evaluation",
                    ),
                    ProcessingInput(
                        input_name="scores",
                        source=eval_scores.properties.TransformOutput.S3OutputPath,
                        destination=f"{INPUT_DIR}/scores",
                    ),
                    ProcessingInput(input_name="stats", source=stats_uri, destination=f"{INPUT_DIR}/stats"),
                    ProcessingInput(
                        input_name="summary", source=output("summary"), destination=f"{INPUT_DIR}/summary"
                    ),
                ],
                outputs=[
                    ProcessingOutput(
                        output_name="evaluation", source=f"{OUTPUT_DIR}/evaluation", destination=model_dir
                    )
                ],
                # The incumbent is whatever serves the stack's endpoint (none yet: the z-score baseline).
                arguments=["--endpoint", placeholder("EndpointName")],
            ),
            property_files=[evaluation_file],
            retry_policies=self.retry(),
        )
        evaluation_uri = Join(
            on="/",
            values=[
                evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri,
                layout.EVALUATION_FILE,
            ],
        )
        metadata: dict[str, Any] = {
            "pipeline_execution_arn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
            "route": route.slug,
            "feature_dim": feature_dim,
            "shingle_size": self.p.shingle_size.to_string(),
            "score_stats_uri": stats_uri,
            "evaluation_uri": evaluation_uri,
            "training_data": JsonGet(
                step_name=channels.name, property_file=summary, json_path="training_data_label"
            ),
            "objective_metric": OBJECTIVE_METRIC,
            "objective_value": best.FinalHyperParameterTuningJobObjectiveMetric.Value.to_string(),
            "num_trees": best.TunedHyperParameters["num_trees"],
            "num_samples_per_tree": best.TunedHyperParameters["num_samples_per_tree"],
        }
        register = ModelStep(
            name=route.step("Register"),
            step_args=model.register(
                content_types=["text/csv", "application/json"],
                response_types=["application/json"],
                inference_instances=["ml.m5.large"],
                transform_instances=["ml.m5.large"],
                model_package_group_name=placeholder("ModelPackageGroupName"),
                approval_status=self.p.model_approval_status,
                model_metrics=ModelMetrics(
                    # Model quality: precision / recall / F1 of candidate, incumbent and baseline.
                    model_statistics=MetricsSource(content_type="application/json", s3_uri=evaluation_uri),
                    # Data quality: the statistics of the model's scores on its training data.
                    model_data_statistics=MetricsSource(content_type="application/json", s3_uri=stats_uri),
                ),
                drift_check_baselines=DriftCheckBaselines(
                    model_data_statistics=MetricsSource(
                        content_type="application/json",
                        s3_uri=Join(on="/", values=[baseline_uri, layout.STATISTICS_FILE]),
                    ),
                    model_data_constraints=MetricsSource(
                        content_type="application/json",
                        s3_uri=Join(on="/", values=[baseline_uri, layout.CONSTRAINTS_FILE]),
                    ),
                ),
                customer_metadata_properties=metadata,
                description=f"Random Cut Forest from the {route.slug} route of Anomaly Sentinel's pipeline",
            ),
            retry_policies=self.retry(),
        )
        return [*first, tune, create, scores, stats, baseline, eval_scores, evaluate, register]

    def route_condition(self, route: Route, steps: list[Any]) -> Any:
        from sagemaker.workflow.condition_step import ConditionStep
        from sagemaker.workflow.conditions import ConditionEquals

        return ConditionStep(
            name=route.step("Route"),
            conditions=[
                ConditionEquals(left=self.p.use_spark, right=route.spark),
                ConditionEquals(left=self.p.data_kind, right="numeric"),
            ],
            if_steps=steps,
            else_steps=[],
        )

    def log_conditions(self) -> list[Any]:
        """The log route runs alone: when DataKind is ``logs`` (the numeric routes need ``numeric``),
        on the engine UseSpark names."""
        from sagemaker.workflow.condition_step import ConditionStep
        from sagemaker.workflow.conditions import ConditionEquals

        return [
            ConditionStep(
                name=f"Route-{route.slug}",
                conditions=[
                    ConditionEquals(left=self.p.use_spark, right=route.spark),
                    ConditionEquals(left=self.p.data_kind, right="logs"),
                ],
                if_steps=log_chain(self, route),
                else_steps=[],
            )
            for route in LOG_ROUTES
        ]

    def pipeline(self) -> Any:
        from sagemaker.workflow.pipeline import Pipeline

        return Pipeline(
            name="anomaly-sentinel-rcf",
            parameters=self.p.all(),
            steps=[
                *(self.route_condition(route, self.chain(route)) for route in ROUTES),
                *self.log_conditions(),
            ],
            # No SageMaker Experiments tracking: nothing reads it, and the role has no experiments
            # permissions (the SDK's default would create an experiment and a trial per execution).
            pipeline_experiment_config=None,
            sagemaker_session=self.session,
        )


def build_definition() -> dict[str, Any]:
    """The pipeline definition as a dict, placeholders unfilled."""
    import logging
    import warnings

    # The SDK narrates an offline build at length ("no job being started", fields popped): all expected.
    logging.getLogger("sagemaker").setLevel(logging.ERROR)
    from unittest import mock

    from sagemaker.telemetry import telemetry_logging

    # The SDK reports usage to an AWS endpoint from inside fit()/run(): an offline build must not.
    with (
        warnings.catch_warnings(),
        mock.patch.object(telemetry_logging, "_send_telemetry_request", return_value=None),
    ):
        warnings.simplefilter("ignore")
        definition: dict[str, Any] = json.loads(Builder().pipeline().definition())
    return definition


def build_images() -> dict[str, dict[str, str]]:
    """Built-in image URIs per region, for every region that has all three."""
    from sagemaker import image_uris

    regions = image_uris.config_for_framework("randomcutforest")["versions"]["1"]["registries"]
    images: dict[str, dict[str, str]] = {}
    for region in sorted(regions):
        try:
            images[region] = {
                "RcfImage": image_uris.retrieve("randomcutforest", region),
                "ProcessingImage": image_uris.retrieve(
                    "sklearn", region, version=SKLEARN_VERSION, image_scope="training"
                ),
                "SparkImage": image_uris.retrieve(
                    "spark",
                    region,
                    version=SPARK_VERSION,
                    py_version=SPARK_PY_VERSION,
                    image_scope="processing",
                ),
            }
        except ValueError:  # a region without one of the images: not deployable there
            continue
    return images


def render(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def outputs(out: Path) -> dict[Path, str]:
    return {out: render(build_definition()), out.parent / IMAGES_FILE: render(build_images())}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=DEFINITION_PATH, help="definition JSON to write")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files on disk are stale")
    args = parser.parse_args(argv)
    stale = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for path, text in outputs(args.out).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    verb = "stale" if args.check else "written"
    for path in stale:
        print(f"{verb}: {path}")
    if not stale:
        print("pipeline definition up to date")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
