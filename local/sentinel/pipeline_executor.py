"""Local pipeline executor: what SageMaker would do for a pipeline execution, done on this machine.

moto records pipeline executions (as "Succeeded", at once) but runs nothing. For each execution
the executor has not run yet it:

1. reads the execution's definition and parameters (definition defaults, overridden by the
   execution's own parameters) — hyperparameters come from the definition, not from Python;
2. downloads ``InputDataUri`` (and ``LabelsUri`` when it is not its "no labels" default) and runs the very
   ``pipeline/scripts/preprocess.py`` the SageMaker processing job runs;
3. trains the local Random Cut Forest on the train channel, scores the training rows and writes
   ``score_stats.json`` (``pipeline/scripts/score_stats.py``) next to ``model.tar.gz`` under
   ``models/<execution-id>/`` in the data bucket;
4. registers a model package (RCF image, ModelDataUrl, approval status, score statistics as model
   metrics and customer metadata);
5. moves the execution Executing → Succeeded (or Failed with the reason) in moto's backend and
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
    METADATA_EXECUTION,
    METADATA_SCORE_STATS,
    MODEL_ARTEFACT_FILE,
    SCORE_STATS_FILE,
    parse_s3_uri,
)
from anomaly_sentinel.drift_monitor import BASELINE_FOLDER
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

log = logging.getLogger(__name__)

SCRIPTS = PROJECT_ROOT / "pipeline" / "scripts"
STATUS_EVENT = "SageMaker Model Building Pipeline Execution Status Change"
BASELINE_STATISTICS = drift.STATISTICS_FILE
BASELINE_CONSTRAINTS = drift.CONSTRAINTS_FILE
DEFAULT_APPROVAL = "PendingManualApproval"
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


@dataclass
class ExecutionResult:
    execution_arn: str
    status: str
    failure_reason: str | None = None
    model_package_arn: str | None = None
    model_data_url: str | None = None
    score_stats_uri: str | None = None
    hyperparameters: dict[str, int] = field(default_factory=dict)
    score_stats: dict[str, Any] = field(default_factory=dict)
    preprocess: dict[str, Any] = field(default_factory=dict)
    statuses: list[str] = field(default_factory=list)
    #: statistics.json and constraints.json of the data-quality baseline, as written.
    baseline: dict[str, bytes] = field(default_factory=dict)
    baseline_uri: str | None = None


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


def labels_uri(definition: Mapping[str, Any], parameters: Mapping[str, str]) -> str | None:
    """``LabelsUri``, or None while it holds its definition default (the "no labels" route switch)."""
    default = next(
        (
            str(p.get("DefaultValue", ""))
            for p in definition.get("Parameters", [])
            if p["Name"] == "LabelsUri"
        ),
        "",
    )
    value = parameters.get("LabelsUri", "")
    return None if value in ("", default) else value


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
    ) -> None:
        self.template = template
        self.pipeline_name = pipeline_name or template.parameters["PipelineName"]
        self.bucket = template.ref("DataBucket")
        self.seed = seed
        self.work_dir = work_dir
        self.region = region
        self.account = account
        self.done: set[str] = set()
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
        if not input_uri.startswith("s3://"):
            raise PipelineExecutionError(f"parameter InputDataUri must be an s3:// URI, got {input_uri!r}")
        register = ("RegisterModel",)
        return TrainingPlan(
            definition=definition,
            parameters=parameters,
            input_uri=input_uri,
            labels_uri=labels_uri(definition, parameters),
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
        )

    def _execute(self, result: ExecutionResult) -> None:
        plan = self.plan(result.execution_arn)
        execution_id = result.execution_arn.rsplit("/", 1)[-1]
        with tempfile.TemporaryDirectory(dir=self.work_dir, prefix=f"pipeline-{execution_id}-") as tmp:
            work = Path(tmp)
            input_path = self._download(plan.input_uri, work / "input")
            labels_path = self._download(plan.labels_uri, work / "labels") if plan.labels_uri else None
            output = work / "output"
            summary = load_script("preprocess").preprocess(
                input_path, output, shingle_size=plan.shingle_size, labels_path=labels_path
            )
            result.preprocess = dict(summary or {})
            rows = _read_train(output / "train" / "train.csv")
            # The pipeline's Baseline step: Model Monitor's data-quality baseline of the train channel.
            load_script("baseline").write_baseline(output / "train" / "train.csv", work / "baseline")
            result.baseline = {
                name: (work / "baseline" / name).read_bytes()
                for name in (BASELINE_STATISTICS, BASELINE_CONSTRAINTS)
            }

        found = hyperparameters(plan.definition, plan.parameters, result.preprocess)
        feature_dim = int(found["feature_dim"]) if "feature_dim" in found else int(rows.shape[1])
        if rows.shape[1] != feature_dim:
            raise PipelineExecutionError(
                f"feature_dim {feature_dim} does not match the {rows.shape[1]} columns of the train channel"
            )
        result.hyperparameters = {
            "feature_dim": feature_dim,
            "num_trees": found.get("num_trees", LOCAL_DEFAULTS["num_trees"]),
            "num_samples_per_tree": found.get("num_samples_per_tree", LOCAL_DEFAULTS["num_samples_per_tree"]),
            "shingle_size": plan.shingle_size,
        }
        forest = RandomCutForest(
            feature_dim=feature_dim,
            num_trees=result.hyperparameters["num_trees"],
            num_samples_per_tree=result.hyperparameters["num_samples_per_tree"],
            seed=self.seed,
        ).fit(rows)
        result.score_stats = score_stats(forest.score_array(rows), feature_dim)
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
        result.model_data_url = f"s3://{self.bucket}/{prefix}/{MODEL_ARTEFACT_FILE}"
        result.score_stats_uri = f"s3://{self.bucket}/{prefix}/{SCORE_STATS_FILE}"
        result.baseline_uri = f"s3://{self.bucket}/{prefix}/{BASELINE_FOLDER}/"
        # The same metadata keys the real pipeline's Register step writes (route "Local").
        metadata = {
            METADATA_EXECUTION: result.execution_arn,
            METADATA_SCORE_STATS: result.score_stats_uri,
            "route": "Local",
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
                    "Statistics": {"ContentType": "application/json", "S3Uri": result.score_stats_uri}
                }
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
