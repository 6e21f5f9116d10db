"""Data-quality drift in SageMaker Model Monitor's semantics and file formats, in pure Python.

Model Monitor is closed to new customers and serverless endpoints have no data capture, so the
stack measures drift itself: the scoring function summarises each capture file's accepted rows
(:class:`FileStatisticsBuilder`), the monitor merges a window of those summaries
(:class:`WindowStatistics`) and compares them with the baseline of the model in service
(:func:`compare`), writing ``statistics.json`` and ``constraint_violations.json`` as Model Monitor
does. It runs inside Lambda: standard library only (no numpy), nothing slow at import.

Design (docs/DRIFT.md has the measurements behind it):

* **A bounded uniform sample per file.** Parsing and folding every value costs about twice the
  decode itself in pure Python, so each file keeps a bottom-k uniform random sample of its rows
  (:data:`SAMPLE_ROWS`, seeded by the object's bucket and key so a retry, or the same file
  scored again as a new version, gives the same summary). Files
  smaller than the sample are summarised exactly. Row counts are always exact; moments and the
  distribution are estimated from the sample and weighted by rows / sampled when files merge.
* **Counts on the baseline's quantile edges** as the distribution summary: the edges are read from
  the baseline's KLL sketch (up to :data:`EDGE_QUANTILES` - 1 distinct quantiles), so a summary is
  a short list of counts that merges by addition, costs the same memory whatever the number of
  records or files, and gives the exact window CDF at every edge. A file summarised against
  another baseline (a model changed mid-window) still counts rows but not distribution.
* **The comparison is Deequ's**: L∞ distance between the window's and the baseline's CDFs; Robust
  subtracts the sampling noise ``c·sqrt((n+m)/(n·m))`` (c = 1.8) before the
  ``comparison_threshold`` (0.1); n is the window's effective sample size (Kish), m the
  baseline's count. A window with fewer rows than a minimum never raises a violation.
* **What the CDF distance cannot see** is checked apart: a *spread* change (the L∞ distance of a
  normal law scaled by 1.3 is 0.06, under the 0.1 threshold: it needed 2x) is a
  ``baseline_drift_check`` on the standard deviation (:func:`spread_distance`); a *new code* of a
  code-valued feature (whole numbers with few distinct values), even one between existing codes,
  is a ``categorical_values_check`` on the share of values in the baseline's domain, as Model
  Monitor checks a string feature's domain (``domain_content_threshold``).

The package, one concern per module (pure: no boto3; the monitor's AWS calls are in
:mod:`anomaly_sentinel.drift_monitor`):

* :mod:`.formats` — Model Monitor's file names, check types and defaults; our bounds.
* :mod:`.stats` — moments, the row sample, CDF distances, the binomial tail.
* :mod:`.baseline` — the baseline documents and their quantile edges.
* :mod:`.files` — one capture file's summary (built by the scoring function, stored, read back).
* :mod:`.window` — a window of summaries merged.
* :mod:`.checks` — the data-quality and score-drift checks → violations.
* :mod:`.report` — ``statistics.json`` / ``constraint_violations.json``.
* :mod:`.logs` — drift of log traffic (OOV share, new templates).
"""

from __future__ import annotations

from anomaly_sentinel.contracts.layout import CONSTRAINTS_FILE, STATISTICS_FILE, VIOLATIONS_FILE
from anomaly_sentinel.drift.baseline import (
    Baseline,
    BaselineFeature,
    baseline_identity,
    sketch_cdf_points,
)
from anomaly_sentinel.drift.checks import (
    Comparison,
    compare,
    linf_distance,
    score_drift,
    spread_distance,
)
from anomaly_sentinel.drift.files import (
    FeatureSummary,
    FileStatistics,
    FileStatisticsBuilder,
    ScoreSummary,
    refused_widths,
    summarise_capture,
)
from anomaly_sentinel.drift.formats import (
    BASELINE_DRIFT_CHECK,
    BASELINE_MAX_BYTES,
    CATEGORICAL_VALUES_CHECK,
    COMPARISON_METHOD,
    COMPARISON_METHODS,
    COMPARISON_THRESHOLD,
    COMPLETENESS_CHECK,
    DATA_TYPE_CHECK,
    DATATYPE_CHECK_THRESHOLD,
    DOMAIN_CONTENT_THRESHOLD,
    EDGE_QUANTILES,
    EXTRA_COLUMN_CHECK,
    FEATURE_PREFIX,
    FILE_STATISTICS_VERSION,
    FRACTIONAL,
    INTEGRAL,
    KLL_MAX_LEVELS,
    MAX_CODES,
    MIN_RECORDS,
    MISSING_COLUMN_CHECK,
    MISSING_REASONS,
    MODEL_CUTOFF_SOURCES,
    ROBUST_C_ALPHA,
    SAMPLE_ROWS,
    SCORE_DRIFT_ALPHA,
    SCORE_DRIFT_CHECK,
    SCORE_FEATURE,
    SPREAD_RATIO_THRESHOLD,
    SUMMARY_MAX_MAGNITUDE,
    drift_metric_name,
    dumps,
    feature_name,
)
from anomaly_sentinel.drift.report import (
    persisting_windows,
    statistics_document,
    violations_document,
)
from anomaly_sentinel.drift.stats import (
    Moments,
    RowSample,
    binomial_upper_tail,
    predicted_rate,
    robust_distance,
    window_cdf,
)
from anomaly_sentinel.drift.window import (
    WindowFeature,
    WindowStatistics,
    merge_window,
)

__all__ = [
    "BASELINE_DRIFT_CHECK",
    "BASELINE_MAX_BYTES",
    "CATEGORICAL_VALUES_CHECK",
    "COMPARISON_METHOD",
    "COMPARISON_METHODS",
    "COMPARISON_THRESHOLD",
    "COMPLETENESS_CHECK",
    "CONSTRAINTS_FILE",
    "DATATYPE_CHECK_THRESHOLD",
    "DATA_TYPE_CHECK",
    "DOMAIN_CONTENT_THRESHOLD",
    "EDGE_QUANTILES",
    "EXTRA_COLUMN_CHECK",
    "FEATURE_PREFIX",
    "FILE_STATISTICS_VERSION",
    "FRACTIONAL",
    "INTEGRAL",
    "KLL_MAX_LEVELS",
    "MAX_CODES",
    "MIN_RECORDS",
    "MISSING_COLUMN_CHECK",
    "MISSING_REASONS",
    "MODEL_CUTOFF_SOURCES",
    "ROBUST_C_ALPHA",
    "SAMPLE_ROWS",
    "SCORE_DRIFT_ALPHA",
    "SCORE_DRIFT_CHECK",
    "SCORE_FEATURE",
    "SPREAD_RATIO_THRESHOLD",
    "STATISTICS_FILE",
    "SUMMARY_MAX_MAGNITUDE",
    "VIOLATIONS_FILE",
    "Baseline",
    "BaselineFeature",
    "Comparison",
    "FeatureSummary",
    "FileStatistics",
    "FileStatisticsBuilder",
    "Moments",
    "RowSample",
    "ScoreSummary",
    "WindowFeature",
    "WindowStatistics",
    "baseline_identity",
    "binomial_upper_tail",
    "compare",
    "drift_metric_name",
    "dumps",
    "feature_name",
    "linf_distance",
    "merge_window",
    "persisting_windows",
    "predicted_rate",
    "refused_widths",
    "robust_distance",
    "score_drift",
    "sketch_cdf_points",
    "spread_distance",
    "statistics_document",
    "summarise_capture",
    "violations_document",
    "window_cdf",
]
