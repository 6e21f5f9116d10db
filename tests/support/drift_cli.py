"""Builders shared by the ``sentinel baseline`` / ``sentinel monitor`` tests: capture files and a baseline."""

from __future__ import annotations

import json
import random

from sentinel.traffic import capture_line
from tests.support import fixture_path


def last_json_line(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def real_feature_rows() -> list[str]:
    """The 44 rows of 7 integer features in the SageMaker SDK's real capture file."""
    lines = fixture_path("capture/capture.jsonl").read_text().splitlines()
    return [json.loads(line)["captureData"]["endpointInput"]["data"] for line in lines]


def write_capture(path, rows) -> None:
    path.write_text(
        "".join(
            capture_line(
                row, '{"scores":[{"score":1.0}]}', event_id=f"e-{i}", inference_time="2026-11-30T01:00:00Z"
            )
            + "\n"
            for i, row in enumerate(rows)
        )
    )


def gaussian(count: int, seed: int, shift_c1: float = 0.0) -> list[str]:
    rng = random.Random(seed)
    return [
        ",".join(f"{rng.gauss(shift_c1 if c == 1 else 0.0, 1):.5f}" for c in range(4)) for _ in range(count)
    ]
