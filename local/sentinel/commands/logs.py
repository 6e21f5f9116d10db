"""``sentinel logs parse|fit|score``: log anomaly detection offline (docs/LOGS.md).

* ``parse FILE --format hdfs|bgl|REGEX --out DIR``: mine templates (drain3, content only) and match
  every line → ``DIR/templates.json`` and ``DIR/events.csv`` (``line,template_id,session``: one row
  per input line, ``line`` from 1, ``template_id`` empty when the line was rejected; ``session``
  names the session(s) or window the line went to). Last line ``{"lines": N, "templates": T, ...}``.
* ``fit FILE --format F [--labels CSV] --out MODEL_DIR``: parse, group, vectorise, split by time,
  tune the local RCF and the PCA detector, keep the better on the evaluation set. Last line
  ``{"sessions": N, "templates": T, "detector": "rcf"|"pca", "f1": X}``.
* ``score FILE --model MODEL_DIR --out SCORES.csv``: one row per session or window,
  ``session,score,anomaly`` (anomaly 1 when the score is above the model's cutoff). Last line
  ``{"sessions": N, "anomalies": A, ...}``.

Every line is placed or rejected with a reason (binary or non-UTF-8 lines, lines over
``--max-line-bytes``, lines the format does not match, lines without a session key or time);
rejects are counted on stderr and in the JSON. Bad input (a missing or empty file for ``fit``, a
format regex that does not compile, a damaged model directory, an unwritable output) exits 2 with
one line on stderr.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from sentinel.outputs import OutputPathError, output_file, output_folder

EXIT_BAD_INPUT = 2
RCF_BATCH = 4096


class _OneLineParser(argparse.ArgumentParser):
    """Argument errors in one line (the command's contract), not usage + error."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


class BadInputError(Exception):
    """Exit 2 with this one line."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "logs",
        help="parse raw logs into templates, fit a log anomaly model, score a log by session",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="logs_command", required=True, metavar="ACTION", parser_class=_OneLineParser
    )
    common = {"formatter_class": argparse.RawDescriptionHelpFormatter}

    parse = sub.add_parser("parse", help="templates.json + events.csv of a log file", **common)
    parse.add_argument("file", type=Path, help="the log file (plain or gzip)")
    parse.add_argument(
        "--format", required=True, help="hdfs, bgl, or a regex with named groups incl. content"
    )
    parse.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the two files")
    _reading_options(parse)
    parse.set_defaults(run=run_parse)

    fit = sub.add_parser("fit", help="tune RCF and PCA on a log; write the better model", **common)
    fit.add_argument("file", type=Path, help="the log file (plain or gzip), or a folder of them")
    fit.add_argument("--format", required=True, help="hdfs, bgl, or a regex with named groups incl. content")
    fit.add_argument("--labels", type=Path, help="key,label CSV (BlockId,Label: Normal/Anomaly)")
    fit.add_argument("--out", type=Path, required=True, metavar="MODEL_DIR", help="the model folder")
    fit.add_argument("--seed", type=int, default=20_240_601, help="seed of the injected anomalies and RCF")
    fit.add_argument("--budget", type=int, default=4, help="RCF tuning trials (default 4)")
    fit.add_argument(
        "--grouping", help='override the format\'s grouping, e.g. {"kind":"time","window_seconds":300}'
    )
    fit.set_defaults(run=run_fit)

    score = sub.add_parser("score", help="score a log's sessions with a fitted model", **common)
    score.add_argument("file", type=Path, help="the log file (plain or gzip)")
    score.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR", help="from `logs fit`")
    score.add_argument(
        "--out", type=Path, required=True, metavar="SCORES.csv", help="session,score,anomaly rows"
    )
    _reading_options(score)
    score.set_defaults(run=run_score)


def _reading_options(parser: argparse.ArgumentParser) -> None:
    from anomaly_sentinel.logs.formats import DEFAULT_MAX_LINE_BYTES

    parser.add_argument(
        "--max-line-bytes",
        type=int,
        default=DEFAULT_MAX_LINE_BYTES,
        help=f"longer lines are rejected (default {DEFAULT_MAX_LINE_BYTES})",
    )


def _fail(command: str, message: str) -> int:
    print(f"sentinel logs {command}: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _readable(path: Path) -> Path:
    if not path.exists():
        raise BadInputError(f"{path} does not exist")
    if path.is_dir():
        raise BadInputError(f"{path} is a folder, give a log file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return path


def _log_input(args: argparse.Namespace) -> Path:
    """The log FILE of parse and score, checked with the reading options."""
    if args.max_line_bytes < 1:
        raise BadInputError("--max-line-bytes must be at least 1")
    return _readable(args.file)


def _report_rejects(rejects: dict[str, int]) -> None:
    for reason, count in sorted(rejects.items()):
        print(f"rejected {count} line(s): {reason}", file=sys.stderr)


# ---------------------------------------------------------------------------- parse


def run_parse(args: argparse.Namespace) -> int:
    from anomaly_sentinel.logs import LogError, resolve_format
    from sentinel.pipeline_executor import load_script

    prepare = load_script("logs_prepare")
    try:
        path = _log_input(args)
        log_format = resolve_format(args.format)
        output_folder(args.out, "--out")
        summary = prepare.parse([path], log_format, args.out, max_line_bytes=args.max_line_bytes)
    except (BadInputError, LogError, OutputPathError, prepare.PrepareError) as exc:
        return _fail("parse", str(exc))
    except OSError as exc:
        return _fail("parse", f"cannot read or write: {exc.strerror or exc}")
    if summary["lines"] == 0:
        print(f"{args.file} is empty: no lines", file=sys.stderr)
    _report_rejects(summary["rejects"])
    print(f"wrote {args.out / 'templates.json'} and {args.out / 'events.csv'}", file=sys.stderr)
    print(json.dumps(summary))
    return 0


# ---------------------------------------------------------------------------- fit


def run_fit(args: argparse.Namespace) -> int:
    from anomaly_sentinel.logs import LogError
    from sentinel.logfit import LogFitError, fit

    try:
        if not 1 <= args.budget <= 20:
            raise BadInputError(f"--budget must be in 1..20, got {args.budget}")
        if not args.file.exists():
            raise BadInputError(f"{args.file} does not exist")
        if args.file.is_file() and args.file.stat().st_size == 0:
            raise BadInputError(f"{args.file} is empty: nothing to learn from")
        if args.labels is not None:
            _readable(args.labels)
        grouping = json.loads(args.grouping) if args.grouping else None
        if grouping is not None and not isinstance(grouping, dict):
            raise BadInputError("--grouping must be a JSON object")
        output_folder(args.out, "--out")
        result = fit(args.file, args.format, args.labels, args.out, args.seed, args.budget, grouping=grouping)
    except (BadInputError, LogError, LogFitError, OutputPathError) as exc:
        return _fail("fit", str(exc))
    except ValueError as exc:  # --grouping that is not JSON
        return _fail("fit", f"--grouping: {exc}")
    except OSError as exc:
        return _fail("fit", f"cannot read or write: {exc.strerror or exc}")
    _report_rejects(result.report.get("rejects", {}))
    for name in ("rcf", "pca"):
        measured = getattr(result, name)["evaluation"]
        print(
            f"{name}: evaluation F1 {measured['f1']:.3f} (precision {measured['precision']:.3f}, recall "
            f"{measured['recall']:.3f}, {measured['false_alerts_per_10k']:.1f} false alerts per 10k)",
            file=sys.stderr,
        )
    print(
        json.dumps(
            {
                "sessions": result.sessions,
                "templates": result.templates,
                "detector": result.detector,
                "f1": round(result.f1, 6),
                "precision": round(result.measured.precision, 6),
                "recall": round(result.measured.recall, 6),
                "lines": result.report.get("lines"),
                "rejected": result.report.get("rejected"),
            }
        )
    )
    return 0


# ---------------------------------------------------------------------------- score


class _Model:
    """A model directory read and checked before any line is read."""

    def __init__(self, folder: Path) -> None:
        from anomaly_sentinel.logs import DetectorChoice, Matcher, PcaScorer, TemplateTable, VectorSpec
        from anomaly_sentinel.logs import artefacts as names

        if not folder.is_dir():
            raise BadInputError(f"--model: {folder} is not a folder")
        self.table = TemplateTable.load(_read(folder / names.TEMPLATES_FILE))
        self.spec = VectorSpec.load(_read(folder / names.VECTOR_SPEC_FILE))
        self.choice = DetectorChoice.load(_read(folder / names.DETECTOR_FILE))
        self.matcher = Matcher(self.table)
        self.pca = None
        self.forest = None
        if self.choice.detector == "pca":
            self.pca = PcaScorer.load(_read(folder / names.PCA_FILE))
            width = self.pca.dimension
        else:
            from sentinel.rcf import RandomCutForest, RcfError

            try:
                self.forest = RandomCutForest.from_bytes(_read(folder / names.RCF_MODEL_FILE))
            except RcfError as exc:
                raise BadInputError(f"--model: {exc}") from None
            width = self.forest.feature_dim
        if width != self.spec.dimension:
            raise BadInputError(
                f"--model: the detector takes {width} features, the vector spec makes {self.spec.dimension}"
            )

    def score(self, vectors: list[list[float]]) -> list[float]:
        if self.pca is not None:
            return [self.pca.score(v) for v in vectors]
        assert self.forest is not None
        return [float(s) for s in self.forest.score_array(vectors)] if vectors else []


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"--model: cannot read {path.name} ({exc.strerror or exc})") from None


def run_score(args: argparse.Namespace) -> int:
    from anomaly_sentinel.logs import Grouper, LogError, Tally, groups_of

    try:
        path = _log_input(args)
        model = _Model(args.model)
        output_file(args.out, "--out")
    except (BadInputError, LogError, OutputPathError) as exc:
        return _fail("score", str(exc))
    tally = Tally()
    sessions = anomalies = 0
    try:
        with path.open("rb") as stream, args.out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["session", "score", "anomaly"])
            groups = groups_of(stream, model.matcher, Grouper(model.spec), tally, args.max_line_bytes)
            for keys, scores in _scored(groups, model):
                for key, value in zip(keys, scores, strict=True):
                    flagged = value > model.choice.cutoff
                    writer.writerow([key, f"{value:.10g}", int(flagged)])
                    sessions += 1
                    anomalies += flagged
    except OSError as exc:
        return _fail("score", f"cannot read or write: {exc.strerror or exc}")
    if tally.lines == 0:
        print(f"{args.file} is empty: no lines, no sessions", file=sys.stderr)
    _report_rejects(dict(tally.rejects))
    print(f"wrote {args.out}", file=sys.stderr)
    summary = {
        "sessions": sessions,
        "anomalies": anomalies,
        "detector": model.choice.detector,
        "cutoff": model.choice.cutoff,
        "lines": tally.lines,
        "rejected": tally.rejected,
        "rejects": dict(sorted(tally.rejects.items())),
        "unseen_lines": tally.unseen,
    }
    print(json.dumps(summary))
    return 0


def _scored(groups: Iterator[Any], model: _Model) -> Iterator[tuple[list[str], list[float]]]:
    """Scores in batches (the forest scores many rows at once; memory stays bounded)."""
    keys: list[str] = []
    vectors: list[list[float]] = []
    for group in groups:
        keys.append(group.key)
        vectors.append(model.spec.vector(group))
        if len(keys) >= RCF_BATCH:
            yield keys, model.score(vectors)
            keys, vectors = [], []
    if keys:
        yield keys, model.score(vectors)
