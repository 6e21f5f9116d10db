"""The retraining evaluate step on evaluation.json: a candidate is approved only when it beat the model
in service (or, first, the z-score baseline) on the same labelled set, by MinImprovement."""

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


def figures(f1: float) -> dict:
    return {"precision": f1, "recall": f1, "f1": f1, "cutoff": 1.3, "cutoff_source": "score-stats"}


def report(candidate: float, incumbent: float | None, baseline: float = 0.2, model: str = OLD) -> dict:
    return {
        "set": {"rows": 80, "positives": 20},
        "reference": "incumbent" if incumbent is not None else "baseline",
        "candidate": figures(candidate),
        "incumbent": {**figures(incumbent), "model": model} if incumbent is not None else None,
        "baseline": {**figures(baseline), "detector": "z-score"},
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


def test_a_candidate_that_beats_the_incumbent_on_the_same_set_is_approved(s3):
    judgement = retraining.judge_evaluation(candidate(s3, report(0.8, 0.5)), SERVING, SETTINGS, s3)
    assert judgement is not None
    assert judgement.approve
    assert judgement.summary["candidate"]["f1"] == 0.8
    assert judgement.summary["incumbent"]["f1"] == 0.5
    assert judgement.table.splitlines()[1].split()[:2] == ["candidate", "0.800"]


@pytest.mark.parametrize(("new", "old"), [(0.5, 0.8), (0.53, 0.5)])
def test_a_worse_candidate_or_one_short_of_min_improvement_stays_pending(s3, new, old):
    judgement = retraining.judge_evaluation(candidate(s3, report(new, old)), SERVING, SETTINGS, s3)
    assert judgement is not None
    assert not judgement.approve
    assert "does not beat the incumbent's" in judgement.reason
    assert "by the required 0.05" in judgement.reason


def test_an_evaluation_against_another_model_than_the_one_serving_approves_nothing(s3):
    stale = report(0.9, 0.1, model="s3://b/models/older/model.tar.gz")
    judgement = retraining.judge_evaluation(candidate(s3, stale), SERVING, SETTINGS, s3)
    assert judgement is not None
    assert not judgement.approve
    assert "re-run the pipeline" in judgement.reason


def test_the_first_model_must_beat_the_z_score_baseline(s3):
    nothing = InService()
    better = retraining.judge_evaluation(
        candidate(s3, report(0.6, None, baseline=0.3)), nothing, SETTINGS, s3
    )
    worse = retraining.judge_evaluation(candidate(s3, report(0.3, None, baseline=0.6)), nothing, SETTINGS, s3)
    assert better is not None
    assert better.approve
    assert worse is not None
    assert not worse.approve
    assert "the baseline's 0.600" in worse.reason


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
