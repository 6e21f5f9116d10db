"""Production traffic replayed as a SageMaker data-capture file (JSONL, base64-encoded CSV input).

A real endpoint's data capture writes one JSON line per request with the request body base64
encoded whenever its content type is not listed as CSV/JSON in the capture config; the demo
writes exactly that shape, plus a few broken lines, so decoding and rejecting run on real-shaped
input.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray


def capture_record(
    request: str,
    response: str,
    *,
    event_id: str,
    inference_time: str,
    content_type: str = "text/csv",
    accept: str = "application/json",
    encoding: str = "BASE64",
    response_encoding: str | None = None,
) -> dict[str, Any]:
    """One record as SageMaker data capture writes it for a request/response pair.

    Data capture stores payloads base64-encoded unless their content type is listed in the
    capture config's CsvContentTypes/JsonContentTypes (then the encoding is CSV or JSON).
    """

    def part(mode: str, data: str, observed: str, how: str) -> dict[str, str]:
        if how == "BASE64":
            data = base64.b64encode(data.encode("utf-8")).decode("ascii")
        return {"observedContentType": observed, "mode": mode, "data": data, "encoding": how}

    return {
        "captureData": {
            "endpointInput": part("INPUT", request, content_type, encoding),
            "endpointOutput": part("OUTPUT", response, accept, response_encoding or encoding),
        },
        "eventMetadata": {"eventId": event_id, "inferenceTime": inference_time},
        "eventVersion": "0",
    }


def capture_line(request: str, response: str, **options: Any) -> str:
    """:func:`capture_record` as one compact JSONL line."""
    return json.dumps(capture_record(request, response, **options), separators=(",", ":"))


def _iso(stamp: np.datetime64) -> str:
    moment = stamp.astype("datetime64[s]").astype(datetime).replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def capture_lines(
    timestamps: NDArray[np.datetime64], rows: NDArray[np.float64], *, broken: bool = True
) -> Iterator[tuple[str, str]]:
    """Yield ``(eventId, json line)``: one base64-CSV record per row, then the broken lines."""
    namespace = uuid.UUID("6b1f4c1e-2c1d-4a8e-9a51-5e2d0f3c9b11")
    response = '{"scores":[{"score":0.0}]}'
    for stamp, row in zip(timestamps, rows, strict=True):
        event_id = str(uuid.uuid5(namespace, str(stamp)))
        request = ",".join(f"{value:g}" for value in row)
        yield event_id, capture_line(request, response, event_id=event_id, inference_time=_iso(stamp))
    if broken:  # one of each: not JSON, bad base64, a non-numeric value — each must be rejected
        last = _iso(timestamps[-1])
        yield "broken-1", "{this is not json"
        bad = capture_record("", response, event_id="broken-2", inference_time=last)
        bad["captureData"]["endpointInput"]["data"] = "@@not-base64@@"
        yield "broken-2", json.dumps(bad)
        yield "broken-3", capture_line("1,2,three", response, event_id="broken-3", inference_time=last)


def capture_file(
    timestamps: NDArray[np.datetime64], rows: NDArray[np.float64], *, broken: bool = True
) -> bytes:
    return ("\n".join(line for _, line in capture_lines(timestamps, rows, broken=broken)) + "\n").encode()


def capture_key(prefix: str, endpoint: str, when: datetime, name: str, variant: str = "AllTraffic") -> str:
    """Where data capture writes: ``{prefix}{endpoint}/{variant}/yyyy/mm/dd/hh/{name}.jsonl``."""
    return f"{prefix}{endpoint}/{variant}/{when:%Y/%m/%d/%H}/{name}.jsonl"
