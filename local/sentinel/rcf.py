"""A Random Cut Forest in numpy: the model behind the local SageMaker RCF endpoint.

Trees follow the RCF paper (Guha et al. 2016): each tree is built on a random sample of the
training rows, and every cut picks a dimension with probability proportional to that dimension's
range in the node's bounding box, then a cut value uniformly inside that range.

The score is the one the built-in SageMaker RCF returns (the anomaly score of AWS's open-source
``random-cut-forest-by-aws`` library): the expected inverse depth at which a point would be cut
away from the tree — a displacement-style measure of how much the point would change the tree —
normalised by ``log2(1 + sample size)`` and averaged over trees. Normal points score near 1,
anomalies higher, so a mean + 3 std cutoff means the same thing locally as on SageMaker.

Everything is vectorised: trees are grown level by level for the whole forest at once, and a
batch of points walks each tree together. Numpy is fine here (``local/``), never in Lambda code.

The model artefact's format, and why it is not SageMaker's own: docs/LOCAL_TWIN.md.
"""

from __future__ import annotations

import io
import json
import math
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sentinel.errors import LocalError

ARTIFACT_MEMBER_ARRAYS = "rcf.npz"
ARTIFACT_MEMBER_META = "hyperparameters.json"
FORMAT = "sentinel-rcf/1"
_SCORE_CHUNK = 4096


class RcfError(LocalError):
    """A forest cannot be built, used or loaded as asked (the message names what is wrong)."""


class ModelArtifactError(RcfError):
    """A model artifact is not a sentinel RCF artifact, or is damaged."""


def shingle(values: ArrayLike, size: int) -> NDArray[np.float64]:
    """Rows of ``size`` consecutive values (row i covers values i .. i+size-1).

    Shingling turns a univariate series into points whose shape (not just level) the forest sees,
    as the AWS NYC taxi example does with one day (48 half-hours).
    """
    series = np.asarray(values, dtype=np.float64).reshape(-1)
    if size < 1:
        raise RcfError(f"shingle size must be at least 1, got {size}")
    if series.size < size:
        raise RcfError(f"a series of {series.size} values is shorter than the shingle size {size}")
    return np.lib.stride_tricks.sliding_window_view(series, size).copy()


@dataclass(frozen=True)
class Hyperparameters:
    """The built-in RCF's hyperparameter names, so an artifact reads like a SageMaker model's."""

    feature_dim: int
    num_trees: int = 100
    num_samples_per_tree: int = 256
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.feature_dim < 1:
            raise RcfError(f"feature_dim must be at least 1, got {self.feature_dim}")
        if not 1 <= self.num_trees <= 1000:
            raise RcfError(f"num_trees must be in 1..1000, got {self.num_trees}")
        if not 1 <= self.num_samples_per_tree <= 2048:
            raise RcfError(f"num_samples_per_tree must be in 1..2048, got {self.num_samples_per_tree}")


@dataclass
class _Nodes:
    """All trees of a forest in flat arrays (node ids are global; ``roots[t]`` starts tree t).

    A leaf has ``cut_dim == -1`` and a zero-volume box (its point); ``mass`` counts duplicates.
    """

    roots: NDArray[np.int64]
    tree_mass: NDArray[np.int64]
    parent: NDArray[np.int64]
    left: NDArray[np.int64]
    right: NDArray[np.int64]
    cut_dim: NDArray[np.int64]
    cut_val: NDArray[np.float64]
    depth: NDArray[np.int64]
    mass: NDArray[np.int64]
    box_min: NDArray[np.float64]
    box_max: NDArray[np.float64]


