"""RetrainStepsFunction: the two computed steps of the retraining state machine.

``{"step": "prepare", ...}`` decides names, lock expiry and limits for one execution;
``{"step": "evaluate", "pipelineExecutionArn": ...}`` compares the candidate with the model in service.
Invoked synchronously by the state machine; errors propagate into its Catch path.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from anomaly_sentinel import aws
from anomaly_sentinel.handler_kit import HandlerKit
from anomaly_sentinel.retraining import RetrainSteps
from anomaly_sentinel.settings import RetrainStepsSettings

settings = RetrainStepsSettings.from_env()
kit = HandlerKit(settings, metrics=False, idempotent=False)
sagemaker = aws.client("sagemaker")
s3 = aws.client("s3")
steps = RetrainSteps(settings, sagemaker=sagemaker, s3=s3)


@kit.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = steps.run(event, now=int(time.time()))
    kit.logger.info("retraining step done", extra=RetrainSteps.log_fields(event, result))
    return result
