"""The one guard of JSON we did not write: bounded size, bounded depth, finite numbers.

Standard library only: the log route's job scripts import it (through
:mod:`anomaly_sentinel.logs.jsonio`) in SageMaker containers that have no pydantic, so it cannot
live in :mod:`anomaly_sentinel.contracts` (which re-exports it for the functions).
"""

from __future__ import annotations

import json
import math
from typing import Any

from anomaly_sentinel.exceptions import DocumentError

#: How deep a document we did not write may nest (Model Monitor's statistics.json: 8 levels).
DOCUMENT_MAX_DEPTH = 32
#: Integers beyond a signed 64-bit count are nobody's count: refused (their float() overflows).
_DOCUMENT_MAX_INT = 2**63


def read_document(raw: bytes | str, *, max_bytes: int, max_depth: int = DOCUMENT_MAX_DEPTH) -> Any:
    """JSON that another run, job or person wrote (baselines, statistics, score statistics,
    evaluation reports, violations, the log model's artefacts): bounded size, bounded depth,
    finite numbers, or a :class:`DocumentError` saying which bound it broke.

    The one guard every such reader goes through, so that no RecursionError, OverflowError or
    infinity reaches code that trusts the numbers. Shapes are still the caller's to check.
    ``max_bytes`` is each caller's: documents differ by orders of magnitude (a score statistics
    file is a few hundred bytes, a log model's template table tens of MB); ``max_depth`` is one
    bound for all (the deepest we read, Model Monitor's statistics.json, nests 8 levels).
    """
    if len(raw) > max_bytes:
        raise DocumentError(f"larger than {max_bytes} bytes")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        document = json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except DocumentError:
        raise
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 (byte {exc.start})") from None
    except RecursionError:
        raise DocumentError(f"nested too deeply (more than {max_depth} levels)") from None
    except json.JSONDecodeError as exc:
        raise DocumentError(f"not JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:  # int() refusing more digits than Python converts
        raise DocumentError(f"not JSON ({exc})") from None
    _check_depth(document, max_depth)
    return document


def _refuse_constant(name: str) -> float:
    raise DocumentError(f"holds {name}, which is not a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise DocumentError(f"holds {text[:40]}, which overflows a float")
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) >= _DOCUMENT_MAX_INT:
        raise DocumentError(f"holds the integer {text[:40]}, beyond a 64-bit count")
    return value


def _check_depth(document: Any, max_depth: int) -> None:
    """Iterative (a recursive walk is what the bound protects against)."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > max_depth:
            raise DocumentError(f"nested too deeply (more than {max_depth} levels)")
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
