"""pipeline/publisher/app.py: the deploy-time custom resource that puts scripts and definition in S3."""

from __future__ import annotations

import io
import json
import re
import shutil
from typing import Any

import boto3
import pytest

from pipeline.publisher import app as publisher
from sentinel.template import PROJECT_ROOT

PIPELINE = PROJECT_ROOT / "pipeline"
BUCKET = "sentinel-data"
SUBSTITUTIONS = {
    "DataBucket": BUCKET,
    "SageMakerExecutionRoleArn": "arn:aws:iam::123456789012:role/sentinel-sagemaker",
    "ModelPackageGroupName": "anomaly-sentinel-rcf",
    "EndpointName": "anomaly-sentinel-rcf",
    "LogsModelPackageGroupName": "anomaly-sentinel-logs",
    "LogsEndpointName": "anomaly-sentinel-logs",
}


@pytest.fixture
def s3(aws) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def keys(s3: Any) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_render_fills_placeholders_as_json_string_content():
    rendered = publisher.render('{"a": "${X}/${Y}"}', {"X": 'say "hi"', "Y": "b"})
    assert json.loads(rendered) == {"a": 'say "hi"/b'}


def test_render_refuses_a_placeholder_without_value():
    with pytest.raises(publisher.PublishError, match=r"\['Missing'\]"):
        publisher.render('{"a": "${Missing}"}', {})


def test_code_digest_changes_with_any_script_and_only_then():
    scripts = {"a.py": b"print(1)", "b.py": b"print(2)"}
    assert publisher.code_digest(scripts) == publisher.code_digest(dict(reversed(scripts.items())))
    assert publisher.code_digest(scripts) != publisher.code_digest({**scripts, "b.py": b"print(3)"})
    assert re.fullmatch(r"[0-9a-f]{16}", publisher.code_digest(scripts))


def test_publish_uploads_the_scripts_and_a_filled_definition_that_points_at_them(s3):
    # GIVEN the repository's pipeline/ directory WHEN published for us-east-1
    published = publisher.publish(
        s3, root=PIPELINE, bucket=BUCKET, region="us-east-1", substitutions=SUBSTITUTIONS
    )
    # THEN the scripts sit under a content-addressed prefix, and the definition is filled
    assert published.code_prefix == f"pipeline/code/{published.code_digest}/"
    stored = keys(s3)
    for script in ("preprocess.py", "preprocess_spark.py", "score_stats.py"):
        assert published.code_prefix + script in stored
    assert published.code_prefix + "__init__.py" not in stored
    body = s3.get_object(Bucket=BUCKET, Key=published.definition_key)["Body"].read().decode()
    assert "${" not in body
    definition = json.loads(body)
    code_uris = set(re.findall(r"s3://[^\"]+/pipeline/code/[^\"]+\.py", body))
    assert code_uris  # every script the definition runs was uploaded
    for uri in code_uris:
        assert uri.removeprefix(f"s3://{BUCKET}/") in stored
    assert "382416733822.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1" in body
    assert SUBSTITUTIONS["SageMakerExecutionRoleArn"] in body
    assert definition["Parameters"][0]["Name"] == "InputDataUri"
    assert published.physical_id == f"s3://{BUCKET}/{published.definition_key}"


def test_publishing_twice_writes_the_same_keys(s3):
    first = publisher.publish(
        s3, root=PIPELINE, bucket=BUCKET, region="eu-west-1", substitutions=SUBSTITUTIONS
    )
    second = publisher.publish(
        s3, root=PIPELINE, bucket=BUCKET, region="eu-west-1", substitutions=SUBSTITUTIONS
    )
    assert first == second


