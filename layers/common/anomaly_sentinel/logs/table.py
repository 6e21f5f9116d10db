"""The template table (plain JSON, never a pickle) and the pure-Python matcher over it.

Drain mines templates in the processing job; everything after that — the job's own per-line
events, the Spark executors, the scoring function — only *matches* against the exported table, so
all of them assign the same template to the same line. The table carries the format and the masks,
so a reader needs nothing else.

Matching follows Drain's own rule for a known line (``TemplateMiner.match``): same number of
tokens, and every template token is the wildcard ``<*>`` or equal to the line's token. Where
several templates match, the most specific one (most constant tokens) wins, then the lowest id.

**Over-merged templates.** Drain merges ``PacketResponder <NUM> for block <BLK> terminating``
(normal) and ``… Interrupted.`` (faulty) into ``… <*>``: the fault vanishes into a wildcard.
When a wildcard position takes only a few values in the mining sample, each value combination
becomes its own *variant* template (``parent`` = the merged one); being more specific, a variant
wins over its parent, and a value never seen in mining still matches the parent — so a new value
is a different feature than the known ones, not the same one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from anomaly_sentinel.logs.exceptions import LogFormatError, TemplateTableError
from anomaly_sentinel.logs.formats import LogFormat
from anomaly_sentinel.logs.jsonio import dump_json, load_json, member

TABLE_FORMAT: Final = "sentinel-log-templates/1"
WILDCARD: Final = "<*>"
MAX_TEMPLATES: Final = 100_000
MAX_TEMPLATE_CHARS: Final = 8192
#: Matches remembered by masked content (logs repeat the same masked lines); cleared when full.
CACHE_ENTRIES: Final = 1 << 16
#: A wildcard with at most this many distinct values in mining is split into variants ...
SPLIT_MAX_VALUES: Final = 8
#: ... when its template covered at least this many sample lines.
SPLIT_MIN_LINES: Final = 20


@dataclass(frozen=True, slots=True)
class Template:
    """One template: ``text`` is its tokens joined by spaces; ``<*>`` is Drain's wildcard."""

    id: int
    text: str
    count: int = 0
    parent: int | None = None

    @property
    def tokens(self) -> list[str]:
        return self.text.split()

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"id": self.id, "text": self.text, "count": self.count}
        if self.parent is not None:
            document["parent"] = self.parent
        return document


@dataclass(frozen=True)
class TemplateTable:
    """Templates mined from a log, with the format that reads it and the Drain settings used."""

    format: LogFormat
    templates: tuple[Template, ...]
    drain: Mapping[str, Any] = field(default_factory=dict)
    sample_lines: int = 0

    def __post_init__(self) -> None:
        ids = [t.id for t in self.templates]
        if len(set(ids)) != len(ids):
            raise TemplateTableError("templates.json: template ids are not unique")
        known = set(ids)
        for template in self.templates:
            if template.parent is not None and template.parent not in known:
                raise TemplateTableError(f"templates.json: template {template.id} has an unknown parent")

    def __len__(self) -> int:
        return len(self.templates)

    def by_id(self) -> dict[int, Template]:
        return {t.id: t for t in self.templates}

    def dump(self) -> bytes:
        return dump_json(
            {
                "format_version": TABLE_FORMAT,
                "format": self.format.to_json(),
                "drain": dict(self.drain),
                "sample_lines": self.sample_lines,
                "templates": [t.to_json() for t in self.templates],
            }
        )

    @classmethod
    def load(cls, raw: bytes) -> TemplateTable:
        """Read ``templates.json`` within bounds; :class:`TemplateTableError` names what is wrong."""
        what = "templates.json"
        document = load_json(raw, what, TemplateTableError)
        version = member(document, "format_version", str, what, TemplateTableError)
        if version != TABLE_FORMAT:
            raise TemplateTableError(f"{what}: format_version {version!r} is not {TABLE_FORMAT!r}")
        try:
            log_format = LogFormat.from_json(member(document, "format", dict, what, TemplateTableError))
        except LogFormatError as exc:
            raise TemplateTableError(f"{what}: {exc}") from None
        entries = member(document, "templates", list, what, TemplateTableError)
        if len(entries) > MAX_TEMPLATES:
            raise TemplateTableError(f"{what}: {len(entries)} templates is more than {MAX_TEMPLATES}")
        drain = document.get("drain", {})
        sample = document.get("sample_lines", 0)
        if not isinstance(drain, dict) or not isinstance(sample, int) or isinstance(sample, bool):
            raise TemplateTableError(f"{what}: drain must be an object and sample_lines an integer")
        return cls(log_format, tuple(_template(e, what) for e in entries), drain, sample)


def _template(entry: Any, what: str) -> Template:
    number = member(entry, "id", int, what, TemplateTableError)
    text = member(entry, "text", str, what, TemplateTableError)
    count = entry.get("count", 0)
    parent = entry.get("parent")
    if number < 0 or len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateTableError(f"{what}: template {number} has a negative id or a text over the limit")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise TemplateTableError(f"{what}: template {number}: count must be a whole number >= 0")
    if parent is not None and (not isinstance(parent, int) or isinstance(parent, bool)):
        raise TemplateTableError(f"{what}: template {number}: parent must be a template id")
    return Template(number, " ".join(text.split()), count, parent)


