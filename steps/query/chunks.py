"""The evaluation grid of a range query and its split into requests under Prometheus's point limit.

Pure arithmetic on exact fractions, so a 0.5 s step or a 1500 ms step never drifts and chunk
boundaries land exactly on grid points (query.md §7).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import List

from ..common.errors import UsageError

# Prometheus refuses a range query whose series would hold more points than this.
MAX_POINTS = 11_000
# Most grid points a window may need per series (--max-points). A whole day at 1 s is 86,401 and
# a week at 1 s 604,801; a step far below that (0.0000001 s over an hour) would plan billions of
# requests and eat memory before the first one is sent.
DEFAULT_MAX_SERIES_POINTS = 1_000_000

_DURATION_UNITS = {
    "ms": Fraction(1, 1000),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
    "d": Fraction(86400),
    "w": Fraction(604800),
    "y": Fraction(31536000),
}
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


def check_points(
    start: Fraction | int, end: Fraction | int, step: Fraction, max_points: int = DEFAULT_MAX_SERIES_POINTS
) -> int:
    """The grid points per series of the window; a usage error naming the smallest step allowed when too many."""
    start, end, step = Fraction(start), Fraction(end), Fraction(step)
    points = grid_points(start, end, step)
    if points > max_points:
        smallest = format_seconds(smallest_step(end - start, max_points))
        raise UsageError(
            f"--step {format_seconds(step)} over the {format_seconds(end - start)} s window needs "
            f"{points:,} points per series, more than --max-points {max_points:,}; the smallest "
            f"step allowed for this window is {smallest} s (or raise --max-points)"
        )
    return points


def smallest_step(length: Fraction, max_points: int, digits: int = 4) -> Fraction:
    """A short decimal step (`digits` significant digits) whose grid over `length` has at most `max_points` points.

    floor(length / step) + 1 <= max_points holds for every step >= length / (max_points - 1); the
    exact bound is rounded up so the step printed is one the user can type and is allowed.
    """
    if max_points < 2:
        return Fraction(length) + 1  # one point: any step longer than the window
    exact = Fraction(length) / (max_points - 1)
    scale = Fraction(10) ** (digits - 1 - math.floor(math.log10(exact)))
    return Fraction(math.ceil(exact * scale)) / scale


def plan_chunks(
    start: Fraction | int, end: Fraction | int, step: Fraction, max_points: int = MAX_POINTS
) -> List[Chunk]:
    """Consecutive, non-overlapping chunks of at most `max_points` grid points covering the whole grid."""
    start, end, step = Fraction(start), Fraction(end), Fraction(step)
    total = grid_points(start, end, step)
    chunks = []
    for number, first in enumerate(range(0, total, max_points)):
        last = min(first + max_points, total) - 1
        chunks.append(Chunk(number, first, last, start + first * step, start + last * step))
    return chunks
