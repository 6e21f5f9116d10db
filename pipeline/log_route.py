"""The pipeline's log route (issue 21): raw logs → template table → sessions → RCF and PCA tuned side by side.

A ConditionStep holds the chain, as the numeric routes do — two, as the numeric routes have two
engines: ``Route-Logs`` (``DataKind`` logs, ``UseSpark`` false) prepares with ``logs_prepare.py``
in the scikit-learn image; ``Route-LogsSpark`` (``UseSpark`` true) prepares with
``logs_prepare_spark.py`` in the Spark image (PySparkProcessor, ``SparkInstanceCount`` x
``SparkInstanceType``: the driver mines, executors match), which writes the same files. The rest
of the chain is the same:

Prepare (``logs_prepare.py``: drain3 on the content, template table, sessions, vectors, labelled
channels; ``report.json`` gives ``feature_dim``) → **TuneRcf** (the built-in RCF on the vectors,
``test:f1`` on the labelled validation channel) and **TunePca** (our ``logs_pca.py`` in the
scikit-learn image, ``custom_metric_value`` read by a regex metric definition, Maximize) side by
side → ModelRcf → the RCF's scores of the train, validation and evaluation channels (batch
transforms; the labelled channels drop their label column with ``InputFilter $[1:]``) → Evaluate
(``logs_evaluate.py``: the RCF cutoff on validation, both detectors on the evaluation channel, the
better one against the log model in service on the same real sessions; writes the model directory
and ``evaluation.json``) → Register (the winner's artefact and image, the directory in the
metadata) in the log model package group: a PCA winner approved when it beats the model in
service; an RCF winner that beats it waits PendingManualApproval until the retraining state
machine (rule TrainedLogModel) has put it on the log endpoint (``logs_evaluate.registration``).

Scripts run as ``python3 logs_job.py <script> …`` (pipeline/scripts/logs_job.py installs drain3
in the processing image); the runtime package comes with the ``lib`` input; the PCA training job
runs from the publisher's ``sourcedir.tar.gz``.
"""

from __future__ import annotations

from typing import Any

#: The route switch and the format (StartPipelineFunction sends both for uploads of raw logs).
DATA_KIND_VALUES = ["numeric", "logs"]
LOG_FORMAT_DEFAULT = "hdfs"
SLUG = "Logs"
SPARK_SLUG = "LogsSpark"
#: Tuning ranges of the PCA detector (logs_pca.py: max_components 1 to 30; threshold_quantile 0 = the
#: Q-statistic, else a quantile of the training SPE — logs_pca.QUANTILE_GRID).
PCA_COMPONENTS_RANGE = (1, 30)
PCA_QUANTILES = ["0.0", "0.95", "0.98", "0.99", "0.995", "0.998", "0.999", "0.9995", "1.0"]
PCA_METRIC = "custom_metric_value"
PCA_METRIC_REGEX = r"custom_metric_value: ([0-9\.]+)"
LABELLED_FILTER = "$[1:]"  # batch transform: drop the label column of a labelled channel
PREPARED_DIR = "/opt/ml/processing/output/prepared"
MODEL_DIR = "/opt/ml/processing/output/model"
INPUT_DIR = "/opt/ml/processing/input"


class Route:
    """Names like the numeric routes' (``{Kind}-Logs``, ``{Kind}-LogsSpark``): the steps read alike."""

    def __init__(self, *, spark: bool = False) -> None:
        self.spark = spark
        self.slug = SPARK_SLUG if spark else SLUG

    def step(self, kind: str) -> str:
        return f"{kind}-{self.slug}"


#: The log route's two engines (UseSpark false, then true).
ROUTES = (Route(), Route(spark=True))


def prepare_args(builder: Any, route: Route, lib: Any, logs: Any, prepared: Any) -> Any:
    """The Prepare step's job: ``logs_prepare`` in the scikit-learn image, or ``logs_prepare_spark``
    on a Spark cluster (both through ``logs_job.py``: drain3 installed, the labels downloaded)."""
    from pipeline import build

    p = builder.p
    arguments = ["--input", f"{INPUT_DIR}/logs", "--format", p.log_format, "--labels-uri", p.labels_uri]
    arguments += ["--out", PREPARED_DIR]
    if not route.spark:
        return builder.script_processor("sentinel-logs-prepare").run(
            code=build.code_uri("logs_job.py"),
            inputs=[lib, logs],
            outputs=[prepared],
            arguments=["logs_prepare", *arguments],
        )
    from sagemaker.spark.processing import PySparkProcessor

    spark = PySparkProcessor(
        role=builder.role,
        image_uri=build.placeholder("SparkImage"),
        framework_version=build.SPARK_VERSION,
        py_version=build.SPARK_PY_VERSION,
        instance_count=p.spark_instance_count,
        instance_type=p.spark_instance_type,
        base_job_name="sentinel-logs-prepare-spark",
        max_runtime_in_seconds=build.MAX_JOB_SECONDS,
        sagemaker_session=builder.session,
    )
    # Executors unpickle the script's functions by module: the scripts and the runtime package go
    # as py-files, in one zip the publisher writes (pipeline/publisher/app.py, PY_FILES).
    return spark.run(
        submit_app=build.code_uri("logs_job.py"),
        submit_py_files=[build.code_uri("code.zip")],
        inputs=[lib, logs],
        outputs=[prepared],
        arguments=["logs_prepare_spark", *arguments],
    )


