"""A small, exactly known HDFS log model and HDFS-format lines for the log scoring tests.

The model is built with the runtime package's own types (what the log route writes): five
templates of a normal block's life, session grouping, raw counts, and either a PCA model with no
components (a session's score is its squared distance from the normal session, so normal sessions
score 0 and each fault adds a known amount) or an RCF choice scored by a stand-in endpoint.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import boto3

from anomaly_sentinel.contracts import METADATA_LOG_MODEL
from anomaly_sentinel.drift.logs import LOG_BASELINE_FILE, LogBaseline
from anomaly_sentinel.logs.artefacts import (
    DETECTOR_FILE,
    PCA_FILE,
    RCF_MODEL_FILE,
    TEMPLATES_FILE,
    VECTOR_SPEC_FILE,
    DetectorChoice,
)
from anomaly_sentinel.logs.formats import resolve_format
from anomaly_sentinel.logs.pca import PcaScorer
from anomaly_sentinel.logs.table import Template, TemplateTable
from anomaly_sentinel.logs.vectors import GroupingSpec, VectorSpec
from tests.support import s3_object_created

TEMPLATES = (
    Template(1, "BLOCK* NameSystem.allocateBlock: <*> <BLK>"),
    Template(2, "Receiving block <BLK> src: /<IP> dest: /<IP>"),
    Template(3, "Received block <BLK> of size <NUM> from /<IP>"),
    Template(4, "PacketResponder <NUM> for block <BLK> terminating"),
    Template(5, "BLOCK* NameSystem.addStoredBlock: blockMap updated: <IP> is added to <BLK> size <NUM>"),
)
#: A normal session's raw vector: counts of templates 1..5, then OOV lines, then length.
NORMAL = (1, 3, 3, 3, 3, 0, 13)
#: A faulty session: one responder Interrupted (unseen) instead of terminating, plus an exception.
FAULTY = (1, 3, 3, 2, 3, 2, 14)
PCA_CUTOFF = 0.5  # normal sessions score 0, faulty ones 1 + 4 + 1 = 6
RCF_CUTOFF = 3.85  # MeanScorer: normal 26/7 ≈ 3.71, faulty 28/7 = 4
EXCEPTION = "writeBlock {block} received exception java.io.IOException: Connection reset by peer"
RUN_PREFIX = "pipeline/runs/test-run/Logs/model/"


def _line(second: int, component: str, content: str) -> str:
    return f"081109 2036{second % 60:02d} 148 INFO {component}: {content}"


def session(block: str, *, faulty: bool = False, second: int = 0) -> list[str]:
    """The lines HDFS writes for one block: allocate, 3 receiving, 3 received, 3 responders, 3 stored."""
    ips = ("10.250.19.102", "10.250.10.6", "10.251.43.21")
    lines = [_line(second, "dfs.FSNamesystem", f"BLOCK* NameSystem.allocateBlock: /user/root/part-1 {block}")]
    lines += [
        _line(
            second, "dfs.DataNode$DataXceiver", f"Receiving block {block} src: /{ip}:54106 dest: /{ip}:50010"
        )
        for ip in ips
    ]
    lines += [
        _line(second, "dfs.DataNode$DataXceiver", f"Received block {block} of size 67108864 from /{ip}")
        for ip in ips
    ]
    ending = ["terminating", "terminating", "Interrupted." if faulty else "terminating"]
    lines += [
        _line(second, "dfs.DataNode$PacketResponder", f"PacketResponder {i} for block {block} {end}")
        for i, end in enumerate(ending)
    ]
    if faulty:
        lines.append(_line(second, "dfs.DataNode$DataXceiver", EXCEPTION.format(block=block)))
    lines += [
        _line(
            second,
            "dfs.FSNamesystem",
            f"BLOCK* NameSystem.addStoredBlock: blockMap updated: {ip}:50010 is added to {block} "
            "size 67108864",
        )
        for ip in ips
    ]
    return lines


def hdfs_log(normal: int, faulty: tuple[int, ...] = ()) -> list[str]:
    """``normal`` sessions (blocks blk_1000…), those at the indices in ``faulty`` with the fault."""
    lines: list[str] = []
    for index in range(normal):
        lines += session(f"blk_{1000 + index}", faulty=index in faulty, second=index)
    return lines


def model_files(detector: str = "pca") -> dict[str, bytes]:
    """The model directory's files, as the log route writes them."""
    table = TemplateTable(resolve_format("hdfs"), TEMPLATES)
    spec = VectorSpec(GroupingSpec(kind="session"), columns=(1, 2, 3, 4, 5), weighting="counts")
    files = {
        TEMPLATES_FILE: table.dump(),
        VECTOR_SPEC_FILE: spec.dump(),
        LOG_BASELINE_FILE: LogBaseline(oov_share=0.0, lines=13_000).to_bytes(),
    }
    if detector == "pca":
        files[PCA_FILE] = PcaScorer(tuple(float(x) for x in NORMAL), (), PCA_CUTOFF).dump()
        files[DETECTOR_FILE] = DetectorChoice("pca", PCA_CUTOFF, f1=1.0, precision=1.0, recall=1.0).dump()
    else:
        files[RCF_MODEL_FILE] = b"rcf model artefact"
        files[DETECTOR_FILE] = DetectorChoice("rcf", RCF_CUTOFF, f1=1.0, precision=1.0, recall=1.0).dump()
    return files


def register_log_model(
    stack: Any, detector: str = "pca", *, approved: bool = True, prefix: str = RUN_PREFIX
) -> tuple[str, str]:
    """Put the model's files under ``prefix`` and register a package in the log group: (arn, uri)."""
    bucket = stack.ref("DataBucket")
    s3, sagemaker = boto3.client("s3"), boto3.client("sagemaker")
    for name, body in model_files(detector).items():
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=body)
    uri = f"s3://{bucket}/{prefix}"
    artefact = RCF_MODEL_FILE if detector == "rcf" else PCA_FILE
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=stack.parameters["LogsModelPackageGroupName"],
        ModelApprovalStatus="Approved" if approved else "PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "log-model:1", "ModelDataUrl": uri + artefact}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        CustomerMetadataProperties={METADATA_LOG_MODEL: uri, "detector": detector},
    )["ModelPackageArn"]
    return arn, uri


def text(lines: list[str], *, newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode("utf-8")


def gzipped_with_bom(lines: list[str]) -> bytes:
    """gzip of a UTF-8 BOM and CRLF lines: how Windows tools and log shippers often write logs."""
    return gzip.compress(b"\xef\xbb\xbf" + text(lines, newline="\r\n"))


def read_csv_rows(uri: str) -> list[list[str]]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    return [line.split(",") for line in body.splitlines()]


def read_json(uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


#: Where the log tests upload a log: under the template's logs/incoming/ prefix.
KEY = "logs/incoming/datanode-7/hdfs.log"


def put_log(bucket: str, body: bytes, key: str = KEY) -> dict[str, Any]:
    """``body`` uploaded to ``key`` and the S3 EventBridge event that announces it."""
    put = boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return s3_object_created(
        bucket, key, size=len(body), version_id=put["VersionId"], etag=put["ETag"].strip('"')
    )
