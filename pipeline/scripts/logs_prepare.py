"""Raw logs → template table → sessions or windows → count vectors → labelled channels.

The log route's processing step (SageMaker Processing, scikit-learn image) and, unchanged, the
local executor's and ``sentinel logs fit``'s. Standard library + drain3 for mining; everything
after mining is the runtime package ``anomaly_sentinel.logs`` (what the scoring function runs).

1. **Mine** (drain3, content only, masked): the first ``--sample-lines`` readable lines of the
   input. Spark-friendly by design: mining needs one process and a sample; the rest only matches.
2. **Table**: the clusters exported as a plain-JSON template table (never drain3's jsonpickle
   snapshot), low-cardinality wildcards of over-merged templates split into variants
   (``anomaly_sentinel.logs.table``) from a second look at the same sample.
3. **Match and group** every line with the pure-Python matcher (so training and scoring assign
   templates alike); each line is placed or rejected with a reason.
4. **Split by time** (never at random: random splits leak the future): the oldest 70 % of the
   groups (by first line) train, the next 15 % validate (the tuners' labelled channel), the newest
   15 % evaluate (the set the detectors are judged on).
5. **Vectors**: vocabulary and weighting fitted on the train groups only.
6. **Labels**: a labels file (``BlockId,Label`` as loghub's ``anomaly_label.csv``, or a window key
   and a label; Anomaly/Normal, 1/0, true/false), or the lines' own labels (BGL), else log-shaped
   injected anomalies with a fixed seed (``logs_inject.py``). The train channel carries no labels.

Outputs (``--out``): ``templates.json``, ``vector_spec.json``, ``train/train.csv`` (no label),
``validation/validation.csv`` and ``evaluation/evaluation.csv`` (label first: RCF's
``text/csv;label_size=1``), ``sessions/{train,validation,evaluation}.csv`` (key,label,kind,first_line
— one row per channel row), ``report.json`` (lines, rejects by reason, templates, groups, labels).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
for _folder in (_HERE, Path("/opt/ml/processing/input/lib"), _HERE.parents[1] / "layers" / "common"):
    # Siblings and the runtime package: next to this file, in the step's "lib" input (docs/LOGS.md),
    # or, in a checkout, the layer's source folder.
    if _folder.is_dir() and str(_folder) not in sys.path:
        sys.path.append(str(_folder))

from anomaly_sentinel.logs import (  # noqa: E402
    Group,
    Grouper,
    GroupingSpec,
    LogError,
    LogFormat,
    Matcher,
    Rejected,
    Tally,
    Template,
    TemplateTable,
    VectorSpec,
    decode_lines,
    group_events,
    read_events,
    resolve_format,
)
from anomaly_sentinel.logs.artefacts import TEMPLATES_FILE, VECTOR_SPEC_FILE  # noqa: E402
from anomaly_sentinel.logs.formats import DEFAULT_MAX_LINE_BYTES  # noqa: E402
from anomaly_sentinel.logs.table import observe, split_overmerged  # noqa: E402

try:  # a package (tests)
    from . import logs_inject
    from . import preprocess as pp
except ImportError:  # a file: the processing container, the local executor's import by path
    import logs_inject  # type: ignore[no-redef]
    import preprocess as pp  # type: ignore[no-redef]

SHARES = {"train": 0.70, "validation": 0.15, "evaluation": 0.15}
DEFAULT_SAMPLE_LINES = 1_000_000
DEFAULT_SEED = 20_240_601
MIN_GROUPS = 20
#: At most this share of the training groups may show a rare event for rarity to mark anomalies.
MAX_RARE_SHARE = 0.10
EVENTS_FILE = "events.csv"
REPORT_FILE = "report.json"
TRAIN_FILE = Path("train") / "train.csv"
VALIDATION_FILE = Path("validation") / "validation.csv"
EVALUATION_FILE = Path("evaluation") / "evaluation.csv"
SESSIONS_DIR = Path("sessions")
MAX_LABEL_ROWS = 50_000_000
_POSITIVE = {"anomaly", "abnormal", "1", "true", "yes"}
_NEGATIVE = {"normal", "0", "false", "no", "-"}
PROCESSING_OUTPUT = Path("/opt/ml/processing/output/logs")


class PrepareError(Exception):
    """The input cannot become a log model's channels; the message names the file and what to fix."""


