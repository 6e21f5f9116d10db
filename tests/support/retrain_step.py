"""The retraining evaluate step's world: its settings, the bucket its models live in, the emulated
SageMaker and S3 clients it is given (with the model package group created)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from anomaly_sentinel.settings import RetrainStepsSettings
from tests.support import RETRAIN_STEPS_ENV

SETTINGS = RetrainStepsSettings.from_env(RETRAIN_STEPS_ENV)
BUCKET = "retrain-models"


@pytest.fixture
def clients(aws: None) -> tuple[Any, Any]:
    """(sagemaker, s3) on the emulator, BUCKET and the settings' model package group created."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=SETTINGS.model_package_group_name)
    return sagemaker, s3


def model_url(name: str) -> str:
    """Where a model named ``name`` keeps its artifact."""
    return f"s3://{BUCKET}/models/{name}/model.tar.gz"
