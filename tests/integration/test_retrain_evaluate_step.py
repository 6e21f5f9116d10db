"""The retraining evaluate step against the emulator: which package is the candidate, what serves, what
score statistics say, and the decision the state machine receives."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from anomaly_sentinel import retraining
from anomaly_sentinel.exceptions import CandidateNotFoundError, EventParseError
from sentinel.moto_patches import record_pipeline_steps, registered_step
from tests.support import RETRAIN_STEPS_ENV, Failing
from tests.support.retrain import serve_as
from tests.support.retrain_step import BUCKET, SETTINGS, model_url
from tests.support.retrain_step import clients as clients  # noqa: PLC0414 - fixture

ENV = RETRAIN_STEPS_ENV
IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1"
ROLE = "arn:aws:iam::123456789012:role/sentinel-sagemaker"
RUN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/anomaly-sentinel-rcf/execution/"


def put_stats(s3, key: str, mean: float, std: float) -> str:
    document = {"count": 1000, "mean": mean, "std": std, "min": 0.0, "max": 10.0}
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document).encode())
    return f"s3://{BUCKET}/{key}"


def register(
    sagemaker, *, url: str | None = None, metadata: dict[str, str] | None = None, run: str = ""
) -> dict:
    """A package as the pipeline registers it, recorded as the run's RegisterModel step when ``run``."""
    container = {"Image": IMAGE, **({"ModelDataUrl": url} if url else {})}
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=SETTINGS.model_package_group_name,
        InferenceSpecification={
            "Containers": [container],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties=metadata or {"pipeline_execution_arn": run or "none"},
    )["ModelPackageArn"]
    if run:
        record_pipeline_steps(run, [registered_step(arn)])
    return {"arn": arn, "url": url}


def serve(url: str | None, tag: str = "seed") -> str:
    """``url`` in service on the settings' endpoint."""
    name = SETTINGS.endpoint_name
    return serve_as(name, f"{name}-m-{tag}", f"{name}-c-{tag}", url)


def new_run() -> str:
    return RUN + uuid.uuid4().hex[:12]


def started_run(sagemaker) -> str:
    """A real (emulated) execution of the settings' pipeline, so its run time and cost can be read."""
    sagemaker.create_pipeline(
        PipelineName=SETTINGS.pipeline_name,
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        RoleArn=ROLE,
    )
    return str(
        sagemaker.start_pipeline_execution(PipelineName=SETTINGS.pipeline_name)["PipelineExecutionArn"]
    )


# ---------------------------------------------------------------------------- the decision


def test_a_better_candidate_is_approved_with_what_it_replaces(clients):
    # GIVEN a model in service with test:f1 0.5 and a run that registered a candidate with 0.7
    sagemaker, s3 = clients
    old = register(sagemaker, url=model_url("old"), metadata={"objective_value": "0.5"})
    config = serve(old["url"])
    run = started_run(sagemaker)
    new = register(
        sagemaker,
        url=model_url("new"),
        run=run,
        metadata={"objective_value": "0.7", "training_data": "s3://b/training/"},
    )
    # WHEN evaluated
    result = retraining.evaluate(
        {"pipelineExecutionArn": run, "executionName": "exec-1"}, SETTINGS, sagemaker, s3
    )
    # THEN it is approved by the objective, with the candidate's deployable parts
    assert (result["approve"], result["rule"]) == (True, "objective")
    assert result["reason"].startswith("test:f1 0.7 beats 0.5")
    assert (result["modelPackageArn"], result["modelDataUrl"], result["image"]) == (
        new["arn"],
        new["url"],
        IMAGE,
    )
    # AND the approval is recorded under the execution's name; what it replaces is named
    assert result["metadata"] == {"approved_by": "exec-1"}
    assert result["endpointExists"] is True
    assert (
        result["previousEndpointConfig"],
        result["previousModelDataUrl"],
        result["previousModelPackageArn"],
    ) == (
        config,
        old["url"],
        old["arn"],
    )
    # AND no evaluation set was used; the training data and the run's cost are reported
    assert (result["evaluation"], result["comparison"]) == ({}, "none")
    assert result["trainingData"] == "s3://b/training/"
    assert result["runCost"].startswith("pipeline run ")