@dataclass(frozen=True)
class DrainSettings:
    """drain3's settings (its defaults, except masking, which the format does before Drain)."""

    sim_th: float = 0.4
    depth: int = 4
    max_children: int = 100
    max_clusters: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": "drain3",
            "sim_th": self.sim_th,
            "depth": self.depth,
            "max_children": self.max_children,
            "max_clusters": self.max_clusters,
            "parametrize_numeric_tokens": True,
        }


# ---------------------------------------------------------------------------- reading


def input_files(path: Path) -> list[Path]:
    """The file itself, or every file under a folder in name order (one log, in time order)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        if files:
            return files
        raise PrepareError(f"{path}: the folder holds no files")
    raise PrepareError(f"{path}: no such file or folder")


def contents(paths: Sequence[Path], log_format: LogFormat, limit: int, max_line_bytes: int) -> Iterator[str]:
    """The contents of the first ``limit`` readable lines (the mining sample)."""
    taken = 0
    for path in paths:
        with path.open("rb") as stream:
            for _, text in decode_lines(stream, max_line_bytes):
                if isinstance(text, Rejected):
                    continue
                parsed = log_format.split(text)
                if isinstance(parsed, Rejected):
                    continue
                yield parsed.content
                taken += 1
                if taken >= limit:
                    return


def events(paths: Sequence[Path], matcher: Matcher, max_line_bytes: int) -> Iterator[Any]:
    """Every line of every file as a LineEvent, numbered on from one file to the next."""
    first = 1
    for path in paths:
        last = first - 1
        with path.open("rb") as stream:
            for event in read_events(stream, matcher, max_line_bytes, first_line=first):
                last = event.line
                yield event
        first = last + 1


# ---------------------------------------------------------------------------- mining


def mine(sample: Iterable[str], log_format: LogFormat, settings: DrainSettings) -> TemplateTable:
    """drain3 over the masked contents; clusters exported as a plain table (ids are Drain's)."""
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.drain_sim_th = settings.sim_th
    config.drain_depth = settings.depth
    config.drain_max_children = settings.max_children
    config.drain_max_clusters = settings.max_clusters
    config.masking_instructions = []  # the format masks (one masking code for mining and matching)
    config.profiling_enabled = False
    miner = TemplateMiner(persistence_handler=None, config=config)
    mask = log_format.masker.mask
    lines = 0
    for content in sample:
        miner.add_log_message(mask(content))
        lines += 1
    templates = tuple(
        Template(cluster.cluster_id, cluster.get_template(), cluster.size)
        for cluster in sorted(miner.drain.clusters, key=lambda c: c.cluster_id)
    )
    return TemplateTable(log_format, templates, settings.to_json(), lines)


def build_table(
    paths: Sequence[Path],
    log_format: LogFormat,
    *,
    sample_lines: int = DEFAULT_SAMPLE_LINES,
    settings: DrainSettings | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> TemplateTable:
    """Mine the sample, then split over-merged templates seen in the same sample."""
    settings = settings or DrainSettings()
    table = mine(contents(paths, log_format, sample_lines, max_line_bytes), log_format, settings)
    observed = observe(table, Matcher(table), contents(paths, log_format, sample_lines, max_line_bytes))
    return split_overmerged(table, observed)


# ---------------------------------------------------------------------------- parse (CLI)


def parse(
    paths: Sequence[Path],
    log_format: LogFormat,
    out: Path,
    *,
    sample_lines: int = DEFAULT_SAMPLE_LINES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> dict[str, Any]:
    """``templates.json`` + ``events.csv`` (``line,template_id,session``: one row per input line)."""
    table = build_table(paths, log_format, sample_lines=sample_lines, max_line_bytes=max_line_bytes)
    out.mkdir(parents=True, exist_ok=True)
    (out / TEMPLATES_FILE).write_bytes(table.dump())
    grouper = Grouper(GroupingSpec.from_json(log_format.grouping))
    tally = Tally()
    with (out / EVENTS_FILE).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["line", "template_id", "session"])
        for event in events(paths, Matcher(table), max_line_bytes):
            tally.lines += 1
            if event.reject is not None:
                tally.rejects[event.reject] += 1
                writer.writerow([event.line, "", ""])
                continue
            reason = grouper.add(event.line, event.template_id, event.session_keys, event.time)
            if reason is None:
                tally.placed += 1
            else:
                tally.rejects[reason] += 1
            template = "" if event.template_id is None else event.template_id
            tally.unseen += event.template_id is None
            writer.writerow([event.line, template, " ".join(grouper.last_keys)])
            for _ in grouper.closed():
                tally.groups += 1
    tally.groups += sum(1 for _ in grouper.close())
    tally.check()
    return {"lines": tally.lines, "templates": len(table), **_counts(tally)}


def _counts(tally: Tally) -> dict[str, Any]:
    return {"rejected": tally.rejected, "rejects": dict(sorted(tally.rejects.items()))}


# ---------------------------------------------------------------------------- labels


def read_labels(path: Path) -> dict[str, int]:
    """``key,label`` rows after a header (BlockId,Label or Window,Label); 1 = anomaly."""
    labels: dict[str, int] = {}
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header or len(header) < 2:
                raise PrepareError(f"{path}: labels need a header row with two columns (e.g. BlockId,Label)")
            for number, row in enumerate(reader, start=2):
                if not row or not "".join(row).strip():
                    continue
                if len(row) < 2 or number > MAX_LABEL_ROWS:
                    raise PrepareError(f"{path}:{number}: expected key,label")
                value = row[1].strip().lower()
                if value not in _POSITIVE | _NEGATIVE:
                    raise PrepareError(
                        f"{path}:{number}: label {row[1]!r} is not Anomaly/Normal, 1/0 or true/false"
                    )
                labels[row[0].strip()] = int(value in _POSITIVE)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PrepareError(f"{path}: cannot read the labels ({exc})") from None
    if not labels:
        raise PrepareError(f"{path}: no labels")
    return labels


# ---------------------------------------------------------------------------- channels


@dataclass
class Row:
    key: str
    label: int
    kind: str
    first_line: int
    group: Group


@dataclass
class Channels:
    train: list[Row] = field(default_factory=list)
    validation: list[Row] = field(default_factory=list)
    evaluation: list[Row] = field(default_factory=list)
    #: Every training group, set-aside ones included: the vocabulary and weighting are fitted on these.
    training_groups: list[Group] = field(default_factory=list)


def split_by_time(groups: list[Group]) -> tuple[list[Group], list[Group], list[Group]]:
    """Oldest 70 % train, next 15 % validation, newest 15 % evaluation (by first line)."""
    ordered = sorted(groups, key=lambda g: (g.first_line, g.key))  # a line may open several groups
    train_end = int(len(ordered) * SHARES["train"])
    validation_end = train_end + int(len(ordered) * SHARES["validation"])
    return ordered[:train_end], ordered[train_end:validation_end], ordered[validation_end:]


def group_of(key: str, sequence: Sequence[int | None]) -> Group:
    """A group rebuilt from an (injected) event sequence."""
    group = Group(key, sequence=list(sequence))
    group.counts.update(sequence)
    group.length = len(sequence)
    return group


def shows_rare(group: Group, rare: set[int]) -> bool:
    """The group holds an unseen line or a rare event (``logs_inject.rare``)."""
    return any(count and (template is None or template in rare) for template, count in group.counts.items())


def rare_events(train: list[Group]) -> set[int] | None:
    """The training groups' rare events, or None when they are too common to mark anomalies.

    Anomalies are a minority: when more than ``MAX_RARE_SHARE`` of the training groups would show
    a rare event or an unseen line, rarity is this log's normal and nothing is set aside.
    """
    rare = set(logs_inject.rare([g.counts for g in train]))
    showing = sum(1 for g in train if shows_rare(g, rare))
    return rare if showing <= MAX_RARE_SHARE * len(train) else None


def label_channels(
    groups: list[Group],
    *,
    labels: dict[str, int] | None,
    inline: bool,
    seed: int,
) -> tuple[Channels, dict[str, Any]]:
    """Split by time, set rare groups aside, then label the held-out groups (real or injected).

    Training is unsupervised on a log that holds its own faults (about 3 % of HDFS blocks), and
    most faults show as a rare event type. A training group with a rare event or an unseen line is
    therefore left out of the train channel (the detectors learn *normal* from the rest; the
    vocabulary still comes from every training group, so a rare event keeps its own feature).
    With injected labels the same rule sets held-out groups aside: their label is unknown, and
    counting them normal would punish a detector for finding the faults it is meant to find.
    """
    train, validation, evaluation = split_by_time(groups)
    if len(groups) < MIN_GROUPS or not validation or not evaluation:
        raise PrepareError(
            f"{len(groups)} sessions/windows: at least {MIN_GROUPS} are needed to train and judge"
        )
    injected = labels is None and not inline
    rare = rare_events(train)
    common = [g for g in train if rare is None or not shows_rare(g, rare)]
    channels = Channels(train=[Row(g.key, 0, "", g.first_line, g) for g in common], training_groups=train)
    info: dict[str, Any] = {
        "source": "labels-file" if labels is not None else "inline" if inline else "injected",
        "rare_events": None if rare is None else len(rare),
        "train_set_aside": len(train) - len(common),
    }
    unlabelled = 0
    for name, whole, offset in (("validation", validation, 0), ("evaluation", evaluation, 1)):
        rows: list[Row] = getattr(channels, name)
        held_out = [g for g in whole if not (injected and rare is not None and shows_rare(g, rare))]
        if injected and rare is not None:
            info[f"{name}_set_aside"] = len(whole) - len(held_out)
        for group in held_out:
            if labels is not None:
                unlabelled += group.key not in labels
                label = labels.get(group.key, 0)
            else:
                label = int(group.marked) if inline else 0
            rows.append(Row(group.key, label, "real" if label else "", group.first_line, group))
        if injected:
            always = logs_inject.always_present([g.counts for g in train])
            sequences = [g.sequence or [] for g in held_out]
            made = logs_inject.inject(sequences, always, seed=seed + offset, rare_events=sorted(rare or ()))
            for n, anomaly in enumerate(made):
                source = held_out[anomaly.source]
                key = f"{source.key}#injected-{n}"
                rows.append(Row(key, 1, anomaly.kind, source.first_line, group_of(key, anomaly.sequence)))
            info[f"{name}_injected"] = dict(Counter(a.kind for a in made))
        info[f"{name}_positives"] = sum(r.label for r in rows)
    if labels is not None:
        info["unlabelled_groups"] = unlabelled
    return channels, info


def write_channels(channels: Channels, spec: VectorSpec, out: Path) -> None:
    for name, path, labelled in (
        ("train", TRAIN_FILE, False),
        ("validation", VALIDATION_FILE, True),
        ("evaluation", EVALUATION_FILE, True),
    ):
        rows: list[Row] = getattr(channels, name)
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / SESSIONS_DIR).mkdir(parents=True, exist_ok=True)
        with (
            (out / path).open("w", encoding="utf-8", newline="") as data,
            (out / SESSIONS_DIR / f"{name}.csv").open("w", encoding="utf-8", newline="") as keys,
        ):
            data_writer = csv.writer(data, lineterminator="\n")
            key_writer = csv.writer(keys, lineterminator="\n")
            key_writer.writerow(["key", "label", "kind", "first_line"])
            for row in rows:
                cells = [cell(x) for x in spec.vector(row.group)]
                data_writer.writerow([row.label, *cells] if labelled else cells)
                key_writer.writerow([row.key, row.label, row.kind, row.first_line])


def cell(value: float) -> str:
    return f"{value:.10g}"


def prepare(
    paths: Sequence[Path],
    log_format: LogFormat,
    out: Path,
    *,
    labels_path: Path | None = None,
    grouping: GroupingSpec | None = None,
    weighting: str = "log1p",
    seed: int = DEFAULT_SEED,
    sample_lines: int = DEFAULT_SAMPLE_LINES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> dict[str, Any]:
    """The whole step (module doc); returns what ``report.json`` holds."""
    labels = read_labels(labels_path) if labels_path is not None else None
    table = build_table(paths, log_format, sample_lines=sample_lines, max_line_bytes=max_line_bytes)
    grouping = grouping or GroupingSpec.from_json(log_format.grouping)
    tally = Tally()
    grouper = Grouper(grouping, keep_sequences=True)
    normal = log_format.normal_label if log_format.label_field else None
    groups = list(group_events(events(paths, Matcher(table), max_line_bytes), grouper, normal, tally))
    return finish(table, grouping, groups, tally, out, labels=labels, weighting=weighting, seed=seed)


def finish(
    table: TemplateTable,
    grouping: GroupingSpec,
    groups: list[Group],
    tally: Tally,
    out: Path,
    *,
    labels: dict[str, int] | None,
    weighting: str,
    seed: int,
) -> dict[str, Any]:
    """From the groups on (both routes, Python and Spark): split, label, fit the vectors, write."""
    if tally.lines == 0:
        raise PrepareError("the input is empty: no lines to learn from")
    log_format = table.format
    channels, label_info = label_channels(
        groups, labels=labels, inline=labels is None and log_format.label_field is not None, seed=seed
    )
    spec = VectorSpec.fit(grouping, channels.training_groups, weighting)
    out.mkdir(parents=True, exist_ok=True)
    (out / TEMPLATES_FILE).write_bytes(table.dump())
    (out / VECTOR_SPEC_FILE).write_bytes(spec.dump())
    write_channels(channels, spec, out)
    report = {
        **tally.to_json(),
        "format": log_format.name,
        "templates": len(table),
        "variants": sum(1 for t in table.templates if t.parent is not None),
        "sample_lines": table.sample_lines,
        "grouping": grouping.to_json(),
        "feature_dim": spec.dimension,
        "vocabulary": len(spec.columns),
        "weighting": weighting,
        "train_rows": len(channels.train),
        "validation_rows": len(channels.validation),
        "evaluation_rows": len(channels.evaluation),
        "labels": label_info,
        "seed": seed,
        "shares": SHARES,
        "split": "by time (first line of each group)",
    }
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    return report


# ---------------------------------------------------------------------------- entry point


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--input", type=Path, required=True, help="a log file, or a folder of log files")
    parser.add_argument("--format", default="hdfs", help="hdfs, bgl, or a regex with (?P<content>...)")
    parser.add_argument("--labels", type=Path, default=None, help="key,label CSV (e.g. BlockId,Label)")
    parser.add_argument("--out", type=Path, default=PROCESSING_OUTPUT)
    parser.add_argument("--grouping", default=None, help='JSON, e.g. {"kind": "time", "window_seconds": 300}')
    parser.add_argument("--weighting", default="log1p", choices=("log1p", "tfidf", "counts"))
    parser.add_argument("--sample-lines", type=int, default=DEFAULT_SAMPLE_LINES)
    parser.add_argument("--max-line-bytes", type=int, default=DEFAULT_MAX_LINE_BYTES)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    return parser.parse_args(argv)


def run(args: argparse.Namespace, route: Callable[..., dict[str, Any]] | None = None) -> dict[str, Any]:
    """Validate the arguments into a call of ``route`` (:func:`prepare`, or the Spark route's ``run``)."""
    if args.sample_lines < 1 or args.max_line_bytes < 1:
        raise PrepareError("--sample-lines and --max-line-bytes must be at least 1")
    grouping = None
    if args.grouping:
        try:
            grouping = GroupingSpec.from_json(json.loads(args.grouping))
        except ValueError as exc:
            raise PrepareError(f"--grouping: {exc}") from None
    return (route or prepare)(
        input_files(args.input),
        resolve_format(args.format),
        args.out,
        labels_path=args.labels,
        grouping=grouping,
        weighting=args.weighting,
        seed=args.seed,
        sample_lines=args.sample_lines,
        max_line_bytes=args.max_line_bytes,
    )


def main(argv: Sequence[str] | None = None, route: Callable[..., dict[str, Any]] | None = None) -> int:
    """Exit 2 with the reason on stderr and in the job's exit message on bad input."""
    try:
        report = run(parse_args(argv), route)
    except (PrepareError, LogError, OSError) as exc:
        pp.report_failure(exc)
        return 2
    print(json.dumps({k: report[k] for k in ("lines", "rejected", "templates", "feature_dim", "train_rows")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