class RandomCutForest:
    """A batch-trained Random Cut Forest with the built-in SageMaker RCF's hyperparameters.

    ``score(rows)`` satisfies the local endpoint's ``Scorer`` protocol.
    """

    def __init__(
        self,
        feature_dim: int,
        num_trees: int = 100,
        num_samples_per_tree: int = 256,
        seed: int | None = None,
    ) -> None:
        self.hyperparameters = Hyperparameters(feature_dim, num_trees, num_samples_per_tree, seed)
        self._nodes: _Nodes | None = None

    # ------------------------------------------------------------------ properties
    @property
    def feature_dim(self) -> int:
        return self.hyperparameters.feature_dim

    @property
    def num_trees(self) -> int:
        return self.hyperparameters.num_trees

    @property
    def num_samples_per_tree(self) -> int:
        return self.hyperparameters.num_samples_per_tree

    @property
    def fitted(self) -> bool:
        return self._nodes is not None

    # ------------------------------------------------------------------ training
    def fit(self, rows: ArrayLike) -> RandomCutForest:
        """Grow ``num_trees`` trees, each on its own sample of the rows (without replacement)."""
        data = self._as_matrix(rows, "training rows")
        if data.shape[0] == 0:
            raise RcfError("cannot fit a forest on zero rows")
        rng = np.random.default_rng(self.hyperparameters.seed)
        per_tree = min(self.num_samples_per_tree, data.shape[0])
        samples = np.stack(
            [data[rng.choice(data.shape[0], size=per_tree, replace=False)] for _ in range(self.num_trees)]
        )
        self._nodes = _grow(samples, rng)
        return self

    # ------------------------------------------------------------------ scoring
    def score(self, rows: Sequence[Sequence[float]]) -> list[float]:
        """One anomaly score per feature row (the local endpoint's ``Scorer`` protocol)."""
        return [float(value) for value in self.score_array(rows)]

    def score_array(
        self, rows: ArrayLike, *, progress: Callable[[int], None] | None = None
    ) -> NDArray[np.float64]:
        """Scores as an array; ``progress(n)`` is called after each chunk of n rows."""
        nodes = self._require_fitted()
        points = self._as_matrix(rows, "rows to score")
        scores = np.empty(points.shape[0], dtype=np.float64)
        for start in range(0, points.shape[0], _SCORE_CHUNK):
            chunk = points[start : start + _SCORE_CHUNK]
            total = np.zeros(chunk.shape[0], dtype=np.float64)
            for tree in range(nodes.roots.size):
                total += _score_tree(nodes, tree, chunk)
            scores[start : start + chunk.shape[0]] = total / nodes.roots.size
            if progress is not None:
                progress(chunk.shape[0])
        return scores

    def attribution_array(
        self, rows: ArrayLike, *, progress: Callable[[int], None] | None = None
    ) -> NDArray[np.float64]:
        """Each row's score split over its dimensions (rows x feature_dim; a row sums to its score).

        The per-dimension attribution of AWS's RCF (``DiVector``, high and low added): how much of
        the score comes from each value, so a shingle can be attributed to the point that makes it
        anomalous.
        """
        nodes = self._require_fitted()
        points = self._as_matrix(rows, "rows to score")
        shares = np.empty(points.shape, dtype=np.float64)
        for start in range(0, points.shape[0], _SCORE_CHUNK):
            chunk = points[start : start + _SCORE_CHUNK]
            total = np.zeros(chunk.shape, dtype=np.float64)
            for tree in range(nodes.roots.size):
                total += _attribute_tree(nodes, tree, chunk)
            shares[start : start + chunk.shape[0]] = total / nodes.roots.size
            if progress is not None:
                progress(chunk.shape[0])
        return shares

    # ------------------------------------------------------------------ persistence
    def to_bytes(self) -> bytes:
        """A ``model.tar.gz`` holding the trees (``rcf.npz``) and ``hyperparameters.json``."""
        nodes = self._require_fitted()
        leaves = nodes.cut_dim < 0
        arrays = io.BytesIO()
        np.savez_compressed(
            arrays,
            roots=nodes.roots,
            tree_mass=nodes.tree_mass,
            parent=nodes.parent,
            left=nodes.left,
            right=nodes.right,
            cut_dim=nodes.cut_dim,
            cut_val=nodes.cut_val,
            mass=nodes.mass,
            depth=nodes.depth,
            leaf_points=nodes.box_min[leaves],  # internal boxes are rebuilt from the leaves on load
        )
        meta = {
            "format": FORMAT,
            "feature_dim": self.feature_dim,
            "num_trees": self.num_trees,
            "num_samples_per_tree": self.num_samples_per_tree,
            "seed": self.hyperparameters.seed,
        }
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:gz") as archive:
            for name, payload in (
                (ARTIFACT_MEMBER_META, json.dumps(meta, indent=2).encode()),
                (ARTIFACT_MEMBER_ARRAYS, arrays.getvalue()),
            ):
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                archive.addfile(info, io.BytesIO(payload))
        return out.getvalue()

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_bytes())
        return path

    @classmethod
    def from_bytes(cls, payload: bytes) -> RandomCutForest:
        try:
            with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
                members = {m.name.lstrip("./"): m for m in archive.getmembers() if m.isfile()}
                if ARTIFACT_MEMBER_META not in members or ARTIFACT_MEMBER_ARRAYS not in members:
                    raise ModelArtifactError(
                        f"not a sentinel RCF artifact: expected {ARTIFACT_MEMBER_META} and "
                        f"{ARTIFACT_MEMBER_ARRAYS}, found {sorted(members)}"
                    )
                meta = json.loads(_read_member(archive, members[ARTIFACT_MEMBER_META]))
                with np.load(io.BytesIO(_read_member(archive, members[ARTIFACT_MEMBER_ARRAYS]))) as saved:
                    arrays = {name: saved[name] for name in saved.files}
        except (tarfile.TarError, OSError, EOFError, ValueError, KeyError) as error:
            raise ModelArtifactError(f"cannot read the model artifact: {error}") from error
        if meta.get("format") != FORMAT:
            raise ModelArtifactError(f"unsupported artifact format {meta.get('format')!r}; expected {FORMAT}")
        forest = cls(
            feature_dim=int(meta["feature_dim"]),
            num_trees=int(meta["num_trees"]),
            num_samples_per_tree=int(meta["num_samples_per_tree"]),
            seed=meta.get("seed"),
        )
        forest._nodes = _rebuild(arrays, forest.feature_dim)
        return forest

    @classmethod
    def load(cls, path: Path) -> RandomCutForest:
        return cls.from_bytes(path.read_bytes())

    # ------------------------------------------------------------------ helpers
    def _require_fitted(self) -> _Nodes:
        if self._nodes is None:
            raise RcfError("the forest is not fitted: call fit() or load() first")
        return self._nodes

    def _as_matrix(self, rows: ArrayLike, what: str) -> NDArray[np.float64]:
        try:
            matrix = np.asarray(rows, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise RcfError(f"{what} are not numeric rows: {error}") from error
        if matrix.ndim == 1 and matrix.size == 0:
            return matrix.reshape(0, self.feature_dim)
        if matrix.ndim != 2 or matrix.shape[1] != self.feature_dim:
            shape = "x".join(str(n) for n in matrix.shape)
            raise RcfError(f"{what} must have {self.feature_dim} features per row; got shape {shape}")
        if not np.isfinite(matrix).all():
            raise RcfError(f"{what} contain NaN or infinite values")
        return matrix


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = archive.extractfile(member)
    if handle is None:
        raise ModelArtifactError(f"{member.name} is not a regular file")
    return handle.read()


# ---------------------------------------------------------------------------- growing


def _grow(samples: NDArray[np.float64], rng: np.random.Generator) -> _Nodes:  # noqa: PLR0915
    """Grow every tree at once, one level per iteration.

    The frontier is a list of segments of ``points`` (indices into the flattened samples), one
    segment per node. Each level computes the segments' boxes with ``reduceat``, turns single
    points (and groups of identical points) into leaves, cuts the rest, and re-orders their points
    into left/right child segments with one stable sort.
    """
    trees, per_tree, dims = samples.shape
    flat = samples.reshape(trees * per_tree, dims)
    points = np.arange(trees * per_tree)
    seg_start = np.arange(trees) * per_tree
    seg_size = np.full(trees, per_tree)
    seg_node = np.arange(trees)
    seg_parent = np.full(trees, -1)
    next_id = trees
    depth = 0
    levels: list[dict[str, NDArray[Any]]] = []

    while seg_node.size:
        block = flat[points]
        mins = np.minimum.reduceat(block, seg_start, axis=0)
        maxs = np.maximum.reduceat(block, seg_start, axis=0)
        ranges = maxs - mins
        span = ranges.sum(axis=1)
        internal = (seg_size > 1) & (span > 0)
        count = seg_node.size
        level = {
            "id": seg_node,
            "parent": seg_parent,
            "depth": np.full(count, depth),
            "mass": seg_size,
            "box_min": mins,
            "box_max": maxs,
            "cut_dim": np.full(count, -1),
            "cut_val": np.zeros(count),
            "left": np.full(count, -1),
            "right": np.full(count, -1),
        }
        levels.append(level)
        if not internal.any():
            break

        # Cut: dimension with probability ∝ range, value uniform within it (RCF paper, Alg. 1).
        cut_nodes = np.flatnonzero(internal)
        cut_ranges = ranges[cut_nodes]
        cumulative = np.cumsum(cut_ranges, axis=1)
        draw = rng.random(cut_nodes.size) * cumulative[:, -1]
        dim = np.minimum((cumulative <= draw[:, None]).sum(axis=1), dims - 1)
        rows = np.arange(cut_nodes.size)
        value = mins[cut_nodes, dim] + (draw - (cumulative[rows, dim] - cut_ranges[rows, dim]))
        # Keep both sides non-empty whatever the rounding: left gets x <= value < max.
        value = np.clip(value, mins[cut_nodes, dim], np.nextafter(maxs[cut_nodes, dim], -np.inf))
        level["cut_dim"][cut_nodes] = dim
        level["cut_val"][cut_nodes] = value

        # Partition the internal segments' points; leaves' points leave the frontier.
        seg_of_point = np.repeat(np.arange(count), seg_size)
        keep = np.flatnonzero(internal[seg_of_point])
        kept_points = points[keep]
        kept_seg = seg_of_point[keep]
        slot = np.full(count, -1)
        slot[cut_nodes] = rows
        goes_right = block[keep, dim[slot[kept_seg]]] > value[slot[kept_seg]]
        key = kept_seg * 2 + goes_right
        order = np.argsort(key, kind="stable")
        points = kept_points[order]
        right_count = np.bincount(slot[kept_seg], weights=goes_right, minlength=cut_nodes.size).astype(
            np.int64
        )
        left_count = seg_size[cut_nodes] - right_count

        children = np.arange(next_id, next_id + 2 * cut_nodes.size)
        next_id += 2 * cut_nodes.size
        level["left"][cut_nodes] = children[0::2]
        level["right"][cut_nodes] = children[1::2]
        seg_size = np.column_stack([left_count, right_count]).reshape(-1)
        seg_start = np.concatenate([[0], np.cumsum(seg_size)[:-1]])
        seg_node = children
        seg_parent = np.repeat(level["id"][cut_nodes], 2)
        depth += 1

    def column(name: str) -> NDArray[Any]:
        return np.concatenate([level[name] for level in levels])

    ids = column("id")
    if not np.array_equal(ids, np.arange(ids.size)):  # pragma: no cover - construction invariant
        raise RcfError("internal error: node ids are not contiguous")
    return _Nodes(
        roots=np.arange(trees),
        tree_mass=np.full(trees, per_tree),
        parent=column("parent"),
        left=column("left"),
        right=column("right"),
        cut_dim=column("cut_dim"),
        cut_val=column("cut_val"),
        depth=column("depth"),
        mass=column("mass"),
        box_min=column("box_min"),
        box_max=column("box_max"),
    )


def _rebuild(arrays: dict[str, NDArray[Any]], dims: int) -> _Nodes:
    """Recompute depths and internal boxes from the saved structure and leaf points."""
    try:
        parent = arrays["parent"].astype(np.int64)
        left = arrays["left"].astype(np.int64)
        right = arrays["right"].astype(np.int64)
        cut_dim = arrays["cut_dim"].astype(np.int64)
        leaf_points = arrays["leaf_points"].astype(np.float64)
        roots = arrays["roots"].astype(np.int64)
        count = parent.size
        leaves = cut_dim < 0
        if leaf_points.shape != (int(leaves.sum()), dims):
            raise ModelArtifactError(
                f"leaf points have shape {leaf_points.shape}; expected ({int(leaves.sum())}, {dims})"
            )
        depth = arrays["depth"].astype(np.int64)
        if depth.size != count:
            raise ModelArtifactError(f"{depth.size} depths for {count} nodes")
        box_min = np.empty((count, dims))
        box_max = np.empty((count, dims))
        box_min[leaves] = leaf_points
        box_max[leaves] = leaf_points
        for level in range(int(depth.max()), -1, -1):
            inner = np.flatnonzero((depth == level) & ~leaves)
            box_min[inner] = np.minimum(box_min[left[inner]], box_min[right[inner]])
            box_max[inner] = np.maximum(box_max[left[inner]], box_max[right[inner]])
        return _Nodes(
            roots=roots,
            tree_mass=arrays["tree_mass"].astype(np.int64),
            parent=parent,
            left=left,
            right=right,
            cut_dim=cut_dim,
            cut_val=arrays["cut_val"].astype(np.float64),
            depth=depth,
            mass=arrays["mass"].astype(np.int64),
            box_min=box_min,
            box_max=box_max,
        )
    except (KeyError, IndexError, ValueError) as error:
        raise ModelArtifactError(f"the model artifact's trees are damaged: {error}") from error


# ---------------------------------------------------------------------------- scoring


def _leaves(nodes: _Nodes, tree: int, points: NDArray[np.float64]) -> NDArray[np.intp]:
    """The leaf each point reaches in one tree."""
    node = np.full(points.shape[0], nodes.roots[tree])
    walking = np.arange(points.shape[0])
    while walking.size:
        here = node[walking]
        dim = nodes.cut_dim[here]
        inner = dim >= 0
        walking, here, dim = walking[inner], here[inner], dim[inner]
        if not walking.size:
            break
        go_right = points[walking, dim] > nodes.cut_val[here]
        node[walking] = np.where(go_right, nodes.right[here], nodes.left[here])
    return node


def _attribute_tree(nodes: _Nodes, tree: int, points: NDArray[np.float64]) -> NDArray[np.float64]:
    """:func:`_score_tree` with the score kept per dimension (AWS's ``AnomalyAttributionVisitor``).

    At the leaf, an unseen point's ``1/(depth+1)`` is shared in proportion to its distance from the
    leaf's point in each dimension (a seen point's damped score equally); on the climb, the
    separation probability of each dimension takes its part of ``p/(depth+1)``.
    """
    node = _leaves(nodes, tree, points)
    tree_mass = float(nodes.tree_mass[tree])
    leaf_depth = nodes.depth[node].astype(np.float64)
    leaf_mass = nodes.mass[node].astype(np.float64)
    leaf_point = nodes.box_min[node]
    distance = np.abs(points - leaf_point)
    spread = distance.sum(axis=1)
    seen = spread == 0
    dims = points.shape[1]
    damp = (1.0 - leaf_mass / (2.0 * tree_mass)) / (leaf_depth + np.log2(leaf_mass + 1.0))
    share = np.where(seen[:, None], 1.0 / dims, distance / np.where(seen, 1.0, spread)[:, None])
    score = share * np.where(seen, damp, 1.0 / (leaf_depth + 1.0))[:, None]

    climbing = np.flatnonzero(~seen)
    current = nodes.parent[node[climbing]]
    alive = current >= 0
    climbing, current = climbing[alive], current[alive]
    while climbing.size:
        point = points[climbing]
        low = nodes.box_min[current]
        high = nodes.box_max[current]
        grown = (np.maximum(high, point) - np.minimum(low, point)) - (high - low)
        new_span = (np.maximum(high, point) - np.minimum(low, point)).sum(axis=1)
        separation = grown / new_span[:, None]
        total = separation.sum(axis=1)
        outside = total > 0
        climbing, current = climbing[outside], current[outside]
        separation, total = separation[outside], total[outside]
        depth = (nodes.depth[current] + 1.0)[:, None]
        score[climbing] = separation / depth + (1.0 - total)[:, None] * score[climbing]
        current = nodes.parent[current]
        alive = current >= 0
        climbing, current = climbing[alive], current[alive]
    return score * math.log2(tree_mass + 1.0)


def _score_tree(nodes: _Nodes, tree: int, points: NDArray[np.float64]) -> NDArray[np.float64]:
    """The AWS RCF anomaly score of each point in one tree (``AbstractScalarScoreVisitor``).

    Walk down to the leaf the point would reach. At the leaf the score is ``1/(depth+1)`` (or,
    when the point is the leaf's own point, a damped ``1/(depth + log2(mass+1))``). Then climb:
    at each ancestor, with p the probability that a random cut of the box grown to include the
    point separates the point, ``score = p/(depth+1) + (1-p)·score``. Once the point lies inside
    an ancestor's box, p is 0 there and above, so the climb stops.
    """
    count = points.shape[0]
    rows = np.arange(count)
    node = np.full(count, nodes.roots[tree])
    walking = rows
    while walking.size:
        here = node[walking]
        dim = nodes.cut_dim[here]
        inner = dim >= 0
        walking, here, dim = walking[inner], here[inner], dim[inner]
        if not walking.size:
            break
        go_right = points[walking, dim] > nodes.cut_val[here]
        node[walking] = np.where(go_right, nodes.right[here], nodes.left[here])

    tree_mass = float(nodes.tree_mass[tree])
    leaf_depth = nodes.depth[node].astype(np.float64)
    leaf_mass = nodes.mass[node].astype(np.float64)
    seen = np.all(points == nodes.box_min[node], axis=1)
    damp = 1.0 - leaf_mass / (2.0 * tree_mass)
    score = np.where(seen, damp / (leaf_depth + np.log2(leaf_mass + 1.0)), 1.0 / (leaf_depth + 1.0))

    climbing = rows[~seen]
    current = nodes.parent[node[climbing]]
    alive = current >= 0
    climbing, current = climbing[alive], current[alive]
    while climbing.size:
        point = points[climbing]
        low = nodes.box_min[current]
        high = nodes.box_max[current]
        old_span = (high - low).sum(axis=1)
        new_span = (np.maximum(high, point) - np.minimum(low, point)).sum(axis=1)
        separation = (new_span - old_span) / new_span
        outside = separation > 0
        climbing, current, separation = climbing[outside], current[outside], separation[outside]
        score[climbing] = separation / (nodes.depth[current] + 1.0) + (1.0 - separation) * score[climbing]
        current = nodes.parent[current]
        alive = current >= 0
        climbing, current = climbing[alive], current[alive]
    return score * math.log2(tree_mass + 1.0)