def test_a_first_candidate_is_approved_on_an_empty_endpoint(clients):
    sagemaker, s3 = clients
    run = new_run()
    register(sagemaker, url=model_url("first"), run=run)
    result = retraining.evaluate({"pipelineExecutionArn": run}, SETTINGS, sagemaker, s3)
    assert (result["approve"], result["rule"]) == (True, "nothing-in-service")
    assert result["metadata"] == {"approved_by": "retraining"}
    assert result["endpointExists"] is False
    assert (
        result["previousEndpointConfig"],
        result["previousModelDataUrl"],
        result["previousModelPackageArn"],
        result["trainingData"],
    ) == ("none", "none", "none", "none")


def test_a_rejected_candidate_records_no_approval(clients):
    sagemaker, s3 = clients
    serve(register(sagemaker, url=model_url("old"), metadata={"objective_value": "0.9"})["url"])
    run = new_run()
    register(sagemaker, url=model_url("new"), run=run, metadata={"objective_value": "0.1"})
    result = retraining.evaluate({"pipelineExecutionArn": run, "executionName": "x"}, SETTINGS, sagemaker, s3)
    assert (result["approve"], result["rule"], result["metadata"]) == (False, "objective", {})


def test_a_long_execution_name_is_cut_to_the_metadata_limit(clients):
    sagemaker, s3 = clients
    run = new_run()
    register(sagemaker, url=model_url("first"), run=run)
    name = "n" * 300
    result = retraining.evaluate(
        {"pipelineExecutionArn": run, "executionName": name}, SETTINGS, sagemaker, s3
    )
    assert result["metadata"] == {"approved_by": "n" * 256}


def test_without_objectives_the_score_statistics_in_s3_decide(clients):
    # GIVEN both packages name score_stats.json files; the candidate's spread is tighter
    sagemaker, s3 = clients
    old_stats = put_stats(s3, "models/old/score_stats.json", 1.0, 0.3)
    new_stats = put_stats(s3, "models/new/score_stats.json", 1.0, 0.1)
    serve(register(sagemaker, url=model_url("old"), metadata={"score_stats_uri": old_stats})["url"])
    run = new_run()
    register(sagemaker, url=model_url("new"), run=run, metadata={"score_stats_uri": new_stats})
    # WHEN evaluated THEN the spreads read from S3 decide
    result = retraining.evaluate({"pipelineExecutionArn": run}, SETTINGS, sagemaker, s3)
    assert (result["approve"], result["rule"]) == (True, "score-stats")
    assert "0.1 <= 0.3" in result["reason"]


def test_an_evaluation_set_decides_when_the_candidate_has_one(clients):
    # GIVEN a candidate whose evaluation.json beat the z-score baseline, nothing in service
    sagemaker, s3 = clients
    figures = {"precision": 0.6, "recall": 0.6, "f1": 0.6, "cutoff": 1.3, "cutoff_source": "score-stats"}
    report = {
        "set": {"rows": 80, "positives": 20},
        "reference": "baseline",
        "candidate": figures,
        "incumbent": None,
        "baseline": {**figures, "f1": 0.3, "detector": "z-score"},
    }
    s3.put_object(Bucket=BUCKET, Key="models/new/evaluation.json", Body=json.dumps(report).encode())
    run = new_run()
    register(
        sagemaker,
        url=model_url("new"),
        run=run,
        metadata={"evaluation_uri": f"s3://{BUCKET}/models/new/evaluation.json"},
    )
    result = retraining.evaluate({"pipelineExecutionArn": run}, SETTINGS, sagemaker, s3)
    # THEN the evaluation rule decides and its summary and table travel with the decision
    assert (result["approve"], result["rule"]) == (True, "evaluation")
    assert result["evaluation"]["candidate"]["f1"] == 0.6
    assert result["comparison"] != "none"
    assert "candidate" in result["comparison"]


