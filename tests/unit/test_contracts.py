"""anomaly_sentinel.contracts: each shared shape defined once, and the job scripts' copies agree."""

from __future__ import annotations

import json
import math

import pytest
from pydantic import ValidationError

from anomaly_sentinel import contracts
from anomaly_sentinel.contracts import S3UriError, ScoreStats, parse_s3_uri, score_stats_uri
from pipeline.scripts import score_stats as score_stats_script
from sentinel.template import PROJECT_ROOT


def test_the_score_stats_job_script_writes_the_file_and_shape_the_contract_names():
    # GIVEN the standard-library-only job script (it cannot import the runtime package)
    # WHEN it summarises scores THEN its file name and document are the contract's
    assert score_stats_script.STATS_FILE == contracts.SCORE_STATS_FILE
    document = score_stats_script.score_stats([0.8, 1.0, 1.2])
    stats = ScoreStats.model_validate(document)
    assert stats.count == 3
    assert stats.mean == pytest.approx(1.0)


def test_the_committed_pipeline_registers_the_metadata_keys_the_contract_names():
    # GIVEN the committed pipeline definition
    definition = json.loads((PROJECT_ROOT / "pipeline" / "definition.json").read_text())
    registers = [s for s in _steps(definition["Steps"]) if s["Type"] == "RegisterModel"]
    assert registers
    # WHEN / THEN every Register step writes the execution and score-statistics keys of the contract,
    # and only keys the contract (or the pipeline's own informational ones) name
    for register in registers:
        metadata = register["Arguments"]["CustomerMetadataProperties"]
        assert {contracts.METADATA_EXECUTION, contracts.METADATA_SCORE_STATS} <= set(metadata)
        if contracts.METADATA_METRIC in metadata:
            assert contracts.METADATA_VALUE in metadata


def _steps(steps):
    for step in steps:
        yield step
        for branch in ("IfSteps", "ElseSteps"):
            yield from _steps(step.get("Arguments", {}).get(branch, []))


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/a/b/model.tar.gz", ("bucket", "a/b/model.tar.gz")),
        ("s3://bucket/key with space", ("bucket", "key with space")),
    ],
)
def test_s3_uris_split_into_bucket_and_key(uri, expected):
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize(
    "uri", ["https://bucket/key", "s3://bucket", "s3://bucket/", "s3:///key", "bucket/key"]
)
def test_anything_else_is_a_named_error(uri):
    with pytest.raises(S3UriError, match="not an s3://bucket/key URI"):
        parse_s3_uri(uri)


def test_a_prefix_uri_may_have_no_key_when_asked():
    assert parse_s3_uri("s3://bucket", key_required=False) == ("bucket", "")


def test_score_statistics_sit_next_to_the_model_artefact():
    assert score_stats_uri("s3://b/p/q/model.tar.gz") == "s3://b/p/q/score_stats.json"


def test_score_stats_refuse_non_finite_numbers_and_say_when_spread_is_meaningless():
    with pytest.raises(ValidationError):
        ScoreStats(count=1, mean=math.nan, std=0.1, min=0, max=1)
    zero_mean = ScoreStats(count=1, mean=0.0, std=0.1, min=0, max=1)
    assert not zero_mean.comparable
    assert ScoreStats(count=1, mean=2.0, std=0.5, min=0, max=3).spread == pytest.approx(0.25)
