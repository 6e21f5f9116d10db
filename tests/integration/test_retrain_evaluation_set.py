"""The retraining evaluate step on evaluation.json: a candidate is approved only when it removes the
model in service's false alerts beyond the set's noise and by MinImprovement; the first model when it
beats flagging everything."""

from __future__ import annotations

import json

import boto3
import pytest

from anomaly_sentinel import retraining
from anomaly_sentinel.retraining import InService, PackageInfo
from anomaly_sentinel.settings import RetrainStepsSettings

ENV = {
    "ENDPOINT_NAME": "anomaly-sentinel-rcf",
    "MODEL_PACKAGE_GROUP_NAME": "anomaly-sentinel-rcf",
    "PIPELINE_NAME": "anomaly-sentinel-rcf",
    "SERVERLESS_MEMORY_SIZE_MB": "2048",
    "SERVERLESS_MAX_CONCURRENCY": "20",
    "MIN_IMPROVEMENT": "0.05",
}
BUCKET = "evaluation-bucket"
OLD = "s3://b/models/old/model.tar.gz"
NEW = "s3://b/models/new/model.tar.gz"


def figures(f1: float, false_alerts: int = 0) -> dict:
    return {
        "precision": f1,
        "recall": f1,
        "f1": f1,
        "cutoff": 1.3,
        "cutoff_source": "score-stats",
        "false_alerts": false_alerts,
        "false_alerts_per_day": false_alerts * 0.48,
        "flag_rate": false_alerts / 100,
    }


def report(
    candidate: float,
    incumbent: float | None,
    baseline: float = 0.2,
    model: str = OLD,
    low: float = 0.5,
    gain: float = 0.8,
) -> dict:
    """evaluation.json of a 105-row set (100 genuine rows, 5 anomalies)."""
    comparison = {
        "gain": gain,
        "low": low,
        "high": 1.0,
        "confidence": 0.9,
        "resamples": 2000,
        "genuine_rows": 100,
    }
    return {
        "set": {"rows": 105, "positives": 5, "positive_share": 5 / 105, "genuine_rows": 100},
        "reference": "incumbent" if incumbent is not None else "baseline",
        "candidate": figures(candidate, 2),
        "incumbent": {**figures(incumbent, 10), "model": model} if incumbent is not None else None,
        "baseline": {**figures(baseline), "detector": "z-score"},
        "flag_all": {**figures(0.091, 100), "detector": "flag-all", "recall": 1.0},
        "comparison": comparison if incumbent is not None else None,
    }


@pytest.fixture
def s3(aws):
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def candidate(s3, document: dict | None) -> PackageInfo:
    metadata = {"training_data": "production window of s3://b/dataset/endpoint=e/"}
    if document is not None:
        s3.put_object(Bucket=BUCKET, Key="new/evaluation.json", Body=json.dumps(document).encode())
    metadata["evaluation_uri"] = f"s3://{BUCKET}/new/evaluation.json"
    return PackageInfo(arn="arn:pkg/new", model_data_url=NEW, image="rcf:1", metadata=metadata)


SERVING = InService(endpoint_exists=True, endpoint_config_name="old-config", model_data_url=OLD)
SETTINGS = RetrainStepsSettings.from_env(ENV)


def test_a_candidate_that_removes_false_alerts_beyond_the_noise_is_approved(s3):
    judgement = retraining.judge_evaluation(candidate(s3, report(0.8, 0.5)), SERVING, SETTINGS, s3)
    assert judgement is not None
    assert judgement.approve
    assert judgement.summary["candidate"]["f1"] == 0.8
    assert judgement.summary["incumbent"]["false_alerts_per_day"] == 4.8
    assert judgement.summary["margin"] == pytest.approx(0.45)  # lower end 0.5 - MinImprovement 0.05
    assert judgement.table.splitlines()[1].split()[:2] == ["candidate", "0.800"]


@pytest.mark.parametrize(("low", "why"), [(0.0, "interval reaches 0"), (0.04, "below MinImprovement 0.05")])
def test_a_reduction_within_the_noise_or_short_of_min_improvement_stays_pending(s3, low, why):
    judgement = retraining.judge_evaluation(candidate(s3, report(0.9, 0.5, low=low)), SERVING, SETTINGS, s3)
    assert judgement is not None
    assert not judgement.approve
    assert why in judgement.reason


def test_an_evaluation_against_another_model_than_the_one_serving_approves_nothing(s3):
    stale = report(0.9, 0.1, model="s3://b/models/older/model.tar.gz")
    judgement = retraining.judge_evaluation(candidate(s3, stale), SERVING, SETTINGS, s3)
    assert judgement is not None
    assert not judgement.approve
    assert "re-run the pipeline" in judgement.reason


def test_the_first_model_is_deployed_when_it_beats_flagging_everything(s3):
    nothing = InService()
    # GIVEN nothing serves and a candidate worse than the z-score baseline but better than flag-all
    first = retraining.judge_evaluation(candidate(s3, report(0.3, None, baseline=0.6)), nothing, SETTINGS, s3)
    assert first is not None
    assert first.approve
    assert "nothing serves yet; compared with flagging every row (F1 0.091)" in first.reason
    assert "z-score baseline (F1 0.600)" in first.reason
    # AND one no better than flagging everything is held back, saying nothing serves
    useless = retraining.judge_evaluation(candidate(s3, report(0.05, None)), nothing, SETTINGS, s3)
    assert useless is not None
    assert not useless.approve
    assert "Nothing serves on the endpoint" in useless.reason


def test_a_missing_evaluation_file_is_a_rejection_with_the_reason(s3):
    judgement = retraining.judge_evaluation(candidate(s3, None), SERVING, SETTINGS, s3)
    assert judgement is not None
    assert not judgement.approve
    assert "NoSuchKey" in judgement.reason
    # AND there is no comparison to show, nor figures to report
    assert (judgement.table, judgement.summary) == ("", {})


def test_a_package_without_an_evaluation_falls_back_to_the_older_rules(s3):
    package = PackageInfo(arn="arn:pkg/x", model_data_url=NEW, image="rcf:1", metadata={})
    assert retraining.judge_evaluation(package, SERVING, SETTINGS, s3) is None
