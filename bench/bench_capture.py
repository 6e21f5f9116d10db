"""Capture scoring: decode throughput, streaming memory, and endpoint batching.

Method (all files generated into a temporary directory, 30 features of 6-decimal Gaussian values,
captured as base64 CSV with a base64 JSON output, as data capture writes them):

1. Decode throughput on a 200,000-record file, best of 3 runs each, interleaved: the floor (a bare
   loop of ``json.loads`` + base64 decode + ``split``), ``anomaly_sentinel.capture`` (validates
   every value, keeps identities, counts rejects), and a naive per-record decoder written the way
   the Model Monitor preprocessing examples are (record object, base64 decode, flat dict, and a log
   line per record through a ``StreamHandler`` on a file, flushed per record as a container's
   stdout is; one run).
2. Peak memory of the whole function flow (``CaptureScorer.process``: S3 stream → decode → score
   → scores/ and rejects/ uploaded) on a 20 MB and a 200 MB file, each in a fresh child process
   (peak RSS = VmHWM after resetting it via /proc/self/clear_refs once clients exist). S3 is moto
   in server mode and the endpoint is ``sentinel.endpoint`` (constant scorer), each in its own
   process, so neither's memory is counted. Settings are the template's defaults.
3. Batching against ``sentinel.endpoint`` in its own process with 50 ms latency per call and
   MaxConcurrency 20: 100,000 records decoded, packed and scored at concurrency 20 (no row limit,
   so the byte limit alone decides), for several byte limits, against one call per record
   (measured on 2,000 records and extrapolated linearly — 100,000 calls would take minutes).
4. Endpoint calls when the endpoint refuses: ``sentinel.endpoint`` in-process (no latency) with
   the template's request limits (4 MB, 10,000 rows), rows of 30 features, ``EndpointClient`` and
   ``score_batches`` as the function uses them: a clean file, files with poison rows (ModelError
   400), a file whose model expects 48 features (every request refused), and a model that crashes
   on every request (5xx), at concurrency 4. Bound: ``ceil(bytes / limit) + poison x (2
   ceil(log2 rows per request) + 1)``, plus for a systematic fault, per request in flight, its
   retries and the run of failures that proves it (``attempts + 2 x FailureTracker.limit``): a
   constant, whatever the number of rows.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sentinel.traffic import capture_line

FEATURES = 30
DECODE_RECORDS = 200_000
ENDPOINT_RECORDS = 100_000
PER_RECORD_SAMPLE = 2_000
LATENCY_MS = 50
CONCURRENCY = 20
MEMORY_FILES_MB = (20, 200)
BYTE_LIMITS = (16_000, 64_000, 4_000_000)
ENDPOINT = "bench-rcf"
BOUND_CONCURRENCY = 4
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- data


def generate(path: Path, records: int | None = None, megabytes: float | None = None, seed: int = 7) -> int:
    """Write a base64-CSV capture file; stop at ``records`` or at ``megabytes``. Returns records."""
    rng = random.Random(seed)
    limit = int(megabytes * 1_000_000) if megabytes else None
    written = size = 0
    with path.open("w", encoding="utf-8") as handle:
        while (records is None or written < records) and (limit is None or size < limit):
            row = ",".join(f"{rng.gauss(0, 1):.6f}" for _ in range(FEATURES))
            line = capture_line(
                row,
                '{"scores":[{"score":0.9812}]}',
                event_id=f"{written:08x}-7c1e-4f7a-9a3b-{seed:012x}",
                inference_time=f"2026-11-21T10:{written // 60 % 60:02d}:{written % 60:02d}Z",
            )
            handle.write(line + "\n")
            size += len(line) + 1
            written += 1
    return written


# ---------------------------------------------------------------------------- 1. decode


def floor(path: Path) -> int:
    """The least any decoder must do: parse, base64-decode, split."""
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            document = json.loads(line)
            base64.b64decode(document["captureData"]["endpointInput"]["data"]).split(b",")
            count += 1
    return count


def ours(path: Path) -> int:
    from anomaly_sentinel.capture import CaptureDecoder, decode_stream

    decoder = CaptureDecoder(feature_dim=FEATURES)  # the model's width, as the function knows it
    with path.open("rb") as handle:
        for _ in decode_stream(handle, decoder):
            pass
    return decoder.decoded


class _Input:
    def __init__(self, part: dict[str, Any]) -> None:
        self.data = part["data"]
        self.encoding = part["encoding"]
        self.observed_content_type = part["observedContentType"]


def naive(path: Path, log_path: Path) -> int:
    """The examples' style: an object per record, decode, flat dict, a log line per record."""
    logger = logging.getLogger("bench.naive-preprocessor")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    with log_path.open("w", encoding="utf-8") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        count = 0
        try:
            with path.open("rb") as handle:
                for line in handle:
                    record = _Input(json.loads(line)["captureData"]["endpointInput"])
                    logger.info(f"input data: {record.data}, encoding: {record.encoding}")
                    decoded = base64.b64decode(record.data).decode("utf-8")
                    flat = {str(i).zfill(20): float(d) for i, d in enumerate(decoded.split(","))}
                    logger.info(f"flattened record: {flat}")
                    count += 1
        finally:
            logger.removeHandler(handler)
    return count


