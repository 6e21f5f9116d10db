"""The retraining steps' pure logic: the evaluation rule, and what "prepare" decides up front."""

from __future__ import annotations

import re

import pytest

from anomaly_sentinel import retraining
from anomaly_sentinel.exceptions import EventParseError, SettingsError
from anomaly_sentinel.retraining import InService, PackageInfo, ScoreStats
from anomaly_sentinel.settings import RetrainStepsSettings
from tests.support import RETRAIN_STEPS_ENV

ENV = RETRAIN_STEPS_ENV
SETTINGS = RetrainStepsSettings.from_env(ENV)
RUN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/anomaly-sentinel-rcf/execution/p4jn9xou8a8s"


def score_stats(mean: float, std: float) -> ScoreStats:
    """score_stats.json of 1,000 training scores with this mean and std."""
    return ScoreStats(count=1000, mean=mean, std=std, min=0.0, max=mean + 10 * std)


def package(url="s3://b/new/model.tar.gz", objective=None, metric="test:f1"):
    metadata = {"pipeline_execution_arn": RUN}
    if objective is not None:
        metadata.update(objective_metric=metric, objective_value=str(objective))
    return PackageInfo(arn=f"arn:pkg/{url}", model_data_url=url, image="rcf:1", metadata=metadata)


def serving(objective=None):
    return InService(
        endpoint_exists=True,
        endpoint_config_name="old-config",
        model_data_url="s3://b/old/model.tar.gz",
        package=package("s3://b/old/model.tar.gz", objective),
    )


# ---------------------------------------------------------------------------- the rule


def test_nothing_in_service_approves():
    # GIVEN no endpoint WHEN a candidate is compared THEN it is approved
    verdict = retraining.compare(package(), InService(), SETTINGS, None, None)
    assert (verdict.approve, verdict.rule) == (True, "nothing-in-service")


def test_candidate_already_serving_is_rejected():
    # GIVEN the candidate's model data already serves WHEN compared THEN it is rejected
    current = serving(0.5).model_copy(update={"model_data_url": "s3://b/new/model.tar.gz"})
    verdict = retraining.compare(package(objective=0.9), current, SETTINGS, None, None)
    assert (verdict.approve, verdict.rule) == (False, "same-model")


@pytest.mark.parametrize(
    ("new", "old", "min_improvement", "approve"),
    [
        (0.7, 0.5, 0.0, True),
        (0.5, 0.5, 0.0, True),
        (0.4, 0.5, 0.0, False),
        (0.55, 0.5, 0.1, False),
        (0.65, 0.5, 0.1, True),
    ],
)
def test_objective_rule_needs_the_minimum_improvement(new, old, min_improvement, approve):
    # GIVEN both packages report test:f1 WHEN compared THEN the candidate needs the minimum gain
    settings = SETTINGS.model_copy(update={"min_improvement": min_improvement})
    verdict = retraining.compare(package(objective=new), serving(old), settings, None, None)
    assert (verdict.approve, verdict.rule) == (approve, "objective")


def test_objective_rule_honours_a_minimising_goal():
    # GIVEN a Minimize goal WHEN compared THEN lower objectives win
    settings = SETTINGS.model_copy(update={"objective_goal": "Minimize"})
    assert retraining.compare(package(objective=0.2), serving(0.5), settings, None, None).approve
    assert not retraining.compare(package(objective=0.7), serving(0.5), settings, None, None).approve


def test_objective_of_another_metric_is_not_compared():
    # GIVEN the candidate's objective is another metric WHEN compared THEN the objective rule is skipped
    verdict = retraining.compare(
        package(objective=0.9, metric="validation:rmse"), serving(0.5), SETTINGS, None, None
    )
    assert verdict.rule != "objective"


def test_without_objectives_score_spread_decides():
    # GIVEN no objectives, two sets of score statistics
    # WHEN compared THEN the tighter spread (std/mean) wins
    tight, loose = score_stats(1.0, 0.1), score_stats(1.0, 0.3)
    assert retraining.compare(package(), serving(), SETTINGS, tight, loose).approve
    verdict = retraining.compare(package(), serving(), SETTINGS, loose, tight)
    assert (verdict.approve, verdict.rule) == (False, "score-stats")


def test_without_objectives_a_measured_candidate_beats_an_unmeasured_model():
    # GIVEN a candidate with score statistics and a model in service without
    # WHEN compared THEN the candidate is approved by the score-stats rule
    verdict = retraining.compare(package(), serving(), SETTINGS, score_stats(1.0, 0.2), None)
    assert (verdict.approve, verdict.rule) == (True, "score-stats")


