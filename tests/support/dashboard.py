"""Builders shared by the dashboard tests: the metrics the code emits (read with ``ast``), template.yaml
resolved with nominal names, and the overlap check of a drawn picture."""

from __future__ import annotations

import ast
from collections import defaultdict
from itertools import combinations
from typing import Any

from sentinel.emulator import LocalStack, nominal
from sentinel.template import PROJECT_ROOT, Template

CODE_ROOTS = [PROJECT_ROOT / "layers" / "common" / "anomaly_sentinel", PROJECT_ROOT / "functions"]
#: The one place a metric name is a variable: the helper every "ignored" path calls with a literal.
#: The helpers that take metric names from their callers: function name -> its metric-name
#: arguments (keyword, position or None). Their callers pass literals; inside them names are variables.
NAME_FORWARDERS: dict[str, tuple[tuple[str, int | None], ...]] = {
    "ignored": (("metric", 2),),
    "handle_object_event": (("ignored_metric", None), ("handled_metric", None)),  # object_events.py
    "ignored_event": (("metric", 0),),  # handler_kit.py
    "count_metric": (("name", 0),),  # handler_kit.py
}
#: Metric families named per feature (Model Monitor's naming): the helper that builds the name.
NAME_FAMILIES = {"drift_metric_name": "feature_baseline_drift_*"}

Emitted = dict[str, set[frozenset[str]]]


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _keyword(call: ast.Call, name: str, position: int | None = 0) -> ast.AST | None:
    """The argument passed as ``name=``, else at ``position`` (None: keyword only)."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return call.args[position] if position is not None and len(call.args) > position else None


def _family(node: ast.AST | None) -> str | None:
    """``feature_baseline_drift_*`` for a name built by a per-feature naming helper."""
    return NAME_FAMILIES.get(_method(node) or "") if isinstance(node, ast.Call) else None


def _method(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


class EmfCalls(ast.NodeVisitor):
    """Metric names and their dimension sets, per function scope and per ``single_metric`` block.

    Powertools adds the ``service`` dimension to every metric; ``add_dimension`` in a function
    applies to the metrics that function adds; inside ``with single_metric(...) as m`` only the
    dimensions added to ``m`` apply.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.emitted: Emitted = defaultdict(set)
        self.unreadable: list[str] = []

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        dims = {"service"}
        pending: list[str] = []
        single_blocks: set[int] = set()
        for child in ast.walk(node):
            if isinstance(child, ast.With):
                for item in child.items:
                    call = item.context_expr
                    if isinstance(call, ast.Call) and _method(call) == "single_metric":
                        self._single_metric(call, item.optional_vars, child, node.name)
                        single_blocks.update(id(n) for n in ast.walk(child))
        for child in ast.walk(node):
            if not isinstance(child, ast.Call) or id(child) in single_blocks:
                continue
            method = _method(child)
            if method == "add_dimension":
                name = _literal(_keyword(child, "name"))
                if name:
                    dims.add(name)
            elif method == "add_metric":
                name = _literal(_keyword(child, "name")) or _family(_keyword(child, "name"))
                if name is None:
                    if node.name not in NAME_FORWARDERS:
                        self.unreadable.append(f"{self.where}:{child.lineno}")
                    continue
                pending.append(name)
            elif method in NAME_FORWARDERS:
                for keyword, position in NAME_FORWARDERS[method]:
                    name = _literal(_keyword(child, keyword, position))
                    if name is not None:
                        self.emitted[name].add(frozenset({"service"}))
                    elif node.name not in NAME_FORWARDERS:  # a forwarder passes its own argument on
                        self.unreadable.append(f"{self.where}:{child.lineno}")
        for name in pending:
            self.emitted[name].add(frozenset(dims))

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def _single_metric(self, call: ast.Call, target: ast.AST | None, block: ast.With, scope: str) -> None:
        name = _literal(_keyword(call, "name"))
        if name is None:
            self.unreadable.append(f"{self.where}:{call.lineno}")
            return
        alias = target.id if isinstance(target, ast.Name) else None
        dims = {"service"}
        for child in ast.walk(block):
            if (
                isinstance(child, ast.Call)
                and _method(child) == "add_dimension"
                and isinstance(child.func, ast.Attribute)
                and isinstance(child.func.value, ast.Name)
                and child.func.value.id == alias
            ):
                dim = _literal(_keyword(child, "name"))
                if dim:
                    dims.add(dim)
        self.emitted[name].add(frozenset(dims))


def emitted_metrics(sources: dict[str, str]) -> tuple[Emitted, list[str]]:
    emitted: Emitted = defaultdict(set)
    unreadable: list[str] = []
    for where, text in sources.items():
        visitor = EmfCalls(where)
        visitor.visit(ast.parse(text))
        for name, dims in visitor.emitted.items():
            emitted[name] |= dims
        unreadable += visitor.unreadable
    return emitted, unreadable


def code_sources() -> dict[str, str]:
    return {
        str(path.relative_to(PROJECT_ROOT)): path.read_text(encoding="utf-8")
        for root in CODE_ROOTS
        for path in sorted(root.rglob("*.py"))
    }


def resolved_template() -> Template:
    """template.yaml with nominal physical names (no emulator needed to read the dashboard)."""
    stack = LocalStack()
    for logical_id, resource in stack.document["Resources"].items():
        stack.physical[logical_id] = nominal(logical_id, resource["Type"], {})
    return stack.template()


def drawn_texts(fig) -> list[tuple[Any, str, Any]]:
    """Every non-empty text the renderer drew: (its subfigure or the figure, text, box in pixels).

    Tick labels count only where their tick is inside the axis' view (matplotlib does not draw
    the others).
    """
    import matplotlib  # only the picture tests draw; the metric scan stays light

    renderer = fig.canvas.get_renderer()
    skipped = set()
    for ax in fig.findobj(matplotlib.axes.Axes):
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    skipped |= {id(tick.label1), id(tick.label2)}
    found = []
    for owner in [fig, *fig.subfigs]:
        for text in owner.findobj(matplotlib.text.Text, include_self=False):
            if id(text) in skipped or not text.get_visible() or not text.get_text().strip():
                continue
            if owner is fig and any(text in sub.findobj(matplotlib.text.Text) for sub in fig.subfigs):
                continue
            found.append((owner, text.get_text(), text.get_window_extent(renderer)))
    return found


def overlaps(fig) -> list[str]:
    texts = drawn_texts(fig)
    clashes = [
        f"{a!r} overlaps {b!r}"
        for (_, a, box_a), (_, b, box_b) in combinations(texts, 2)
        if box_a.overlaps(box_b) and box_a.width and box_b.width
    ]
    for owner, text, box in texts:
        frame = owner.bbox
        inside = (
            frame.x0 - 1 <= box.x0
            and box.x1 <= frame.x1 + 1
            and frame.y0 - 1 <= box.y0
            and box.y1 <= frame.y1 + 1
        )
        if not inside:
            clashes.append(f"{text!r} leaves its panel")
    return clashes