def _best(runs: list[float]) -> float:
    return min(runs)


def bench_decode(tmp: Path, records: int) -> tuple[str, dict[str, float]]:
    path = tmp / "decode.jsonl"
    generate(path, records=records)
    size_mb = path.stat().st_size / 1e6
    timings: dict[str, list[float]] = {"floor": [], "ours": []}
    for _ in range(3):
        for name, work in (("floor", floor), ("ours", ours)):
            started = time.perf_counter()
            assert work(path) == records
            timings[name].append(time.perf_counter() - started)
    started = time.perf_counter()
    assert naive(path, tmp / "naive.log") == records
    naive_s = time.perf_counter() - started
    rate = {name: records / _best(runs) for name, runs in timings.items()}
    rate["naive"] = records / naive_s
    vs_floor = rate["floor"] / rate["ours"]
    vs_naive = rate["ours"] / rate["naive"]
    text = (
        f"File: {records:,} records, {size_mb:.0f} MB (base64 CSV, {FEATURES} features).\n\n"
        "| decoder | records/s | |\n|---|---:|---|\n"
        f"| floor (json + base64 + split) | {rate['floor']:,.0f} | |\n"
        f"| anomaly_sentinel.capture | {rate['ours']:,.0f} | {vs_floor:.2f}x the floor's time "
        f"(target <= 1.5x: {'met' if vs_floor <= 1.5 else 'NOT met'}) |\n"
        f"| naive, logging each record | {rate['naive']:,.0f} | ours is {vs_naive:.1f}x faster "
        f"(target >= 10x: {'met' if vs_naive >= 10 else 'NOT met'}) |\n"
    )
    return text, {"vs_floor": vs_floor, "vs_naive": vs_naive, **rate}


# ---------------------------------------------------------------------------- 1b. sentinel decode


def floor_command(path: Path, out: Path) -> int:
    """The least a decoder writing the command's CSV must do: orjson, base64, float() of every
    value, one CSV line with the record's identity."""
    import orjson

    count = 0
    with path.open("rb") as handle, out.open("w", encoding="utf-8", newline="") as rows:
        rows.write("line,row,event_id,inference_id,inference_time\n")
        for line in handle:
            count += 1
            document = orjson.loads(line)
            meta = document["eventMetadata"]
            text = base64.b64decode(document["captureData"]["endpointInput"]["data"]).decode()
            for value in text.split(","):
                float(value)
            rows.write(f"{count},0,{meta['eventId']},,{meta['inferenceTime']},{text}\n")
    return count


def command(path: Path, out: Path, *options: str) -> int:
    """``sentinel decode FILE --out CSV`` in-process (its printed lines are discarded)."""
    import contextlib
    import io

    from sentinel.cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        assert main(["decode", str(path), "--out", str(out), *options]) == 0
    return int(json.loads(printed.getvalue().splitlines()[-1])["decoded"])


