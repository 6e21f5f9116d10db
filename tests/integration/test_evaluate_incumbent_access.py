"""The Evaluate step's incumbent when the pipeline role may not read what the endpoint serves.

A config or model made by hand may sit outside the role's scope (or a permissions boundary may
deny it): the step must neither fail every run nor pretend that nothing serves.
"""

from __future__ import annotations

import boto3
import pytest

from pipeline.scripts import evaluate
from tests.support import Denying
from tests.support.retrain import serve_as

ENDPOINT = "anomaly-sentinel-rcf"
MODEL_DATA = "s3://evaluation-data/models/hand-made/model.tar.gz"


@pytest.fixture
def hand_made(aws):
    """An endpoint serving a config and a model made by hand (names outside `<endpoint>-…`)."""
    serve_as(ENDPOINT, "hand-made-model", "hand-made-config", MODEL_DATA)
    return boto3.client("sagemaker")


def test_a_denied_serving_config_still_asks_the_incumbent_and_says_why_its_statistics_are_missing(
    hand_made, capsys
):
    # GIVEN a role that may describe and invoke the endpoint but not the config it serves
    sagemaker = Denying(hand_made, "describe_endpoint_config")
    # WHEN the Evaluate step looks for the incumbent
    incumbent = evaluate.endpoint_incumbent(ENDPOINT, sagemaker, boto3.client("sagemaker-runtime"), None)
    # THEN there is one (it is asked through the endpoint), without statistics, and the reason is
    # kept and written to the step's log
    assert incumbent is not None
    assert (incumbent.stats, incumbent.model) == (None, None)
    assert incumbent.note is not None
    assert "access denied" in incumbent.note
    assert "hand-made-config" in incumbent.note
    assert incumbent.note in capsys.readouterr().err


def test_a_denied_endpoint_is_a_named_error_not_a_first_model():
    # GIVEN a role that may not even describe the endpoint (nothing can say whether a model serves)
    sagemaker = Denying(None, "describe_endpoint")
    # WHEN / THEN the step fails naming the permission, rather than judging against the baseline
    with pytest.raises(evaluate.EvaluationError, match=r"sagemaker:DescribeEndpoint"):
        evaluate.endpoint_incumbent(ENDPOINT, sagemaker, None, None)


def test_other_errors_still_propagate(hand_made):
    # GIVEN a serving config deleted meanwhile (not a denial)
    hand_made.delete_endpoint_config(EndpointConfigName="hand-made-config")
    # WHEN / THEN the service's own error reaches the step (a fault, not an answer)
    with pytest.raises(hand_made.exceptions.ClientError, match="Could not find"):
        evaluate.endpoint_incumbent(ENDPOINT, hand_made, None, None)