def log_chain(builder: Any, route: Route = ROUTES[0]) -> list[Any]:
    """Every step of the log route, in order (``builder`` is pipeline.build.Builder)."""
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.tuner import CategoricalParameter, HyperparameterTuner, IntegerParameter
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import ProcessingStep, TuningStep

    from pipeline import build

    layout = build.layout  # the layer's key layout (build puts the layer on the path)

    p = builder.p
    lib = ProcessingInput(input_name="lib", source=build.code_uri(), destination=build.LIB_DIR)
    logs = ProcessingInput(input_name="logs", source=p.input_data_uri, destination=f"{INPUT_DIR}/logs")
    prepared_uri = builder.run_uri(route, "prepared")
    report = PropertyFile(name=f"Report-{route.slug}", output_name="prepared", path="report.json")
    prepared = ProcessingOutput(output_name="prepared", source=PREPARED_DIR, destination=prepared_uri)
    prepare = ProcessingStep(
        name=route.step("Prepare"),
        step_args=prepare_args(builder, route, lib, logs, prepared),
        property_files=[report],
        retry_policies=builder.retry(),
    )

    # Read back from the step's own output (not the URI it was given): the later steps then depend on it.
    prepared_out = prepare.properties.ProcessingOutputConfig.Outputs["prepared"].S3Output.S3Uri

    def channel(name: str) -> Any:
        return Join(on="/", values=[prepared_out, name])

    feature_dim = JsonGet(step_name=prepare.name, property_file=report, json_path="feature_dim").to_string()
    train = TrainingInput(
        s3_data=channel("train"), content_type=build.TRAIN_CONTENT_TYPE, distribution="ShardedByS3Key"
    )
    validation = TrainingInput(
        s3_data=channel("validation"), content_type=build.TEST_CONTENT_TYPE, distribution="FullyReplicated"
    )
    rcf_tuner = HyperparameterTuner(
        estimator=builder.estimator(route, feature_dim),
        objective_metric_name=build.OBJECTIVE_METRIC,
        objective_type="Maximize",
        hyperparameter_ranges={
            "num_trees": IntegerParameter(*build.NUM_TREES_RANGE),
            "num_samples_per_tree": IntegerParameter(*build.NUM_SAMPLES_PER_TREE_RANGE),
        },
        strategy="Bayesian",
        early_stopping_type="Auto",
        max_jobs=p.tuning_max_jobs,
        max_parallel_jobs=p.tuning_max_parallel_jobs,
        base_tuning_job_name="sentinel-logs-rcf",
    )
    tune_rcf = TuningStep(
        name=route.step("TuneRcf"),
        step_args=rcf_tuner.fit(inputs={"train": train, "test": validation}, include_cls_metadata=False),
        retry_policies=builder.retry(),
    )
    pca_output = builder.run_uri(route, "pca")
    pca = Estimator(
        image_uri=build.placeholder("ProcessingImage"),
        role=builder.role,
        instance_count=1,
        instance_type=p.training_instance_type,
        output_path=pca_output,
        base_job_name="sentinel-logs-pca",
        max_run=build.MAX_JOB_SECONDS,
        # The scikit-learn image's training toolkit runs this script from this bundle (the publisher
        # writes it beside the scripts: logs_pca.py, evaluate.py, anomaly_sentinel/).
        hyperparameters={
            "sagemaker_program": "logs_pca.py",
            "sagemaker_submit_directory": build.code_uri("sourcedir.tar.gz"),
        },
        metric_definitions=[{"Name": PCA_METRIC, "Regex": PCA_METRIC_REGEX}],
        debugger_hook_config=False,
        disable_profiler=True,
        sagemaker_session=builder.session,
    )
    pca_tuner = HyperparameterTuner(
        estimator=pca,
        objective_metric_name=PCA_METRIC,
        objective_type="Maximize",
        metric_definitions=[{"Name": PCA_METRIC, "Regex": PCA_METRIC_REGEX}],
        hyperparameter_ranges={
            "max_components": IntegerParameter(*PCA_COMPONENTS_RANGE),
            "threshold_quantile": CategoricalParameter(PCA_QUANTILES),
        },
        strategy="Bayesian",
        max_jobs=p.tuning_max_jobs,
        max_parallel_jobs=p.tuning_max_parallel_jobs,
        base_tuning_job_name="sentinel-logs-pca",
    )
    unlabelled_validation = TrainingInput(
        s3_data=channel("validation"), content_type=build.TRAIN_CONTENT_TYPE, distribution="FullyReplicated"
    )
    tune_pca = TuningStep(
        name=route.step("TunePca"),
        step_args=pca_tuner.fit(
            inputs={"train": train, "validation": unlabelled_validation}, include_cls_metadata=False
        ),
        retry_policies=builder.retry(),
    )
    best_rcf = tune_rcf.properties.BestTrainingJob
    rcf_model_dir = layout.training_output_parts(builder.run_uri(route, "model"), best_rcf.TrainingJobName)
    rcf_model_data = Join(on="/", values=[*rcf_model_dir, layout.MODEL_ARTEFACT_FILE])
    pca_model_dir = Join(
        on="/",
        values=layout.training_output_parts(pca_output, tune_pca.properties.BestTrainingJob.TrainingJobName),
    )
    rcf_model = Model(
        image_uri=build.placeholder("RcfImage"),
        model_data=rcf_model_data,
        role=builder.role,
        sagemaker_session=builder.session,
    )
    create = ModelStep(
        name=route.step("ModelRcf"),
        step_args=rcf_model.create(instance_type=p.transform_instance_type),
        retry_policies=builder.retry(),
    )
    transforms = {
        name: builder.transform(
            route,
            create.properties.ModelName,
            channel(name),
            f"rcf-{name}",
            f"Rcf{name.capitalize()}Scores",
            input_filter=None if name == "train" else LABELLED_FILTER,
        )
        for name in ("train", "validation", "evaluation")
    }
    evaluation_file = PropertyFile(
        name=f"Evaluation-{route.slug}", output_name="model", path=layout.EVALUATION_FILE
    )
    model_uri = builder.run_uri(route, "directory")
    scores_inputs = [
        ProcessingInput(
            input_name=f"rcf-{name}",
            source=step.properties.TransformOutput.S3OutputPath,
            destination=f"{INPUT_DIR}/rcf-{name}",
        )
        for name, step in transforms.items()
    ]
    evaluate = ProcessingStep(
        name=route.step("Evaluate"),
        step_args=builder.script_processor("sentinel-logs-evaluate").run(
            code=build.code_uri("logs_job.py"),
            inputs=[
                lib,
                logs,
                ProcessingInput(
                    input_name="prepared", source=prepared_out, destination=f"{INPUT_DIR}/prepared"
                ),
                *scores_inputs,
                ProcessingInput(
                    input_name="rcf-model", source=rcf_model_data, destination=f"{INPUT_DIR}/rcf-model"
                ),
                ProcessingInput(input_name="pca", source=pca_model_dir, destination=f"{INPUT_DIR}/pca"),
            ],
            outputs=[ProcessingOutput(output_name="model", source=MODEL_DIR, destination=model_uri)],
            arguments=[
                "logs_evaluate",
                "--group",
                build.placeholder("LogsModelPackageGroupName"),
                "--endpoint",
                build.placeholder("LogsEndpointName"),
                "--model-uri",
                model_uri,
                "--rcf-image",
                build.placeholder("RcfImage"),
                "--pca-image",
                build.placeholder("ProcessingImage"),
            ],
        ),
        property_files=[evaluation_file],
        retry_policies=builder.retry(),
    )

    def verdict(path: str) -> Any:
        return JsonGet(step_name=evaluate.name, property_file=evaluation_file, json_path=path)

    evaluation_uri = Join(on="/", values=[model_uri, layout.EVALUATION_FILE])
    winner = Model(
        image_uri=verdict("image"),
        model_data=verdict("model_data_url"),
        role=builder.role,
        sagemaker_session=builder.session,
    )
    register = ModelStep(
        name=route.step("Register"),
        step_args=winner.register(
            content_types=["text/csv"],
            response_types=["application/json"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=build.placeholder("LogsModelPackageGroupName"),
            approval_status=verdict("approval"),
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(content_type="application/json", s3_uri=evaluation_uri)
            ),
            customer_metadata_properties={
                "pipeline_execution_arn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
                "route": route.slug,
                "log_model_uri": Join(on="", values=[model_uri, "/"]),
                "detector": verdict("detector"),
                "evaluation_uri": evaluation_uri,
                "objective_metric": "evaluation:f1",
                "objective_value": verdict("f1").to_string(),
                "feature_dim": feature_dim,
            },
            description="Log anomaly detector (RCF or PCA, the better on the evaluation sessions) "
            "with its template table and vector spec",
        ),
        retry_policies=builder.retry(),
    )
    return [prepare, tune_rcf, tune_pca, create, *transforms.values(), evaluate, register]