def test_a_changed_script_is_published_under_a_new_prefix_and_a_new_definition_key(s3, tmp_path):
    # GIVEN a copy of pipeline/ with one script edited
    root = tmp_path / "pipeline"
    shutil.copytree(PIPELINE, root, ignore=shutil.ignore_patterns("__pycache__"))
    before = publisher.publish(s3, root=root, bucket=BUCKET, region="us-east-1", substitutions=SUBSTITUTIONS)
    with (root / "scripts" / "score_stats.py").open("a") as handle:
        handle.write("\n# edited\n")
    # WHEN published again THEN running executions keep the old code; the new definition points at the new
    after = publisher.publish(s3, root=root, bucket=BUCKET, region="us-east-1", substitutions=SUBSTITUTIONS)
    assert after.code_prefix != before.code_prefix
    assert after.definition_key != before.definition_key
    assert {before.code_prefix + "score_stats.py", after.code_prefix + "score_stats.py"} <= keys(s3)


@pytest.mark.parametrize("renamed", publisher.REQUIRED_SUBSTITUTIONS)
def test_a_renamed_substitution_is_published_under_a_new_definition_key(s3, renamed):
    # GIVEN the definition published with the stack's names
    before = publisher.publish(
        s3, root=PIPELINE, bucket=BUCKET, region="us-east-1", substitutions=SUBSTITUTIONS
    )
    # WHEN a stack update renames one of them (say LogsModelPackageGroupName) and it is published again
    renamed_value = SUBSTITUTIONS[renamed] + "2"
    after = publisher.publish(
        s3,
        root=PIPELINE,
        bucket=BUCKET,
        region="us-east-1",
        substitutions={**SUBSTITUTIONS, renamed: renamed_value},
    )
    # THEN the definition has a new key (the pipeline reads the key, so CloudFormation updates it),
    # it names the new value, and the old definition is left for executions already running
    assert after.definition_key != before.definition_key
    assert renamed_value in s3.get_object(Bucket=BUCKET, Key=after.definition_key)["Body"].read().decode()
    assert before.definition_key in keys(s3)


def test_unknown_region_and_missing_substitution_are_refused(s3):
    with pytest.raises(publisher.PublishError, match="region 'mars-north-1'"):
        publisher.publish(
            s3, root=PIPELINE, bucket=BUCKET, region="mars-north-1", substitutions=SUBSTITUTIONS
        )
    partial = {k: v for k, v in SUBSTITUTIONS.items() if k != "ModelPackageGroupName"}
    with pytest.raises(publisher.PublishError, match="ModelPackageGroupName"):
        publisher.publish(s3, root=PIPELINE, bucket=BUCKET, region="us-east-1", substitutions=partial)
    assert keys(s3) == set()


# ---------------------------------------------------------------------------- the CloudFormation handler


