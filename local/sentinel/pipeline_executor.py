"""Local pipeline executor: what SageMaker would do for a pipeline execution, done on this machine.

moto records pipeline executions (as "Succeeded", at once) but runs nothing. For each execution
the executor has not run yet it:

1. reads the execution's definition and parameters (definition defaults, overridden by the
   execution's own parameters) — hyperparameters, tuning ranges and data locations come from the
   definition, not from Python;
2. runs the very ``pipeline/scripts/channels.py`` the Preprocess step runs: an uploaded object
   (``InputDataUri`` names a file) is cleaned and shingled by ``preprocess.py``; the template's
   default ``InputDataUri`` (the production dataset prefix) gives the recent window of scored
   traffic; either way it writes the train, validation (injected, labelled) and evaluation channels;
3. searches ``num_trees`` x ``num_samples_per_tree`` with the local RCF (``sentinel.tuning``: a small
   grid within the definition's ranges, at most ``TuningMaxJobs`` and ``max_trials`` trials), keeping
   the best validation F1, and writes ``score_stats.json`` (``pipeline/scripts/score_stats.py``);
4. scores the evaluation set with the candidate and with the model serving the endpoint
   (``pipeline/scripts/evaluate.py``, through the endpoint as the Evaluate step does) and writes
   ``evaluation.json``; model, statistics and evaluation go under ``models/<execution-id>/``;
5. registers a model package (RCF image, ModelDataUrl, approval status, evaluation as model-quality
   metrics, and customer metadata naming the statistics, the evaluation and the training data);
6. moves the execution Executing → Succeeded (or Failed with the reason) in moto's backend and
   puts one "SageMaker Model Building Pipeline Execution Status Change" event on the default bus
   per change, as SageMaker does, for the event router to deliver.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from anomaly_sentinel import drift
from anomaly_sentinel.contracts import (
    EVALUATION_FILE,
    METADATA_EVALUATION,
    METADATA_EXECUTION,
    METADATA_SCORE_STATS,
    METADATA_TRAINING_DATA,
    MODEL_ARTEFACT_FILE,
    SCORE_STATS_FILE,
    parse_s3_uri,
)
from anomaly_sentinel.contracts.layout import BASELINE_FOLDER
from sentinel import log_route
from sentinel.emulator import ACCOUNT, REGION, local_client
from sentinel.errors import LocalError
from sentinel.moto_patches import (
    pipeline_execution,
    record_pipeline_steps,
    registered_step,
    set_pipeline_execution_status,
)
from sentinel.rcf import RandomCutForest
from sentinel.template import PROJECT_ROOT, Template
from sentinel.tuning import search

log = logging.getLogger(__name__)

SCRIPTS = PROJECT_ROOT / "pipeline" / "scripts"
STATUS_EVENT = "SageMaker Model Building Pipeline Execution Status Change"
BASELINE_STATISTICS = drift.STATISTICS_FILE
BASELINE_CONSTRAINTS = drift.CONSTRAINTS_FILE
DEFAULT_APPROVAL = "PendingManualApproval"
#: Trials the local search runs at most, whatever TuningMaxJobs allows (the local RCF is one process).
LOCAL_MAX_TRIALS = 4
#: The seeds' settings (50 trees x 512 samples), used when the definition leaves a value to tuning.
LOCAL_DEFAULTS = {"num_trees": 50, "num_samples_per_tree": 512}
#: Built-in RCF image registries (sagemaker 2.257.7 image_uri_config/randomcutforest.json), used
#: only when the definition names no image.
_RCF_REGISTRIES = {
    "us-east-1": "382416733822",
    "us-east-2": "404615174143",
    "us-west-1": "632365934929",
    "us-west-2": "174872318107",
    "eu-west-1": "438346466558",
    "eu-central-1": "664544806723",
    "ap-southeast-2": "712309505854",
}


class PipelineExecutionError(LocalError):
    """The execution cannot succeed; the message becomes its FailureReason."""


class DefinitionError(PipelineExecutionError):
    """The pipeline definition lacks something the local executor needs, or uses what it cannot resolve."""


@dataclass(frozen=True)
class TrainingPlan:
    """What one execution trains on and registers into, from its definition and parameters.

    The hyperparameters are resolved later (:func:`hyperparameters`): feature_dim may be read from
    the preprocess summary, as the real pipeline does with ``JsonGet``.
    """

    definition: Mapping[str, Any]
    parameters: Mapping[str, str]
    input_uri: str
    labels_uri: str | None
    shingle_size: int
    model_package_group: str
    approval_status: str
    image_uri: str
    window_days: int = 14
    blend_uri: str | None = None
    blend_share: float = 0.0
    tuning_max_jobs: int = LOCAL_MAX_TRIALS


@dataclass
class ExecutionResult:
    execution_arn: str
    status: str
    failure_reason: str | None = None
    model_package_arn: str | None = None
    model_data_url: str | None = None
    score_stats_uri: str | None = None
    evaluation_uri: str | None = None
    hyperparameters: dict[str, int] = field(default_factory=dict)
    score_stats: dict[str, Any] = field(default_factory=dict)
    preprocess: dict[str, Any] = field(default_factory=dict)
    trials: list[dict[str, Any]] = field(default_factory=list)
    evaluation: dict[str, Any] = field(default_factory=dict)
    statuses: list[str] = field(default_factory=list)
    #: statistics.json and constraints.json of the data-quality baseline, as written.
    baseline: dict[str, bytes] = field(default_factory=dict)
    baseline_uri: str | None = None
    #: The log route's outcome (detector, F1, sessions, templates, approval); empty for numeric runs.
    log_fit: dict[str, Any] = field(default_factory=dict)

    @property
    def training_data(self) -> dict[str, Any]:
        """What the model was trained on (``channels.py``'s ``training_data``)."""
        return dict(self.preprocess.get("training_data") or {})


# ---------------------------------------------------------------------------- definitions


def resolve_value(value: Any, parameters: Mapping[str, str], summary: Mapping[str, Any] | None = None) -> Any:
    """Resolve the pipeline-definition expressions a hyperparameter or a register argument holds.

    Plain values; ``{"Get": "Parameters.X"}``; ``{"Std:Join": {"On": s, "Values": [...]}}`` (how
    the SDK writes ``to_string()``); ``{"Std:JsonGet": {"Path": p, ...}}`` read from the preprocess
    ``summary`` (the only property file the executor produces). Step properties are refused.
    """
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict) and set(value) == {"Get"}:
        reference = str(value["Get"])
        name = reference.removeprefix("Parameters.")
        if reference.startswith("Parameters.") and name in parameters:
            return parameters[name]
        raise DefinitionError(f"cannot resolve {reference!r} locally")
    if isinstance(value, dict) and set(value) == {"Std:Join"}:
        join = value["Std:Join"]
        parts = (str(resolve_value(v, parameters, summary)) for v in join.get("Values", []))
        return str(join.get("On", "")).join(parts)
    if isinstance(value, dict) and set(value) == {"Std:JsonGet"}:
        path = str(value["Std:JsonGet"].get("Path", ""))
        if summary is None or path not in summary:
            raise DefinitionError(f"cannot resolve JsonGet {path!r}: not in the preprocess summary")
        return summary[path]
    raise DefinitionError(f"unsupported expression in the pipeline definition: {json.dumps(value)[:200]}")


