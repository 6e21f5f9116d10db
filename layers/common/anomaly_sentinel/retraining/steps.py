"""One entry for the state machine's two computed steps."""

from __future__ import annotations

from typing import Any

from anomaly_sentinel.exceptions import EventParseError
from anomaly_sentinel.retraining.deploy import evaluate
from anomaly_sentinel.retraining.request import prepare
from anomaly_sentinel.settings import RetrainStepsSettings


class RetrainSteps:
    """The state machine's two computed steps behind one entry: ``{"step": "prepare" | "evaluate"}``."""

    def __init__(self, settings: RetrainStepsSettings, *, sagemaker: Any, s3: Any) -> None:
        self.settings, self.sagemaker, self.s3 = settings, sagemaker, s3

    def run(self, event: dict[str, Any], now: int) -> dict[str, Any]:
        step = event.get("step")
        if step == "prepare":
            return prepare(event, self.settings, now)
        if step == "evaluate":
            return evaluate(event, self.settings, self.sagemaker, self.s3)
        raise EventParseError(f"unknown retraining step {step!r} (expected 'prepare' or 'evaluate')")

    @staticmethod
    def log_fields(event: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        """Identities and decisions only (never payload) for the step's log line."""
        if event.get("step") == "prepare":
            return {"step": "prepare", "execution": event.get("executionName"), "mode": result["mode"]}
        return {
            "step": "evaluate",
            "package": result["modelPackageArn"],
            "approve": result["approve"],
            "rule": result["rule"],
        }