@pytest.mark.parametrize(
    "stats", [None, score_stats(0.0, 0.1), ScoreStats.model_construct(mean=float("nan"), std=0.1)]
)
def test_a_candidate_with_neither_objective_nor_valid_stats_is_rejected(stats):
    # GIVEN a candidate with no objective and missing, zero-mean or NaN statistics
    # WHEN compared THEN it is rejected as unmeasured
    verdict = retraining.compare(package(), serving(0.5), SETTINGS, stats, score_stats(1.0, 0.1))
    assert (verdict.approve, verdict.rule) == (False, "unmeasured")


def test_objective_value_that_is_not_a_number_counts_as_absent():
    # GIVEN metadata whose objective value is text WHEN read THEN there is no objective
    broken = package(objective=0.9)
    broken.metadata["objective_value"] = "n/a"
    assert broken.objective("test:f1") is None


# ---------------------------------------------------------------------------- prepare


def prepare(payload, name="monitor-job-1a2b", now=1_800_000_000, settings=SETTINGS):
    event = {
        "step": "prepare",
        "input": payload,
        "executionName": name,
        "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:m:{name}",
    }
    return retraining.prepare(event, settings, now)


def test_prepare_for_a_new_run_names_everything_from_the_execution():
    # GIVEN a start input with training data WHEN prepared
    # THEN names, token, parameters and the serverless deployment come from the execution and settings
    prepared = prepare(
        {"inputDataUri": "s3://bucket/training/a.csv", "trigger": "drift-alarm", "reason": "r"}
    )
    assert prepared["mode"] == "start"
    start = prepared["start"]
    assert re.fullmatch(r"retrain-drift-alarm-[0-9a-f]{8}", start["displayName"])
    assert re.fullmatch(r"[0-9a-f]{64}", start["clientRequestToken"])
    assert start["parameters"] == [{"Name": "InputDataUri", "Value": "s3://bucket/training/a.csv"}]
    deployment = prepared["deployment"]
    assert deployment["memorySizeInMB"] == 2048
    assert deployment["maxConcurrency"] == 20
    for name in (deployment["modelName"], deployment["endpointConfigName"]):
        assert name.startswith("anomaly-sentinel-rcf-")
        assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name)


def test_prepare_sets_a_lock_that_outlives_the_bounded_waits():
    # GIVEN any input WHEN prepared
    # THEN the lock is the endpoint's, held by the execution, expiring after the TTL
    lock = prepare({})["lock"]
    assert lock == {
        "id": "retrain-lock#anomaly-sentinel-rcf",
        "holder": "monitor-job-1a2b",
        "now": "1800000000",
        "expiration": str(1_800_000_000 + SETTINGS.lock_ttl_seconds),
    }


def test_prepare_without_data_lets_the_pipeline_use_its_default():
    # GIVEN an empty input WHEN prepared THEN no pipeline parameter is passed and the trigger is manual
    prepared = prepare({})
    assert prepared["start"]["parameters"] == []
    assert (prepared["trigger"], prepared["reason"]) == ("manual", "started by hand")


def test_prepare_adopts_an_execution_of_our_pipeline_only():
    # GIVEN an execution ARN WHEN prepared THEN only our pipeline's is adopted, and never with a data URI
    assert prepare({"pipelineExecutionArn": RUN})["mode"] == "adopt"
    with pytest.raises(EventParseError, match="does not belong to pipeline"):
        prepare({"pipelineExecutionArn": RUN.replace("anomaly-sentinel-rcf", "other")})
    with pytest.raises(EventParseError, match="not both"):
        prepare({"pipelineExecutionArn": RUN, "inputDataUri": "s3://b/k"})


@pytest.mark.parametrize("payload", [["not", "an", "object"], {"inputDataUri": "https://example.com/a.csv"}])
def test_prepare_refuses_malformed_input(payload):
    # GIVEN an input that is not an object, or a data URI that is not s3:// WHEN prepared THEN it is refused
    with pytest.raises(EventParseError):
        prepare(payload)


def test_names_differ_between_executions_and_repeat_within_one():
    # GIVEN two executions WHEN each is prepared (one twice)
    # THEN names differ between them and repeat within one
    first, second = prepare({}, name="a")["deployment"], prepare({}, name="b")["deployment"]
    assert first["modelName"] != second["modelName"]
    assert prepare({}, name="a")["deployment"] == first


