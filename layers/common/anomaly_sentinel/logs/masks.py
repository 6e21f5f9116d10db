"""Masks: variable parts of a log content (block ids, IPs, hex and other numbers) replaced by names.

Applied before parsing, in order: block ids (a run of block ids, as in ``ask … to delete blk_1
blk_2``, is one parameter), IP addresses with an optional port, hex numbers, stand-alone numbers.
Mining, matching and scoring mask with the one :class:`Masker`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from anomaly_sentinel.logs.exceptions import LogFormatError


@dataclass(frozen=True)
class Mask:
    """Replace every match of ``pattern`` by ``<NAME>`` (applied in the format's order).

    ``hints``: texts of which every match contains one at least ``hint_count`` times — when none
    does, the mask cannot match and is skipped (a speed-up only: the result is the same).
    """

    name: str
    pattern: str
    hints: tuple[str, ...] = ()
    hint_count: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pattern": self.pattern,
            "hints": list(self.hints),
            "hint_count": self.hint_count,
        }


#: Block ids (HDFS), IPs with an optional port, hex numbers, stand-alone numbers — in this order.
DEFAULT_MASKS: Final = (
    Mask("BLK", r"(?<![A-Za-z0-9])blk_-?\d+(?:[ \t]+blk_-?\d+)*", ("blk_",)),
    Mask("IP", r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\d.])", (".",), 3),
    Mask("HEX", r"(?<![A-Za-z0-9])0[xX][0-9a-fA-F]+(?![A-Za-z0-9])", ("0x", "0X")),
    Mask("NUM", r"(?<![A-Za-z0-9_.\-])[-+]?\d+(?:\.\d+)?(?![A-Za-z0-9_.])"),
)


class Masker:
    """Applies masks to a content; the one masking code of mining, matching and scoring."""

    def __init__(self, masks: tuple[Mask, ...]) -> None:
        try:
            self._subs: list[tuple[Callable[[str, str], str], str, Callable[[str], bool] | None]] = [
                (re.compile(m.pattern).sub, f"<{m.name}>", _hint_check(m.hints, m.hint_count)) for m in masks
            ]
        except re.error as exc:
            raise LogFormatError(f"a mask does not compile: {exc}") from None

    def mask(self, content: str) -> str:
        for sub, replacement, possible in self._subs:
            if possible is None or possible(content):
                content = sub(replacement, content)
        return content


def _hint_check(hints: tuple[str, ...], count: int) -> Callable[[str], bool] | None:
    """Whether a mask can match a content (None: always try it); the cheapest test for the hints."""
    if not hints:
        return None
    if count > 1:
        return lambda content: any(content.count(h) >= count for h in hints)
    if len(hints) == 1:
        (hint,) = hints
        return lambda content: hint in content
    first, second, *rest = hints
    return lambda content: first in content or second in content or any(h in content for h in rest)
