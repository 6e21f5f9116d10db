"""``sentinel cost``: the monthly estimate follows the stated workload, the template and the price table."""

from __future__ import annotations

import json

import pytest

from anomaly_sentinel.pipeline_runs import INSTANCE_PRICES_USD_PER_HOUR
from sentinel import cost
from sentinel.cli import main
from sentinel.template import Template


def run_cost(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[dict[str, float], float]:
    """``sentinel cost ARGV`` → ({item: USD}, the JSON total)."""
    assert main(["cost", *argv]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    items = {}
    for line in lines:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 3 and cells[2].replace(".", "").isdigit():
            items[cells[0]] = float(cells[2])
    return items, json.loads(lines[-1])["monthly_usd"]


def test_the_total_is_the_sum_of_the_items(capsys):
    items, total = run_cost(capsys)
    assert total == pytest.approx(sum(items.values()), abs=0.01 * len(items))


def test_sagemaker_jobs_cost_scales_with_the_stated_runs_and_minutes():
    # GIVEN the default workload and one with twice the runs and twice the billed minutes
    base = {line.item: line.usd for line in cost.estimate(cost.Workload())}
    more = {line.item: line.usd for line in cost.estimate(cost.Workload(pipeline_runs=10, job_minutes=20))}
    # THEN every SageMaker job line costs four times as much; what does not depend on runs is unchanged
    for item, usd in base.items():
        expected = 4 * usd if item.startswith("SageMaker") else usd
        assert more[item] == pytest.approx(expected), item


def test_jobs_are_priced_from_the_stacks_own_table_for_the_pipelines_instance_types():
    # GIVEN one run, one billed hour per job
    lines = cost.estimate(cost.Workload(pipeline_runs=1, job_minutes=60))
    jobs = {line.item: line for line in lines if line.item.startswith("SageMaker")}
    # THEN each line is its job count times the table's hourly price of that type
    assert jobs, "no SageMaker jobs priced"
    for item, line in jobs.items():
        instance = item.rsplit("(", 1)[1].rstrip(")")
        count = int(line.quantity.split(" x ")[1].split()[0])
        assert line.usd == pytest.approx(count * INSTANCE_PRICES_USD_PER_HOUR[instance])


def test_an_audit_trail_adds_its_key_to_the_bill():
    # GIVEN the template with EnableAuditTrail=true (its trail bucket has its own KMS key)
    default = {line.item: line for line in cost.estimate()}
    audited = {
        line.item: line for line in cost.estimate(template=Template(parameters={"EnableAuditTrail": "true"}))
    }
    # THEN one more key a month
    assert audited["KMS keys"].usd == pytest.approx(
        default["KMS keys"].usd + cost.UNIT_PRICES_USD["kms_key_month"]
    )


def test_custom_metrics_are_counted_from_an_emf_log(tmp_path, capsys):
    # GIVEN an EMF log with one metric twice under the same dimensions and once under another
    def emf(endpoint: str) -> str:
        directive = {
            "Namespace": "AnomalySentinel",
            "Dimensions": [["EndpointName"]],
            "Metrics": [{"Name": "A"}],
        }
        return json.dumps({"_aws": {"CloudWatchMetrics": [directive]}, "EndpointName": endpoint, "A": [1.0]})

    log = tmp_path / "lambda.log"
    log.write_text("\n".join([emf("e1"), "not emf", emf("e1"), emf("e2")]) + "\n")
    # WHEN the estimate counts them
    items, _ = run_cost(capsys, "--metrics-from", str(log))
    # THEN two metrics are billed
    assert items["CloudWatch custom metrics (EMF)"] == pytest.approx(
        2 * cost.UNIT_PRICES_USD["custom_metric_month"]
    )


@pytest.mark.parametrize(
    ("argv", "named"),
    [(["--job-minutes", "-1"], "--job-minutes"), (["--metrics-from", "/no/such.log"], "--metrics-from")],
)
def test_a_bad_option_is_one_line_exit_2_naming_it(capsys, argv, named):
    try:
        code = main(["cost", *argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert named in err
