"""``UploadsAccepted`` counts uploads, not deliveries: a duplicate delivery is absorbed silently."""

from __future__ import annotations

import io

from sentinel.dashboard import read_emf
from sentinel.emulator import LOCAL_ENV
from sentinel.invoke import LocalFunction
from tests.support import ensure_pipeline, s3_object_created


def test_a_duplicate_delivery_is_not_counted_as_a_second_accepted_upload(stack):
    # GIVEN the pipeline and one training upload event delivered three times
    ensure_pipeline(stack)
    event = s3_object_created(stack.ref("DataBucket"), "training/nyc_taxi.csv")
    printed = io.StringIO()
    handler = LocalFunction(stack.function("StartPipelineFunction"), LOCAL_ENV, stdout=printed)
    # WHEN each delivery is handled
    results = [handler(event) for _ in range(3)]
    # THEN every delivery reports the one execution, and the metric counts one accepted upload
    assert len({r["pipeline_execution_arn"] for r in results}) == 1
    accepted = [p.value for p in read_emf(printed.getvalue().splitlines()) if p.name == "UploadsAccepted"]
    assert accepted == [1.0]
