"""Entry point of the log route's processing steps: ``python3 logs_job.py <script> [arguments]``
(``spark-submit logs_job.py logs_prepare_spark …`` on the Spark route: the driver mines).

The scikit-learn processing image has neither drain3 nor our runtime package. The package comes
with the step's ``lib`` input (the publisher uploads ``anomaly_sentinel/`` beside the scripts);
drain3 and the two packages it pins are installed here, pinned, without their dependencies, before
``logs_prepare`` imports them. An optional labels file named by URI (the pipeline's LabelsUri,
``none`` when not given) is downloaded for ``logs_prepare --labels``. Then the named script's
``main`` runs with the remaining arguments; its exit code is the step's.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

LIB = Path("/opt/ml/processing/input/lib")
LABELS = Path("/opt/ml/processing/input/labels/labels.csv")
SCRIPTS = ("logs_prepare", "logs_prepare_spark", "logs_evaluate")
#: The scripts that mine with drain3 and read the optional labels file.
PREPARES = ("logs_prepare", "logs_prepare_spark")
#: drain3 0.9.11 and its exact pins (requirements/dev.txt).
DRAIN3 = ("drain3==0.9.11", "jsonpickle==1.5.1", "cachetools==4.2.1")
NONE = "none"


def ensure_drain3() -> None:
    try:
        importlib.import_module("drain3")
    except ImportError:
        subprocess.run(  # noqa: S603 - fixed arguments: pip and pinned package names
            [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", *DRAIN3], check=True
        )


def labels_argument(argv: list[str]) -> list[str]:
    """``--labels-uri s3://…`` → the file downloaded and ``--labels PATH``; ``none`` → dropped."""
    if "--labels-uri" not in argv:
        return argv
    at = argv.index("--labels-uri")
    uri, rest = argv[at + 1], argv[:at] + argv[at + 2 :]
    if uri.lower() == NONE:
        return rest
    import boto3

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    LABELS.parent.mkdir(parents=True, exist_ok=True)
    boto3.client("s3").download_file(bucket, key, str(LABELS))
    return [*rest, "--labels", str(LABELS)]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in SCRIPTS:
        print(f"usage: logs_job.py {{{','.join(SCRIPTS)}}} [arguments]", file=sys.stderr)
        return 2
    script, rest = args[0], args[1:]
    for folder in (Path(__file__).resolve().parent, LIB):
        if folder.is_dir() and str(folder) not in sys.path:
            sys.path.append(str(folder))
    if script in PREPARES:
        ensure_drain3()
        rest = labels_argument(rest)
    module = importlib.import_module(script)
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
