"""The log flow: log files scored with the log model in service, in pure Python (no drain3, no numpy).

**Serving** — an object lands under ``LogsPrefix`` (S3 → EventBridge → ScoreLogsFunction,
``functions/score_logs/app.py``). :class:`~anomaly_sentinel.logs.adapters.LogFileScorer` finds the
newest *Approved* package of the log model package group (SageMaker), reads its model directory
(``templates.json``, ``vector_spec.json``, ``detector.json``, ``pca.json``; S3), streams the log
object, scores its sessions — PCA in the function, or RCF on the log endpoint (InvokeEndpoint) —
and writes under the data bucket ``logs/scores/…`` (``session,score,anomaly`` CSV), ``logs/rejects/…``
(JSONL, one per line or session not used, with its reason) and ``logs/statistics/…`` (the file's
drift statistics); then EMF metrics and at most one SNS alert (anomalies, or an endpoint failure).

**Drift** — DriftMonitorFunction's schedule runs
:class:`~anomaly_sentinel.logs.adapters.LogDriftWindow`: it merges the window's statistics files,
compares them with the model's baseline and writes ``log_statistics.json`` and
``constraint_violations.json`` under the reports prefix, with the ``LogDrift*`` metrics.

**Training** is the pipeline's log route (``pipeline/scripts/logs_*.py``, which import this
package's pure modules); the retraining state machine's evaluate step for a log model is
:mod:`anomaly_sentinel.log_retraining`.

Modules (every AWS call is in ``adapters``; the others are pure and run in the jobs too):

- ``adapters`` — the model in service (SageMaker list/describe, S3 reads), one file scored end to
  end (S3 get/put, the endpoint client, SNS), the drift window (S3 list/get/put);
- ``objects`` — which objects are scored, and the keys of what is written for each;
- ``lines`` — bytes → text or a reject reason; ``masks`` — variable parts masked;
  ``formats`` — header layouts (presets ``hdfs``, ``bgl``, or a user's regex);
- ``table`` — the template table mined by Drain, and its matcher; ``stream`` — lines → matched
  events → groups, every line placed or rejected;
- ``grouping`` — sessions or windows; ``vectors`` — groups → count vectors (``vector_spec.json``);
- ``pca`` — the in-function detector; ``artefacts`` — the model directory's file names and
  ``detector.json``; ``model`` — the artefacts loaded and cross-checked;
- ``flow`` — groups → scores (PCA here, RCF through the injected endpoint client);
  ``ledger`` — scores and rejects written, bounded lists for the alert; ``report`` — the file's
  report, statistics, metrics and alerts (their frame, the scorer's collaborators and the calls'
  counts are :mod:`anomaly_sentinel.scoring.files`', shared with the capture flow);
- ``jsonio``, ``exceptions`` — the artefacts' JSON through the one guard
  (:func:`anomaly_sentinel.documents.read_document`), field readers, the errors.

docs/LOGS.md explains the route; the contract between its parts is in the module docstrings.
"""

from anomaly_sentinel.logs.artefacts import DetectorChoice
from anomaly_sentinel.logs.exceptions import (
    DetectorFileError,
    LogArtefactError,
    LogError,
    LogFormatError,
    PcaModelError,
    TemplateTableError,
    VectorSpecError,
)
from anomaly_sentinel.logs.formats import LogFormat, Mask, ParsedLine, Rejected, decode_lines, resolve_format
from anomaly_sentinel.logs.grouping import Group, Grouper, GroupingSpec
from anomaly_sentinel.logs.pca import PcaScorer
from anomaly_sentinel.logs.stream import LineEvent, Tally, group_events, groups_of, read_events
from anomaly_sentinel.logs.table import Matcher, Template, TemplateTable
from anomaly_sentinel.logs.vectors import VectorSpec

__all__ = [
    "DetectorChoice",
    "DetectorFileError",
    "Group",
    "Grouper",
    "GroupingSpec",
    "LineEvent",
    "LogArtefactError",
    "LogError",
    "LogFormat",
    "LogFormatError",
    "Mask",
    "Matcher",
    "ParsedLine",
    "PcaModelError",
    "PcaScorer",
    "Rejected",
    "Tally",
    "Template",
    "TemplateTable",
    "TemplateTableError",
    "VectorSpec",
    "VectorSpecError",
    "decode_lines",
    "group_events",
    "groups_of",
    "read_events",
    "resolve_format",
]