def test_a_candidate_already_serving_is_a_duplicate_even_with_an_evaluation(clients):
    # GIVEN the run's candidate already serves, and it names an evaluation.json (absent: never read)
    sagemaker, s3 = clients
    run = new_run()
    candidate = register(
        sagemaker, url=model_url("same"), run=run, metadata={"evaluation_uri": f"s3://{BUCKET}/missing.json"}
    )
    serve(candidate["url"])
    # WHEN evaluated THEN it is rejected as the same model, not judged on the evaluation
    result = retraining.evaluate({"pipelineExecutionArn": run}, SETTINGS, sagemaker, s3)
    assert (result["approve"], result["rule"]) == (False, "same-model")


def test_a_missing_evaluation_file_is_a_rejection_with_its_reason(clients):
    sagemaker, s3 = clients
    run = new_run()
    register(
        sagemaker, url=model_url("new"), run=run, metadata={"evaluation_uri": f"s3://{BUCKET}/missing.json"}
    )
    result = retraining.evaluate({"pipelineExecutionArn": run}, SETTINGS, sagemaker, s3)
    assert (result["approve"], result["rule"]) == (False, "evaluation")
    assert "NoSuchKey" in result["reason"]


@pytest.mark.parametrize("event", [{}, {"pipelineExecutionArn": ""}, {"pipelineExecutionArn": 7}])
def test_evaluate_needs_the_pipeline_execution(clients, event):
    sagemaker, s3 = clients
    with pytest.raises(EventParseError, match="pipelineExecutionArn"):
        retraining.evaluate(event, SETTINGS, sagemaker, s3)


def test_the_entry_runs_evaluate(clients):
    sagemaker, s3 = clients
    run = new_run()
    register(sagemaker, url=model_url("first"), run=run)
    steps = retraining.RetrainSteps(SETTINGS, sagemaker=sagemaker, s3=s3)
    result = steps.run({"step": "evaluate", "pipelineExecutionArn": run}, now=1)
    assert result["rule"] == "nothing-in-service"


# ---------------------------------------------------------------------------- the candidate


def test_the_candidate_is_the_package_of_the_runs_register_step(clients):
    # GIVEN a run whose steps list others before its RegisterModel step
    sagemaker, _ = clients
    run = new_run()
    package = register(sagemaker, url=model_url("new"))
    preprocess = {
        **registered_step("x"),
        "StepName": "Preprocess",
        "Metadata": {"ProcessingJob": {"Arn": "p"}},
    }
    record_pipeline_steps(
        run, [preprocess, {**preprocess, "Metadata": None}, registered_step(package["arn"])]
    )
    # WHEN looked up THEN the registered package is found
    assert retraining.find_candidate(sagemaker, run, SETTINGS).arn == package["arn"]


def test_a_run_without_a_register_step_has_no_candidate(clients):
    sagemaker, _ = clients
    run = new_run()
    record_pipeline_steps(run, [{**registered_step("x"), "Metadata": {"RegisterModel": {}}}])
    with pytest.raises(CandidateNotFoundError, match="no RegisterModel step"):
        retraining.find_candidate(sagemaker, run, SETTINGS)


def test_a_candidate_without_model_data_cannot_be_deployed(clients):
    sagemaker, _ = clients
    run = new_run()
    register(sagemaker, url=None, run=run)
    with pytest.raises(CandidateNotFoundError, match="no container"):
        retraining.find_candidate(sagemaker, run, SETTINGS)


def test_register_steps_are_found_on_later_pages():
    # GIVEN ListPipelineExecutionSteps answering in two pages (the emulator answers in one: stubbed)
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "list_pipeline_execution_steps",
            {"PipelineExecutionSteps": [{"StepName": "Preprocess", "Metadata": {}}], "NextToken": "page-2"},
            {"PipelineExecutionArn": "arn:run", "SortOrder": "Ascending"},
        )
        stub.add_response(
            "list_pipeline_execution_steps",
            {
                "PipelineExecutionSteps": [
                    {"StepName": "Register", "Metadata": {"RegisterModel": {"Arn": "arn:p"}}}
                ]
            },
            {"PipelineExecutionArn": "arn:run", "SortOrder": "Ascending", "NextToken": "page-2"},
        )
        # WHEN looked up THEN the second page's package is the candidate
        assert retraining.registered_package(sagemaker, "arn:run") == "arn:p"
        stub.assert_no_pending_responses()


