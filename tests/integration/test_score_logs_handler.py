"""ScoreLogsFunction end to end: the real handler on moto with the template's environment.

The log model in service is registered in the template's log model package group as the log
route registers it (tests/logs_support.py: an exactly known HDFS model). PCA models are scored in
the function; RCF models on the log endpoint, here ``sentinel.endpoint.EndpointServer`` reached
through AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME as a Lambda reaches SageMaker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from anomaly_sentinel.exceptions import LogModelNotFoundError
from sentinel.endpoint import EndpointServer, Faults, FaultyScorer, MeanScorer, static_resolver
from sentinel.log_route import deploy_log_endpoint
from sentinel.template import Template
from tests.support import s3_object_created
from tests.support.logs import (
    EXCEPTION,
    gzipped_with_bom,
    hdfs_log,
    put_log,
    read_csv_rows,
    read_json,
    register_log_model,
    text,
)
from tests.support.outputs import emf_documents, messages, read_jsonl, subscribe

FUNCTION = "ScoreLogsFunction"
FAULTY = (3, 17)
#: Lines no model can use, each with the reason it is rejected.
BAD_LINES = {
    "081109 203615 148 INFO dfs.FSNamesystem: BLOCK* ask 10.0.0.1:50010 to replicate it": "no-session-key",
    "this is not an HDFS line": "no-header-match",
    "": "empty-line",
}


@pytest.fixture
def bucket(stack: Template) -> str:
    return stack.ref("DataBucket")


@pytest.fixture
def function(lambda_function):
    def make(**env: str):
        return lambda_function(FUNCTION, **env)

    return make


def log_with_bad_lines() -> bytes:
    """20 sessions (2 faulty) with bad lines between them: not UTF-8, 1 MB, no key, no header, empty."""
    lines = hdfs_log(20, FAULTY)
    body = text(lines[:40]) + b"081109 203615 148 INFO dfs.DataNode: caf\xe9 au lait blk_1\n"
    body += b"081109 203615 148 INFO dfs.DataNode: " + b"x" * 1_000_000 + b"\n"
    return body + text(list(BAD_LINES)) + text(lines[40:])


@pytest.fixture
def log_endpoint(stack: Template) -> Iterator[EndpointServer]:
    resolver = static_resolver({stack.parameters["LogsEndpointName"]: MeanScorer(feature_dim=7)})
    with EndpointServer(resolver) as server:
        yield server


def test_a_log_file_is_scored_stored_metered_and_alerted_with_every_line_counted(
    function, stack, bucket, capsys, caplog
):
    # GIVEN a PCA log model in service, an anomaly subscriber, and a log with faults and bad lines
    package, _ = register_log_model(stack, "pca")
    queue = subscribe(stack, "anomalies", {"kind": ["anomaly"]})
    event = put_log(bucket, log_with_bad_lines())
    # WHEN the function handles the upload
    result = function()(event)
    # THEN every line is accounted for: 262 lines of sessions, 5 rejected with their reasons
    assert result["status"] == "scored"
    assert (result["detector"], result["model_package"]) == ("pca", package)
    assert result["lines"] == 18 * 13 + 2 * 14 + 5
    assert (result["placed"], result["rejected_lines"]) == (18 * 13 + 2 * 14, 5)
    assert result["line_reasons"] == {
        "empty-line": 1,
        "line-too-long": 1,
        "no-header-match": 1,
        "no-session-key": 1,
        "not-utf8": 1,
    }
    # ... 20 sessions scored, the 2 faulty ones above the cutoff; 5 unseen lines of the 263 that
    # reached the matcher (2 per fault, and the line without a block id)
    assert (result["sessions"], result["scored"], result["rejected_sessions"]) == (20, 20, 0)
    assert (result["anomalies"], result["unseen_lines"]) == (2, 5)
    assert result["oov_share"] == pytest.approx(5 / 263)
    assert (result["calls"], result["max_score"]) == (0, 6.0)  # in the function: no endpoint
    # ... the scores: one session,score,anomaly row per session
    rows = read_csv_rows(result["scores_uri"])
    assert rows[0] == ["session", "score", "anomaly"]
    scores = {r[0]: (float(r[1]), r[2]) for r in rows[1:]}
    assert len(scores) == 20
    assert {k for k, (_, flag) in scores.items() if flag == "1"} == {"blk_1003", "blk_1017"}
    assert scores["blk_1003"] == (6.0, "1")
    assert scores["blk_1000"] == (0.0, "0")
    assert result["scores_uri"].startswith(
        f"s3://{bucket}/logs/scores/{stack.parameters['LogsEndpointName']}/"
    )
    # ... the rejects: line number and reason, never the line
    rejects = read_jsonl(result["rejects_uri"])
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (41, "not-utf8"),
        (42, "line-too-long"),
        (43, "no-session-key"),
        (44, "no-header-match"),
        (45, "empty-line"),
    ]
    assert "caf" not in json.dumps(rejects)
    # ... one alert naming the sessions, the templates of the anomalous ones and the new templates
    (alert,) = messages(queue)
    assert alert["Subject"].startswith("2 anomalous log sessions on anomaly-sentinel-logs in hdfs.log")
    body = alert["Message"]
    assert "blk_1003" in body
    assert "blk_1017" in body
    assert "#4  PacketResponder <NUM> for block <BLK> terminating" in body
    assert EXCEPTION.format(block="blk_1003")[:60] in body or EXCEPTION.format(block="blk_1017")[:60] in body
    assert "Interrupted." in body
    assert len(body) < 4000  # bounded: a few samples, never the file
    # ... the file's drift statistics beside the scores
    stats = read_json(result["statistics_uri"])
    assert (stats["lines"], stats["unseen"], stats["matched"]) == (result["lines"], 5, 263 - 5)
    assert {s["sessions"] for s in stats["new_templates"]} == {2}
    # ... and per-file metrics with the log endpoint as dimension; no line content in logs
    output = capsys.readouterr().out
    (emf,) = [d for d in emf_documents(output) if "LogAnomalies" in d]
    assert emf["EndpointName"] == stack.parameters["LogsEndpointName"]
    assert (emf["LogAnomalies"], emf["LogLines"], emf["LogLinesRejected"]) == ([2.0], [267.0], [5.0])
    records = [json.dumps(vars(r), default=str) for r in caplog.records]
    assert "Connection reset" not in output + "".join(records)


def test_gzip_bom_and_crlf_give_the_same_scores_as_plain_text(function, stack, bucket):
    # GIVEN the same log once plain and once gzipped with a BOM and CRLF line ends
    register_log_model(stack, "pca")
    lines = hdfs_log(6, (2,))
    plain = function()(put_log(bucket, text(lines), key="logs/incoming/plain.log"))
    # WHEN the gzipped copy is scored
    packed = function()(put_log(bucket, gzipped_with_bom(lines), key="logs/incoming/packed.log.gz"))
    # THEN it reads as the same lines and sessions, with the same scores
    for name in ("lines", "rejected_lines", "sessions", "anomalies", "unseen_lines"):
        assert packed[name] == plain[name], name
    assert packed["rejected_lines"] == 0
    assert read_csv_rows(packed["scores_uri"]) == read_csv_rows(plain["scores_uri"])


def test_an_rcf_log_model_is_scored_on_the_log_endpoint(function, stack, bucket, log_endpoint):
    # GIVEN an RCF log model in service and the log endpoint serving exactly its artefact
    _, uri = register_log_model(stack, "rcf")
    deploy_log_endpoint(stack, uri + "model.tar.gz")
    # WHEN a log with 2 faulty sessions of 30 is scored (2 sessions per request)
    result = function(**log_endpoint.environ(), MAX_REQUEST_ROWS="2")(
        put_log(bucket, text(hdfs_log(30, FAULTY)))
    )
    # THEN every session went to the endpoint once, in 15 calls, and the faulty ones are flagged
    assert (result["detector"], result["sessions"], result["scored"]) == ("rcf", 30, 30)
    assert (result["calls"], log_endpoint.stats.rows) == (15, 30)
    assert result["anomalies"] == 2
    flagged = {r[0] for r in read_csv_rows(result["scores_uri"])[1:] if r[2] == "1"}
    assert flagged == {"blk_1003", "blk_1017"}


def test_an_rcf_log_model_the_endpoint_does_not_serve_fails_the_event(function, stack, bucket, log_endpoint):
    # GIVEN an RCF log model in service but the log endpoint serving another artefact
    register_log_model(stack, "rcf")
    deploy_log_endpoint(stack, f"s3://{bucket}/pipeline/runs/old/Logs/model/model.tar.gz")
    # WHEN a log file lands THEN the event fails with the mismatch named (retried, then the DLQ)
    with pytest.raises(LogModelNotFoundError, match=r"serves .*old.* deploy it"):
        function(**log_endpoint.environ())(put_log(bucket, text(hdfs_log(3))))
    assert log_endpoint.stats.requests == 0


def test_without_an_approved_log_model_the_event_fails_and_writes_nothing(function, stack, bucket):
    # GIVEN only a log model pending approval
    register_log_model(stack, "pca", approved=False)
    # WHEN a log file lands THEN the event fails naming the group, and nothing was written
    with pytest.raises(LogModelNotFoundError, match="no Approved log model in model package group"):
        function()(put_log(bucket, text(hdfs_log(3))))
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="logs/scores/")
    assert listed.get("KeyCount", 0) == 0


def test_the_same_event_delivered_three_times_is_scored_and_alerted_once(function, stack, bucket):
    register_log_model(stack, "pca")
    queue = subscribe(stack, "anomalies", {"kind": ["anomaly"]})
    event = put_log(bucket, text(hdfs_log(10, (4,))))
    handler = function()
    results = [handler(event) for _ in range(3)]
    assert len({json.dumps(r, sort_keys=True) for r in results}) == 1
    assert len(messages(queue)) == 1


@pytest.mark.parametrize(
    ("key", "size", "reason"),
    [
        ("logs/incoming/empty.log", 0, "zero-byte object"),
        ("logs/incoming/notes.md", 10, "suffix not accepted"),
        ("logs/incoming/folder/", 0, "folder placeholder"),
        ("logs/scores/anomaly-sentinel-logs/x.log", 10, "our own output"),
        ("training/hdfs.log", 10, "outside logs prefix"),
    ],
)
def test_objects_that_are_not_log_files_are_ignored_with_the_reason(
    function, stack, bucket, key, size, reason
):
    # GIVEN a log model in service WHEN an object that is not a log file to score is announced
    register_log_model(stack, "pca")
    result = function()(s3_object_created(bucket, key, size=size))
    # THEN it is ignored, and the result says why
    assert (result["status"], result["reason"]) == ("ignored", reason)


def test_a_file_of_unusable_lines_is_scored_with_every_line_rejected(function, stack, bucket):
    # GIVEN a log model in service and a file of lines that are not UTF-8 or not HDFS lines
    register_log_model(stack, "pca")
    body = b"\xff\xfe binary\n" * 3 + b"plain words\n" * 2
    # WHEN it is scored
    result = function()(put_log(bucket, body))
    # THEN every line is rejected with its reason, no session, no alert
    assert (result["lines"], result["rejected_lines"], result["sessions"]) == (5, 5, 0)
    assert result["line_reasons"] == {"no-header-match": 2, "not-utf8": 3}
    assert result["anomalies"] == 0
    assert read_csv_rows(result["scores_uri"]) == [["session", "score", "anomaly"]]


def test_an_endpoint_that_refuses_every_session_fails_the_file_with_one_critical_alert(
    function, stack, bucket
):
    # GIVEN an RCF log model in service on an endpoint whose model expects another feature count
    _, uri = register_log_model(stack, "rcf")
    deploy_log_endpoint(stack, uri + "model.tar.gz")
    critical = subscribe(stack, "critical", {"severity": ["critical"]})
    wide = FaultyScorer(MeanScorer(feature_dim=48), Faults())
    with EndpointServer(static_resolver({stack.parameters["LogsEndpointName"]: wide})) as server:
        # WHEN a log of 200 sessions is scored, 10 per request
        result = function(**server.environ(), MAX_REQUEST_ROWS="10", SCORING_CONCURRENCY="2")(
            put_log(bucket, text(hdfs_log(200)))
        )
        requests = server.stats.requests
    # THEN it stops early, every session is rejected with the endpoint's reason, every line still counted
    assert result["status"] == "failed"
    assert requests < 200
    assert (result["sessions"], result["scored"], result["rejected_sessions"]) == (200, 0, 200)
    assert result["session_reasons"] == {"endpoint-failed": 200}
    assert result["lines"] == 200 * 13
    assert "Check that it serves the log model in service" in result["failure"]
    (alert,) = messages(critical)
    assert alert["Subject"].startswith("Log scoring failed on anomaly-sentinel-logs for hdfs.log")
    assert result["failure"] in alert["Message"]
