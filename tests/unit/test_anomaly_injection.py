"""Synthetic anomalies and the labelled channels built from them (pipeline/scripts/inject.py and
channels.py): reproducible from the seed, labelled correctly, at the documented rates and sizes."""

from __future__ import annotations

import random

import pytest

from pipeline.scripts import channels as ch
from pipeline.scripts import inject
from sentinel.template import PROJECT_ROOT

TAXI = PROJECT_ROOT / "local" / "sentinel" / "data" / "nab" / "nyc_taxi.csv"
WINDOWS = PROJECT_ROOT / "local" / "sentinel" / "data" / "nab" / "nyc_taxi_windows.json"


def held_out(rows: int = 400, width: int = 6, seed: int = 7) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.gauss(10.0, 2.0) for _ in range(width)] for _ in range(rows)]


def test_the_same_rows_and_seed_give_the_same_anomalies_and_another_seed_does_not():
    rows, scale = held_out(), [2.0] * 6
    assert inject.inject(rows, scale, seed=1) == inject.inject(rows, scale, seed=1)
    assert inject.inject(rows, scale, seed=1) != inject.inject(rows, scale, seed=2)


def test_anomalies_come_at_the_documented_rates_with_a_floor_for_small_sets():
    assert inject.plan(400) == {"spike": 20, "level_shift": 20, "variance": 12}
    assert inject.plan(20) == {"spike": 5, "level_shift": 5, "variance": 5}
    # rounded to the nearest count, neither down (20.9 -> 21) nor up (20.3 -> 20)
    assert inject.plan(418) == {"spike": 21, "level_shift": 21, "variance": 13}
    assert inject.plan(406) == {"spike": 20, "level_shift": 20, "variance": 12}
    made = inject.inject(held_out(), [2.0] * 6, seed=3)
    assert inject.counts(made) == inject.plan(400)