def test_a_run_whose_last_page_has_no_register_step_has_none():
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "list_pipeline_execution_steps",
            {"PipelineExecutionSteps": [], "NextToken": "page-2"},
            {"PipelineExecutionArn": "arn:run", "SortOrder": "Ascending"},
        )
        stub.add_response(
            "list_pipeline_execution_steps",
            {"PipelineExecutionSteps": [{"StepName": "Train", "Metadata": {}}]},
            {"PipelineExecutionArn": "arn:run", "SortOrder": "Ascending", "NextToken": "page-2"},
        )
        assert retraining.registered_package(sagemaker, "arn:run") is None


# ---------------------------------------------------------------------------- what serves


def test_nothing_serves_when_the_endpoint_does_not_exist(clients):
    sagemaker, _ = clients
    assert retraining.in_service(sagemaker, SETTINGS) == retraining.InService()


def test_the_model_in_service_is_matched_to_its_package_by_model_data(clients):
    # GIVEN three packages, the middle one serving
    sagemaker, _ = clients
    register(sagemaker, url=model_url("a"))
    serving = register(sagemaker, url=model_url("b"))
    register(sagemaker, url=model_url("c"))
    config = serve(serving["url"])
    current = retraining.in_service(sagemaker, SETTINGS)
    assert (current.endpoint_exists, current.endpoint_config_name, current.model_data_url) == (
        True,
        config,
        serving["url"],
    )
    assert current.package is not None
    assert current.package.arn == serving["arn"]


def test_a_model_registered_twice_is_matched_to_its_newest_package(clients):
    # GIVEN the serving model data registered by two runs (a re-run registers the same artefact),
    # with a package of another model in between
    sagemaker, _ = clients
    register(sagemaker, url=model_url("same"))
    register(sagemaker, url=model_url("other"))
    newest = register(sagemaker, url=model_url("same"))
    serve(newest["url"])
    # WHEN the model in service is looked up THEN it is the newest of its packages
    found = retraining.in_service(sagemaker, SETTINGS).package
    assert found is not None
    assert found.arn == newest["arn"]


def test_a_serving_model_older_than_the_scanned_packages_has_no_package(clients):
    # GIVEN the serving package is the oldest of three and only the newest two are scanned
    sagemaker, _ = clients
    serving = register(sagemaker, url=model_url("old"))
    register(sagemaker, url=model_url("b"))
    register(sagemaker, url=model_url("c"))
    serve(serving["url"])
    two = SETTINGS.model_copy(update={"package_scan_limit": 2})
    three = SETTINGS.model_copy(update={"package_scan_limit": 3})
    # THEN it is found when three are scanned, not when two are
    assert retraining.in_service(sagemaker, two).package is None
    found = retraining.in_service(sagemaker, three).package
    assert found is not None
    assert found.arn == serving["arn"]


def test_a_serving_model_without_model_data_is_an_endpoint_without_a_model(clients):
    sagemaker, _ = clients
    config = serve(None)
    assert retraining.in_service(sagemaker, SETTINGS) == retraining.InService(
        endpoint_exists=True, endpoint_config_name=config
    )


class OnePackagePerPage:
    """The emulated client, except that ListModelPackages answers one package per page (AWS may
    return fewer than MaxResults; the emulator fills its pages) and DescribeModelPackage is recorded."""

    def __init__(self, client) -> None:
        self.client = client
        self.described: list[str] = []

    def list_model_packages(self, **kwargs):
        return self.client.list_model_packages(**{**kwargs, "MaxResults": 1})

    def describe_model_package(self, **kwargs):
        self.described.append(kwargs["ModelPackageName"])
        return self.client.describe_model_package(**kwargs)

    def __getattr__(self, operation: str):
        return getattr(self.client, operation)


