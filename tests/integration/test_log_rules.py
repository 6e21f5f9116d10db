"""The log route's rules, read from template.yaml, against real-shaped events (moto's real matcher).

LogFile (ScoreLogsFunction) fires for objects under LogsPrefix only — never for the function's own
outputs under logs/scores/, logs/rejects/ and logs/statistics/, nor for log training uploads;
LogsTrainingData (StartPipelineFunction) fires for LogsTrainingPrefix only. Between them and the
numeric TrainingData rule, one upload fires one rule.
"""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from sentinel.template import PhysicalResource, Template
from tests.support import s3_object_created

BUCKET = "sentinel-databucket"
RULES = (
    "ScoreLogsFunctionLogFile",
    "StartPipelineFunctionLogsTrainingData",
    "StartPipelineFunctionTrainingData",
)


def patterns(**parameters: str) -> dict[str, EventPattern]:
    template = Template(physical={"DataBucket": PhysicalResource(BUCKET)}, parameters=parameters)
    return {name: EventPattern.load(json.dumps(template.rule(name).pattern)) for name in RULES}


@pytest.fixture(scope="module")
def rules() -> dict[str, EventPattern]:
    return patterns()


def fired(rules: dict[str, EventPattern], event: dict) -> list[str]:
    return [name for name, pattern in rules.items() if pattern.matches_event(event)]


def test_the_rules_target_their_functions():
    template = Template(physical={"DataBucket": PhysicalResource(BUCKET)})
    assert template.rule("ScoreLogsFunctionLogFile").target == "ScoreLogsFunction"
    assert template.rule("StartPipelineFunctionLogsTrainingData").target == "StartPipelineFunction"


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("logs/incoming/datanode-7/hdfs.log", "ScoreLogsFunctionLogFile"),
        ("logs/incoming/with space/and+plus/é.log.gz", "ScoreLogsFunctionLogFile"),
        ("logs/training/hdfs-2026-11.log", "StartPipelineFunctionLogsTrainingData"),
        ("training/nyc_taxi.csv", "StartPipelineFunctionTrainingData"),
    ],
)
def test_one_upload_fires_exactly_its_own_rule(rules, key, rule):
    assert fired(rules, s3_object_created(BUCKET, key)) == [rule]


@pytest.mark.parametrize(
    "event",
    [
        s3_object_created(BUCKET, "logs/scores/anomaly-sentinel-logs/2026/11/21/10/hdfs.log~v.csv"),
        s3_object_created(BUCKET, "logs/rejects/anomaly-sentinel-logs/2026/11/21/10/hdfs.log~v.jsonl"),
        s3_object_created(BUCKET, "logs/statistics/anomaly-sentinel-logs/2026/11/21/10/hdfs.log~v.json"),
        s3_object_created(BUCKET, "logs/hdfs.log"),
        s3_object_created("another-bucket", "logs/incoming/hdfs.log"),
        s3_object_created(BUCKET, "logs/incoming/hdfs.log", detail_type="Object Deleted"),
    ],
    ids=["scores-output", "rejects-output", "statistics-output", "logs-root", "other-bucket", "deleted"],
)
def test_outputs_and_other_objects_fire_no_rule(rules, event):
    assert fired(rules, event) == []


def test_named_prefixes_replace_the_defaults():
    rules = patterns(LogsPrefix="ingest/hdfs/", LogsTrainingPrefix="ingest/train/")
    assert fired(rules, s3_object_created(BUCKET, "ingest/hdfs/a.log")) == ["ScoreLogsFunctionLogFile"]
    assert fired(rules, s3_object_created(BUCKET, "ingest/train/a.log")) == [
        "StartPipelineFunctionLogsTrainingData"
    ]
    assert fired(rules, s3_object_created(BUCKET, "logs/incoming/a.log")) == []