def test_lock_shorter_than_the_bounded_waits_fails_at_start_naming_the_variable():
    # GIVEN a lock TTL shorter than the bounded waits WHEN settings load THEN they fail naming the variable
    with pytest.raises(SettingsError, match="RETRAIN_LOCK_TTL_SECONDS"):
        RetrainStepsSettings.from_env({**ENV, "RETRAIN_LOCK_TTL_SECONDS": "600"})


def test_endpoint_names_too_long_for_deployment_names_fail_at_start():
    # GIVEN an endpoint name too long to prefix deployment names WHEN settings load THEN they fail naming it
    with pytest.raises(SettingsError, match="ENDPOINT_NAME"):
        RetrainStepsSettings.from_env({**ENV, "ENDPOINT_NAME": "e" * 49})


# ---------------------------------------------------------------------------- the rule, edges


@pytest.mark.parametrize(
    "current",
    [
        InService(endpoint_exists=True, endpoint_config_name="c"),
        InService(endpoint_exists=False, model_data_url="s3://b/old/model.tar.gz"),
    ],
)
def test_an_endpoint_serving_no_model_data_counts_as_nothing_in_service(current):
    # GIVEN an endpoint without model data, or model data without an endpoint
    # WHEN a candidate is compared THEN it is approved: nothing serves to be beaten
    verdict = retraining.compare(package(objective=0.1), current, SETTINGS, None, None)
    assert (verdict.approve, verdict.rule) == (True, "nothing-in-service")


def test_objective_verdicts_say_which_beat_which():
    # GIVEN test:f1 0.7 against 0.5 in service, and the reverse
    better = retraining.compare(package(objective=0.7), serving(0.5), SETTINGS, None, None)
    worse = retraining.compare(package(objective=0.5), serving(0.7), SETTINGS, None, None)
    # THEN the reason says so, with the metric, the goal and the minimum improvement
    assert better.reason == "test:f1 0.7 beats 0.5 in service (Maximize, min improvement 0)"
    assert worse.reason == "test:f1 0.5 does not beat 0.7 in service (Maximize, min improvement 0)"


def test_a_minimising_goal_needs_the_minimum_decrease():
    settings = SETTINGS.model_copy(update={"objective_goal": "Minimize", "min_improvement": 0.1})
    assert retraining.compare(package(objective=0.41), serving(0.5), settings, None, None).approve is False
    assert retraining.compare(package(objective=0.35), serving(0.5), settings, None, None).approve is True


@pytest.mark.parametrize(("new", "old", "goal"), [(0.75, 0.65, "Maximize"), (0.4, 0.5, "Minimize")])
def test_a_gain_exactly_equal_to_min_improvement_is_accepted(new, old, goal):
    # GIVEN gains whose float difference falls just short of 0.1 (0.75 - 0.65 = 0.0999...)
    settings = SETTINGS.model_copy(update={"objective_goal": goal, "min_improvement": 0.1})
    # WHEN compared THEN the candidate is approved: equal to the requirement is enough
    verdict = retraining.compare(package(objective=new), serving(old), settings, None, None)
    assert (verdict.approve, verdict.rule) == (True, "objective")


@pytest.mark.parametrize("current", [serving(None), serving(0.5).model_copy(update={"package": None})])
def test_an_objective_on_one_side_only_falls_back_to_score_statistics(current):
    # GIVEN a candidate with an objective and a model in service without one (or without a package)
    verdict = retraining.compare(package(objective=0.9), current, SETTINGS, score_stats(1.0, 0.1), None)
    # THEN score statistics decide
    assert (verdict.approve, verdict.rule) == (True, "score-stats")


def test_equal_score_spreads_approve_the_candidate():
    verdict = retraining.compare(package(), serving(), SETTINGS, score_stats(2.0, 0.2), score_stats(1.0, 0.1))
    assert (verdict.approve, verdict.rule) == (True, "score-stats")
    assert "0.1 <= 0.1 in service" in verdict.reason


def test_a_model_in_service_with_invalid_statistics_loses_to_a_measured_candidate():
    verdict = retraining.compare(package(), serving(), SETTINGS, score_stats(1.0, 0.5), score_stats(0.0, 0.1))
    assert (verdict.approve, verdict.rule) == (True, "score-stats")
    assert "no score statistics" in verdict.reason


# ---------------------------------------------------------------------------- package metadata