@pytest.mark.parametrize(("limit", "found"), [(3, True), (2, False)])
def test_the_package_in_service_is_found_across_pages_within_the_scan_limit(clients, limit, found):
    # GIVEN packages a (oldest), b (serving) and c, then a run that registers a candidate (newest),
    # and package listings that come one package per page
    sagemaker, s3 = clients
    a = register(sagemaker, url=model_url("a"))
    serving = register(sagemaker, url=model_url("b"))
    register(sagemaker, url=model_url("c"))
    serve(serving["url"])
    run = new_run()
    candidate = register(sagemaker, url=model_url("new"), run=run)
    paged = OnePackagePerPage(sagemaker)
    settings = SETTINGS.model_copy(update={"package_scan_limit": limit})
    # WHEN the evaluate step judges the candidate
    result = retraining.evaluate({"pipelineExecutionArn": run}, settings, paged, s3)
    # THEN the candidate is the run's package; the package in service is named as what it replaces
    # when it is among the newest ``limit`` packages (newest first, the third page), and none when not
    assert result["modelPackageArn"] == candidate["arn"]
    assert result["previousModelDataUrl"] == serving["url"]
    assert result["previousModelPackageArn"] == (serving["arn"] if found else retraining.NONE)
    # AND no package older than the scan limit is ever described
    assert a["arn"] not in paged.described
    assert len(set(paged.described) - {candidate["arn"]}) <= limit


def test_an_endpoint_that_cannot_be_read_is_a_fault_not_an_empty_endpoint(clients):
    # GIVEN DescribeEndpoint refused (stubbed: the emulator has no throttling)
    sagemaker, _ = clients
    with Stubber(sagemaker) as stub:
        stub.add_client_error(
            "describe_endpoint", service_error_code="ThrottlingException", service_message="Rate"
        )
        with pytest.raises(sagemaker.exceptions.ClientError, match="ThrottlingException"):
            retraining.in_service(sagemaker, SETTINGS)
    with Stubber(sagemaker) as stub:
        stub.add_client_error(
            "describe_endpoint",
            service_error_code="ValidationException",
            service_message="Endpoint name invalid",
        )
        with pytest.raises(sagemaker.exceptions.ClientError, match="ValidationException"):
            retraining.in_service(sagemaker, SETTINGS)


@pytest.mark.parametrize("code", ["ValidationException", "ResourceNotFound"])
def test_an_endpoint_that_could_not_be_found_serves_nothing(clients, code):
    sagemaker, _ = clients
    with Stubber(sagemaker) as stub:
        stub.add_client_error(
            "describe_endpoint", service_error_code=code, service_message="Could not find endpoint x."
        )
        assert retraining.in_service(sagemaker, SETTINGS) == retraining.InService()


# ---------------------------------------------------------------------------- score statistics


def test_score_statistics_are_read_from_the_uri(clients):
    _, s3 = clients
    stats = retraining.read_score_stats(s3, put_stats(s3, "m/score_stats.json", 2.0, 0.5))
    assert stats is not None
    assert (stats.mean, stats.std, stats.count) == (2.0, 0.5, 1000)


@pytest.mark.parametrize(
    "uri", [None, "", "https://example.com/score_stats.json", f"s3://{BUCKET}/absent.json"]
)
def test_absent_or_unaddressable_score_statistics_count_as_none(clients, uri):
    _, s3 = clients
    assert retraining.read_score_stats(s3, uri) is None


@pytest.mark.parametrize(
    "body", [b"{", b"[]", json.dumps({"count": 0, "mean": 1, "std": 1, "min": 0, "max": 1})]
)
def test_unreadable_score_statistics_count_as_none(clients, body):
    _, s3 = clients
    s3.put_object(Bucket=BUCKET, Key="bad.json", Body=body)
    assert retraining.read_score_stats(s3, f"s3://{BUCKET}/bad.json") is None


