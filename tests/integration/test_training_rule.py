"""The TrainingData rule pattern, read from template.yaml, against real-shaped events.

moto's ``test_event_pattern`` API is a no-op, so the real matcher (``EventPattern``) is used.
"""

import json

import pytest
from moto.events.models import EventPattern

from sentinel.template import PhysicalResource, Template
from tests.support import s3_object_created

BUCKET = "sentinel-databucket"


@pytest.fixture(scope="module")
def pattern() -> EventPattern:
    template = Template(physical={"DataBucket": PhysicalResource(BUCKET)})
    rule = template.rule("StartPipelineFunctionTrainingData")
    assert rule.target == "StartPipelineFunction"
    return EventPattern.load(json.dumps(rule.pattern))


def test_matches_the_real_object_created_event_for_the_bucket_and_prefix(pattern):
    assert pattern.matches_event(s3_object_created(BUCKET, "training/nyc_taxi.csv"))


@pytest.mark.parametrize(
    "event",
    [
        s3_object_created(BUCKET, "training/nyc_taxi.csv", detail_type="Object Deleted"),
        s3_object_created("another-bucket", "training/nyc_taxi.csv"),
        s3_object_created(BUCKET, "capture/nyc_taxi.csv"),
        s3_object_created(BUCKET, "nyc_taxi.csv"),
    ],
    ids=["object-deleted", "other-bucket", "other-prefix", "bucket-root"],
)
def test_does_not_match_other_events(pattern, event):
    assert not pattern.matches_event(event)
