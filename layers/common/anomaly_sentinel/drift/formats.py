"""Model Monitor's names and defaults for data-quality drift, shared by every part of the flow.

The file names, check types and Deequ's defaults are what Model Monitor writes and reads; the
bounds are ours (each says why). Also the readers of numbers from stored documents.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

from anomaly_sentinel.capture import NON_FINITE, NON_NUMERIC

#: Model Monitor names the columns of a headerless CSV ``_c0``, ``_c1``, …
FEATURE_PREFIX: Final = "_c"
#: Deequ / Model Monitor defaults.
COMPARISON_THRESHOLD: Final = 0.1
COMPARISON_METHOD: Final = "Robust"
COMPARISON_METHODS: Final = ("Simple", "Robust")
ROBUST_C_ALPHA: Final = 1.8
DATATYPE_CHECK_THRESHOLD: Final = 1.0
FRACTIONAL: Final = "Fractional"
INTEGRAL: Final = "Integral"
#: Rows of each file that are summarised (a uniform random sample when the file is larger).
SAMPLE_ROWS: Final = 4096
#: Quantile edges taken from the baseline sketch (at most EDGE_QUANTILES - 1 distinct edges).
EDGE_QUANTILES: Final = 100
#: Significance of the score-drift test (one-sided binomial).
SCORE_DRIFT_ALPHA: Final = 0.001
SCORE_FEATURE: Final = "anomaly_rate"
#: Cutoff sources whose anomaly rate the model's score statistics predict.
MODEL_CUTOFF_SOURCES: Final = ("model-stats", "threshold")
FILE_STATISTICS_VERSION: Final = 1
#: Fewest rows a window needs before any check may raise a violation (the template's default).
MIN_RECORDS: Final = 1000
#: Largest baseline file read (statistics.json with 2,048-item sketches: about 60 kB per feature).
BASELINE_MAX_BYTES: Final = 32 * 1024 * 1024
#: A KLL sketch level h stands for 2**h rows: 64 levels already stand for more rows than exist.
KLL_MAX_LEVELS: Final = 64
#: Values beyond this magnitude are not summarised (counted missing in their column, and said so):
#: the window's sums of squared deviations over ~1e12 rows stay finite below it.
SUMMARY_MAX_MAGNITUDE: Final = 1e100
#: Decoder reject reasons that mean a value was missing, empty or not a number.
MISSING_REASONS: Final = (NON_NUMERIC, NON_FINITE)
#: Model Monitor's default share of values that must lie in a feature's baseline domain.
DOMAIN_CONTENT_THRESHOLD: Final = 1.0
#: A whole-number feature with at most this many distinct baseline values is a code (its domain).
MAX_CODES: Final = 32
#: Largest ratio of standard deviations (window / baseline, or its inverse) that is not a violation.
SPREAD_RATIO_THRESHOLD: Final = 1.2

# Model Monitor's check types, and ours for the anomaly rate.
DATA_TYPE_CHECK: Final = "data_type_check"
COMPLETENESS_CHECK: Final = "completeness_check"
BASELINE_DRIFT_CHECK: Final = "baseline_drift_check"
MISSING_COLUMN_CHECK: Final = "missing_column_check"
EXTRA_COLUMN_CHECK: Final = "extra_column_check"
CATEGORICAL_VALUES_CHECK: Final = "categorical_values_check"
SCORE_DRIFT_CHECK: Final = "score_drift_check"


def feature_name(index: int) -> str:
    """Column ``index`` (0-based) of a headerless CSV, named as Model Monitor names it."""
    return f"{FEATURE_PREFIX}{index}"


def dumps(document: Mapping[str, Any]) -> bytes:
    """Model Monitor's files are indented JSON."""
    return json.dumps(document, indent=2).encode("utf-8")


def drift_metric_name(feature: str) -> str:
    """Model Monitor's CloudWatch metric name for a feature's drift distance."""
    return f"feature_baseline_drift_{feature}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: object, what: str) -> int:
    """A stored count: a non-negative whole number (a float like 3.0 is one)."""
    number = _real(value, what, low=0.0)
    if not number.is_integer():
        raise ValueError(f"{what} is {str(value)[:40]!r}, not a count")
    return int(number)


def _real(value: object, what: str, *, low: float | None = None) -> float:
    """A stored figure: a finite number (at least ``low`` when given)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} is {str(value)[:40]!r}, not a number")
    number = float(value)
    if not math.isfinite(number) or (low is not None and number < low):
        raise ValueError(f"{what} is {str(value)[:40]!r}, not a finite number in range")
    return number
