"""The dashboard as one readable picture: the template's widgets, valued from the run, laid out cleanly.

Each widget keeps its title and lines (``sentinel.dashboard`` values them). What changes is how
they are drawn, because the offline run has one value per line, not a time series:

- lines in different units (counts, %, seconds, USD, distances) never share an axis: each unit
  gets its own small axis inside the widget, and a unit with one line is shown as a number;
- a widget with more lines than fit (drift per feature) shows the ``TOP_K`` largest and says where
  the rest are;
- widgets whose every line only AWS publishes are not drawn as empty boxes: one footnote names
  them (and the AWS-only lines of widgets that are drawn), read from the template so it stays true;
- numbers are written as people write them (12,289; 11.5 %; 16 s; $0.00).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentinel.dashboard import (
    AWS_ONLY,
    Line,
    MetricPoint,
    alarm_states,
    dashboard_body,
    widget_lines,
)
from sentinel.template import Template

#: Bars shown for a widget whose search returns many lines (one per feature).
TOP_K = 10
_GRID_COLUMNS = 24  # CloudWatch's dashboard grid
_STACKED_BARS = 16  # more bars than this in one widget: its groups go side by side
_STATE_COLOURS = {"ALARM": "tab:red", "OK": "tab:green", "INSUFFICIENT_DATA": "grey"}
_STATE_WORDS = {"ALARM": "ALARM", "OK": "OK", "INSUFFICIENT_DATA": "NO DATA"}
_UNIT_SUFFIX = {"Percent": " %", "Seconds": " s", "Milliseconds": " ms", "Microseconds": " µs"}


def number(value: float) -> str:
    """A value as people write it: 12,289 / 16 / 11.5 / 0.42; never a 1e4 exponent."""
    size = abs(value)
    if size >= 99.95 or value == int(value):
        return f"{value:,.0f}"
    if size < 0.001:
        return "< 0.001" if value > 0 else "> -0.001"
    return f"{value:.3g}"


def with_unit(value: float, unit: str) -> str:
    """``value`` in ``unit`` (CloudWatch's names, plus USD): 1,234 / 12 % / 3.2 s / $0.05."""
    if unit == "USD":
        return "< $0.01" if 0 < value < 0.005 else f"${value:,.2f}"
    if unit == "Count" and value == int(value):
        return f"{value:,.0f}"
    if unit in _UNIT_SUFFIX:
        return number(value) + _UNIT_SUFFIX[unit]
    return number(value)


@dataclass(frozen=True)
class Group:
    """The lines of one widget drawn on one axis: same unit, same side."""

    unit: str
    lines: tuple[Line, ...]
    of: int = 0  # how many lines there were before the top-k cut (0: no cut)
    family: str = ""  # the metrics that hold every line, the cut ones too


@dataclass(frozen=True)
class Panel:
    widget: Mapping[str, Any]
    title: str
    groups: tuple[Group, ...]


def _groups(lines: Sequence[Line]) -> tuple[Group, ...]:
    """Lines by side, unit and search; a line with no value joins its side's first group.

    AWS-only lines are left out; a search's lines (one per feature) are cut to the ``TOP_K`` largest.
    """
    keys: dict[tuple[str, str, str], list[Line]] = {}
    for line in lines:
        if line.value is not None:
            keys.setdefault((line.axis, line.unit, line.search), []).append(line)
    for line in lines:
        if line.value is None and line.note != AWS_ONLY:
            key = next((key for key in keys if key[0] == line.axis), (line.axis, line.unit, line.search))
            keys.setdefault(key, []).append(line)
    groups = []
    for (_, unit, search), members in keys.items():
        if search and len(members) > TOP_K:
            ranked = sorted(members, key=lambda line: line.value or 0.0, reverse=True)[:TOP_K]
            groups.append(Group(unit, tuple(ranked), len(members), f"{_family(members[0])} in {search}"))
        else:
            groups.append(Group(unit, tuple(members)))
    return tuple(groups)


def _family(line: Line) -> str:
    """``feature_baseline_drift_*`` for the line ``_c40`` of metric ``feature_baseline_drift__c40``."""
    if line.metric.endswith(line.label) and line.metric != line.label:
        return line.metric.removesuffix(line.label) + "*"
    return line.metric


def layout(template: Template, points: list[MetricPoint]) -> tuple[list[Panel], list[str]]:
    """The widgets drawn (template order) and what only AWS publishes (widget titles, lines)."""
    panels: list[Panel] = []
    aws_only: list[str] = []
    for widget in sorted(dashboard_body(template)["widgets"], key=lambda w: (w["y"], w["x"])):
        title = str(widget.get("properties", {}).get("title", ""))
        if widget["type"] != "metric":
            panels.append(Panel(widget, title, ()))
            continue
        lines = widget_lines(widget, points)
        missing = [line for line in lines if line.note == AWS_ONLY]
        if len(missing) == len(lines):
            aws_only.append(f"“{title}”")
            continue
        if missing:
            names = ", ".join(_aws_line_name(line) for line in missing)
            aws_only.append(f"{names} in “{title}”")
        panels.append(Panel(widget, title, _groups(lines)))
    return panels, aws_only


def _aws_line_name(line: Line) -> str:
    return line.metric or line.label


def _rows(panels: list[Panel]) -> list[list[Panel]]:
    """Panels packed left to right in CloudWatch's 24-column grid, in the template's order."""
    rows: list[list[Panel]] = [[]]
    used = 0
    for panel in panels:
        width = int(panel.widget["width"])
        if rows[-1] and used + width > _GRID_COLUMNS:
            rows.append([])
            used = 0
        rows[-1].append(panel)
        used += width
    return rows


def figure(template: Template, points: list[MetricPoint]) -> Any:
    """The dashboard as a matplotlib figure (drawn, not saved): what ``render`` writes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels, aws_only = layout(template, points)
    states = alarm_states(template, points)
    rows = _rows(panels)
    heights = [max(int(p.widget["height"]) for p in row) for row in rows]
    width_in = 18.0
    height_in = sum(heights) * 0.52 + 1.4
    fig = plt.figure(figsize=(width_in, height_in), layout="constrained")
    name = template.resolve(template.resource("SentinelDashboard")["Properties"]["DashboardName"])
    fig.suptitle(f"Dashboard {name} — totals over the offline run", fontsize=15, fontweight="bold")
    grid = fig.add_gridspec(len(rows) + 1, 1, height_ratios=[*heights, 1.2])
    for index, row in enumerate(rows):
        widths = [int(p.widget["width"]) for p in row]
        cells = grid[index].subgridspec(1, len(row), width_ratios=widths)
        for column, panel in enumerate(row):
            share = sum(widths) and widths[column] / sum(widths)
            sub = fig.add_subfigure(cells[column], facecolor="#f7f7f7", edgecolor="#d0d0d0", linewidth=1)
            _draw(sub, panel, template, states, inches=width_in * share)
    foot = fig.add_subfigure(grid[len(rows)])
    _draw_footnote(foot, aws_only, chars=_chars(width_in, 9))
    fig.canvas.draw()
    return fig


def render(template: Template, points: list[MetricPoint], path: Path) -> Path:
    """Draw the template's dashboard from the run's metric points into ``path`` (PNG)."""
    import matplotlib.pyplot as plt

    fig = figure(template, points)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _chars(inches: float, fontsize: float, bold: bool = False) -> int:
    """How many characters of ``fontsize`` fit on ``inches`` (DejaVu Sans, with a margin)."""
    return int(inches * 72 / (fontsize * (0.68 if bold else 0.6)))


def _title(sub: Any, title: str, inches: float) -> None:
    wrapped = textwrap.fill(title, width=_chars(inches, 12, bold=True))
    sub.suptitle(wrapped, x=0.01, ha="left", fontsize=12, fontweight="bold")


def _draw(sub: Any, panel: Panel, template: Template, states: Mapping[str, str], inches: float) -> None:
    widget = panel.widget
    props = widget.get("properties", {})
    if widget["type"] == "text":
        _draw_text(sub, str(props.get("markdown", "")), inches)
    elif widget["type"] == "alarm":
        _title(sub, panel.title or "Alarms", inches)
        _draw_alarms(sub, _alarm_names(props, template, states), states)
    else:
        _title(sub, panel.title, inches)
        _draw_metrics(sub, panel, inches)


def _draw_text(sub: Any, markdown: str, inches: float) -> None:
    heading, _, body = markdown.partition("\n")
    _title(sub, re.sub(r"[#*]", "", heading).strip(), inches)
    ax = sub.add_subplot()
    ax.axis("off")
    plain = textwrap.fill(re.sub(r"[#*]", "", body).strip(), width=_chars(inches, 10))
    ax.text(0, 1, plain, va="top", ha="left", fontsize=10, transform=ax.transAxes)


def _alarm_names(props: Mapping[str, Any], template: Template, states: Mapping[str, str]) -> list[str]:
    by_arn = {}
    for logical_id in states:
        try:
            by_arn[template.get_att(logical_id, "Arn")] = logical_id
        except Exception:  # noqa: BLE001, S112 - a resource without an ARN is simply not listed
            continue
    return [by_arn.get(str(arn), str(arn).rsplit(":", 1)[-1]) for arn in props.get("alarms", [])]


def _draw_alarms(sub: Any, names: list[str], states: Mapping[str, str]) -> None:
    ax = sub.add_subplot()
    ax.axis("off")
    columns = 2
    per_column = -(-len(names) // columns)
    for index, name in enumerate(names):
        state = states.get(name, "INSUFFICIENT_DATA")
        column, row = divmod(index, per_column)
        ax.text(
            column / columns,
            1 - row / per_column,
            f"■ {_STATE_WORDS[state]:<7} {name.removesuffix('Alarm')}",
            va="top",
            fontsize=9,
            family="monospace",
            color=_STATE_COLOURS[state],
            transform=ax.transAxes,
        )


def _draw_metrics(sub: Any, panel: Panel, inches: float) -> None:
    """Groups of several lines as bars (stacked; side by side when long), single lines as numbers."""
    bars = [group for group in panel.groups if len(group.lines) > 1]
    tiles = [group for group in panel.groups if len(group.lines) == 1]
    bar_inches = inches * 3 / 4 if tiles else inches
    if bars and tiles:
        outer = sub.add_gridspec(1, 2, width_ratios=[3, 1])
        bar_area, tile_cells = outer[0], outer[1].subgridspec(len(tiles), 1)
    elif bars:
        bar_area, tile_cells = sub.add_gridspec(1, 1)[0], None
    else:
        bar_area, tile_cells = None, sub.add_gridspec(1, max(len(tiles), 1))
    if bars and bar_area is not None:
        side_by_side = sum(len(group.lines) for group in bars) > _STACKED_BARS
        if side_by_side:
            bar_cells = bar_area.subgridspec(1, len(bars))
            bar_inches /= len(bars)
        else:
            bar_cells = bar_area.subgridspec(len(bars), 1, height_ratios=[len(g.lines) for g in bars])
        for index, group in enumerate(bars):
            _draw_bars(sub.add_subplot(bar_cells[index]), group, bar_inches)
    for index, group in enumerate(tiles):
        _draw_tile(sub.add_subplot(tile_cells[index]), group.lines[0], group.unit)


def _draw_tile(ax: Any, line: Line, unit: str) -> None:
    """One value, large: the widget's only line in this unit."""
    ax.axis("off")
    value = with_unit(line.value, unit) if line.value is not None else "none"
    colour = "black" if line.value is not None else "grey"
    ax.text(0.5, 0.58, value, ha="center", va="center", fontsize=22, color=colour, transform=ax.transAxes)
    ax.text(0.5, 0.22, line.label, ha="center", va="center", fontsize=9, color="#444", transform=ax.transAxes)


def _draw_bars(ax: Any, group: Group, inches: float) -> None:
    """Horizontal bars in one unit, each with its value written at its end."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    lines = group.lines
    positions = list(range(len(lines)))
    values = [line.value or 0.0 for line in lines]
    ax.barh(positions, values, color="tab:blue", height=0.6)
    ax.set_yticks(positions, [_short(line.label) for line in lines], fontsize=9)
    ax.invert_yaxis()
    top = max(values, default=0.0)
    for position, line in zip(positions, lines, strict=True):
        text = with_unit(line.value, group.unit) if line.value is not None else "none in this run"
        colour = "black" if line.value is not None else "grey"
        ax.text(line.value or 0.0, position, f" {text}", va="center", fontsize=9, color=colour)
    ax.set_xlim(0, top * 1.35 if top > 0 else 1)
    if top > 0:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=3, integer=group.unit == "Count"))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: with_unit(value, group.unit)))
        ax.tick_params(axis="x", labelsize=8)
    else:
        ax.set_xticks([])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if group.of:
        note = f"top {len(lines)} of {group.of} by value; all {group.of} are the metrics {group.family}"
        ax.set_xlabel(textwrap.fill(note, width=_chars(inches * 0.9, 9)), fontsize=9, color="#444")


def _short(label: str, limit: int = 34) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _draw_footnote(sub: Any, aws_only: list[str], chars: int) -> None:
    ax = sub.add_subplot()
    ax.axis("off")
    if not aws_only:
        return
    text = (
        "Only on AWS (AWS publishes these; the offline run has no values, so they are not drawn): "
        + "; ".join(aws_only)
        + "."
    )
    ax.text(
        0,
        1,
        textwrap.fill(text, width=chars),
        va="top",
        ha="left",
        fontsize=9,
        color="#444",
        transform=ax.transAxes,
    )