def iter_steps(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every step, including those nested in ConditionStep branches."""
    for step in steps:
        yield step
        arguments = step.get("Arguments", {})
        for branch in ("IfSteps", "ElseSteps"):
            yield from iter_steps(arguments.get(branch, []) or [])


def definition_parameters(definition: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """Definition defaults overridden by the execution's parameters (as SageMaker resolves them)."""
    values = {
        p["Name"]: str(p["DefaultValue"]) for p in definition.get("Parameters", []) if "DefaultValue" in p
    }
    values.update({name: str(value) for name, value in overrides.items()})
    return values


def _int(value: Any, what: str) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise DefinitionError(f"{what} is not an integer: {value!r}") from None


def hyperparameters(
    definition: Mapping[str, Any], parameters: Mapping[str, str], summary: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """feature_dim / num_trees / num_samples_per_tree as the definition sets them.

    A plain training step (the no-label route) wins: it is what the pipeline trains without
    tuning. Otherwise the tuning step's static hyperparameters are used, and a tuned one takes
    the seeds' default clamped into its range — the executor does not tune.
    """
    steps = list(iter_steps(definition.get("Steps", [])))
    wanted = ("feature_dim", *LOCAL_DEFAULTS)
    found: dict[str, int] = {}
    for step in steps:
        if step.get("Type") == "Training":
            for name, value in (step["Arguments"].get("HyperParameters") or {}).items():
                if name in wanted:
                    found.setdefault(name, _int(resolve_value(value, parameters, summary), name))
    if found:
        return found
    for step in steps:
        if step.get("Type") != "Tuning":
            continue
        arguments = step["Arguments"]
        static = arguments.get("TrainingJobDefinition", {}).get("StaticHyperParameters") or {}
        for name, value in static.items():
            if name in wanted:
                found.setdefault(name, _int(resolve_value(value, parameters, summary), name))
        ranges = arguments.get("HyperParameterTuningJobConfig", {}).get("ParameterRanges", {})
        for spec in ranges.get("IntegerParameterRanges", []) or []:
            name = spec.get("Name")
            if name in LOCAL_DEFAULTS and name not in found:
                low = _int(resolve_value(spec["MinValue"], parameters), f"{name} MinValue")
                high = _int(resolve_value(spec["MaxValue"], parameters), f"{name} MaxValue")
                found[name] = min(max(LOCAL_DEFAULTS[name], low), high)
    return found


def tuning_ranges(
    definition: Mapping[str, Any], parameters: Mapping[str, str]
) -> dict[str, tuple[int, int]] | None:
    """The Tune step's integer ranges for num_trees / num_samples_per_tree; None without a Tune step."""
    for step in iter_steps(definition.get("Steps", [])):
        if step.get("Type") != "Tuning":
            continue
        config = step["Arguments"].get("HyperParameterTuningJobConfig", {})
        ranges: dict[str, tuple[int, int]] = {}
        for spec in config.get("ParameterRanges", {}).get("IntegerParameterRanges", []) or []:
            name = spec.get("Name")
            if name in LOCAL_DEFAULTS:
                low = _int(resolve_value(spec["MinValue"], parameters), f"{name} MinValue")
                high = _int(resolve_value(spec["MaxValue"], parameters), f"{name} MaxValue")
                ranges[name] = (low, high)
        return ranges
    return None


def evaluation_endpoint(definition: Mapping[str, Any], parameters: Mapping[str, str]) -> str | None:
    """The endpoint the Evaluate step asks for the incumbent (its ``--endpoint`` argument)."""
    for step in iter_steps(definition.get("Steps", [])):
        if step.get("Type") != "Processing":
            continue
        arguments = step["Arguments"].get("AppSpecification", {}).get("ContainerArguments") or []
        for index, value in enumerate(arguments[:-1]):
            if value == "--endpoint":
                return _deployed(str(resolve_value(arguments[index + 1], parameters)))
    return None


def _given(value: str | None) -> str | None:
    """An optional URI parameter, None when it holds the "not given" value (``none``)."""
    return None if value in (None, "", "none") else value


def _deployed(value: Any) -> str | None:
    """A definition string, unless it still holds a deploy-time ``${Placeholder}``."""
    if not isinstance(value, str) or not value or "${" in value:
        return None
    return value


def _step_value(
    definition: Mapping[str, Any], parameters: Mapping[str, str], kinds: tuple[str, ...], *path: str | int
) -> str | None:
    """The first resolvable value at ``path`` in the Arguments of a step of one of ``kinds``."""
    for step in iter_steps(definition.get("Steps", [])):
        if step.get("Type") not in kinds:
            continue
        value: Any = step.get("Arguments", {})
        try:
            for key in path:
                value = value[key]
            resolved = _deployed(str(resolve_value(value, parameters)))
        except (KeyError, IndexError, TypeError, DefinitionError):
            continue
        if resolved:
            return resolved
    return None


def rcf_image(definition: Mapping[str, Any], parameters: Mapping[str, str], region: str) -> str:
    """The RCF image the definition trains with, else the region's built-in RCF image."""
    image = (
        _step_value(definition, parameters, ("Training",), "AlgorithmSpecification", "TrainingImage")
        or _step_value(
            definition,
            parameters,
            ("Tuning",),
            "TrainingJobDefinition",
            "AlgorithmSpecification",
            "TrainingImage",
        )
        or _step_value(
            definition, parameters, ("RegisterModel",), "InferenceSpecification", "Containers", 0, "Image"
        )
    )
    if image:
        return image
    images = PROJECT_ROOT / "pipeline" / "images.json"
    if images.exists():
        known = json.loads(images.read_text(encoding="utf-8")).get(region, {})
        if known.get("RcfImage"):
            return str(known["RcfImage"])
    registry = _RCF_REGISTRIES.get(region, _RCF_REGISTRIES["us-east-1"])
    return f"{registry}.dkr.ecr.{region}.amazonaws.com/randomcutforest:1"


# ---------------------------------------------------------------------------- scripts


def load_script(name: str) -> ModuleType:
    """Import ``pipeline/scripts/<name>.py`` by path, exactly the file SageMaker's job runs."""
    path = SCRIPTS / f"{name}.py"
    if not path.exists():
        raise PipelineExecutionError(f"pipeline script {path.relative_to(PROJECT_ROOT)} does not exist")
    spec = importlib.util.spec_from_file_location(f"sentinel_pipeline_scripts_{name}", path)
    if spec is None or spec.loader is None:  # pragma: no cover - only for unreadable files
        raise PipelineExecutionError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and typing resolve names through sys.modules
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.name, None)
        raise
    return module


def score_stats(scores: np.ndarray, feature_dim: int | None = None) -> dict[str, Any]:
    """The pipeline's own ``score_stats`` (so local and SageMaker cutoffs are computed alike)."""
    result: dict[str, Any] = load_script("score_stats").score_stats(scores, feature_dim)
    return result


# ---------------------------------------------------------------------------- executor


class PipelineExecutor:
    """Runs the template's pipeline executions locally; call :meth:`run_pending` after starts.

    moto must run in this process (``mock_aws`` or ``ThreadedMotoServer``): execution status is
    set in moto's backend (sentinel.moto_patches), the only way to change it.
    """

    def __init__(
        self,
        template: Template,
        *,
        pipeline_name: str | None = None,
        seed: int | None = 0,
        work_dir: Path | None = None,
        region: str = REGION,
        account: str = ACCOUNT,
        max_trials: int = LOCAL_MAX_TRIALS,
    ) -> None:
        self.template = template
        self.pipeline_name = pipeline_name or template.parameters["PipelineName"]
        self.bucket = template.ref("DataBucket")
        self.seed = seed
        self.work_dir = work_dir
        self.region = region
        self.account = account
        self.max_trials = max_trials
        self.done: set[str] = set()
        self.results: list[ExecutionResult] = []
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = local_client(service)
        return self._clients[service]

    # ------------------------------------------------------------------ entry points
    def pending(self) -> list[str]:
        summaries = self.client("sagemaker").list_pipeline_executions(PipelineName=self.pipeline_name)
        ordered = sorted(summaries.get("PipelineExecutionSummaries", []), key=lambda s: s["StartTime"])
        return [s["PipelineExecutionArn"] for s in ordered if s["PipelineExecutionArn"] not in self.done]

    def run_pending(self) -> list[ExecutionResult]:
        """Run every execution of the pipeline this executor has not run yet, oldest first."""
        return [self.run(arn) for arn in self.pending()]

    def run(self, execution_arn: str) -> ExecutionResult:
        self.done.add(execution_arn)
        result = ExecutionResult(execution_arn=execution_arn, status="Executing")
        started = datetime.now(UTC)
        self._transition(result, "Executing", None, started)
        try:
            self._execute(result)
        except Exception as error:  # noqa: BLE001 - any failure fails the execution, with its reason
            reason = f"{type(error).__name__}: {error}"
            log.warning("pipeline execution %s failed: %s", execution_arn.rsplit("/", 1)[-1], reason)
            result.failure_reason = reason
            self._transition(result, "Failed", started, datetime.now(UTC))
        else:
            self._transition(result, "Succeeded", started, datetime.now(UTC))
        self.results.append(result)
        return result

    # ------------------------------------------------------------------ the work
    def plan(self, execution_arn: str) -> TrainingPlan:
        """Read the execution's definition and parameters (defaults overridden by the execution)."""
        sagemaker = self.client("sagemaker")
        body = sagemaker.describe_pipeline_definition_for_execution(PipelineExecutionArn=execution_arn)
        definition = json.loads(body["PipelineDefinition"])
        given = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution_arn)
        overrides = {p["Name"]: p["Value"] for p in given.get("PipelineParameters", [])}
        parameters = definition_parameters(definition, overrides)
        input_uri = parameters.get("InputDataUri", "")
        if not input_uri.startswith("s3://") or "${" in input_uri:
            raise PipelineExecutionError(f"parameter InputDataUri must be an s3:// URI, got {input_uri!r}")
        register = ("RegisterModel",)
        return TrainingPlan(
            definition=definition,
            parameters=parameters,
            input_uri=input_uri,
            labels_uri=_given(parameters.get("LabelsUri")),
            shingle_size=_int(parameters.get("ShingleSize", "1"), "ShingleSize"),
            model_package_group=(
                _deployed(parameters.get("ModelPackageGroupName"))
                or _step_value(definition, parameters, register, "ModelPackageGroupName")
                or self.template.parameters["ModelPackageGroupName"]
            ),
            approval_status=(
                _deployed(parameters.get("ModelApprovalStatus"))
                or _step_value(definition, parameters, register, "ModelApprovalStatus")
                or DEFAULT_APPROVAL
            ),
            image_uri=rcf_image(definition, parameters, self.region),
            window_days=_int(parameters.get("WindowDays", "14"), "WindowDays"),
            blend_uri=_given(parameters.get("BlendDataUri")),
            blend_share=float(parameters.get("BlendShare", "0") or 0),
            tuning_max_jobs=_int(parameters.get("TuningMaxJobs", str(LOCAL_MAX_TRIALS)), "TuningMaxJobs"),
        )

    def _execute(self, result: ExecutionResult) -> None:
        plan = self.plan(result.execution_arn)
        execution_id = result.execution_arn.rsplit("/", 1)[-1]
        if log_route.is_log_run(plan.parameters):  # DataKind=logs: the log route (sentinel.log_route)
            log_route.run(self, result, plan, execution_id)
            return
        channels, evaluate = load_script("channels"), load_script("evaluate")
        with tempfile.TemporaryDirectory(dir=self.work_dir, prefix=f"pipeline-{execution_id}-") as tmp:
            work = Path(tmp)
            labels_path = self._download(plan.labels_uri, work / "labels") if plan.labels_uri else None
            output = work / "output"
            spec = channels.RunInput(
                input=plan.input_uri,
                shingle_size=plan.shingle_size,
                window_days=plan.window_days,
                labels=labels_path,
                blend=plan.blend_uri,
                blend_share=plan.blend_share,
            )
            result.preprocess = dict(channels.run(spec, output, s3_client=self.client("s3")))
            rows = _read_train(output / "train" / "train.csv")
            # The pipeline's Baseline step: Model Monitor's data-quality baseline of the train channel.
            load_script("baseline").write_baseline(output / "train" / "train.csv", work / "baseline")
            result.baseline = {
                name: (work / "baseline" / name).read_bytes()
                for name in (BASELINE_STATISTICS, BASELINE_CONSTRAINTS)
            }
            validation_labels, validation_rows = evaluate.read_set(output / "validation" / "validation.csv")
            set_labels, set_rows = evaluate.read_set(output / "evaluation" / "evaluation.csv")
            baseline = json.loads((output / "evaluation" / "baseline.json").read_text(encoding="utf-8"))

        found = hyperparameters(plan.definition, plan.parameters, result.preprocess)
        feature_dim = int(found["feature_dim"]) if "feature_dim" in found else int(rows.shape[1])
        if rows.shape[1] != feature_dim:
            raise PipelineExecutionError(
                f"feature_dim {feature_dim} does not match the {rows.shape[1]} columns of the train channel"
            )
        ranges = tuning_ranges(plan.definition, plan.parameters)
        if ranges is None:  # no Tune step: the one setting the Train step names
            trees = found.get("num_trees", LOCAL_DEFAULTS["num_trees"])
            samples = found.get("num_samples_per_tree", LOCAL_DEFAULTS["num_samples_per_tree"])
            ranges, budget = {"num_trees": (trees, trees), "num_samples_per_tree": (samples, samples)}, 1
        else:
            budget = max(1, min(plan.tuning_max_jobs, self.max_trials))
        tuned = search(
            rows, validation_labels, np.asarray(validation_rows), budget=budget, ranges=ranges, seed=self.seed
        )
        forest = tuned.forest
        result.trials = [trial.as_dict() for trial in tuned.trials]
        result.hyperparameters = {
            "feature_dim": feature_dim,
            "num_trees": forest.num_trees,
            "num_samples_per_tree": forest.num_samples_per_tree,
            "shingle_size": plan.shingle_size,
        }
        result.score_stats = tuned.stats
        endpoint = evaluation_endpoint(plan.definition, plan.parameters)
        incumbent = (
            evaluate.endpoint_incumbent(
                endpoint, self.client("sagemaker"), self.client("sagemaker-runtime"), self.client("s3")
            )
            if endpoint
            else None
        )
        if incumbent is not None and incumbent.note:
            log.warning("pipeline execution %s: %s", execution_id, incumbent.note)
        result.evaluation = evaluate.evaluate(
            set_labels,
            set_rows,
            candidate_scores=[float(x) for x in forest.score_array(np.asarray(set_rows))],
            candidate_stats=tuned.stats,
            baseline=baseline,
            incumbent_scores=incumbent.score(set_rows) if incumbent else None,
            incumbent_stats=incumbent.stats if incumbent else None,
            incumbent_model=incumbent.model if incumbent else None,
            set_info=evaluate.set_info(result.preprocess),
        )
        self._publish(result, plan, execution_id, forest)

    def _publish(
        self, result: ExecutionResult, plan: TrainingPlan, execution_id: str, forest: RandomCutForest
    ) -> None:
        """Upload model.tar.gz and score_stats.json side by side, then register the model package."""
        s3 = self.client("s3")
        prefix = f"models/{execution_id}"
        s3.put_object(Bucket=self.bucket, Key=f"{prefix}/{MODEL_ARTEFACT_FILE}", Body=forest.to_bytes())
        s3.put_object(
            Bucket=self.bucket,
            Key=f"{prefix}/{SCORE_STATS_FILE}",
            Body=json.dumps(result.score_stats, indent=2).encode(),
            ContentType="application/json",
        )
        for name, body in result.baseline.items():
            s3.put_object(
                Bucket=self.bucket,
                Key=f"{prefix}/{BASELINE_FOLDER}/{name}",
                Body=body,
                ContentType="application/json",
            )
        result.baseline_uri = f"s3://{self.bucket}/{prefix}/{BASELINE_FOLDER}/"
        s3.put_object(
            Bucket=self.bucket,
            Key=f"{prefix}/{EVALUATION_FILE}",
            Body=json.dumps(result.evaluation, indent=2).encode(),
            ContentType="application/json",
        )
        result.model_data_url = f"s3://{self.bucket}/{prefix}/{MODEL_ARTEFACT_FILE}"
        result.score_stats_uri = f"s3://{self.bucket}/{prefix}/{SCORE_STATS_FILE}"
        result.evaluation_uri = f"s3://{self.bucket}/{prefix}/{EVALUATION_FILE}"
        # The same metadata keys the real pipeline's Register step writes (route "Local").
        best = max(result.trials, key=lambda trial: trial["f1"]) if result.trials else {}
        metadata = {
            METADATA_EXECUTION: result.execution_arn,
            METADATA_SCORE_STATS: result.score_stats_uri,
            METADATA_EVALUATION: result.evaluation_uri,
            METADATA_TRAINING_DATA: str(result.preprocess.get("training_data_label", ""))[:256],
            "route": "Local",
            "objective_metric": "validation:f1",
            "objective_value": f"{best.get('f1', 0.0):.6g}",
            **{name: str(value) for name, value in result.hyperparameters.items()},
        }
        package = self.client("sagemaker").create_model_package(
            ModelPackageGroupName=plan.model_package_group,
            ModelPackageDescription=f"Local RCF trained by pipeline execution {execution_id}",
            InferenceSpecification={
                "Containers": [{"Image": plan.image_uri, "ModelDataUrl": result.model_data_url}],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            ModelApprovalStatus=plan.approval_status,
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": result.evaluation_uri}
                },
                "ModelDataQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": result.score_stats_uri}
                },
            },
            # The baseline travels with the model, as the real Register step records it.
            DriftCheckBaselines={
                "ModelDataQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"{result.baseline_uri}{BASELINE_STATISTICS}",
                    },
                    "Constraints": {
                        "ContentType": "application/json",
                        "S3Uri": f"{result.baseline_uri}{BASELINE_CONSTRAINTS}",
                    },
                }
            },
            CustomerMetadataProperties=metadata,
        )
        result.model_package_arn = package["ModelPackageArn"]
        record_pipeline_steps(
            result.execution_arn, [registered_step(result.model_package_arn, "Register-Local")]
        )

    def _download(self, uri: str, folder: Path) -> Path:
        bucket, key = parse_s3_uri(uri)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / key.rsplit("/", 1)[-1]
        try:
            self.client("s3").download_file(bucket, key, str(path))
        except Exception as error:
            raise PipelineExecutionError(f"cannot download {uri}: {error}") from error
        return path

    # ------------------------------------------------------------------ status and events
    def _transition(
        self, result: ExecutionResult, status: str, started: datetime | None, now: datetime
    ) -> None:
        previous = result.statuses[-1] if result.statuses else None
        execution = self._backend_execution(result.execution_arn)
        set_pipeline_execution_status(result.execution_arn, status, result.failure_reason)
        execution.last_modified_time = now
        result.status = status
        result.statuses.append(status)
        self._emit(
            execution_arn=result.execution_arn,
            execution=execution,
            status=status,
            previous=previous,
            started=started or now,
            now=now,
        )

    def _backend_execution(self, execution_arn: str) -> Any:
        try:
            return pipeline_execution(execution_arn)
        except KeyError:
            raise PipelineExecutionError(
                f"execution {execution_arn} is not in this process's moto backend"
            ) from None

    def _emit(
        self,
        *,
        execution_arn: str,
        execution: Any,
        status: str,
        previous: str | None,
        started: datetime,
        now: datetime,
    ) -> None:
        pipeline_arn = execution_arn.split("/execution/", 1)[0]
        detail: dict[str, Any] = {
            "pipelineExecutionDisplayName": execution.pipeline_execution_display_name or "",
            "currentPipelineExecutionStatus": status,
            "executionStartTime": _iso(started),
            "pipelineExecutionDescription": execution.pipeline_execution_description or "",
            "pipelineArn": pipeline_arn,
            "pipelineExecutionArn": execution_arn,
        }
        if previous is not None:
            detail["previousPipelineExecutionStatus"] = previous
        if status in ("Succeeded", "Failed", "Stopped"):
            detail["executionEndTime"] = _iso(now)
        response = self.client("events").put_events(
            Entries=[
                {
                    "Source": "aws.sagemaker",
                    "DetailType": STATUS_EVENT,
                    "Detail": json.dumps(detail),
                    "Resources": [pipeline_arn, execution_arn],
                    "EventBusName": "default",
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise PipelineExecutionError(f"could not put the status event: {response['Entries']}")


def _read_train(path: Path) -> np.ndarray:
    if not path.exists():
        raise PipelineExecutionError("preprocessing wrote no train/train.csv")
    rows = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    if rows.size == 0:
        raise PipelineExecutionError("the train channel is empty")
    return rows


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
