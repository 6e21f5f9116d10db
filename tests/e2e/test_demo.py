"""The whole loop, offline, exactly as `make demo` runs it: the summary's figures are asserted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import numpy as np
import pytest

from sentinel.cli import main
from sentinel.series import load_windows, window_quality

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("demo")
    return main(["demo", "--out", str(out)]), out


@pytest.fixture(scope="module")
def summary(demo: tuple[int, Path]) -> dict:
    return json.loads((demo[1] / "summary.json").read_text(encoding="utf-8"))


def test_demo_exits_zero_with_every_stage_ok(demo, summary):
    code, _ = demo
    assert code == 0
    assert [s["name"] for s in summary["stages"] if not s["ok"]] == []
    assert {s["name"] for s in summary["stages"]} >= {
        "emulator",
        "upload",
        "pipeline",
        "deploy",
        "traffic",
        "scoring",
        "report",
        "drift",
    }


def test_one_upload_delivered_twice_started_one_pipeline_execution(summary):
    assert summary["pipeline_executions_started"] == 1
    assert summary["duplicate_delivery"] == "absorbed"
    assert summary["ignored_uploads"] == ["suffix not accepted"]


def test_every_capture_record_is_scored_or_rejected(summary):
    # GIVEN the replayed taxi traffic: one record per 48-point shingle, plus 3 broken lines
    assert summary["capture_records"] == (10_320 - 47) + 3
    # THEN nothing is lost: the broken lines are the rejects
    assert summary["records_scored"] + summary["records_rejected"] == summary["capture_records"]
    assert summary["records_rejected"] == 3
    assert summary["cutoff_source"] == "model-stats"


def test_anomalies_are_rare_and_reach_the_subscriber_with_a_plot(summary):
    assert 0 < summary["anomalies"] < summary["records_scored"] * 0.05
    assert summary["alerts_delivered"] == 1
    assert Path(summary["report"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_retraining_ran_and_changed_the_endpoint_config(summary):
    runs = summary["retrain_executions"]
    # the upload's run, the log upload's run (sentinel.demo_logs), the drift-triggered run
    assert [r["status"] for r in runs] == ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]
    assert runs[1]["name"].startswith("RetrainStateMachineTrainedLogModel-")
    assert runs[2]["name"].startswith("drift-drift-monitor-")
    assert summary["endpoint_config"].startswith("anomaly-sentinel-rcf-c-")


def test_retraining_ran_on_the_templates_defaults_and_trained_on_recent_production_traffic(summary):
    # GIVEN the stack deployed with the template's defaults (RetrainInputDataUri empty)
    # THEN the monitoring-triggered run started the pipeline with no parameter at all: the definition's
    # defaults, InputDataUri included, are complete
    assert summary["retrain_pipeline_parameters"] == []
    # AND it trained on the recent window of scored traffic, not on the upload
    data = summary["retrain_training_data"]
    assert data["source"] == "production-window"
    assert data["uri"].endswith("/dataset/endpoint=anomaly-sentinel-rcf/")
    assert data["window_days"] == 14
    assert data["start"] > "2015-02-01"  # the drifted weeks replayed after the series' end
    assert data["rows_read"] - data["rows_outside_window"] == 14 * 48


def test_retraining_tuned_and_the_candidate_removed_false_alerts_beyond_the_noise(summary):
    trials = summary["tuning_trials"]
    assert len(trials) >= 2
    assert all({"num_trees", "num_samples_per_tree", "f1"} <= set(t) for t in trials)
    evaluation = summary["evaluation"]
    assert evaluation["approved"] is True
    # GIVEN an evaluation set with a realistic share of anomalies, where flagging everything loses
    assert evaluation["set"]["positives"] >= 1
    assert evaluation["set"]["positive_share"] <= 0.05
    assert evaluation["flag_all"]["f1"] < evaluation["candidate"]["f1"]
    # THEN the decision rests on false alerts: the model in service flags the shifted traffic, the
    # candidate far less, and the whole 90 % interval of the reduction is above 0
    assert (
        evaluation["incumbent"]["false_alerts_per_day"] > 10 * evaluation["candidate"]["false_alerts_per_day"]
    )
    reduction = evaluation["false_alert_reduction"]
    assert 0 < reduction["low"] <= reduction["gain"] <= reduction["high"]
    assert evaluation["margin"] == reduction["low"] - evaluation["min_improvement"]
    assert evaluation["decision"].startswith("approved: the candidate removes ")
    # AND the subscribers' alert says what it trained on and carries the comparison table
    alert = summary["retrain_alert"]
    assert "Trained on: production 14-day window" in alert
    assert f"candidate   {evaluation['candidate']['f1']:.3f}" in alert
    assert f"incumbent   {evaluation['incumbent']['f1']:.3f}" in alert
    assert "false alerts removed: +" in alert
    # AND the run's time and estimated cost (the local executor runs no billed job: $0.00)
    assert re.search(r"Run time and cost: pipeline run [0-9.]+ min, \d+ steps, .* estimated \$0\.00", alert)


def test_flagged_records_fall_in_the_labelled_nab_windows(demo):
    # GIVEN the scores ScoreCaptureFunction wrote to S3 (the demo keeps a copy as scores.jsonl)
    _, out = demo
    rows = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines() if line]
    stamps = np.array([r["inferenceTime"].rstrip("Z") for r in rows], dtype="datetime64[s]")
    flagged = np.array([r["anomaly"] for r in rows], dtype=bool)
    # WHEN they are compared with NAB's five labelled windows
    quality = window_quality(stamps, flagged, load_windows())
    # THEN most windows are hit, and at the model's alert budget (its 0.999 training quantile) nearly
    # every flagged record is inside one (mean + 3 std hit one window more with a quarter of its
    # flags outside every window: docs/BENCHMARKS.md, "Cutoff with an alert budget")
    assert quality.windows_hit >= 3
    assert quality.precision >= 0.9


def test_demo_leaves_no_aws_configuration_behind(demo):
    # the emulator's endpoint variables were restored: a client built now is not pointed at it
    assert "127.0.0.1" not in boto3.client("s3", region_name="us-east-1").meta.endpoint_url


def test_the_dashboard_picture_is_drawn_from_the_metrics_the_run_emitted(demo, summary):
    from sentinel.dashboard import read_emf

    _, out = demo
    path = Path(summary["dashboard"])
    assert path == out / "dashboard.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the EMF lines the handlers printed hold the same figures as the summary
    points = read_emf((out / "lambda.log").read_text(encoding="utf-8").splitlines())
    scored = summary["records_scored"] + summary["drift_records"]  # the replay and the drifted weeks
    assert sum(p.value for p in points if p.name == "RecordsScored") == scored
    runs = [dict(p.dimensions)["Status"] for p in points if p.name == "PipelineRuns"]
    assert runs == ["Succeeded"] * 3  # the upload's run, the log route's run and the retraining run
    # AND drawn from the run's own metrics, no text of the picture overlaps another or leaves its panel
    from matplotlib import pyplot

    from sentinel.dashboard_picture import figure
    from tests.support.dashboard import overlaps, resolved_template

    drawn = figure(resolved_template(), points)
    assert overlaps(drawn) == []
    pyplot.close(drawn)


def test_shifted_traffic_raises_drift_violations_from_the_drift_monitor(summary):
    # GIVEN the replayed training traffic and three weeks of January with demand up by half the mean
    shifted = {(v["feature_name"], v["constraint_check_type"]) for v in summary["drift_violations"]}
    replay = {(v["feature_name"], v["constraint_check_type"]) for v in summary["drift_violations_replay"]}
    # THEN the shifted window drifts on every one of the 48 shingle features (no Model Monitor involved)
    assert {f"_c{i}" for i in range(48)} == {f for f, kind in shifted if kind == "baseline_drift_check"}
    # AND the replay window's features do not drift; its one broken value (column 3) shows as
    # completeness. (Its anomaly rate may: the model was trained on part of the series only.)
    assert {(f, kind) for f, kind in replay if f.startswith("_c")} == {("_c2", "completeness_check")}


def test_the_first_model_was_deployed_past_its_sanity_floor_and_says_what_it_was_compared_with(summary):
    first = summary["first_model_evaluation"]
    assert first["set"]["positive_share"] <= 0.05
    assert first["candidate"]["f1"] > first["flag_all_f1"]
    assert first["cutoff"]["rule"] == "quantile"
    assert first["decision"].startswith("first model: candidate F1 ")
    assert "compared with flagging every row" in first["decision"]
    assert "z-score baseline" in first["decision"]


def test_drift_retrains_only_once_the_models_anomaly_rate_has_persisted_beyond_its_budget(summary):
    windows = summary["drift_windows"]
    # GIVEN the replay (its real anomalies above the budget in one window) and the shifted hours
    assert windows[0]["traffic"] == "replay"
    assert [w["consecutive_windows_beyond_budget"] for w in windows] == list(range(1, len(windows) + 1))
    # THEN only the window where it reached the template's RetrainMinWindows (3) retrains
    assert [w["retrain"] for w in windows] == [False] * (len(windows) - 1) + [True]
    assert len(windows) == 3
    assert "beyond its budget for 3 consecutive window(s), 3 required" in windows[-1]["reasons"][0]
    # AND the data moved in every shifted window, which alone retrained nothing
    assert all(w["check_types"].get("baseline_drift_check") for w in windows[1:])


def test_the_log_story_trains_a_log_model_scores_a_later_log_and_alerts(demo, summary):
    # GIVEN the demo's generated HDFS logs (sentinel.demo_logs)
    logs = summary["logs"]
    stages = {s["name"] for s in summary["stages"]}
    assert {"logs-upload", "logs-pipeline", "logs-deploy", "logs-scoring"} <= stages
    # THEN the log route parsed the upload into templates and block sessions, tuned both detectors
    # and registered the better one on the evaluation sessions (nothing was in service); the
    # retraining state machine adopted the run and put the model in service (PCA: no endpoint)
    assert logs["training_sessions"] == 2000
    assert 10 <= logs["templates"] <= 100
    assert set(logs["detectors"]) == {"rcf", "pca"}
    winner = logs["detector"]
    assert logs["f1"] == max(d["f1"] for d in logs["detectors"].values())
    assert logs["detectors"][winner]["f1"] == logs["f1"]
    assert logs["put_in_service"] == {"pca": "in-service", "rcf": "deployed"}[winner]
    assert logs["approval"] == {"pca": "Approved", "rcf": "PendingManualApproval"}[winner]
    # AND the later log was scored session by session, every line accounted for, with one alert
    assert logs["sessions"] == 600
    assert logs["lines_rejected"] == 0
    assert logs["anomalies"] == logs["faulty_blocks_flagged"] + logs["false_alerts"]
    # AND the model trained without labels catches most faulty blocks the generator really made, at
    # few false alerts (measured: 17 of 18, 3 false alerts in 582 normal blocks; docs/LOGS.md)
    assert logs["faulty_blocks_flagged"] >= 0.8 * logs["faulty_blocks"]
    assert logs["false_alerts"] <= 0.01 * (logs["sessions"] - logs["faulty_blocks"])
    if logs["anomalies"]:
        assert logs["alert_subject"].endswith("on anomaly-sentinel-logs in hdfs-2008-11-10.log")
    rows = Path(logs["scores"]).read_text(encoding="utf-8").splitlines()
    assert rows[0] == "session,score,anomaly"
    assert len(rows) == 1 + logs["sessions"]
    # AND the drift monitor's log window saw that file
    assert logs["drift"]["lines"] == logs["lines"]


def test_the_shifted_traffic_keeps_whole_counts_so_no_type_is_reported_changed(summary):
    # GIVEN taxi counts shifted by a whole number of passengers (issue 23: a fractional shift made
    # every feature a false data_type_check)
    kinds = {v["constraint_check_type"] for v in summary["drift_violations"]}
    # THEN the drifted window's violations are the drift and the anomaly rate, nothing about types
    assert kinds == {"baseline_drift_check", "score_drift_check"}
    assert all("data_type_check" not in w["check_types"] for w in summary["drift_windows"])


def test_drift_is_reported_for_the_one_series_the_shingle_features_come_from(summary):
    replay, *shifted = summary["drift_windows"]
    # the 48 features are lags of one series: the replay did not drift, the shifted hours did at
    # every lag, with a real CDF distance
    assert replay["series"]["features_are_lags"] == 48
    assert replay["series"]["lags_drifted"] == 0
    for window in shifted:
        assert window["series"]["lags_drifted"] == 48
        assert 0.1 < window["series"]["largest_distance"] <= 1
        assert window["series"]["anomaly_rate_beyond_budget"] is True


def test_every_alert_a_subscriber_received_is_kept_whole(demo, summary):
    _, out = demo
    kept = summary["alerts"]
    files = sorted((out / "alerts").glob("*.txt"))
    # one file per alert, each with its subject, its attributes and its body
    assert [Path(a["file"]).name for a in kept] == [f.name for f in files]
    kinds = [a.get("kind") for a in kept]
    assert {"anomaly", "model-drift", "retraining"} <= set(kinds)
    for alert, path in zip(kept, files, strict=True):
        text = path.read_text(encoding="utf-8")
        assert text.startswith(f"Subject: {alert['subject']}\n")
        assert f"kind: {alert['kind']}" in text
        assert len(text.split("\n\n", 1)[1].strip()) > 20  # a body, not just the subject
    retraining = [f for f in files if "retraining" in f.name][-1].read_text(encoding="utf-8")
    assert summary["retrain_alert"] in retraining


def test_the_tuning_trials_are_distinct_forests_for_the_train_channel(summary):
    trials = [(t["num_trees"], t["num_samples_per_tree"]) for t in summary["tuning_trials"]]
    assert len(set(trials)) == len(trials)
    assert all(samples <= summary["tuning_train_rows"] for _, samples in trials)


def test_the_evaluation_says_how_much_its_set_can_tell(summary):
    evaluation = summary["evaluation"]
    found = evaluation["set"]
    assert f"{found['rows']:,} rows: {found['positives']} labelled anomalies" in evaluation["how_sure"]
    assert f"{found['genuine_rows']:,} genuine rows" in evaluation["how_sure"]
    assert "90% interval" in evaluation["how_sure"]


def test_the_readmes_account_of_the_demo_matches_its_summary(summary):
    # GIVEN README.md's "What you just saw", the numbers a newcomer reads after `make demo`
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = " ".join(readme.split("## What you just saw", 1)[1].split("\n## ", 1)[0].split())
    first, logs, evaluation = summary["first_model_evaluation"]["set"], summary["logs"], summary["evaluation"]
    # THEN each is the run's: training, scoring and drift ...
    share = round(100 * first["positive_share"])
    assert f"evaluates it on {first['rows']:,} held-out rows ({share} % labelled anomalies)" in section
    assert f"({summary['capture_records']:,} records, {summary['records_rejected']} broken" in section
    assert (
        f"{summary['records_rejected']} rejected with their reasons, {summary['anomalies']} anomalies"
        in section
    )
    assert f"({summary['drift_windows'][1]['rows']:,} records each" in section
    assert f"last {summary['retrain_training_data']['window_days']} days" in section
    candidate = evaluation["candidate"]["false_alerts_per_day"]
    incumbent = evaluation["incumbent"]["false_alerts_per_day"]
    assert (
        f"({candidate:.0f} vs {incumbent:.0f} false alerts a day "
        f"on {evaluation['set']['genuine_rows']} genuine rows; the evaluation set has only "
        f"{evaluation['set']['positives']} labelled anomalies"
    ) in section
    # ... and the log story: the winner and both F1s, faulty blocks flagged, false alarms, alerts
    winner = logs["detector"]
    loser = next(name for name in logs["detectors"] if name != winner)
    f1 = {name: f"{d['f1']:.2f}" for name, d in logs["detectors"].items()}
    assert f"{winner.upper()} wins, F1 {f1[winner]} vs {loser.upper()}'s {f1[loser]}" in section
    normal = logs["sessions"] - logs["faulty_blocks"]
    log_alerts = [a for a in summary["alerts"] if "anomalous log sessions" in a["subject"]]
    assert len(log_alerts) == 1
    assert (
        f"A second log of {logs['sessions']} blocks is scored: {logs['faulty_blocks_flagged']} of "
        f"{logs['faulty_blocks']} faulty blocks flagged, {logs['false_alerts']} false alarms among "
        f"{normal} normal blocks, one alert"
    ) in section