def test_an_objective_without_a_metric_name_counts_for_any_metric():
    info = PackageInfo(arn="a", model_data_url="u", image="i", metadata={"objective_value": "0.75"})
    assert info.objective("test:f1") == 0.75


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_an_objective_that_is_not_finite_counts_as_absent(value):
    info = PackageInfo(arn="a", model_data_url="u", image="i", metadata={"objective_value": value})
    assert info.objective("test:f1") is None


def test_an_objective_without_a_value_counts_as_absent():
    info = PackageInfo(arn="a", model_data_url="u", image="i", metadata={"objective_metric": "test:f1"})
    assert info.objective("test:f1") is None


def test_package_description_is_read_into_its_deployable_parts():
    # GIVEN DescribeModelPackage's answer with a container, a status and metadata
    info = retraining.package_info(
        {
            "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/3",
            "InferenceSpecification": {"Containers": [{"Image": "rcf:1", "ModelDataUrl": "s3://b/m.tar.gz"}]},
            "ModelApprovalStatus": "Approved",
            "CustomerMetadataProperties": {
                "score_stats_uri": "s3://b/score_stats.json",
                "objective_value": "1",
            },
        }
    )
    assert info == PackageInfo(
        arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/g/3",
        model_data_url="s3://b/m.tar.gz",
        image="rcf:1",
        status="Approved",
        metadata={"score_stats_uri": "s3://b/score_stats.json", "objective_value": "1"},
    )
    assert info.score_stats_uri == "s3://b/score_stats.json"


@pytest.mark.parametrize(
    "description",
    [
        {"ModelPackageArn": "arn:p"},
        {"ModelPackageArn": "arn:p", "InferenceSpecification": None, "CustomerMetadataProperties": None},
        {"ModelPackageArn": "arn:p", "InferenceSpecification": {"Containers": []}},
        {"ModelPackageArn": "arn:p", "InferenceSpecification": {"Containers": [{"Image": None}]}},
    ],
)
def test_a_package_without_containers_or_metadata_reads_as_empty(description):
    info = retraining.package_info(description)
    assert (info.arn, info.model_data_url, info.image, info.status, info.metadata) == (
        "arn:p",
        "",
        "",
        "",
        {},
    )
    assert info.score_stats_uri is None


# ---------------------------------------------------------------------------- prepare, more


def test_prepare_needs_the_execution_name():
    with pytest.raises(EventParseError, match="executionName"):
        retraining.prepare({"step": "prepare", "input": {}}, SETTINGS, 1)


def test_prepare_without_an_execution_arn_derives_the_request_token_from_the_name():
    # GIVEN the same execution name with and without its ARN
    bare = retraining.prepare({"input": {}, "executionName": "run-1"}, SETTINGS, 1)
    named_arn = retraining.prepare(
        {"input": {}, "executionName": "run-1", "executionArn": "run-1"}, SETTINGS, 1
    )
    real_arn = prepare({}, name="run-1")
    # THEN without an ARN the name is the run's identity
    assert bare["start"] == named_arn["start"]
    assert bare["start"]["clientRequestToken"] != real_arn["start"]["clientRequestToken"]


def test_prepare_passes_trigger_and_reason_through_and_names_the_run_by_trigger():
    # GIVEN a trigger with spaces and punctuation
    prepared = prepare({"trigger": "Drift alarm: _c0!", "reason": "feature _c0 drifted"})
    # THEN the run's display name carries it in slug form; the trigger and reason travel as given
    assert re.fullmatch(r"retrain-drift-alarm-c0-[0-9a-f]{8}", prepared["start"]["displayName"])
    assert (prepared["trigger"], prepared["reason"]) == ("Drift alarm: _c0!", "feature _c0 drifted")
    assert prepared["start"]["description"] == "Retraining (Drift alarm: _c0!): feature _c0 drifted"


def test_a_trigger_with_no_letters_or_digits_names_the_run_manual():
    assert re.fullmatch(r"retrain-manual-[0-9a-f]{8}", prepare({"trigger": "!!"})["start"]["displayName"])


def test_the_longest_trigger_keeps_the_display_name_within_pipelines_limit():
    display = prepare({"trigger": "A" * 64})["start"]["displayName"]
    assert len(display) <= 82
    assert display.startswith("retrain-" + "a" * 64)


