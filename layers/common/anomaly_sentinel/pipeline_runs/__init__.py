"""Run time and cost of a pipeline execution, read from SageMaker once the execution has ended.

Triggered by the "SageMaker Model Building Pipeline Execution Status Change" rule
(PipelineRunsFunction: :func:`run_ended` → :func:`collect` → :func:`publish_metrics`, and
:func:`failure_alert` for a failed run); the retraining report's evaluate step reads
:func:`cost_line`.

- :mod:`~anomaly_sentinel.pipeline_runs.facts` — the run, its steps and jobs, the price table and
  the cost estimate (pure);
- :mod:`~anomaly_sentinel.pipeline_runs.report` — the report section and the failure alert (pure);
- :mod:`~anomaly_sentinel.pipeline_runs.adapters` — SageMaker's describes and lists, the EMF
  metrics, the one-line cost of a run.
"""

from anomaly_sentinel.pipeline_runs.adapters import collect, cost_line, job_usages, publish_metrics
from anomaly_sentinel.pipeline_runs.facts import (
    END_BEFORE_START,
    INSTANCE_PRICES_USD_PER_HOUR,
    TERMINAL,
    JobKind,
    JobUsage,
    PipelineRun,
    RunCost,
    RunEnded,
    StepJobKind,
    StepRun,
    estimate,
    run_ended,
    seconds_between,
    step_run,
)
from anomaly_sentinel.pipeline_runs.report import failure_alert, report_section, where_to_look

__all__ = [
    "END_BEFORE_START",
    "INSTANCE_PRICES_USD_PER_HOUR",
    "TERMINAL",
    "JobKind",
    "JobUsage",
    "PipelineRun",
    "RunCost",
    "RunEnded",
    "StepJobKind",
    "StepRun",
    "collect",
    "cost_line",
    "estimate",
    "failure_alert",
    "job_usages",
    "publish_metrics",
    "report_section",
    "run_ended",
    "seconds_between",
    "step_run",
    "where_to_look",
]