def test_each_kind_changes_its_copy_as_documented():
    # GIVEN a held-out set and per-feature scale sigma
    rows, scale = held_out(), [2.0, 1.0, 3.0, 0.5, 2.0, 1.0]
    for anomaly in inject.inject(rows, scale, seed=11):
        delta = [a - b for a, b in zip(anomaly.row, rows[anomaly.source], strict=True)]
        changed = [j for j, d in enumerate(delta) if d != 0]
        if anomaly.kind == "spike":
            # THEN a spike moves exactly one feature by 2 sigma of that feature
            (j,) = changed
            assert abs(delta[j]) == pytest.approx(inject.SIGMAS["spike"] * scale[j])
        elif anomaly.kind == "level_shift":
            # a level shift moves every feature from some position to the end by 1 sigma, same sign
            assert changed == list(range(changed[0], 6))
            assert {round(delta[j] / scale[j], 9) for j in changed} in ({1.0}, {-1.0})
        else:
            # a variance burst perturbs one run of n/4 features (here 1 of 6)
            assert len(changed) <= max(1, 6 // 4)


def test_the_source_rows_are_not_modified():
    rows = held_out()
    before = [list(r) for r in rows]
    inject.inject(rows, [2.0] * 6, seed=5)
    assert rows == before


def test_ragged_rows_or_a_scale_of_another_width_are_refused():
    with pytest.raises(inject.InjectionError):
        inject.inject([[1.0, 2.0], [1.0]], [1.0, 1.0], seed=1)
    with pytest.raises(inject.InjectionError):
        inject.inject([[1.0, 2.0]], [1.0], seed=1)
    with pytest.raises(inject.InjectionError):
        inject.inject([], [], seed=1)


def test_channels_split_in_time_order_and_label_originals_0_and_injected_copies_1():
    # GIVEN 200 time-ordered rows whose first feature is their position
    rows = [[float(i), 1.0, 2.0] for i in range(200)]
    channels = ch.build_channels(rows, seed=4)
    # THEN train is the oldest 70 %, validation the next 15 %, evaluation the newest 15 %
    assert [r[0] for r in channels.train] == [float(i) for i in range(140)]
    originals = [r for label, r in channels.evaluation if label == 0]
    assert [r[0] for r in originals] == [float(i) for i in range(170, 200)]
    # and every injected copy is labelled 1 and counted: 1 in the 31-row evaluation set (at most 5 %),
    # the tuner's rates (at least 5 of each kind) in validation
    injected = [r for label, r in channels.evaluation if label == 1]
    assert len(injected) == sum(channels.injected["evaluation"].values()) == 1
    assert channels.injected["validation"] == {"spike": 5, "level_shift": 5, "variance": 5}


@pytest.mark.parametrize(("rows", "real"), [(30, 0), (101, 0), (1541, 0), (200, 3), (1541, 300), (5, 0)])
def test_the_evaluation_set_holds_at_most_five_percent_labelled_anomalies(rows, real):
    # GIVEN held-out rows, some with real labels WHEN the evaluation set's injection is planned
    counts = inject.plan_share(rows, real)
    added = sum(counts.values())
    # THEN real and injected anomalies together stay within 5 % of the set, with as many as fit
    if real / rows > inject.EVALUATION_SHARE:
        assert added == 0  # real anomalies alone are over the share: nothing is added
    else:
        assert (real + added) / (rows + added) <= inject.EVALUATION_SHARE
        assert (real + added + 1) / (rows + added + 1) > inject.EVALUATION_SHARE
    # shared out like the tuner's rates
    if added >= 3:
        assert min(counts.values()) >= 1


def test_the_evaluation_set_of_a_two_week_window_has_5_anomalies_among_106_rows():
    # GIVEN 14 days of half-hourly traffic (672 rows) WHEN split into channels
    channels = ch.build_channels([[float(i), 1.0] for i in range(672)], seed=4)
    labels = [label for label, _ in channels.evaluation]
    # THEN the evaluation set is its newest 101 rows plus 5 injected anomalies (4.7 %)
    assert (len(labels), sum(labels)) == (106, 5)
    assert channels.injected["evaluation"] == {"spike": 2, "level_shift": 2, "variance": 1}


def test_real_labels_are_kept_and_injected_anomalies_added():
    rows = [[float(i), 1.0] for i in range(100)]
    labels = [1 if i in (95, 96) else 0 for i in range(100)]
    channels = ch.build_channels(rows, labels=labels, seed=4)
    positives = [r[0] for label, r in channels.evaluation if label == 1]
    assert {95.0, 96.0} <= set(positives)
    assert channels.real_positives == {"validation": 0, "evaluation": 2}


def test_blended_rows_join_the_train_channel_only_at_the_asked_share():
    rows = [[float(i), 0.0] for i in range(100)]
    original = [[-1.0, float(i)] for i in range(1000)]
    channels = ch.build_channels(rows, blend=original, blend_share=0.5, seed=4)
    blended = [r for r in channels.train if r[0] == -1.0]
    assert len(blended) == channels.blended == 70  # half of the train channel
    assert all(r[0] != -1.0 for _, r in channels.validation + channels.evaluation)
    with pytest.raises(ch.BlendError, match="3 features"):
        ch.build_channels(rows, blend=[[1.0, 2.0, 3.0]], blend_share=0.2)


def test_too_few_rows_to_hold_out_two_sets_is_refused():
    with pytest.raises(ch.ChannelsError, match="at least 20"):
        ch.build_channels([[1.0]] * 19)


def test_an_upload_run_writes_every_channel_and_says_what_it_trained_on(tmp_path):
    # GIVEN the NAB taxi upload with its labels WHEN the channels are built
    summary = ch.run(ch.RunInput(input=str(TAXI), labels=WINDOWS), tmp_path)
    # THEN the summary names the upload, and the channels have the documented shapes
    assert summary["training_data"]["source"] == "upload"
    assert summary["feature_dim"] == 48
    train = (tmp_path / ch.TRAIN_FILE).read_text().splitlines()
    evaluation = (tmp_path / ch.EVALUATION_FILE).read_text().splitlines()
    features = (tmp_path / ch.EVALUATION_FEATURES_FILE).read_text().splitlines()
    assert len(train) == summary["train_rows"] == 10_273 - 2 * 1541
    assert all(len(line.split(",")) == 48 for line in train[:50])
    assert [line.split(",", 1)[1] for line in evaluation] == features
    assert {line.split(",", 1)[0] for line in evaluation} == {"0", "1"}
    # the NAB windows that fall in the newest 15 % stay labelled
    assert summary["real_positives"]["evaluation"] > 0
    # and the same input gives the same channels, byte for byte
    again = tmp_path / "again"
    ch.run(ch.RunInput(input=str(TAXI), labels=WINDOWS), again)
    assert (again / ch.EVALUATION_FILE).read_bytes() == (tmp_path / ch.EVALUATION_FILE).read_bytes()
    assert (again / ch.VALIDATION_FILE).read_bytes() == (tmp_path / ch.VALIDATION_FILE).read_bytes()


def test_the_spark_routes_cleaned_rows_are_split_in_part_file_order(tmp_path):
    # GIVEN Spark's output: part files whose names give the time order
    rows_dir = tmp_path / "rows"
    rows_dir.mkdir()
    (rows_dir / "part-00001").write_text("".join(f"{i},0\n" for i in range(50, 100)))
    (rows_dir / "part-00000").write_text("".join(f"{i},0\n" for i in range(50)))
    (rows_dir / "_SUCCESS").write_text("")
    # WHEN the channels step runs on them (as the step's command line does)
    code = ch.main(
        ["--input", "s3://b/upload.csv", "--rows", str(rows_dir), "--output", str(tmp_path / "out")]
    )
    # THEN the oldest rows train, in order
    assert code == 0
    train = (tmp_path / "out" / ch.TRAIN_FILE).read_text().splitlines()
    assert [line.split(",")[0] for line in train] == [str(i) for i in range(70)]


def test_the_command_line_fails_with_exit_2_and_the_reason_on_an_empty_dataset(tmp_path, capsys):
    code = ch.main(["--input", f"{tmp_path}/", "--output", str(tmp_path / "out"), "--labels-uri", "none"])
    assert code == 2
    assert "EmptyWindowError" in capsys.readouterr().err
