"""Parse a query response (workspace.md §3.1) with each series' samples as numpy columns.

`json.loads` of a 96 MB response builds about 1 GB of Python lists and strings (`[t, "v"]` pairs)
only for extraction to turn them into arrays. Here each series' `values` text is cut out of the
bytes and parsed straight into two float64 arrays (each text read as Python's `float` reads it, so
every number is the one `json` and `float` give); only the rest, the labels, goes through `json`. What the fast path
does not recognise is parsed by `json` instead: a series whose samples are not all `[t, "v"]`
pairs of plain numbers keeps its list (extraction makes NaN of bad values and counts them), and a
document whose shape is irregular is parsed by `json` as a whole. Either way the document is the
same (tested): the fast path checks the whole shape of a sample list, so that a value such as
"1,5" or "1 2" can never be read as other numbers.
"""

from __future__ import annotations

import json
import re
from typing import Any, List, Optional

import numpy as np

from ..common.workspace import SampleColumns

_VALUES = re.compile(rb'"values"\s*:\s*\[')  # inside a JSON string the quotes would be escaped
_BLANKS = b" \t\n\r"  # JSON's whitespace
_TIME_TEXT = b"0123456789.eE+-[],"  # what the times' part of `[t, "v"], ...` holds, blanks aside
_VALUE_TEXT = b"0123456789.eE+-NaInfity"  # plain numbers, NaN, +Inf, -Inf (Prometheus' texts)


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
        if data[start : start + 1] == b"]":  # "values": [] stays a list
            continue
        end = data.find(b"]]", start)
        if end < 0:
            raise _Irregular("unterminated values")
        text = data[start : end + 1]  # `[t, "v"], ..., [t, "v"]`
        skeleton += [data[cursor:start], b"%d" % len(columns)]  # the values become `[<position>]`
        columns.append(_columns(text))
        cursor = end + 1
    skeleton.append(data[cursor:])
    document = json.loads(b"".join(skeleton))
    if _substitute(document, columns) != len(columns):
        raise _Irregular("values outside series")
    return document


def _columns(text: bytes) -> Any:
    """Times and values of `[t, "v"], ...`; the sample list itself when it is not only such pairs."""
    pairs = text.count(b"[")
    parts = text.split(b'"')  # `[t, `, v, `], [t, `, v, ..., `]` for well-formed pairs
    if len(parts) == 2 * pairs + 1 and text.count(b"]") == pairs:
        times = _pair_times(b"".join(parts[0::2]), pairs)
        values = parts[1::2]
        if times is not None and not b"".join(values).translate(None, _VALUE_TEXT):
            try:  # numpy reads each text as `float` does
                return SampleColumns(np.array(times, dtype=np.float64), np.array(values, dtype=np.float64))
            except ValueError:  # a text such as "1e" or "Nan+": extraction decides
                pass
    return json.loads(b"[" + text + b"]")


def _pair_times(skeleton: bytes, pairs: int) -> Optional[List[bytes]]:
    """The times of `[t, ], [t, ], ...` (the sample list without its values); None for any other shape."""
    compact = skeleton.translate(None, _BLANKS)
    if (
        compact[:1] != b"["
        or compact[-2:] != b",]"
        or compact.count(b",],[") != pairs - 1
        or b"[," in compact
        or compact.count(b",") != 2 * pairs - 1
        or compact.translate(None, _TIME_TEXT)
    ):
        return None
    times = skeleton.translate(None, b"[],").split()
    return times if len(times) == pairs else None  # more: a blank inside a time, `[1 5, "v"]`


def _substitute(document: Any, columns: List[Any]) -> int:
    """Put the parsed columns back in file order; how many were put back."""
    placed = 0
    if not isinstance(document, dict):
        raise _Irregular("not an object")
    for series_list in document.values():
        for series in series_list if isinstance(series_list, list) else ():
            values = series.get("values") if isinstance(series, dict) else None
            if (
                isinstance(values, list)
                and len(values) == 1
                and isinstance(values[0], int)
                and not isinstance(values[0], bool)
                and values[0] == placed
                and placed < len(columns)
            ):
                series["values"] = columns[placed]
                placed += 1
    return placed
