"""Turn one `query_range` answer into per-series parts ready to be written, without a full JSON parse.

Prometheus writes matrix answers in one regular shape, so the values of each series are cut out
of the body as bytes and only their separators are rewritten to the workspace style (`", "`);
timestamps and values stay exactly as Prometheus sent them. Anything irregular (warnings, other
keys) falls back to `json.loads`, which gives the same parts (tested).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ..common.workspace import series_order_key as label_key  # noqa: F401 - a series' identity

Labels = Dict[str, str]
LabelKey = Tuple[Tuple[str, str], ...]

_PREFIX = b'{"status":"success","data":{"resultType":"matrix","result":['
_SERIES = b'{"metric":'
_VALUES = b',"values":['


class Irregular(ValueError):
    """The body is not in the shape the fast path knows; use the JSON path."""


@dataclass
class SeriesStats:
    """What the validation table needs of a series: samples, samples > 0, largest value."""

    count: int = 0
    positive: int = 0
    maximum: Optional[float] = None

    def add(self, other: "SeriesStats") -> None:
        self.count += other.count
        self.positive += other.positive
        if other.maximum is not None and (self.maximum is None or other.maximum > self.maximum):
            self.maximum = other.maximum


@dataclass
class SeriesPart:
    """One series within one chunk: its labels, its values as workspace-style JSON text, stats."""

    labels: Labels
    fragment: bytes  # `[t, "v"], [t, "v"]` without the enclosing brackets
    first: float
    last: float
    stats: SeriesStats


def stats_of_values(texts: List[bytes] | List[str]) -> SeriesStats:
    """Count, count > 0 and maximum of sample values given as Prometheus strings (NaN ignored for max)."""
    floats = list(map(float, texts))
    finite = [x for x in floats if not math.isnan(x)]
    positive = sum(1 for x in finite if x > 0)
    return SeriesStats(len(floats), positive, max(finite) if finite else None)


def _fast_stats(segment: bytes) -> Tuple[SeriesStats, float, float]:
    """Stats straight from Prometheus's value text, which spells zero `"0"`, negatives with `-`
    and NaN as `"NaN"`: counting those is exact and nearly free; only the maximum parses numbers."""
    texts = segment.split(b'"')[1::2]
    if not texts:
        raise Irregular("series without values")
    nans = segment.count(b'"NaN"')
    if nans:
        stats = stats_of_values(texts)
    else:
        positive = len(texts) - segment.count(b',"0"]') - segment.count(b',"-')
        stats = SeriesStats(len(texts), positive, max(map(float, texts)))
    first = float(segment[1 : segment.index(b",")])
    tail = segment[segment.rindex(b"[") + 1 :]
    last = float(tail[: tail.index(b",")])
    return stats, first, last


def parse_matrix_fast(body: bytes) -> List[SeriesPart]:
    """The fast path; raises Irregular when the body is not the plain success shape."""
    try:
        return _parse_matrix_fast(body)
    except Irregular:
        raise
    except (ValueError, IndexError, TypeError) as failure:  # e.g. native histograms, odd value text
        raise Irregular(str(failure)) from None


def _parse_matrix_fast(body: bytes) -> List[SeriesPart]:
    if not body.startswith(_PREFIX):
        raise Irregular("unexpected prefix")
    parts: List[SeriesPart] = []
    position = len(_PREFIX)
    size = len(body)
    while True:
        if body.startswith(b"]}}", position):
            if position + 3 != size and body[position + 3 :].strip():
                raise Irregular("trailing members")
            return parts
        if not body.startswith(_SERIES, position):
            raise Irregular("unexpected series start")
        values_at = body.find(_VALUES, position)
        if values_at < 0:
            raise Irregular("series without values")
        labels = json.loads(body[position + len(_SERIES) : values_at])
        if not isinstance(labels, dict):
            raise Irregular("labels are not an object")
        start = values_at + len(_VALUES)
        end = body.find(b"]]}", start)
        if end < 0 or body[start : start + 1] != b"[":
            raise Irregular("values are not pairs")
        segment = body[start : end + 1]
        if b"{" in segment or b"}" in segment:
            raise Irregular("unexpected object inside values")
        stats, first, last = _fast_stats(segment)
        fragment = segment.replace(b',"', b', "').replace(b"],[", b"], [")
        parts.append(SeriesPart(labels, fragment, first, last, stats))
        position = end + 3
        if body.startswith(b",", position):
            position += 1


def parts_from_result(result: Any) -> List[SeriesPart]:
    """The JSON path: parts from an already parsed `data.result` list."""
    parts: List[SeriesPart] = []
    for series in result:
        if (
            not isinstance(series, dict)
            or not isinstance(series.get("metric"), dict)
            or not isinstance(series.get("values"), list)
        ):
            raise ValueError("a series lacks a 'metric' object or a 'values' list")
        values = series["values"]
        if not values:
            continue
        fragment = json.dumps(values)[1:-1].encode("utf-8")
        stats = stats_of_values([str(v[1]) for v in values])
        parts.append(SeriesPart(series["metric"], fragment, float(values[0][0]), float(values[-1][0]), stats))
    return parts


def values_after(part: SeriesPart, after: float) -> Optional[SeriesPart]:
    """The part without samples at or before `after` (a repeated timestamp keeps its first value)."""
    values = [v for v in json.loads(b"[" + part.fragment + b"]") if float(v[0]) > after]
    if not values:
        return None
    return SeriesPart(
        part.labels,
        json.dumps(values)[1:-1].encode("utf-8"),
        float(values[0][0]),
        float(values[-1][0]),
        stats_of_values([str(v[1]) for v in values]),
    )
