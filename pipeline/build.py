"""Build the SageMaker pipeline definition offline: preprocess, tune or train RCF, score stats, register.

    python -m pipeline.build --out pipeline/definition.json   # what `make pipeline` runs
    python -m pipeline.build --check                          # exit 1 when the committed files are stale

Build time only (``sagemaker==2.257.7``, the ``pipeline`` extra): nothing here is shipped to Lambda.
The output has ``${Name}`` placeholders for what only the deployment knows (bucket, role, model package
group, the region's images, the code prefix); ``pipeline/publisher/app.py`` fills them in when the
stack deploys (see docs/PIPELINE.md). Beside the definition it writes ``images.json``: the built-in
RCF, scikit-learn and Spark processing images of every region, read from the SDK's own tables.

SageMaker Pipelines cannot re-join branches after a ConditionStep, nor nest condition steps, so each
of the four routes (engine Python or Spark x labels or none) is one ConditionStep at the top whose
``if`` branch holds the whole chain: Preprocess -> Tune (labels) or Train -> Model -> Scores (batch
transform of the training data) -> ScoreStats -> Baseline -> Register. The conditions are mutually
exclusive, so exactly one chain runs. "No labels" is ``LabelsUri`` left at its default
``NO_LABELS``, a non-empty sentinel (SageMaker has rejected ``""`` as a passed parameter value).
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

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

PIPELINE_DIR = Path(__file__).resolve().parent
DEFINITION_PATH = PIPELINE_DIR / "definition.json"
IMAGES_FILE = "images.json"

#: Only used for the SDK's session; images are placeholders filled per region at deploy time.
BUILD_REGION = "us-east-1"
SKLEARN_VERSION = "1.4-2"
SPARK_VERSION = "3.5"
SPARK_PY_VERSION = "py312"
#: LabelsUri's default: the labelled routes run only when a labels URI replaces it.
NO_LABELS = "none"

#: Placeholders the publisher substitutes at deploy time (docs/PIPELINE.md lists their sources).
PLACEHOLDERS = (
    "DataBucket",
    "SageMakerExecutionRoleArn",
    "ModelPackageGroupName",
    "CodeDigest",
    "RcfImage",
    "ProcessingImage",
    "SparkImage",
)
ARTIFACT_PREFIX = "pipeline"

# Local paths inside the processing containers.
DATA_DIR = "/opt/ml/processing/input/data"
LABELS_DIR = "/opt/ml/processing/input/labels"
SCORES_DIR = "/opt/ml/processing/input/scores"
TRAIN_DIR = "/opt/ml/processing/input/train"
RULES_DIR = "/opt/ml/processing/input/rules"
OUTPUT_DIR = "/opt/ml/processing/output"

#: Tuning ranges (Bayesian search on test:f1); the untuned route uses NumTrees x NumSamplesPerTree.
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


def code_uri(script: str) -> str:
    """Where the publisher puts each job script: a content-addressed prefix, so a new deployment never
    changes the code of a running execution. The file name stays last (the SDK derives the path in
    the container from it)."""
    return f"s3://{placeholder('DataBucket')}/{ARTIFACT_PREFIX}/code/{placeholder('CodeDigest')}/{script}"


@dataclass(frozen=True)
class Route:
    """One of the four mutually exclusive chains."""

    spark: bool
    labelled: bool

    @property
    def engine(self) -> str:
        return "Spark" if self.spark else "Python"

    @property
    def mode(self) -> str:
        return "Labelled" if self.labelled else "Unlabelled"

    @property
    def slug(self) -> str:
        return f"{self.engine}-{self.mode}"

    def step(self, kind: str) -> str:
        """Step names are ``{Kind}-{Engine}-{Mode}``, e.g. ``Tune-Spark-Labelled``."""
        return f"{kind}-{self.slug}"


ROUTES = tuple(Route(spark, labelled) for spark in (False, True) for labelled in (True, False))


class Parameters:
    """Pipeline parameters (names are a contract: StartPipelineFunction sends InputDataUri)."""

    def __init__(self) -> None:
        from sagemaker.workflow.parameters import ParameterBoolean, ParameterInteger, ParameterString

        self.input_data_uri = ParameterString("InputDataUri")
        self.labels_uri = ParameterString("LabelsUri", default_value=NO_LABELS)
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
        self.num_trees = ParameterInteger("NumTrees", default_value=50)
        self.num_samples_per_tree = ParameterInteger("NumSamplesPerTree", default_value=512)
        self.tuning_max_jobs = ParameterInteger("TuningMaxJobs", default_value=10)
        self.tuning_max_parallel_jobs = ParameterInteger("TuningMaxParallelJobs", default_value=2)

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

        return Join(
            on="/",
            values=[
                f"s3://{placeholder('DataBucket')}/{ARTIFACT_PREFIX}/runs",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                route.slug,
                what,
            ],
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
    def preprocess(self, route: Route) -> tuple[Any, Any, Any, Any]:
        """The preprocess step, its train and test channel URIs, and its summary property file."""
        from sagemaker.processing import ProcessingInput, ProcessingOutput
        from sagemaker.spark.processing import PySparkProcessor
        from sagemaker.workflow.properties import PropertyFile
        from sagemaker.workflow.steps import ProcessingStep

        name = route.step("Preprocess")
        summary = PropertyFile(name=f"Summary-{route.slug}", output_name="summary", path="summary.json")
        summary_output = ProcessingOutput(
            output_name="summary",
            source=f"{OUTPUT_DIR}/summary",
            destination=self.run_uri(route, "summary"),
        )
        labels = [ProcessingInput(input_name="labels", source=self.p.labels_uri, destination=LABELS_DIR)]
        if route.spark:
            train_uri, test_uri = self.run_uri(route, "train"), self.run_uri(route, "test")
            arguments = ["--input", self.p.input_data_uri, "--train-output", train_uri]
            arguments += ["--shingle-size", self.p.shingle_size.to_string()]
            if route.labelled:
                arguments += [
                    "--test-output",
                    test_uri,
                    "--labels",
                    LABELS_DIR,
                    "--labels-uri",
                    self.p.labels_uri,
                ]
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
            step_args = spark.run(
                submit_app=code_uri("preprocess_spark.py"),
                submit_py_files=[code_uri("preprocess.py")],
                arguments=arguments,
                inputs=[rules, *labels] if route.labelled else [rules],
                outputs=[summary_output],
                # No `configuration=`: the SDK would upload it at build time. The script sets its own.
            )
            step = ProcessingStep(
                name=name, step_args=step_args, property_files=[summary], retry_policies=self.retry()
            )
            return step, train_uri, test_uri, summary

        processor = self.script_processor("sentinel-preprocess")
        inputs = [ProcessingInput(input_name="data", source=self.p.input_data_uri, destination=DATA_DIR)]
        outputs = [
            ProcessingOutput(
                output_name="train", source=f"{OUTPUT_DIR}/train", destination=self.run_uri(route, "train")
            ),
            summary_output,
        ]
        # An S3Prefix input downloads every key that starts with the URI (x.csv also brings x.csv.gz):
        # the script reads only the uploaded object, named by the URI itself.
        arguments = ["--shingle-size", self.p.shingle_size.to_string(), "--input-uri", self.p.input_data_uri]
        if route.labelled:
            arguments += ["--labels-uri", self.p.labels_uri]
            inputs += labels
            outputs.insert(
                1,
                ProcessingOutput(
                    output_name="test", source=f"{OUTPUT_DIR}/test", destination=self.run_uri(route, "test")
                ),
            )
            arguments += ["--labels", LABELS_DIR]
        step_args = processor.run(
            code=code_uri("preprocess.py"), inputs=inputs, outputs=outputs, arguments=arguments
        )
        step = ProcessingStep(
            name=name, step_args=step_args, property_files=[summary], retry_policies=self.retry()
        )
        config = step.properties.ProcessingOutputConfig.Outputs
        test = config["test"].S3Output.S3Uri if route.labelled else None
        return step, config["train"].S3Output.S3Uri, test, summary

    def estimator(self, route: Route, feature_dim: Any, *, tuned: bool) -> Any:
        from sagemaker.estimator import Estimator

        hyperparameters: dict[str, Any] = {"feature_dim": feature_dim}
        if not tuned:
            hyperparameters |= {
                "num_trees": self.p.num_trees,
                "num_samples_per_tree": self.p.num_samples_per_tree,
            }
        return Estimator(
            image_uri=placeholder("RcfImage"),
            role=self.role,
            instance_count=1,
            instance_type=self.p.training_instance_type,
            output_path=self.run_uri(route, "model"),
            base_job_name="sentinel-rcf",
            max_run=MAX_JOB_SECONDS,
            hyperparameters=hyperparameters,
            # Debugger and Profiler do not apply to the built-in RCF image.
            debugger_hook_config=False,
            disable_profiler=True,
            sagemaker_session=self.session,
        )

    def chain(self, route: Route) -> list[Any]:
        """Every step of one route, in order."""
        from sagemaker.drift_check_baselines import DriftCheckBaselines
        from sagemaker.inputs import TrainingInput
        from sagemaker.model import Model
        from sagemaker.model_metrics import MetricsSource, ModelMetrics
        from sagemaker.processing import ProcessingInput, ProcessingOutput
        from sagemaker.transformer import Transformer
        from sagemaker.tuner import HyperparameterTuner, IntegerParameter
        from sagemaker.workflow.execution_variables import ExecutionVariables
        from sagemaker.workflow.functions import Join, JsonGet
        from sagemaker.workflow.model_step import ModelStep
        from sagemaker.workflow.properties import PropertyFile
        from sagemaker.workflow.steps import ProcessingStep, TrainingStep, TransformStep, TuningStep

        preprocess, train_uri, test_uri, summary = self.preprocess(route)
        # feature_dim is data-driven (shingle size, or the number of feature columns): read it from
        # the preprocess summary, as a string as hyperparameters must be.
        feature_dim = JsonGet(
            step_name=preprocess.name, property_file=summary, json_path="feature_dim"
        ).to_string()
        train_channel = TrainingInput(
            s3_data=train_uri, content_type=TRAIN_CONTENT_TYPE, distribution="ShardedByS3Key"
        )
        metadata: dict[str, Any] = {
            "pipeline_execution_arn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
            "route": route.slug,
            "feature_dim": feature_dim,
            "shingle_size": self.p.shingle_size.to_string(),
        }
        estimator = self.estimator(route, feature_dim, tuned=route.labelled)
        trainer: Any
        if route.labelled:
            tuner = HyperparameterTuner(
                estimator=estimator,
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
            test_channel = TrainingInput(
                s3_data=test_uri, content_type=TEST_CONTENT_TYPE, distribution="FullyReplicated"
            )
            trainer = TuningStep(
                name=route.step("Tune"),
                step_args=tuner.fit(
                    inputs={"train": train_channel, "test": test_channel}, include_cls_metadata=False
                ),
                retry_policies=self.retry(),
                depends_on=[preprocess] if route.spark else None,
            )
            best = trainer.properties.BestTrainingJob
            job_name = best.TrainingJobName
            model_data = Join(
                on="/", values=[self.run_uri(route, "model"), job_name, "output", "model.tar.gz"]
            )
            metadata |= {
                "objective_metric": OBJECTIVE_METRIC,
                "objective_value": best.FinalHyperParameterTuningJobObjectiveMetric.Value.to_string(),
                "num_trees": best.TunedHyperParameters["num_trees"],
                "num_samples_per_tree": best.TunedHyperParameters["num_samples_per_tree"],
            }
        else:
            trainer = TrainingStep(
                name=route.step("Train"),
                step_args=estimator.fit(inputs={"train": train_channel}),
                retry_policies=self.retry(),
                depends_on=[preprocess] if route.spark else None,
            )
            job_name = trainer.properties.TrainingJobName
            model_data = trainer.properties.ModelArtifacts.S3ModelArtifacts
            metadata |= {
                "num_trees": self.p.num_trees.to_string(),
                "num_samples_per_tree": self.p.num_samples_per_tree.to_string(),
            }

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
        transformer = Transformer(
            model_name=create.properties.ModelName,
            instance_count=1,
            instance_type=self.p.transform_instance_type,
            output_path=self.run_uri(route, "scores"),
            accept=SCORES_ACCEPT,
            assemble_with="Line",
            strategy="MultiRecord",
            max_payload=6,
            base_transform_job_name="sentinel-scores",
            sagemaker_session=self.session,
        )
        scores = TransformStep(
            name=route.step("Scores"),
            step_args=transformer.transform(
                data=train_uri, data_type="S3Prefix", content_type=TRAIN_CONTENT_TYPE, split_type="Line"
            ),
            retry_policies=self.retry(),
        )
        # score_stats.json goes next to model.tar.gz: {model prefix}/{training job}/output/.
        model_dir = Join(on="/", values=[self.run_uri(route, "model"), job_name, "output"])
        stats_processor = self.script_processor("sentinel-score-stats")
        stats_file = PropertyFile(
            name=f"ScoreStats-{route.slug}", output_name="stats", path="score_stats.json"
        )
        stats = ProcessingStep(
            name=route.step("ScoreStats"),
            step_args=stats_processor.run(
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
            ),
            property_files=[stats_file],
            retry_policies=self.retry(),
        )
        stats_uri = Join(
            on="/",
            values=[
                stats.properties.ProcessingOutputConfig.Outputs["stats"].S3Output.S3Uri,
                "score_stats.json",
            ],
        )
        metadata["score_stats_uri"] = stats_uri
        # The data-quality baseline of the train channel (Model Monitor's format) goes beside the
        # model too ({model dir}/baseline/): the drift monitor finds it from the model in service,
        # and the model package records it as its drift-check baseline.
        baseline = ProcessingStep(
            name=route.step("Baseline"),
            step_args=self.script_processor("sentinel-baseline").run(
                code=code_uri("baseline.py"),
                inputs=[ProcessingInput(input_name="train", source=train_uri, destination=TRAIN_DIR)],
                outputs=[
                    ProcessingOutput(
                        output_name="baseline",
                        source=f"{OUTPUT_DIR}/baseline",
                        destination=Join(on="/", values=[model_dir, "baseline"]),
                    )
                ],
            ),
            retry_policies=self.retry(),
        )
        baseline_uri = baseline.properties.ProcessingOutputConfig.Outputs["baseline"].S3Output.S3Uri
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
                    model_statistics=MetricsSource(content_type="application/json", s3_uri=stats_uri)
                ),
                drift_check_baselines=DriftCheckBaselines(
                    model_data_statistics=MetricsSource(
                        content_type="application/json",
                        s3_uri=Join(on="/", values=[baseline_uri, "statistics.json"]),
                    ),
                    model_data_constraints=MetricsSource(
                        content_type="application/json",
                        s3_uri=Join(on="/", values=[baseline_uri, "constraints.json"]),
                    ),
                ),
                customer_metadata_properties=metadata,
                description=f"Random Cut Forest from the {route.slug} route of Anomaly Sentinel's pipeline",
            ),
            retry_policies=self.retry(),
        )
        return [preprocess, trainer, create, scores, stats, baseline, register]

    def route_condition(self, route: Route, steps: list[Any]) -> Any:
        from sagemaker.workflow.condition_step import ConditionStep
        from sagemaker.workflow.conditions import ConditionEquals, ConditionNot

        no_labels = ConditionEquals(left=self.p.labels_uri, right=NO_LABELS)
        return ConditionStep(
            name=route.step("Route"),
            conditions=[
                ConditionEquals(left=self.p.use_spark, right=route.spark),
                ConditionNot(expression=no_labels) if route.labelled else no_labels,
            ],
            if_steps=steps,
            else_steps=[],
        )

    def pipeline(self) -> Any:
        from sagemaker.workflow.pipeline import Pipeline

        return Pipeline(
            name="anomaly-sentinel-rcf",
            parameters=self.p.all(),
            steps=[self.route_condition(route, self.chain(route)) for route in ROUTES],
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
