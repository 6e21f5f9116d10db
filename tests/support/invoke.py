"""``sentinel invoke`` run in-process as a shell would run it (shared by the invoke tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sentinel.cli import main
from sentinel.template import PROJECT_ROOT

EVENTS = PROJECT_ROOT / "events"
SAMPLE = EVENTS / "objects" / "capture-sample.jsonl"


def invoke(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, dict[str, Any], str]:
    """Run ``sentinel invoke ARGV``; returns (exit code, the one stdout line as JSON, stderr)."""
    code = main(["invoke", *map(str, argv)])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, f"stdout must hold only the result, got {lines!r}"
    return code, json.loads(lines[0]), err