# ---------------------------------------------------------------------------- matching


@dataclass(frozen=True, slots=True)
class _Compiled:
    id: int
    constants: tuple[tuple[int, str], ...]

    @property
    def rank(self) -> tuple[int, int]:
        return (-len(self.constants), self.id)


_MISS: Final = object()


class Matcher:
    """Template id of a content (``None`` = unseen, OOV), in pure Python; fast through caching.

    Contents are masked with the table's masks, then looked up in a cache of masked contents; on a
    miss only the templates with the same token count and the same first token (or a wildcard
    first token) are compared.
    """

    def __init__(self, table: TemplateTable, cache_entries: int = CACHE_ENTRIES) -> None:
        self.table = table
        self._mask = table.format.masker.mask
        self._cache: dict[str, int | None] = {}
        self._cache_entries = cache_entries
        self._by_first: dict[tuple[int, str], list[_Compiled]] = {}
        self._by_length: dict[int, list[_Compiled]] = {}
        for template in table.templates:
            tokens = template.tokens
            compiled = _Compiled(template.id, tuple((i, t) for i, t in enumerate(tokens) if t != WILDCARD))
            if tokens and tokens[0] != WILDCARD:
                self._by_first.setdefault((len(tokens), tokens[0]), []).append(compiled)
            else:
                self._by_length.setdefault(len(tokens), []).append(compiled)
        for bucket in (*self._by_first.values(), *self._by_length.values()):
            bucket.sort(key=lambda c: c.rank)

    def match(self, content: str) -> int | None:
        return self.match_masked(self._mask(content))

    def mask(self, content: str) -> str:
        return self._mask(content)

    def match_masked(self, masked: str) -> int | None:
        found = self._cache.get(masked, _MISS)
        if found is not _MISS:
            return found  # type: ignore[return-value]
        result = self._search(masked.split())
        if len(self._cache) >= self._cache_entries:
            self._cache.clear()
        self._cache[masked] = result
        return result

    def _search(self, tokens: list[str]) -> int | None:
        size = len(tokens)
        best: _Compiled | None = None
        for bucket in (self._by_first.get((size, tokens[0])) if tokens else None, self._by_length.get(size)):
            for candidate in bucket or ():
                if best is not None and candidate.rank >= best.rank:
                    break  # buckets are sorted: nothing later in this one can win
                if all(tokens[i] == token for i, token in candidate.constants):
                    best = candidate
                    break
        return best.id if best is not None else None


# ---------------------------------------------------------------------------- over-merged templates


def wildcard_values(template: Template, masked_tokens: list[str]) -> tuple[str, ...]:
    """The line's tokens at the template's wildcard positions (same token count assumed)."""
    return tuple(masked_tokens[i] for i, token in enumerate(template.tokens) if token == WILDCARD)


def split_overmerged(
    table: TemplateTable,
    observed: Mapping[int, Counter[tuple[str, ...]]],
    *,
    max_values: int = SPLIT_MAX_VALUES,
    min_lines: int = SPLIT_MIN_LINES,
) -> TemplateTable:
    """Add a variant per observed value combination of low-cardinality wildcards (module doc).

    ``observed[id]`` counts the wildcard values (:func:`wildcard_values`) of the mining sample's
    lines matched to template ``id``. A wildcard position is *low-cardinality* when it took at most
    ``max_values`` distinct values over at least ``min_lines`` lines; the variants fill those
    positions with each observed combination and keep the other wildcards.
    """
    next_id = max((t.id for t in table.templates), default=-1) + 1
    added: list[Template] = []
    for template in table.templates:
        if template.parent is not None:
            continue
        values = observed.get(template.id)
        if not values or sum(values.values()) < min_lines:
            continue
        positions = [i for i, token in enumerate(template.tokens) if token == WILDCARD]
        low = [k for k in range(len(positions)) if len({combo[k] for combo in values}) <= max_values]
        if not low:
            continue
        combos: Counter[tuple[str, ...]] = Counter()
        for combo, count in values.items():
            combos[tuple(combo[k] for k in low)] += count
        for combo, count in sorted(combos.items()):
            tokens = template.tokens
            for k, value in zip(low, combo, strict=True):
                tokens[positions[k]] = value
            added.append(Template(next_id, " ".join(tokens), count, parent=template.id))
            next_id += 1
    return TemplateTable(table.format, (*table.templates, *added), table.drain, table.sample_lines)


def observe(
    table: TemplateTable, matcher: Matcher, contents: Iterable[str]
) -> dict[int, Counter[tuple[str, ...]]]:
    """Wildcard values of each template over the mining sample (input of :func:`split_overmerged`)."""
    templates = table.by_id()
    observed: dict[int, Counter[tuple[str, ...]]] = {}
    for content in contents:
        masked = matcher.mask(content)
        found = matcher.match_masked(masked)
        if found is None or WILDCARD not in templates[found].text:
            continue
        observed.setdefault(found, Counter())[wildcard_values(templates[found], masked.split())] += 1
    return observed