def bench_decode_command(tmp: Path, records: int) -> tuple[str, dict[str, float]]:
    path = tmp / "decode.jsonl"
    if not path.exists():
        generate(path, records=records)
    runs: dict[str, Any] = {
        "floor": lambda: floor_command(path, tmp / "floor.csv"),
        "dim": lambda: command(path, tmp / "dim.csv", "--feature-dim", str(FEATURES)),
        "dominant": lambda: command(path, tmp / "dominant.csv"),
    }
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(3):
        for name, work in runs.items():
            started = time.process_time()  # CPU time: the shared machine's other work is not ours
            assert work() == records
            timings[name].append(time.process_time() - started)
    assert (tmp / "dim.csv").read_bytes() == (tmp / "dominant.csv").read_bytes()
    best = {name: _best(found) for name, found in timings.items()}
    ratio = {name: best[name] / best["floor"] for name in ("dim", "dominant")}
    met = "met" if ratio["dominant"] <= 1.5 else "NOT met"
    text = (
        f"The same file through `sentinel decode FILE --out CSV`, best of 3 interleaved, in CPU "
        "seconds of this process (the machine is shared; wall time moves with the others' work): the floor "
        "is orjson + base64 + `float()` of every value + one CSV line per record with its identity "
        "(the least a decoder writing that CSV must do). Without `--feature-dim` the command decodes "
        "the file once and holds rows of other widths in a spool until the dominant width is "
        "known; both runs write byte-identical CSV (checked).\n\n"
        "| run | CPU seconds | records/CPU s | vs the floor |\n|---|---:|---:|---:|\n"
        f"| floor (orjson + base64 + float + CSV write) | {best['floor']:.2f} | "
        f"{records / best['floor']:,.0f} | 1.00x |\n"
        f"| `sentinel decode --feature-dim {FEATURES}` | {best['dim']:.2f} | {records / best['dim']:,.0f} | "
        f"{ratio['dim']:.2f}x |\n"
        f"| `sentinel decode` (dominant width) | {best['dominant']:.2f} | "
        f"{records / best['dominant']:,.0f} | {ratio['dominant']:.2f}x (target <= 1.5x: {met}) |\n"
    )
    return text, ratio


