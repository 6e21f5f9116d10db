"""Cold init of every handler against a minimal hand-written Powertools handler with the same clients.

A cold start pays for the handler module's import and its module-scope work (settings, clients).
Each side runs in a fresh process with the function's template environment, alternating the two so
machine noise hits both alike; the figure is the median. Our side imports what ships: the handler
and the runtime package from the ``sam build`` output (bytecode precompiled by ``make build``), the
third-party packages from this virtualenv like the baseline (the built layer's are arm64 binaries).
The baseline imports what a hand-written handler doing the same job would: Logger, Tracer and
Metrics, the Powertools utilities the handler loaded (idempotency, parser, …) and boto3 clients for
the same services — so the ratio is the price of our own code.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any

from sentinel.build_check import built_search_path
from sentinel.emulator import ACCOUNT, LOCAL_ENV, REGION, STACK, nominal
from sentinel.template import PROJECT_ROOT, Template, load_template

BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "build"

TARGET_RATIO = 1.2
#: Clients Powertools creates itself (Tracer's X-Ray SDK): the baseline's own Tracer creates them too.
POWERTOOLS_OWN_CLIENTS = {"xray"}
#: Deploy-time custom resource without Powertools: it runs once per deployment, not per event.
NOT_EVENT_HANDLERS = {"PipelineArtifactsFunction"}

_CHILD = r"""
import importlib, json, sys, time
spec = json.loads(sys.argv[1])
if spec["discover"]:
    import botocore.session
    created = []
    original = botocore.session.Session.create_client
    def recording(self, service_name, *args, **kwargs):
        created.append(service_name)
        return original(self, service_name, *args, **kwargs)
    botocore.session.Session.create_client = recording
started = time.perf_counter()
if spec["source"] is None:
    # Lambda's order: the function's folder first; the layer's own packages after this venv's
    # (the built layer holds arm64 binaries: only its pure-Python runtime package is used from it).
    sys.path[:0] = spec["path"][:1]
    sys.path.extend(spec["path"][1:])
    importlib.import_module(spec["module"])
else:
    exec(compile(spec["source"], "baseline_app.py", "exec"), {"__name__": "baseline_app"})
took = time.perf_counter() - started
out = {"init_s": took}
if spec["discover"]:
    utilities = sorted({
        ".".join(name.split(".")[:3]) for name in sys.modules
        if name.startswith("aws_lambda_powertools.utilities.") and name.count(".") >= 2
    })
    out.update(services=created, utilities=utilities)
print(json.dumps(out))
"""


def _stack_template() -> Template:
    """The template with every resource named as the emulator names it, for a valid environment."""
    document = load_template()
    resources = document["Resources"]
    physical = {lid: nominal(lid, res["Type"], res.get("Properties", {})) for lid, res in resources.items()}
    return Template(document, physical=physical, region=REGION, account=ACCOUNT, stack_name=STACK)


def _baseline_source(services: list[str], utilities: list[str]) -> str:
    lines = ["from aws_lambda_powertools import Logger, Metrics, Tracer", "import boto3"]
    lines += [f"import {name}" for name in utilities]
    lines += ["logger = Logger()", "tracer = Tracer()", "metrics = Metrics()"]
    lines += [f"client_{i} = boto3.client({service!r})" for i, service in enumerate(services)]
    lines += [
        "@logger.inject_lambda_context",
        "@tracer.capture_lambda_handler",
        "@metrics.log_metrics",
        "def lambda_handler(event, context):",
        "    return {}",
    ]
    return "\n".join(lines) + "\n"


def _run(spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold-start child failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _environment(function_env: dict[str, str], logical_id: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "PYTHONHASHSEED"}}
    return {
        **keep,
        **LOCAL_ENV,
        **function_env,
        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def measure(logical_id: str, template: Template, repeats: int) -> dict[str, Any]:
    spec = template.function(logical_id)
    env = _environment(spec.environment, logical_id)
    handler = {
        "path": [str(p) for p in built_search_path(BUILD_DIR, logical_id)],
        "module": spec.handler.rpartition(".")[0],
        "source": None,
    }
    found = _run({**handler, "discover": True}, env)
    services = [s for s in found["services"] if s not in POWERTOOLS_OWN_CLIENTS]
    baseline = {"path": [], "module": None, "source": _baseline_source(services, found["utilities"])}
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(repeats):
        ours.append(_run({**handler, "discover": False}, env)["init_s"])
        theirs.append(_run({**baseline, "discover": False}, env)["init_s"])
    return {
        "function": logical_id,
        "services": services,
        "utilities": [u.rsplit(".", 1)[-1] for u in found["utilities"]],
        "ours": statistics.median(ours),
        "baseline": statistics.median(theirs),
    }


def run(quick: bool = False) -> str:
    template = _stack_template()
    repeats = 3 if quick else 9
    functions = [lid for lid in template.function_ids() if lid not in NOT_EVENT_HANDLERS]
    rows = [measure(logical_id, template, repeats) for logical_id in functions]
    lines = [
        "## Cold init: each handler vs a minimal Powertools handler with the same clients",
        "",
        f"Fresh process per sample, the two sides alternating, median of {repeats}; import of the",
        "handler module plus its module-scope work (settings, clients). Baseline: Logger, Tracer,",
        "Metrics, the Powertools utilities the handler loads and boto3 clients for the same services.",
        f"Target: every handler ≤ {TARGET_RATIO}x its baseline. Not measured: "
        f"{', '.join(sorted(NOT_EVENT_HANDLERS))} (deploy-time custom resource).",
        "",
        "| function | clients | Powertools utilities | ours (s) | baseline (s) | ratio | target |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        ratio = row["ours"] / row["baseline"]
        lines.append(
            f"| {row['function']} | {', '.join(row['services']) or '-'} "
            f"| {', '.join(row['utilities']) or '-'} "
            f"| {row['ours']:.3f} | {row['baseline']:.3f} | {ratio:.2f}x "
            f"| {'met' if ratio <= TARGET_RATIO else 'NOT met'} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
