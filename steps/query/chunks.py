"""The evaluation grid of a range query and its split into requests under Prometheus's point limit.

Pure arithmetic on exact fractions, so a 0.5 s step or a 1500 ms step never drifts and chunk
boundaries land exactly on grid points (query.md §7).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import List

from ..common.errors import UsageError

# Prometheus refuses a range query whose series would hold more points than this.
MAX_POINTS = 11_000

_DURATION_UNITS = {"ms": Fraction(1, 1000), "s": Fraction(1), "m": Fraction(60), "h": Fraction(3600),
                   "d": Fraction(86400), "w": Fraction(604800), "y": Fraction(31536000)}
_DURATION = re.compile(r"^(?:(\d+)(ms|s|m|h|d|w|y))+$")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$|^\.\d+$")


def parse_step(text: str, flag: str = "--step") -> Fraction:
    """Seconds (`3`, `0.5`) or a Prometheus duration (`3s`, `1m`, `1m30s`, `500ms`), as an exact fraction > 0."""
    value = str(text).strip()
    if _NUMBER.match(value):
        step = Fraction(value)
    elif _DURATION.match(value):
        step = sum((int(n) * _DURATION_UNITS[unit] for n, unit in _DURATION_PART.findall(value)), Fraction(0))
    else:
        raise UsageError(f"{flag} must be a positive number of seconds or a duration like 3s or 1m, not {text!r}")
    if step <= 0:
        raise UsageError(f"{flag} must be positive, not {text!r}")
    return step


def format_seconds(value: Fraction) -> str:
    """Exact decimal text of a time or step (`1702462599`, `1702462599.5`); steps are decimal fractions."""
    if value.denominator == 1:
        return str(value.numerator)
    with localcontext() as ctx:
        ctx.prec = 60
        text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Chunk:
    """One range request: grid points `first_index`..`last_index` (inclusive)."""

    index: int
    first_index: int
    last_index: int
    start: Fraction
    end: Fraction

    @property
    def points(self) -> int:
        return self.last_index - self.first_index + 1


def grid_points(start: Fraction, end: Fraction, step: Fraction) -> int:
    """K + 1 with K = floor((end - start) / step): t_k = start + k*step, k = 0..K."""
    if end < start:
        raise ValueError("end before start")
    return (end - start) // step + 1


def plan_chunks(start: Fraction | int, end: Fraction | int, step: Fraction, max_points: int = MAX_POINTS) -> List[Chunk]:
    """Consecutive, non-overlapping chunks of at most `max_points` grid points covering the whole grid."""
    start, end, step = Fraction(start), Fraction(end), Fraction(step)
    total = grid_points(start, end, step)
    chunks = []
    for number, first in enumerate(range(0, total, max_points)):
        last = min(first + max_points, total) - 1
        chunks.append(Chunk(number, first, last, start + first * step, start + last * step))
    return chunks
