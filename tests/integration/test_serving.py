"""serving.resolve on moto: the endpoint's current config decides which RCF answers."""

from __future__ import annotations

import json

import boto3
import numpy as np
import pytest
from moto.sagemaker.models import sagemaker_backends

from sentinel.emulator import ACCOUNT, REGION
from sentinel.endpoint import Scorer
from sentinel.rcf import RandomCutForest
from sentinel.serving import EndpointNotFoundError, ModelNotServableError, ModelResolver

BUCKET = "serving-models"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sentinel-sagemaker"
IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1"
ROWS = np.random.default_rng(0).normal(size=(300, 4))


def forest(seed: int, shift: float = 0.0) -> RandomCutForest:
    return RandomCutForest(4, num_trees=10, num_samples_per_tree=64, seed=seed).fit(ROWS + shift)


def deploy_config(name: str, key: str, payload: bytes) -> str:
    """Upload an artifact and create the model and endpoint config that point to it."""
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=payload)
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/{key}"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )
    return f"{name}-config"


@pytest.fixture
def endpoint(aws: None) -> str:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    config = deploy_config("first", "models/first/model.tar.gz", forest(1).to_bytes())
    boto3.client("sagemaker").create_endpoint(EndpointName="rcf", EndpointConfigName=config)
    return "rcf"


def test_serving_resolves_the_model_the_endpoint_config_points_to(endpoint):
    # GIVEN an endpoint whose config's model points at a stored forest
    resolver = ModelResolver()
    # WHEN the endpoint is resolved
    scorer = resolver(endpoint)
    # THEN the scorer is that forest: the local endpoint's protocol, same scores, same feature_dim
    assert isinstance(scorer, Scorer)
    assert scorer.feature_dim == 4
    assert scorer.score(ROWS[:5].tolist()) == forest(1).score(ROWS[:5].tolist())
    assert resolver.served(endpoint).model_data_url == f"s3://{BUCKET}/models/first/model.tar.gz"


def test_serving_downloads_each_artifact_once(endpoint):
    # GIVEN one resolver
    resolver = ModelResolver()
    # WHEN the same endpoint is resolved three times
    scorers = [resolver(endpoint) for _ in range(3)]
    # THEN the artifact was downloaded once and the same model answers each time
    assert resolver.downloads == 1
    assert scorers[0] is scorers[1] is scorers[2]


def test_serving_a_new_endpoint_config_in_service_changes_what_answers(endpoint):
    # GIVEN a resolver that has served the first model
    resolver = ModelResolver()
    before = resolver(endpoint).score(ROWS[:3].tolist())
    # WHEN a second model's config is put in service (moto has no UpdateEndpoint: the backend's
    # endpoint is pointed at the new config, as the retraining state machine's update does on AWS)
    config = deploy_config("second", "models/second/model.tar.gz", forest(2, shift=5.0).to_bytes())
    sagemaker_backends[ACCOUNT][REGION].endpoints["rcf"].endpoint_config_name = config
    after = resolver(endpoint).score(ROWS[:3].tolist())
    # THEN the second model answers
    assert after == forest(2, shift=5.0).score(ROWS[:3].tolist())
    assert after != before
    assert resolver.served(endpoint).endpoint_config_name == "second-config"
    assert resolver.downloads == 2


def test_serving_unknown_endpoint_is_a_lookup_error_worded_like_sagemaker(aws):
    # GIVEN no endpoint at all
    # WHEN / THEN the error is a LookupError (the server answers ValidationError) with the runtime's text
    with pytest.raises(
        EndpointNotFoundError, match=f"Endpoint ghost of account {ACCOUNT} not found."
    ) as info:
        ModelResolver()("ghost")
    assert isinstance(info.value, LookupError)


@pytest.mark.parametrize(
    ("payload", "message"),
    [(b"not a tarball", "cannot read the model artifact"), (None, "cannot download model artifact")],
)
def test_serving_unusable_artifact_is_named(aws, payload, message):
    # GIVEN an endpoint whose artifact is garbage, or missing from S3
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    config = deploy_config("bad", "models/bad/model.tar.gz", payload or b"")
    if payload is None:
        boto3.client("s3").delete_object(Bucket=BUCKET, Key="models/bad/model.tar.gz")
    boto3.client("sagemaker").create_endpoint(EndpointName="bad", EndpointConfigName=config)
    # WHEN / THEN resolving says which artifact and why
    with pytest.raises(ModelNotServableError, match=message) as info:
        ModelResolver()("bad")
    assert "s3://serving-models/models/bad/model.tar.gz" in str(info.value)


def test_serving_behind_the_local_endpoint_answers_boto3_invoke_endpoint(endpoint, monkeypatch):
    # GIVEN the local endpoint server resolving models through serving, reached as boto3 reaches AWS
    from sentinel.endpoint import serving

    with serving(ModelResolver()) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", server.url)
        runtime = boto3.client("sagemaker-runtime")
        body = "\n".join(",".join(str(v) for v in row) for row in ROWS[:3])
        # WHEN three CSV rows are sent to the endpoint
        response = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=body)
    # THEN the answer is the forest's scores in the built-in RCF's JSON shape
    scores = [s["score"] for s in json.loads(response["Body"].read())["scores"]]
    assert scores == forest(1).score(ROWS[:3].tolist())
