"""anomaly_sentinel.contracts: each shared shape defined once, and the job scripts' copies agree."""

from __future__ import annotations

import io
import json
import math

import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from anomaly_sentinel import contracts
from anomaly_sentinel.contracts import S3UriError, ScoreStats, parse_s3_uri, score_stats_uri
from anomaly_sentinel.contracts.served import ServedModel, served_model
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
        # a log model (Register-Logs) names its model directory; a numeric one its score statistics
        own = contracts.METADATA_LOG_MODEL if register["Name"].startswith("Register-Logs") else None
        assert {contracts.METADATA_EXECUTION, own or contracts.METADATA_SCORE_STATS} <= set(metadata)
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


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/prefix/", ("bucket", "prefix/")),  # a prefix keeps its trailing slash
        ("s3://bucket/X", ("bucket", "X")),
        ("s3://bucket/XGBoost/model.tar.gz", ("bucket", "XGBoost/model.tar.gz")),
    ],
)
def test_a_key_is_kept_whole_whatever_it_starts_or_ends_with(uri, expected):
    assert parse_s3_uri(uri) == expected


class Body(io.BytesIO):
    """An S3 object's body: it must be closed once read."""


@pytest.mark.parametrize(("limit", "expected"), [(4, b"01234"), (9, b"0123456789"), (20, b"0123456789")])
def test_at_most_one_byte_past_the_limit_is_read_and_the_body_is_closed(limit, expected):
    # GIVEN a 10-byte object WHEN read with a limit THEN limit + 1 bytes at most (so the caller can
    # tell "too long" from "exactly the limit"), and the body is closed
    body = Body(b"0123456789")
    assert contracts.read_at_most(body, limit) == expected
    assert body.closed


class SageMakerDescribes:
    """DescribeEndpoint / DescribeEndpointConfig / DescribeModel over a few named resources; an
    unknown name fails as AWS fails it (ValidationException), so a wrong name is never answered."""

    def __init__(self, endpoints: dict, configs: dict, models: dict) -> None:
        self.endpoints, self.configs, self.models = endpoints, configs, models

    @staticmethod
    def _find(table: dict, name: object, operation: str) -> dict:
        if name not in table:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "not found"}}, operation)
        return table[name]

    def describe_endpoint(self, *, EndpointName):
        return {
            "EndpointName": EndpointName,
            "EndpointConfigName": self._find(self.endpoints, EndpointName, "DescribeEndpoint"),
        }

    def describe_endpoint_config(self, *, EndpointConfigName):
        return self._find(self.configs, EndpointConfigName, "DescribeEndpointConfig")

    def describe_model(self, *, ModelName):
        return self._find(self.models, ModelName, "DescribeModel")


def variants(*models: str) -> dict:
    return {"ProductionVariants": [{"VariantName": f"v{i}", "ModelName": m} for i, m in enumerate(models)]}


def test_an_endpoint_leads_to_its_config_its_first_variants_model_and_that_models_artefact():
    # GIVEN an endpoint whose current config has two variants, each with its own model
    sagemaker = SageMakerDescribes(
        endpoints={"rcf": "rcf-config-2"},
        configs={"rcf-config-2": variants("rcf-model-2", "rcf-model-1")},
        models={
            "rcf-model-2": {"PrimaryContainer": {"ModelDataUrl": "s3://b/models/2/model.tar.gz"}},
            "rcf-model-1": {"PrimaryContainer": {"ModelDataUrl": "s3://b/models/1/model.tar.gz"}},
        },
    )
    # WHEN its served model is looked up THEN it is the first variant's, with that model's artefact
    assert served_model(sagemaker, "rcf") == ServedModel(
        endpoint_name="rcf",
        endpoint_config_name="rcf-config-2",
        model_name="rcf-model-2",
        model_data_url="s3://b/models/2/model.tar.gz",
    )


@pytest.mark.parametrize("config", [{}, {"ProductionVariants": []}, {"ProductionVariants": None}])
def test_a_config_without_variants_serves_no_model(config):
    sagemaker = SageMakerDescribes({"rcf": "c"}, {"c": config}, {})
    served = served_model(sagemaker, "rcf")
    assert served == ServedModel(endpoint_name="rcf", endpoint_config_name="c")


@pytest.mark.parametrize(
    ("model", "url"),
    [
        (
            {
                "Containers": [
                    {"ModelDataUrl": "s3://b/first.tar.gz"},
                    {"ModelDataUrl": "s3://b/second.tar.gz"},
                ]
            },
            "s3://b/first.tar.gz",
        ),
        ({"PrimaryContainer": {"Image": "rcf:1"}}, None),
        ({"PrimaryContainer": {"ModelDataUrl": ""}}, None),
        ({"Containers": []}, None),
        ({}, None),
    ],
    ids=["first-of-containers", "no-url", "empty-url", "no-containers", "nothing"],
)
def test_a_models_artefact_is_its_primary_or_first_containers_or_none(model, url):
    sagemaker = SageMakerDescribes({"rcf": "c"}, {"c": variants("m")}, {"m": model})
    served = served_model(sagemaker, "rcf")
    assert (served.model_name, served.model_data_url) == ("m", url)


def test_an_unknown_endpoint_is_the_callers_error_to_judge():
    sagemaker = SageMakerDescribes({}, {}, {})
    with pytest.raises(ClientError, match="ValidationException"):
        served_model(sagemaker, "rcf")
