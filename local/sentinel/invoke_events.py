"""What ``sentinel invoke`` builds on the emulator for the events of the deploy-time and run-end
functions: a pipeline execution for a "Pipeline Execution Status Change", and CloudFormation's
response URL for a custom resource request (a local receiver that prints what the stack would get).

The event is rewritten the way the S3 sample is (its version-id set to the upload's): it then
names what exists on the emulator. Nothing here is imported by the runtime package.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sentinel.resources.pipeline import PIPELINE_DIR

Say = Callable[[str], None]
PIPELINE_RUN_DETAIL_TYPE = "SageMaker Model Building Pipeline Execution Status Change"
CUSTOM_RESOURCE_KEYS = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId")
#: Where the artifacts layer's content (ContentUri pipeline/) is on this machine: /opt in Lambda.
LAYER_ENV = {"ARTIFACTS_DIR": str(PIPELINE_DIR)}


def is_pipeline_run_change(event: Mapping[str, Any]) -> bool:
    return event.get("source") == "aws.sagemaker" and event.get("detail-type") == PIPELINE_RUN_DETAIL_TYPE


def is_custom_resource_request(event: Mapping[str, Any]) -> bool:
    return all(key in event for key in CUSTOM_RESOURCE_KEYS)


def adopt_pipeline_run(event: Mapping[str, Any], execution_arn: str) -> dict[str, Any]:
    """The event about ``execution_arn`` instead (the pipeline run the emulator just did)."""
    detail = dict(event.get("detail") or {})
    pipeline_arn = execution_arn.split("/execution/", 1)[0]
    detail.update(pipelineArn=pipeline_arn, pipelineExecutionArn=execution_arn)
    return {**event, "resources": [pipeline_arn, execution_arn], "detail": detail}


@contextmanager
def cloudformation_receiver(say: Say) -> Iterator[str]:
    """A local URL that takes the custom resource's response as CloudFormation's pre-signed URL
    would (PUT, any path) and says what the stack would receive; yields the URL."""

    class Receiver(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                answer = json.loads(body)
                shown = {k: answer.get(k) for k in ("Status", "Reason", "PhysicalResourceId", "Data")}
            except ValueError:
                shown = {"unreadable response": len(body)}
            say(f"CloudFormation would receive: {json.dumps(shown)}")
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cloudformation-response"
    finally:
        server.shutdown()
        server.server_close()
