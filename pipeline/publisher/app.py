"""Deploy-time custom resource (Custom::PipelineArtifacts): put the pipeline's scripts and definition in S3.

CloudFormation runs it when the stack is created, and again whenever one of its properties changes:
the artifacts layer (the ``pipeline/`` directory: definition.json, images.json, scripts/) gets a new
version (``ArtifactsVersion``), or a substitution changes (an endpoint or group renamed). It

1. uploads ``scripts/*.py`` under ``s3://{bucket}/pipeline/code/{digest}/`` (digest of the scripts:
   an update writes new objects, so running executions keep their code), with the runtime package
   ``anomaly_sentinel/`` beside them (the log route's job scripts import ``anomaly_sentinel.logs``:
   the ``lib`` input of a processing step is this prefix), ``sourcedir.tar.gz`` of both (the
   PCA training job's ``sagemaker_submit_directory``) and ``code.zip`` of both (the Spark log
   route's ``--py-files``: one path, as a container entrypoint member is at most 256 characters),
2. fills the definition's ``${Name}`` placeholders: the ``Substitutions`` property (bucket, role,
   model package group), the region's built-in images from images.json, and the code digest,
3. writes it at ``pipeline/definitions/{digest of the rendered definition}.json`` and returns that
   key (``Fn::GetAtt …DefinitionKey``), which the AWS::SageMaker::Pipeline resource reads: whatever
   changed the definition changes the key, so the pipeline is updated with it.

Delete leaves the objects (past executions and registered models point at them; the bucket's
lifecycle expires old versions). Standard library, boto3 and Powertools only; the emulator calls
:func:`publish` directly.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import os
import re
import tarfile
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger()

PREFIX = "pipeline"
DEFINITION_FILE = "definition.json"
IMAGES_FILE = "images.json"
SCRIPTS_DIR = "scripts"
REQUIRED_SUBSTITUTIONS = (
    "DataBucket",
    "SageMakerExecutionRoleArn",
    "ModelPackageGroupName",
    "EndpointName",
    "LogsModelPackageGroupName",
    "LogsEndpointName",
)
#: The runtime package the log route's job scripts import, and the training jobs' source bundle.
PACKAGE = "anomaly_sentinel"
SOURCEDIR = "sourcedir.tar.gz"
PY_FILES = "code.zip"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


class PublishError(Exception):
    """The artifacts cannot be published as asked (missing value, unknown region, stale placeholder)."""


class NotACustomResourceRequest(ValueError):
    """The event is not CloudFormation's custom resource request: there is no one to answer."""


#: What every CloudFormation custom resource request carries (and the answer needs).
REQUEST_KEYS = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId")


@dataclass(frozen=True)
class Published:
    bucket: str
    definition_key: str
    code_prefix: str
    code_digest: str

    @property
    def physical_id(self) -> str:
        return f"s3://{self.bucket}/{self.definition_key}"

    @property
    def attributes(self) -> dict[str, str]:
        """What Fn::GetAtt returns (the custom resource's Data)."""
        return {
            "Bucket": self.bucket,
            "DefinitionKey": self.definition_key,
            "CodePrefix": self.code_prefix,
            "CodeDigest": self.code_digest,
        }


def read_scripts(root: Path) -> dict[str, bytes]:
    scripts = {p.name: p.read_bytes() for p in sorted((root / SCRIPTS_DIR).glob("*.py"))}
    scripts.pop("__init__.py", None)
    if not scripts:
        raise PublishError(f"no job scripts under {root / SCRIPTS_DIR}")
    return scripts


def read_package() -> dict[str, bytes]:
    """``anomaly_sentinel/**/*.py`` by relative name (``anomaly_sentinel/logs/table.py``), found where
    Python finds it — the common layer in Lambda, the layer's source in a checkout — without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PublishError(f"the runtime package {PACKAGE} is not on the path (the common layer)")
    root = Path(next(iter(spec.submodule_search_locations)))
    files = {
        f"{PACKAGE}/{p.relative_to(root).as_posix()}": p.read_bytes()
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts
    }
    if f"{PACKAGE}/logs/__init__.py" not in files:
        raise PublishError(f"{root} has no logs/ subpackage")
    return files


def source_bundle(files: Mapping[str, bytes]) -> bytes:
    """A gzip tar of ``files`` that depends on their names and contents only (no times, no owners)."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w") as tar,
    ):
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()


