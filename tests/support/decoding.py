"""Builders of the capture decoder's tests: bytes decoded as a file, real lines corrupted at random."""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from anomaly_sentinel.capture import CaptureDecoder, CaptureRecord, Reject, decode_stream
from tests.support.capture import as_base64, real_csv_records


def decode_bytes(
    data: bytes, decoder: CaptureDecoder | None = None, **kwargs: Any
) -> list[CaptureRecord | Reject]:
    return list(decode_stream(io.BytesIO(data), decoder or CaptureDecoder(), **kwargs))


#: Enough examples to find a broken line, no deadline: the machine is shared and noisy.
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GOOD_LINES = [json.dumps(r).encode() for r in real_csv_records()[:5]] + [
    json.dumps(as_base64(r, "text/csv; charset=utf-8")).encode() for r in real_csv_records()[5:10]
]


@st.composite
def corrupted_line(draw: st.DrawFn) -> bytes:
    """A real capture line (plain or base64) flipped, cut, grown or shortened a few times; one line."""
    line = bytearray(draw(st.sampled_from(GOOD_LINES)))
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(line) - 1)))
        if action == "flip" and line:
            line[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del line[at:]
        elif action == "insert":
            line[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif line:
            del line[at]
    return bytes(line).replace(b"\n", b"").replace(b"\r", b"")