# ---------------------------------------------------------------------------- servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    from sentinel.layout import runtime_source_path

    paths = [*map(str, runtime_source_path()), str(ROOT / "local"), str(ROOT)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(
        PYTHONPATH=os.pathsep.join([*paths, env.get("PYTHONPATH", "")]),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        POWERTOOLS_TRACE_DISABLED="true",
    )
    return env


class Process:
    """A server in its own process (stopped on exit)."""

    def __init__(self, args: list[str], url: str | None = None) -> None:
        self.process = subprocess.Popen(
            args,
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if url is None:
            assert self.process.stdout is not None
            url = json.loads(self.process.stdout.readline())["url"]
        self.url = url

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def endpoint_process(latency_ms: float = 0, max_concurrency: int | None = None) -> Process:
    args = [sys.executable, "-m", "sentinel.endpoint", "--name", ENDPOINT, "--scorer", "constant"]
    args += ["--latency-ms", str(latency_ms)]
    if max_concurrency:
        args += ["--max-concurrency", str(max_concurrency)]
    return Process(args)


def moto_process() -> Process:
    import urllib.request

    port = _free_port()
    server = Process(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], f"http://127.0.0.1:{port}"
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(server.url + "/moto-api/", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("moto server did not start")


# ---------------------------------------------------------------------------- 2. memory


def _vm(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in a fresh process: the function's flow on one object; prints figures as JSON."""
    from anomaly_sentinel import aws, scoring
    from anomaly_sentinel.events import S3Object
    from anomaly_sentinel.score_capture import CaptureScorer
    from anomaly_sentinel.settings import ScoreCaptureSettings

    settings = ScoreCaptureSettings.from_env({**os.environ, **spec["env"]})
    scorer = CaptureScorer(
        settings,
        s3=aws.client("s3", endpoint_url=spec["moto"]),
        sagemaker=aws.client("sagemaker", endpoint_url=spec["moto"]),
        runtime=aws.client(
            "sagemaker-runtime",
            endpoint_url=spec["endpoint"],
            config=scoring.runtime_config(settings.scoring_concurrency),
        ),
        sns=aws.client("sns", endpoint_url=spec["moto"]),
        tmp_dir=spec["tmp"],
    )
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _vm("VmRSS")
    started = time.perf_counter()
    report = scorer.process(S3Object(bucket=spec["bucket"], key=spec["key"], size=spec["size"]))
    return {
        "wall_s": time.perf_counter() - started,
        "rss_before_mb": before,
        "peak_mb": _vm("VmHWM"),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "records": report.records,
        "scored": report.scored,
        "calls": report.calls,
    }


SETTINGS_ENV = {
    "ENDPOINT_NAME": ENDPOINT,
    "CAPTURE_BUCKET": "bench-data",
    "CAPTURE_PREFIX": "capture/",
    "OUTPUT_BUCKET": "bench-data",
    "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench-alerts",
    "IDEMPOTENCY_TABLE": "unused-here",
    "SCORING_CONCURRENCY": "10",
    "ENDPOINT_MAX_CONCURRENCY": "20",
    "MAX_REQUEST_BYTES": "4000000",
    "MAX_REQUEST_ROWS": "10000",
    "MAX_INFLIGHT_BYTES": "16000000",
}


def bench_memory(tmp: Path, sizes_mb: tuple[float, ...]) -> tuple[str, list[dict[str, Any]]]:
    import boto3

    moto, endpoint = moto_process(), endpoint_process()
    rows = []
    try:
        s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1", **_creds())
        s3.create_bucket(Bucket="bench-data")
        boto3.client("sns", endpoint_url=moto.url, region_name="us-east-1", **_creds()).create_topic(
            Name="bench-alerts"
        )
        for size_mb in sizes_mb:
            path = tmp / f"capture-{size_mb:g}mb.jsonl"
            records = generate(path, megabytes=size_mb, seed=int(size_mb))
            key = f"capture/bench/AllTraffic/2026/11/21/10/{path.name}"
            s3.upload_file(str(path), "bench-data", key)
            spec = {
                "moto": moto.url,
                "endpoint": endpoint.url,
                "bucket": "bench-data",
                "key": key,
                "size": path.stat().st_size,
                "tmp": str(tmp),
                "env": SETTINGS_ENV,
            }
            done = subprocess.run(
                [sys.executable, "-m", "bench.bench_capture", "--child", json.dumps(spec)],
                env=_env(),
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            figures.update(size_mb=path.stat().st_size / 1e6, generated=records)
            rows.append(figures)
            path.unlink()
    finally:
        endpoint.stop()
        moto.stop()
    small, large = rows[0], rows[-1]
    growth = (large["peak_mb"] - small["peak_mb"]) / small["peak_mb"]
    table = "| file | records | wall (s) | records/s | RSS before (MB) | peak RSS (MB) | endpoint calls |\n"
    table += "|---:|---:|---:|---:|---:|---:|---:|\n"
    for r in rows:
        table += (
            f"| {r['size_mb']:.0f} MB | {r['records']:,} | {r['wall_s']:.1f} "
            f"| {r['records'] / r['wall_s']:,.0f} "
            f"| {r['rss_before_mb']:.0f} | {r['peak_mb']:.0f} | {r['calls']} |\n"
        )
    text = (
        table
        + f"\nPeak growth from {small['size_mb']:.0f} MB to {large['size_mb']:.0f} MB: {100 * growth:.1f}% "
        f"(target < 10%: {'met' if growth < 0.10 else 'NOT met'}).\n"
    )
    return text, rows


def _creds() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


# ---------------------------------------------------------------------------- 3. endpoint


def score_file(
    path: Path, runtime: Any, byte_limit: int, max_rows: int, limit: int | None = None
) -> dict[str, Any]:
    """Decode → pack → score with concurrency 20, as the function does (no S3)."""
    from anomaly_sentinel.capture import CaptureDecoder, CaptureRecord, read_lines
    from anomaly_sentinel.scoring import EndpointClient, RequestPacker, score_batches

    decoder = CaptureDecoder()
    packer = RequestPacker(byte_limit, max_rows)
    sent = {"bytes": 0}

    def batches() -> Any:
        with path.open("rb") as handle:
            for item in decoder.decode(read_lines(handle)):
                if limit is not None and decoder.records > limit:
                    break
                if isinstance(item, CaptureRecord):
                    for row in item.rows:
                        sealed = packer.add(row)
                        if sealed is not None:
                            sent["bytes"] += len(sealed.body)
                            yield sealed
        last = packer.flush()
        if last is not None:
            sent["bytes"] += len(last.body)
            yield last

    client = EndpointClient(runtime, ENDPOINT)
    started = time.perf_counter()
    calls = scored = retries = 0
    for outcome in score_batches(batches(), client, concurrency=CONCURRENCY, max_inflight_bytes=10**9):
        calls += outcome.calls
        retries += outcome.retries
        scored += sum(1 for s in outcome.scores if s is not None)
    return {
        "wall_s": time.perf_counter() - started,
        "calls": calls,
        "retries": retries,
        "rows": scored,
        "bytes": sent["bytes"],
        "peak": client.peak_in_flight,
    }


def bench_endpoint(tmp: Path, records: int, sample: int) -> tuple[str, list[dict[str, Any]]]:
    import boto3

    from anomaly_sentinel import scoring

    path = tmp / "endpoint.jsonl"
    generate(path, records=records, seed=3)
    endpoint = endpoint_process(latency_ms=LATENCY_MS, max_concurrency=CONCURRENCY)
    results = []
    try:
        runtime = boto3.client(
            "sagemaker-runtime",
            endpoint_url=endpoint.url,
            region_name="us-east-1",
            config=scoring.runtime_config(CONCURRENCY),
            **_creds(),
        )
        latency = LATENCY_MS / 1000
        for limit in BYTE_LIMITS:
            r = score_file(path, runtime, limit, max_rows=10**9)
            rows_per_call = r["rows"] / r["calls"]
            ideal_calls = math.ceil(r["bytes"] / limit)
            ceiling = min(CONCURRENCY, r["calls"]) * rows_per_call / latency
            r.update(
                label=f"{limit:,} B", ideal_calls=ideal_calls, rows_per_call=rows_per_call, ceiling=ceiling
            )
            results.append(r)
        one = score_file(path, runtime, 10**6, max_rows=1, limit=sample)
        one.update(label=f"1 row per call ({sample:,} records, x{records / sample:g})", rows_per_call=1.0)
        one["ceiling"] = CONCURRENCY / latency
        one["ideal_calls"] = sample
        results.append(one)
    finally:
        endpoint.stop()
    table = (
        "| request limit | rows | calls | bytes / limit | calls vs ideal | wall (s) | rows/s | "
        "ceiling rows/s | of ceiling |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    for r in results:
        rate = r["rows"] / r["wall_s"]
        table += (
            f"| {r['label']} | {r['rows']:,} | {r['calls']:,} | {r['ideal_calls']:,} | "
            f"{100 * (r['calls'] / r['ideal_calls'] - 1):+.1f}% | {r['wall_s']:.2f} | {rate:,.0f} | "
            f"{r['ceiling']:,.0f} | {100 * rate / r['ceiling']:.0f}% |\n"
        )
    per_record = results[-1]
    per_record_100k = per_record["wall_s"] * records / sample
    best = min(results[:-1], key=lambda r: r["wall_s"])
    text = (
        table + f"\nCeiling = min(concurrency {CONCURRENCY}, calls) x rows-per-call / {LATENCY_MS} ms. "
        f"One call per record would take about {per_record_100k:.0f} s for {records:,} records "
        f"({records:,} calls); packed requests took {best['wall_s']:.2f} s "
        f"({per_record_100k / best['wall_s']:.0f}x faster). Targets: calls within 5% of bytes / limit; "
        "throughput >= 80% of the ceiling where the ceiling is below what one core decodes.\n"
    )
    return text, results


# ---------------------------------------------------------------------------- 4. call bound


def _rows(count: int, poison: int, seed: int = 11) -> list[str]:
    """``count`` rows of FEATURES values; ``poison`` of them (spread evenly) hold -999."""
    rng = random.Random(seed)
    every = count // poison if poison else 0
    return [
        ",".join(["-999"] * FEATURES)
        if every and i % every == every // 2
        else ",".join(f"{rng.gauss(0, 1):.6f}" for _ in range(FEATURES))
        for i in range(count)
    ]


def calls_for(scorer: Any, rows: list[str], byte_limit: int, max_rows: int) -> dict[str, Any]:
    """Pack and score ``rows`` on an in-process endpoint; count calls and what happened."""
    import boto3

    from anomaly_sentinel import scoring
    from anomaly_sentinel.exceptions import EndpointUnavailableError
    from anomaly_sentinel.scoring import EndpointClient, RequestPacker, score_batches
    from sentinel.endpoint import EndpointServer, static_resolver

    packer = RequestPacker(byte_limit, max_rows)
    batches = [b for b in map(packer.add, rows) if b is not None]
    last = packer.flush()
    batches += [last] if last else []
    with EndpointServer(static_resolver({ENDPOINT: scorer})) as server:
        runtime = boto3.client(
            "sagemaker-runtime",
            endpoint_url=server.url,
            region_name="us-east-1",
            config=scoring.runtime_config(BOUND_CONCURRENCY),
            **_creds(),
        )
        client = EndpointClient(runtime, ENDPOINT, max_rows=max_rows, sleep=lambda _: None)
        outcome = "scored"
        try:
            rejected = sum(
                sum(1 for s in o.scores if s is None)
                for o in score_batches(
                    batches, client, concurrency=BOUND_CONCURRENCY, max_inflight_bytes=10**9
                )
            )
        except EndpointUnavailableError:
            outcome, rejected = "function error (retried, then DLQ)", len(rows)
        if client.tracker.systematic and not client.tracker.transient:
            outcome = "file failed: " + client.tracker.systematic
        calls = server.stats.requests
    largest = max(b.count for b in batches)
    return {
        "calls": calls,
        "requests": len(batches),
        "bytes_over_limit": math.ceil(sum(len(b.body) for b in batches) / byte_limit),
        "depth": max(1, math.ceil(math.log2(largest))),
        "limit": client.tracker.limit,
        "rejected": rejected,
        "outcome": outcome,
        "attempts": client.max_attempts,
    }


def bench_call_bound(rows: int) -> tuple[str, list[dict[str, Any]]]:
    from sentinel.endpoint import Faults, FaultyScorer, MeanScorer

    byte_limit, max_rows = 4_000_000, 10_000
    cases = [
        ("clean", FaultyScorer(MeanScorer(FEATURES)), 0),
        ("1 poison row", FaultyScorer(MeanScorer(FEATURES), Faults(poison_value=-999.0)), 1),
        ("10 poison rows", FaultyScorer(MeanScorer(FEATURES), Faults(poison_value=-999.0)), 10),
        ("model expects 48 features", FaultyScorer(MeanScorer(48)), 0),
        ("model crashes on every call", FaultyScorer(MeanScorer(FEATURES), Faults(model_crash=10**9)), 0),
    ]
    table = (
        "| case | rows | requests (ceil bytes/limit) | poison | calls | bound | met | outcome |\n"
        "|---|---:|---:|---:|---:|---:|---|---|\n"
    )
    results = []
    for label, scorer, poison in cases:
        r = calls_for(scorer, _rows(rows, poison), byte_limit, max_rows)
        systematic = "crash" in label or "expects" in label
        per_poison = 2 * r["depth"] + 1
        bound = max(r["requests"], r["bytes_over_limit"]) + poison * per_poison
        if systematic:  # per request in flight: its retries, then the run that proves the fault
            bound += BOUND_CONCURRENCY * (r["attempts"] + 2 * r["limit"])
        r.update(label=label, bound=bound, poison=poison)
        results.append(r)
        table += (
            f"| {label} | {rows:,} | {r['requests']:,} ({r['bytes_over_limit']:,}) | {poison} | "
            f"{r['calls']:,} | {bound:,} | {'yes' if r['calls'] <= bound else 'NO'} | {r['outcome']} |\n"
        )
    naive = 2 * rows - 1
    text = table + (
        f"\nWithout the systematic-failure rule a refused file costs 2N-1 = {naive:,} calls "
        f"(every request bisected down to single rows). Per poison row: at most 2 x "
        f"{results[1]['depth']} + 1 calls (two halves per level of the bisection of a request of "
        f"up to {max_rows:,} rows). FailureTracker.limit = {results[0]['limit']} consecutive failures.\n"
    )
    return text, results


# ---------------------------------------------------------------------------- report


def run(quick: bool = False, decode_only: bool = False) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    try:
        decode_text, _ = bench_decode(tmp, 20_000 if quick else DECODE_RECORDS)
        command_text, _ = bench_decode_command(tmp, 20_000 if quick else DECODE_RECORDS)
        if decode_only:
            return decode_text + "\n" + command_text
        memory_text, _ = bench_memory(tmp, (2, 20) if quick else MEMORY_FILES_MB)
        endpoint_text, _ = bench_endpoint(
            tmp, 10_000 if quick else ENDPOINT_RECORDS, 200 if quick else PER_RECORD_SAMPLE
        )
        bound_text, _ = bench_call_bound(5_000 if quick else 50_000)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        "## Capture scoring (bench_capture)\n\n"
        + (__doc__ or "").split("\n", 1)[1].strip()
        + ("\n\n_Quick run: small sizes._" if quick else "")
        + f"\n\nLoad average when the section finished: {load} (other work shares the cores; CPU-bound "
        "figures move with it, ratios measured side by side less so)."
        + "\n\n### 1. Decode throughput\n\n"
        + decode_text
        + "\n### 1b. `sentinel decode` against its floor\n\n"
        + command_text
        + "\n### 2. Peak memory of the whole flow\n\n"
        + memory_text
        + "\n### 3. Packed requests against a 50 ms endpoint\n\n"
        + endpoint_text
        + "\n### 4. Endpoint calls when the endpoint refuses rows or whole files\n\n"
        + bound_text
    )


def _main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--child":
        print(json.dumps(child(json.loads(argv[1]))))
        return 0
    # `python -m bench.bench_capture --decode`: only the decode sections, while iterating on them
    print(run(quick="--quick" in argv, decode_only="--decode" in argv))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
