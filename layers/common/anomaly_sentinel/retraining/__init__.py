"""The two Lambda steps of the retraining state machine: prepare a run, evaluate its candidate.

Everything else in the machine is a direct service integration (DynamoDB lock, SageMaker, SNS).
These steps exist because JSONPath ASL cannot do clock arithmetic (the lock's expiry), hashing
(unique, retry-safe names) or the candidate-versus-model-in-service comparison.

The candidate is the package the execution's RegisterModel step registered
(ListPipelineExecutionSteps). Packages carry ``CustomerMetadataProperties`` (keys in
:mod:`anomaly_sentinel.contracts`) naming the pipeline execution, their score statistics and
optionally the tuning objective: that is how candidate and model in service are compared.

A log route run (``kind: logs``, the ``logs-`` runs) is judged by the pipeline itself; its model
goes to the log endpoint when it is an RCF model (:mod:`anomaly_sentinel.log_retraining`).

Modules: :mod:`~anomaly_sentinel.retraining.request` (the prepare step: input, names, lock),
:mod:`~anomaly_sentinel.retraining.verdict` (candidate against model in service; pure),
:mod:`~anomaly_sentinel.retraining.deploy` (the evaluate step: what to deploy and report),
:mod:`~anomaly_sentinel.retraining.adapters` (the SageMaker and S3 reads),
:mod:`~anomaly_sentinel.retraining.steps` (:class:`RetrainSteps`, the one entry of the function).
Import from the package: its names are the API the function and the tests use.
"""

from anomaly_sentinel.contracts import SCORE_STATS_MAX_BYTES, ScoreStats
from anomaly_sentinel.contracts.messages import RetrainRequest
from anomaly_sentinel.retraining.adapters import (
    find_candidate,
    in_service,
    judge_evaluation,
    newest_packages,
    read_score_stats,
    registered_package,
)
from anomaly_sentinel.retraining.deploy import evaluate
from anomaly_sentinel.retraining.request import NONE, deployment_names, parse_request, prepare
from anomaly_sentinel.retraining.steps import RetrainSteps
from anomaly_sentinel.retraining.verdict import InService, PackageInfo, Verdict, compare, package_info

__all__ = [
    "NONE",
    "SCORE_STATS_MAX_BYTES",
    "InService",
    "PackageInfo",
    "RetrainRequest",
    "RetrainSteps",
    "ScoreStats",
    "Verdict",
    "compare",
    "deployment_names",
    "evaluate",
    "find_candidate",
    "in_service",
    "judge_evaluation",
    "newest_packages",
    "package_info",
    "parse_request",
    "prepare",
    "read_score_stats",
    "registered_package",
]
