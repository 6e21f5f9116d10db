"""The optional Model Monitor path in template.yaml: off by default, same baseline, our preprocessor."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from anomaly_sentinel import drift
from pipeline.publisher.app import read_scripts
from sentinel.template import PROJECT_ROOT, Template

MONITOR_RESOURCES = {
    "ModelMonitorKey",
    "ModelMonitorCaptureAccess",
    "ModelMonitorJobDefinition",
    "ModelMonitorSchedule",
}


def test_model_monitor_is_off_with_the_default_parameters():
    template = Template()
    assert not template.condition("HasModelMonitor")
    conditional = {
        lid for lid, res in template.resources.items() if res.get("Condition") == "HasModelMonitor"
    }
    assert conditional == MONITOR_RESOURCES


def test_when_on_it_reads_the_baseline_files_the_drift_monitor_uses_and_runs_our_preprocessor():
    # GIVEN the Model Monitor parameters set
    template = Template(
        parameters={
            "ModelMonitorEndpointName": "realtime-rcf",
            "ModelMonitorBaselineUri": "s3://bucket/models/run-1/baseline/",
        }
    )
    assert template.condition("HasModelMonitor")
    props = template.resource("ModelMonitorJobDefinition")["Properties"]
    baseline = template.resolve(props["DataQualityBaselineConfig"])
    # THEN the job compares with the very files the pipeline and the drift monitor use
    assert (
        baseline["StatisticsResource"]["S3Uri"]
        == f"s3://bucket/models/run-1/baseline/{drift.STATISTICS_FILE}"
    )
    assert (
        baseline["ConstraintsResource"]["S3Uri"]
        == f"s3://bucket/models/run-1/baseline/{drift.CONSTRAINTS_FILE}"
    )
    # AND its record preprocessor is the project's, which the publisher uploads with the job scripts
    source = props["DataQualityAppSpecification"]["RecordPreprocessorSourceUri"]["Fn::Sub"]
    assert source.endswith("${PipelineArtifacts.CodePrefix}record_preprocessor.py")
    assert "record_preprocessor.py" in read_scripts(PROJECT_ROOT / "pipeline")
    # AND its reports land where MonitoringAlertFunction reads them (the data bucket)
    output = props["DataQualityJobOutputConfig"]["MonitoringOutputs"][0]["S3Output"]["S3Uri"]
    assert output == {"Fn::Sub": "s3://${DataBucket}/model-monitor/${ModelMonitorEndpointName}"}
    # AND it runs once per drift window, in the cron forms Model Monitor accepts
    schedule = template.resource("ModelMonitorSchedule")["Properties"]["MonitoringScheduleConfig"]
    assert template.resolve(schedule["ScheduleConfig"]["ScheduleExpression"]) == "cron(0 * ? * * *)"
    six = Template(parameters={"ModelMonitorEndpointName": "realtime-rcf", "DriftWindowHours": "6"})
    assert six.resolve(schedule["ScheduleConfig"]["ScheduleExpression"]) == "cron(0 0/6 ? * * *)"


def test_the_analyzer_image_registries_are_the_sagemaker_sdks():
    # GIVEN the SageMaker SDK's own table of Model Monitor image registries (build-time dependency)
    spec = importlib.util.find_spec("sagemaker")
    assert spec is not None
    assert spec.submodule_search_locations
    config = Path(spec.submodule_search_locations[0]) / "image_uri_config" / "model-monitor.json"
    registries = json.loads(config.read_text())["versions"][""]["registries"]
    # THEN the template's mapping is the same table
    mapping = Template().document["Mappings"]["ModelMonitorRegistry"]
    assert {region: entry["Account"] for region, entry in mapping.items()} == registries