def test_score_statistics_over_the_size_limit_count_as_none_and_at_it_are_read(clients):
    # GIVEN valid statistics padded with whitespace to exactly the limit, and one byte over it
    _, s3 = clients
    document = json.dumps({"count": 10, "mean": 1.0, "std": 0.1, "min": 0.0, "max": 2.0}).encode()
    limit = retraining.SCORE_STATS_MAX_BYTES
    s3.put_object(Bucket=BUCKET, Key="at.json", Body=document + b" " * (limit - len(document)))
    s3.put_object(Bucket=BUCKET, Key="over.json", Body=document + b" " * (limit + 1 - len(document)))
    assert retraining.read_score_stats(s3, f"s3://{BUCKET}/at.json") is not None
    assert retraining.read_score_stats(s3, f"s3://{BUCKET}/over.json") is None


def test_a_score_statistics_bucket_that_cannot_be_read_is_a_fault(clients):
    # GIVEN a URI in a bucket that does not exist (a misconfiguration, not missing statistics)
    _, s3 = clients
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucket"):
        retraining.read_score_stats(s3, "s3://no-such-bucket-here/score_stats.json")


def test_a_reason_longer_than_an_approval_description_is_cut_to_its_limit(clients):
    # GIVEN an objective metric so long that the "unmeasured" reason naming it exceeds 1,024 characters
    sagemaker, s3 = clients
    serve(register(sagemaker, url=model_url("old"))["url"])
    run = new_run()
    register(sagemaker, url=model_url("new"), run=run)
    settings = SETTINGS.model_copy(update={"objective_metric": "m" * 2_000})
    # WHEN evaluated THEN the reason fits ModelApprovalDescription (1,024 characters)
    result = retraining.evaluate({"pipelineExecutionArn": run}, settings, sagemaker, s3)
    assert (result["approve"], result["rule"]) == (False, "unmeasured")
    assert result["reason"] == f"no comparable {'m' * 2_000}"[:1_024]


@pytest.mark.parametrize("code", ["NoSuchKey", "404", "NotFound"])
def test_every_way_s3_says_not_found_counts_as_no_statistics(code):
    # GIVEN GetObject answering not-found in each of the forms S3 uses (stubbed: moto uses one)
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:
        stub.add_client_error("get_object", service_error_code=code, http_status_code=404)
        assert retraining.read_score_stats(s3, "s3://b/m/score_stats.json") is None


def test_score_statistics_are_read_from_the_bucket_and_key_of_the_uri():
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:
        stub.add_client_error(
            "get_object",
            service_error_code="NoSuchKey",
            expected_params={"Bucket": "b", "Key": "m/score_stats.json"},
        )
        assert retraining.read_score_stats(s3, "s3://b/m/score_stats.json") is None
        stub.assert_no_pending_responses()


def test_the_entry_evaluates_with_its_s3_client(clients):
    # GIVEN a candidate naming an evaluation.json that is missing from the bucket
    sagemaker, s3 = clients
    run = new_run()
    register(
        sagemaker, url=model_url("new"), run=run, metadata={"evaluation_uri": f"s3://{BUCKET}/missing.json"}
    )
    steps = retraining.RetrainSteps(SETTINGS, sagemaker=sagemaker, s3=s3)
    # WHEN the entry evaluates THEN the file was looked for in S3 (and its absence is the reason)
    result = steps.run({"step": "evaluate", "pipelineExecutionArn": run}, now=1)
    assert (result["rule"], result["approve"]) == ("evaluation", False)
    assert "NoSuchKey" in result["reason"]


def test_a_page_without_steps_has_no_candidate():
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "list_pipeline_execution_steps", {}, {"PipelineExecutionArn": "arn:run", "SortOrder": "Ascending"}
        )
        assert retraining.registered_package(sagemaker, "arn:run") is None


def test_an_s3_error_without_a_code_is_a_fault_raised_as_it_came():
    # GIVEN S3 failing with an error response that carries no error details
    error = ClientError({}, "GetObject")
    # WHEN the statistics are read THEN that error is raised: it is not "no statistics"
    with pytest.raises(ClientError) as raised:
        retraining.read_score_stats(Failing(error), f"s3://{BUCKET}/m/score_stats.json")
    assert raised.value is error