def test_prepare_tells_start_from_adopt_and_gives_the_deployment_and_limits():
    # GIVEN a start input and an adopt input
    start, adopt = prepare({}), prepare({"pipelineExecutionArn": RUN})
    # THEN a start carries no execution to adopt; an adoption carries its execution
    assert (start["mode"], start["pipelineExecutionArn"]) == ("start", "none")
    assert (adopt["mode"], adopt["pipelineExecutionArn"]) == ("adopt", RUN)
    # AND both deploy on the endpoint's AllTraffic variant and poll within the configured limits
    assert start["deployment"]["endpointName"] == "anomaly-sentinel-rcf"
    assert start["deployment"]["variantName"] == "AllTraffic"
    assert start["limits"] == {
        "pipelinePollSeconds": SETTINGS.pipeline_poll_seconds,
        "pipelineMaxPolls": SETTINGS.pipeline_max_polls,
        "endpointPollSeconds": SETTINGS.endpoint_poll_seconds,
        "endpointMaxPolls": SETTINGS.endpoint_max_polls,
    }


def test_request_tokens_differ_between_executions_and_repeat_within_one():
    assert prepare({}, name="a")["start"] == prepare({}, name="a")["start"]
    assert (
        prepare({}, name="a")["start"]["clientRequestToken"]
        != prepare({}, name="b")["start"]["clientRequestToken"]
    )


@pytest.mark.parametrize(
    "payload",
    [{"trigger": "t" * 65}, {"reason": "r" * 1001}, {"inputDataUri": "s3://"}, {"pipelineExecutionArn": 5}],
)
def test_prepare_refuses_fields_out_of_bounds(payload):
    with pytest.raises(EventParseError, match="invalid retraining input"):
        prepare(payload)


def test_prepare_accepts_the_longest_trigger_and_reason():
    prepared = prepare({"trigger": "t" * 64, "reason": "r" * 1000})
    assert (len(prepared["trigger"]), len(prepared["reason"])) == (64, 1000)


# ---------------------------------------------------------------------------- the entry


def test_the_entry_runs_prepare_and_logs_identities_only():
    steps = retraining.RetrainSteps(SETTINGS, sagemaker=None, s3=None)
    event = {"step": "prepare", "input": {"reason": "secret-ish text"}, "executionName": "run-1"}
    result = steps.run(event, now=100)
    assert result["lock"]["now"] == "100"
    assert steps.log_fields(event, result) == {"step": "prepare", "execution": "run-1", "mode": "start"}


def test_the_entry_logs_the_evaluate_decision():
    result = {"modelPackageArn": "arn:p", "approve": False, "rule": "objective", "reason": "r"}
    assert retraining.RetrainSteps.log_fields({"step": "evaluate"}, result) == {
        "step": "evaluate",
        "package": "arn:p",
        "approve": False,
        "rule": "objective",
    }


@pytest.mark.parametrize("step", [None, "deploy", "Prepare"])
def test_the_entry_refuses_an_unknown_step(step):
    steps = retraining.RetrainSteps(SETTINGS, sagemaker=None, s3=None)
    with pytest.raises(EventParseError, match="unknown retraining step"):
        steps.run({"step": step, "executionName": "run-1", "input": {}}, now=1)


def test_a_trigger_is_slugged_before_it_is_lower_cased():
    # GIVEN a trigger starting with a capital X (a slug strips only dashes from its ends)
    assert re.fullmatch(
        r"retrain-xmas-run-[0-9a-f]{8}", prepare({"trigger": "Xmas run"})["start"]["displayName"]
    )


def test_deployment_names_of_the_longest_endpoint_name_fit_sagemakers_63_characters():
    # GIVEN the longest endpoint name the settings accept
    settings = RetrainStepsSettings.from_env({**ENV, "ENDPOINT_NAME": "e" * 48})
    deployment = prepare({}, settings=settings)["deployment"]
    # THEN model and endpoint-config names stay within SageMaker's limit, and differ
    assert {len(deployment["modelName"]), len(deployment["endpointConfigName"])} == {63}
    assert deployment["modelName"] != deployment["endpointConfigName"]


def test_a_wider_spread_says_it_is_wider():
    verdict = retraining.compare(package(), serving(), SETTINGS, score_stats(1.0, 0.3), score_stats(1.0, 0.1))
    assert "0.3 > 0.1 in service" in verdict.reason


def test_the_first_two_rules_say_why():
    nothing = retraining.compare(package(), InService(), SETTINGS, None, None)
    same = retraining.compare(
        package(),
        serving().model_copy(update={"model_data_url": "s3://b/new/model.tar.gz"}),
        SETTINGS,
        None,
        None,
    )
    assert nothing.reason == "nothing in service on the endpoint"
    assert same.reason == "the candidate already serves on the endpoint"


def test_input_that_is_not_an_object_is_refused_as_such():
    with pytest.raises(EventParseError, match="JSON object"):
        prepare("adopt please")
