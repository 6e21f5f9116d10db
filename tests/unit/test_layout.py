"""contracts.layout is the one map of the data bucket; the job scripts' and drift's copies agree."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from anomaly_sentinel import drift
from anomaly_sentinel.contracts import layout
from anomaly_sentinel.contracts.messages import RetrainLock
from pipeline.scripts import baseline as baseline_script
from pipeline.scripts import evaluate as evaluate_script
from pipeline.scripts import logs_evaluate as logs_evaluate_script
from pipeline.scripts import score_stats as score_stats_script
from sentinel.template import PROJECT_ROOT


def test_the_job_scripts_write_the_files_where_the_layout_says():
    # GIVEN the standard-library-only job scripts (they run in containers without the layer)
    # THEN each file name they write beside a model is the layout's
    assert score_stats_script.STATS_FILE == layout.SCORE_STATS_FILE
    assert baseline_script.STATISTICS_FILE == layout.STATISTICS_FILE
    assert baseline_script.CONSTRAINTS_FILE == layout.CONSTRAINTS_FILE
    assert evaluate_script.EVALUATION_FILE == layout.EVALUATION_FILE
    assert logs_evaluate_script.EVALUATION_FILE == layout.EVALUATION_FILE
    # AND the drift reports use Model Monitor's names, as the layout lists them
    assert (drift.STATISTICS_FILE, drift.CONSTRAINTS_FILE, drift.VIOLATIONS_FILE) == (
        layout.STATISTICS_FILE,
        layout.CONSTRAINTS_FILE,
        layout.VIOLATIONS_FILE,
    )


def test_a_models_documents_sit_beside_its_artefact():
    url = "s3://bucket/models/run-1/output/model.tar.gz"
    assert layout.score_stats_uri(url) == "s3://bucket/models/run-1/output/score_stats.json"
    assert layout.baseline_uris(url) == (
        "s3://bucket/models/run-1/output/baseline/statistics.json",
        "s3://bucket/models/run-1/output/baseline/constraints.json",
    )


def test_a_capture_files_statistics_land_where_its_window_lists_them():
    # GIVEN the scores key of a capture file scored in the 10:00 hour
    scores_key = "scores/rcf/2026/11/21/10/AllTraffic/file~v1.jsonl"
    key = layout.statistics_key(scores_key, "scores/", "statistics/")
    # WHEN the window holding that hour lists its statistics prefixes
    window = layout.window_before(datetime(2026, 11, 21, 12, 5, tzinfo=UTC), "rcf", 2)
    # THEN the file's statistics are under one of them, and the report lands under the window's start
    assert key == "statistics/rcf/2026/11/21/10/AllTraffic/file~v1.json"
    assert any(key.startswith(prefix) for prefix in window.statistics_prefixes("statistics/"))
    assert window.report_prefix("drift-reports/") == "drift-reports/rcf/2026/11/21/10/"


def test_the_state_machine_writes_and_reads_the_lock_item_the_model_names():
    # GIVEN the real state machine definition
    text = (PROJECT_ROOT / "statemachine" / "retrain.asl.json").read_text(encoding="utf-8")
    states = json.loads(text)["States"]
    fields = set(RetrainLock.model_fields)
    # THEN every lock field it reads from the Prepare step's output is one of the model's
    read = set(re.findall(r"\$\.request\.lock\.(\w+)", text))
    assert read, "the ASL reads no lock fields"
    assert read <= fields
    # AND the item AcquireLock writes holds the model's stored fields (plus the request's trigger)
    item = states["AcquireLock"]["Parameters"]["Item"]
    assert set(item) - {"trigger"} == fields - {"now"}
    assert {name: item[name] for name in ("id", "holder")} == {
        "id": {"S.$": "$.request.lock.id"},
        "holder": {"S.$": "$.request.lock.holder"},
    }
    # AND ReleaseLock deletes the model's id, only while it holds the lock
    release = states["ReleaseLock"]["Parameters"]
    assert release["Key"] == {"id": {"S.$": "$.request.lock.id"}}
    assert release["ExpressionAttributeNames"] == {"#holder": "holder"}


def test_a_lock_is_held_until_it_expires():
    # GIVEN a lock taken at 1000 for 60 s, as the Prepare step decides it
    lock = RetrainLock.taken("rcf", "exec-1", now=1000, ttl_seconds=60)
    state = lock.state_input()
    assert state == {"id": "retrain-lock#rcf", "holder": "exec-1", "now": "1000", "expiration": "1060"}
    # WHEN the state machine stored it (N values as strings) THEN it is held until its expiry
    item = {"id": {"S": state["id"]}, "holder": {"S": "exec-1"}, "expiration": {"N": state["expiration"]}}
    assert RetrainLock.current_holder(item, now=1060) == "exec-1"
    assert RetrainLock.current_holder(item, now=1061) is None
    assert RetrainLock.current_holder(None, now=0) is None