def py_files_bundle(files: Mapping[str, bytes]) -> bytes:
    """A zip of ``files`` (importable: Spark's ``--py-files``) that depends on names and contents only."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            bundle.writestr(info, files[name], compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def code_digest(scripts: Mapping[str, bytes]) -> str:
    """16 hex digits of a SHA-256 over the scripts' names and contents."""
    digest = hashlib.sha256()
    for name in sorted(scripts):
        digest.update(name.encode() + b"\0" + scripts[name] + b"\0")
    return digest.hexdigest()[:16]


def region_images(root: Path, region: str) -> dict[str, str]:
    images = json.loads((root / IMAGES_FILE).read_text(encoding="utf-8"))
    if region not in images:
        raise PublishError(f"no built-in RCF/processing/Spark images known for region {region!r}")
    return dict(images[region])


def render(definition: str, values: Mapping[str, str]) -> str:
    """Fill every ``${Name}``; an unknown name fails (a stale build or a missing substitution)."""
    unknown = sorted(set(_PLACEHOLDER.findall(definition)) - set(values))
    if unknown:
        raise PublishError(f"the pipeline definition has placeholders with no value: {unknown}")

    def value(match: re.Match[str]) -> str:
        return json.dumps(values[match.group(1)])[1:-1]  # escaped for a JSON string

    rendered = _PLACEHOLDER.sub(value, definition)
    json.loads(rendered)  # still valid JSON
    return rendered


def publish(
    s3: Any,
    *,
    root: Path,
    bucket: str,
    region: str,
    substitutions: Mapping[str, str],
) -> Published:
    """Upload the scripts and the rendered definition (content-addressed); return where they are."""
    missing = [name for name in REQUIRED_SUBSTITUTIONS if not substitutions.get(name)]
    if missing:
        raise PublishError(f"Substitutions lacks {missing}")
    code = {**read_scripts(root), **read_package()}
    digest = code_digest(code)
    code_prefix = f"{PREFIX}/code/{digest}/"
    values = {**region_images(root, region), **substitutions, "CodeDigest": digest}
    definition = render((root / DEFINITION_FILE).read_text(encoding="utf-8"), values)
    for name, body in code.items():
        s3.put_object(Bucket=bucket, Key=code_prefix + name, Body=body, ContentType="text/x-python")
    s3.put_object(
        Bucket=bucket, Key=code_prefix + SOURCEDIR, Body=source_bundle(code), ContentType="application/gzip"
    )
    s3.put_object(
        Bucket=bucket, Key=code_prefix + PY_FILES, Body=py_files_bundle(code), ContentType="application/zip"
    )
    key = f"{PREFIX}/definitions/{hashlib.sha256(definition.encode()).hexdigest()[:16]}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=definition.encode(), ContentType="application/json")
    return Published(bucket=bucket, definition_key=key, code_prefix=code_prefix, code_digest=digest)


# ---------------------------------------------------------------------------- custom resource handler


def respond(
    event: Mapping[str, Any], status: str, physical_id: str, data: Mapping[str, str], reason: str
) -> None:
    """PUT the result to CloudFormation's pre-signed URL (the stack waits for it)."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": dict(data),
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's https pre-signed URL
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        response.read()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """Create/Update publish; Delete keeps the objects. Always answers CloudFormation."""
    import boto3

    missing = [key for key in REQUEST_KEYS if not isinstance(event.get(key), str) or not event[key]]
    if missing:  # not from CloudFormation: fail loudly, naming what is missing (nothing to answer)
        raise NotACustomResourceRequest(
            "PipelineArtifactsFunction handles CloudFormation's Custom::PipelineArtifacts requests "
            f"(Create, Update, Delete); this event lacks {', '.join(missing)} "
            "(a sample: events/pipeline-artifacts-create.json)"
        )
    physical_id = event.get("PhysicalResourceId") or f"{event['LogicalResourceId']}-unpublished"
    data: dict[str, str] = {}
    status, reason = "SUCCESS", "published"
    try:
        if event["RequestType"] in ("Create", "Update"):
            props = event["ResourceProperties"]
            published = publish(
                boto3.client("s3"),
                root=Path(os.environ.get("ARTIFACTS_DIR", "/opt")),
                bucket=props["Bucket"],
                region=os.environ["AWS_REGION"],
                substitutions=props.get("Substitutions", {}),
            )
            physical_id, data = published.physical_id, published.attributes
            logger.info("published", extra={"definition": physical_id, "code_prefix": published.code_prefix})
        else:
            reason = "kept: published artifacts are content-addressed and may still be referenced"
    except Exception as exc:  # any failure must reach CloudFormation, or the stack waits for an hour
        status, reason = "FAILED", f"{type(exc).__name__}: {exc}"
        logger.exception("publish failed")
    respond(event, status, physical_id, data, reason)
    return {"Status": status, "PhysicalResourceId": physical_id}