class Responses:
    """Captures the PUTs to CloudFormation's pre-signed response URL."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def urlopen(self, request: Any, timeout: float) -> io.BytesIO:
        assert request.get_method() == "PUT"
        assert request.full_url == "https://cloudformation-custom-resource-response.example/abc"
        self.sent.append(json.loads(request.data))
        return io.BytesIO(b"")


@pytest.fixture
def responses(monkeypatch) -> Responses:
    captured = Responses()
    monkeypatch.setattr(publisher.urllib.request, "urlopen", captured.urlopen)
    monkeypatch.setenv("ARTIFACTS_DIR", str(PIPELINE))
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return captured


class Context:
    function_name = "sentinel-pipelineartifactsfunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sentinel-pipelineartifactsfunction"
    aws_request_id = "req-1"


def request(kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": kind,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/abc",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/sentinel/1",
        "RequestId": "r-1",
        "LogicalResourceId": "PipelineArtifacts",
        "ResourceType": "Custom::PipelineArtifacts",
        "ResourceProperties": {"ServiceToken": "arn", "Bucket": BUCKET, "Substitutions": SUBSTITUTIONS},
        **extra,
    }


@pytest.mark.parametrize("kind", ["Create", "Update"])
def test_create_and_update_publish_and_answer_success_with_the_location(s3, responses, kind):
    result = publisher.handler(request(kind, PhysicalResourceId="old"), Context())
    (sent,) = responses.sent
    assert sent["Status"] == "SUCCESS"
    assert sent["Data"]["Bucket"] == BUCKET
    assert sent["Data"]["DefinitionKey"] in keys(s3)
    assert (
        sent["PhysicalResourceId"]
        == f"s3://{BUCKET}/{sent['Data']['DefinitionKey']}"
        == result["PhysicalResourceId"]
    )
    assert (sent["StackId"], sent["RequestId"], sent["LogicalResourceId"]) == (
        "arn:aws:cloudformation:us-east-1:123456789012:stack/sentinel/1",
        "r-1",
        "PipelineArtifacts",
    )


def test_delete_keeps_the_objects_and_answers_success(s3, responses):
    publisher.handler(request("Delete", PhysicalResourceId="s3://b/pipeline/definitions/x.json"), Context())
    (sent,) = responses.sent
    assert sent["Status"] == "SUCCESS"
    assert sent["PhysicalResourceId"] == "s3://b/pipeline/definitions/x.json"
    assert keys(s3) == set()


def test_a_failure_is_reported_to_cloudformation_instead_of_leaving_the_stack_waiting(s3, responses):
    # GIVEN a bucket that does not exist
    event = request("Create")
    event["ResourceProperties"]["Bucket"] = "no-such-bucket"
    # WHEN handled THEN CloudFormation hears FAILED with the reason (the stack rolls back at once)
    result = publisher.handler(event, Context())
    (sent,) = responses.sent
    assert sent["Status"] == "FAILED" == result["Status"]
    assert "NoSuchBucket" in sent["Reason"]
    assert sent["PhysicalResourceId"] == "PipelineArtifacts-unpublished"


def test_the_layer_content_holds_everything_the_publisher_reads():
    # The layer's ContentUri is pipeline/: the files the publisher opens must be there.
    for path in ("definition.json", "images.json", "scripts/preprocess.py", "scripts/score_stats.py"):
        assert (PIPELINE / path).is_file()


def test_the_runtime_package_and_a_source_bundle_go_with_the_scripts(s3):
    # GIVEN the repository's pipeline/ and the layer's runtime package WHEN published
    import gzip
    import tarfile

    published = publisher.publish(
        s3, root=PIPELINE, bucket=BUCKET, region="us-east-1", substitutions=SUBSTITUTIONS
    )
    stored = keys(s3)
    # THEN the log route's jobs find anomaly_sentinel.logs in their lib input (the code prefix)
    for name in ("__init__.py", "capture/lines.py", "exceptions.py", "logs/__init__.py", "logs/table.py"):
        assert f"{published.code_prefix}anomaly_sentinel/{name}" in stored
    # ... and the PCA training job's bundle holds its script, its sibling and the package
    bundle = s3.get_object(Bucket=BUCKET, Key=published.code_prefix + "sourcedir.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(bundle))) as tar:
        names = set(tar.getnames())
    assert {"logs_pca.py", "evaluate.py", "anomaly_sentinel/logs/pca.py"} <= names
    # ... built from contents only: the same files give the same bytes (and the same digest)
    again = publisher.source_bundle({**publisher.read_scripts(PIPELINE), **publisher.read_package()})
    assert again == bundle


def test_the_spark_log_route_imports_its_scripts_and_the_package_from_one_zip(s3, tmp_path):
    # GIVEN the published code.zip (the Spark log route's only --py-files path)
    import subprocess
    import sys

    published = publisher.publish(
        s3, root=PIPELINE, bucket=BUCKET, region="us-east-1", substitutions=SUBSTITUTIONS
    )
    bundle = tmp_path / "code.zip"
    bundle.write_bytes(s3.get_object(Bucket=BUCKET, Key=published.code_prefix + "code.zip")["Body"].read())
    # WHEN a fresh interpreter (an executor) has only that zip on its path
    root = str(PROJECT_ROOT)
    probe = (
        f"import sys; sys.path[:] = [{str(bundle)!r}] + [p for p in sys.path if {root!r} not in p]; "
        "import logs_prepare, logs_inject, preprocess, anomaly_sentinel.logs.table as t; print(t.__file__)"
    )
    found = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    # THEN the scripts the Spark job's functions live in, and the runtime package, import from it
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip().startswith(str(bundle))
    # ... and the zip depends on contents only
    code = {**publisher.read_scripts(PIPELINE), **publisher.read_package()}
    assert publisher.py_files_bundle(code) == bundle.read_bytes()
