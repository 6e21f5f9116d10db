"""The pipeline's Evaluate step (pipeline/scripts/evaluate.py) judges the model in service with its own
score statistics, found beside the artefact the endpoint serves, never with the candidate's."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from pipeline.scripts import evaluate as ev
from pipeline.scripts import score_stats as ss
from tests.support.retrain import serve

BUCKET = "evaluate-step"
SERVED = f"s3://{BUCKET}/models/served/model.tar.gz"
#: The model in service's statistics (quantile cutoff 1.2) and the candidate's (1.8).
SERVED_STATS = {
    **ss.score_stats([1.0] * 999 + [1.2]),
    "cutoff": {"rule": "quantile", "quantile": 0.999, "value": 1.2},
}
CANDIDATE_STATS = {
    **ss.score_stats([1.0] * 999 + [1.8]),
    "cutoff": {"rule": "quantile", "quantile": 0.999, "value": 1.8},
}


class Runtime:
    """The SageMaker runtime's InvokeEndpoint, stubbed (moto answers b"body" without queued results):
    the model in service scores every row 1.5."""

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint
        self.calls = 0

    def invoke_endpoint(self, *, EndpointName: str, ContentType: str, Accept: str, Body: str) -> dict:
        assert (EndpointName, ContentType) == (self.endpoint, "text/csv")
        self.calls += 1
        rows = Body.count("\n") + 1
        payload = json.dumps({"scores": [{"score": 1.5}] * rows}).encode()
        return {"Body": _Body(payload)}


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


@pytest.fixture
def served(stack) -> str:
    """The template's endpoint serving SERVED (as an earlier deployment did), its statistics beside it."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="models/served/score_stats.json", Body=json.dumps(SERVED_STATS).encode())
    serve(stack, {"model_data_url": SERVED})
    return str(stack.parameters["EndpointName"])


def test_the_incumbent_is_what_the_endpoint_serves_with_the_statistics_beside_its_artefact(served):
    # GIVEN an endpoint serving a model whose score_stats.json says cutoff 1.2
    runtime = Runtime(served)
    incumbent = ev.endpoint_incumbent(served, boto3.client("sagemaker"), runtime, boto3.client("s3"))
    # THEN the incumbent names that artefact and carries its statistics, and scores through the endpoint
    assert incumbent is not None
    assert incumbent.model == SERVED
    assert incumbent.stats == SERVED_STATS
    assert incumbent.score([[1.0, 2.0]] * 3) == [1.5, 1.5, 1.5]
    assert runtime.calls == 1


def test_no_endpoint_means_no_incumbent(aws):
    assert (
        ev.endpoint_incumbent("nothing-here", boto3.client("sagemaker"), Runtime(), boto3.client("s3"))
        is None
    )


def test_the_step_cuts_the_model_in_service_at_its_own_cutoff(served, tmp_path: Path, monkeypatch):
    # GIVEN the step's inputs: a set of 40 genuine rows and 2 anomalies, the candidate's scores (all 1.0)
    # and its statistics (cutoff 1.8); the model in service scores every row 1.5 (its cutoff: 1.2)
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "evaluation.csv").write_text("".join(["0,1.0,2.0\n"] * 40 + ["1,9.0,9.0\n"] * 2))
    (tmp_path / "set" / "baseline.json").write_text(json.dumps({"mean": [1.0, 2.0], "std": [1.0, 1.0]}))
    (tmp_path / "scores").mkdir()
    (tmp_path / "scores" / "features.csv.out").write_text('{"score": 1.0}\n' * 42)
    (tmp_path / "stats").mkdir()
    (tmp_path / "stats" / "score_stats.json").write_text(json.dumps(CANDIDATE_STATS))
    (tmp_path / "summary").mkdir()
    (tmp_path / "summary" / "summary.json").write_text(json.dumps({"rows_per_day": 24.0}))
    runtime = Runtime(served)
    real_client = boto3.client
    monkeypatch.setattr(
        boto3,
        "client",
        lambda name, **kw: runtime if name == "sagemaker-runtime" else real_client(name, **kw),
    )
    # WHEN the step runs
    code = ev.main(
        [
            "--set",
            str(tmp_path / "set"),
            "--scores",
            str(tmp_path / "scores"),
            "--stats",
            str(tmp_path / "stats"),
            "--summary",
            str(tmp_path / "summary"),
            "--endpoint",
            served,
            "--output",
            str(tmp_path / "out"),
        ]
    )
    # THEN the model in service is cut at its own 1.2: every row flagged, 40 false alerts (24 a day)
    assert code == 0
    report = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert report["incumbent"]["cutoff"] == 1.2
    assert report["incumbent"]["model"] == SERVED
    assert report["incumbent"]["false_alerts"] == 40
    assert report["incumbent"]["false_alerts_per_day"] == 24.0
    # AND the candidate at its own 1.8
    assert report["candidate"]["cutoff"] == 1.8
    assert report["comparison"]["false_alerts"] == {"candidate": 0, "incumbent": 40}
