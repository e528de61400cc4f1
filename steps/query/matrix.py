"""Turn one `query_range` answer into per-series parts ready to be written, without a full JSON parse.

The sample lists are cut out of the body and split into time and value texts by
steps/common/sample_text.py (the scanner train uses for the workspace's query JSON); only the rest,
the labels, goes through `json`. Prometheus writes its answers compactly, so a list's text becomes
workspace style (`", "` separators) by rewriting its separators; timestamps and values stay
exactly as Prometheus sent them. Anything irregular (warnings, other keys, spacing, odd samples)
raises Irregular and is parsed by `json.loads`, which gives the same parts (tested).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ..common.sample_text import BLANKS, Irregular, cut_sample_lists, pair_values, put_back
from ..common.workspace import series_order_key as label_key  # noqa: F401 - a series' identity

Labels = Dict[str, str]
LabelKey = Tuple[Tuple[str, str], ...]


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


def _fast_stats(segment: bytes, values: List[bytes]) -> SeriesStats:
    """Stats straight from Prometheus's value text, which spells zero `"0"`, negatives with `-`
    and NaN as `"NaN"`: counting those is exact and nearly free; only the maximum parses numbers."""
    if b"N" in segment and segment.count(b'"NaN"'):  # a byte is found faster than a text is counted
        return stats_of_values(values)
    negative = segment.count(b',"-') if b"-" in segment else 0
    positive = len(values) - segment.count(b',"0"]') - negative
    return SeriesStats(len(values), positive, _maximum(values))


def _maximum(values: List[bytes]) -> float:
    """`max(map(float, values))` (no NaN among them), read by json's C scanner when it can (twice as fast).

    json reads a JSON number as `float` does, or as an exact int; comparing exactly and rounding
    the largest gives the same float, except the sign of an int zero, which `float` decides then.
    """
    try:
        top = max(json.loads(b"[" + b",".join(values) + b"]"))
        if top:
            return float(top)
    except (ValueError, OverflowError):  # texts json does not read ("+Inf", "inf", ".5") or huge ints
        pass
    return max(map(float, values))


def parse_matrix_fast(body: bytes) -> List[SeriesPart]:
    """The fast path; raises Irregular when the body is not the plain success shape."""
    try:
        skeleton, spans = cut_sample_lists(body)
        result = _matrix_result(json.loads(skeleton))
    except (ValueError, RecursionError) as failure:  # Irregular, or the skeleton is not JSON
        raise Irregular(str(failure)) from None
    if put_back([result], spans) != len(spans):
        raise Irregular("values outside series")
    parts: List[SeriesPart] = []
    for series in result:
        if not isinstance(series, dict) or series.keys() != {"metric", "values"}:
            raise Irregular("a series is not a metric and its values")  # e.g. native histograms
        labels, span = series["metric"], series["values"]
        if not isinstance(labels, dict) or not isinstance(span, tuple):
            raise Irregular("labels are not an object or values are not pairs")
        parts.append(_part(labels, body[span[0] : span[1]]))
    return parts


def _matrix_result(document: Any) -> list:
    """`data.result` of a plain success answer of result type matrix (no warnings); Irregular otherwise."""
    data = document.get("data") if isinstance(document, dict) and document.keys() == {"status", "data"} else None
    if (
        not isinstance(data, dict)
        or document["status"] != "success"
        or data.keys() != {"resultType", "result"}
        or data["resultType"] != "matrix"
        or not isinstance(data["result"], list)
    ):
        raise Irregular("not the plain success shape")
    return data["result"]


def _part(labels: Labels, segment: bytes) -> SeriesPart:
    """One series' part from its compact sample text `[t,"v"],...,[t,"v"]`."""
    values = None if any(blank in segment for blank in BLANKS) else pair_values(segment)
    if values is None:
        raise Irregular("values are not compact [t, v] pairs")
    tail = segment[segment.rindex(b"[") + 1 :]
    try:
        stats = _fast_stats(segment, values)
        first, last = float(segment[1 : segment.index(b",")]), float(tail[: tail.index(b",")])
    except ValueError as failure:  # a text float() does not read, such as "1e"
        raise Irregular(str(failure)) from None
    fragment = segment.replace(b',"', b', "').replace(b"],[", b"], [")
    return SeriesPart(labels, fragment, first, last, stats)


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
