"""Parse a query response (workspace.md §3.1) with each series' samples as numpy columns.

`json.loads` of a 96 MB response builds about 1 GB of Python lists and strings (`[t, "v"]` pairs)
only for extraction to turn them into arrays. Here each series' `values` text is cut out of the
bytes and parsed straight into two float64 arrays (with Python's `float`, so every number is the
one `json` and `float` give); only the rest, the labels, goes through `json`. What the fast path
does not recognise is parsed by `json` instead: a series whose samples are not all `[t, v]` pairs
of numbers keeps its list (extraction makes NaN of bad values, as before), and a document whose
shape is irregular is parsed by `json` as a whole. Either way the document is the same (tested).
"""

from __future__ import annotations

import json
import re
from typing import Any, List

import numpy as np

from ..common.workspace import SampleColumns

_VALUES = re.compile(rb'"values"\s*:\s*\[')  # inside a JSON string the quotes would be escaped
_NOT_NUMBERS = b'[]",'


class _Irregular(ValueError):
    """Not the shape the fast path knows: parse the whole document with json."""


def parse_query_response(data: bytes) -> Any:
    """The JSON document of `data`, each non-empty value list replaced by `SampleColumns` when it can be."""
    try:
        return _parse_fast(data)
    except ValueError:  # _Irregular, or the skeleton is not JSON: json reports the real problem
        return json.loads(data)


def _parse_fast(data: bytes) -> Any:
    skeleton: List[bytes] = []
    columns: List[Any] = []
    cursor = 0
    for match in _VALUES.finditer(data):
        start = match.end()
        if data[start:start + 1] == b"]":  # "values": [] stays a list
            continue
        end = data.find(b"]]", start)
        if end < 0:
            raise _Irregular("unterminated values")
        text = data[start:end + 1]  # `[t, "v"], ..., [t, "v"]`
        skeleton += [data[cursor:start], b"%d" % len(columns)]  # the values become `[<position>]`
        columns.append(_columns(text))
        cursor = end + 1
    skeleton.append(data[cursor:])
    document = json.loads(b"".join(skeleton))
    if _substitute(document, columns) != len(columns):
        raise _Irregular("values outside series")
    return document


def _columns(text: bytes) -> Any:
    """Times and values of `[t, "v"], ...`; the sample list itself when it is not only pairs of numbers."""
    tokens = text.translate(None, _NOT_NUMBERS).split()
    pairs = text.count(b"[")
    if len(tokens) == 2 * pairs and text.count(b"]") == pairs:
        try:
            numbers = np.fromiter(map(float, tokens), dtype=np.float64, count=len(tokens))
            return SampleColumns(numbers[0::2].copy(), numbers[1::2].copy())
        except ValueError:  # a value that is not a number ("abc", null): extraction decides
            pass
    return json.loads(b"[" + text + b"]")


def _substitute(document: Any, columns: List[Any]) -> int:
    """Put the parsed columns back in file order; how many were put back."""
    placed = 0
    if not isinstance(document, dict):
        raise _Irregular("not an object")
    for series_list in document.values():
        for series in series_list if isinstance(series_list, list) else ():
            values = series.get("values") if isinstance(series, dict) else None
            if isinstance(values, list) and len(values) == 1 and isinstance(values[0], int) \
                    and not isinstance(values[0], bool) and values[0] == placed and placed < len(columns):
                series["values"] = columns[placed]
                placed += 1
    return placed
