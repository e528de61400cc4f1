"""Read query JSON text without a full parse: each series' sample list cut out and split into texts.

A Prometheus `query_range` answer (the query step) and the workspace's query JSON (workspace.md
§3.1, read by train) both hold long lists of `[t, "v"]` pairs, where `json.loads` would build a
Python list and two objects per sample. Here the sample lists are cut out of the bytes
(`cut_sample_lists`), the rest of the document, labels included, goes through `json`, and each
list is checked to be only `[t, "v"]` pairs of plain number texts and split into its time and
value texts (`split_pairs`; `pair_values` when only the values are needed). Callers turn the
texts into what they need (query: statistics and workspace-style text; train: float64 arrays)
and hand what is irregular to `json`, which gives the same document (tested). No numpy here:
the query image has none.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, List, Optional, Sequence, Tuple

_VALUES = re.compile(rb'"values"\s*:\s*\[')  # inside a JSON string the quotes would be escaped
BLANKS = b" \t\n\r"  # JSON's whitespace
_TIME_TEXT = b"0123456789.eE+-[],"  # what the times' part of `[t, "v"], ...` holds, blanks aside
_VALUE_TEXT = b"0123456789.eE+-NaInfity"  # plain numbers, NaN, +Inf, -Inf (Prometheus' texts)
_SEPARATORS_TO_BLANKS = bytes.maketrans(b"[],", b"   ")


class Irregular(ValueError):
    """Not the shape the fast path knows: parse the whole document with json."""


def cut_sample_lists(data: bytes) -> Tuple[bytes, List[Tuple[int, int]]]:
    """The document with each non-empty `"values"` list replaced by `[<position>]`, and where the lists lie.

    A list's text, `data[start:end]`, is what lies between its brackets: `[t, "v"], ..., [t, "v"]`
    (spans rather than copies, so a caller holds one list's text at a time). `"values": []` stays
    as it is. Raises Irregular when a list has no end.
    """
    skeleton: List[bytes] = []
    spans: List[Tuple[int, int]] = []
    cursor = 0
    match = _VALUES.search(data)
    while match:
        start = match.end()
        if data[start : start + 1] == b"]":
            match = _VALUES.search(data, start)
            continue
        end = data.find(b"]]", start)
        if end < 0:
            raise Irregular("unterminated values")
        skeleton += [data[cursor:start], b"%d" % len(spans)]
        spans.append((start, end + 1))
        cursor = end + 1
        match = _VALUES.search(data, cursor)  # the next key after this list, not inside it
    skeleton.append(data[cursor:])
    return b"".join(skeleton), spans


def put_back(series_lists: Iterable[Any], items: Sequence[Any]) -> int:
    """Replace each series' `"values": [<position>]` by `items[position]`, in file order; how many were put back.

    `series_lists` are the parsed skeleton's lists of series (`{"metric": ..., "values": ...}`);
    anything that is not a list of such objects is passed over. A count different from
    `len(items)` means the cut went astray (Irregular for the caller).
    """
    placed = 0
    for series_list in series_lists:
        for series in series_list if isinstance(series_list, list) else ():
            values = series.get("values") if isinstance(series, dict) else None
            if (
                isinstance(values, list)
                and len(values) == 1
                and isinstance(values[0], int)
                and not isinstance(values[0], bool)
                and values[0] == placed
                and placed < len(items)
            ):
                series["values"] = items[placed]
                placed += 1
    return placed


def split_pairs(text: bytes) -> Optional[Tuple[List[bytes], List[bytes]]]:
    """Time texts and value texts of `[t, "v"], ..., [t, "v"]`; None unless it is only such pairs.

    Times must be bare plain numbers and values quoted plain numbers, NaN or ±Inf, so that a text
    such as "1,5" or "1 2" can never be read as other numbers.
    """
    return _split(text, True)


def pair_values(text: bytes) -> Optional[List[bytes]]:
    """The value texts of `[t, "v"], ..., [t, "v"]` under the checks of `split_pairs`; the times stay unsplit."""
    texts = _split(text, False)
    return None if texts is None else texts[1]


def _split(text: bytes, with_times: bool) -> Optional[Tuple[List[bytes], List[bytes]]]:
    pairs = text.count(b"[")
    parts = text.split(b'"')  # `[t, `, v, `], [t, `, v, ..., `]` for well-formed pairs
    if len(parts) != 2 * pairs + 1 or text.count(b"]") != pairs:
        return None
    values = parts[1::2]
    if b"".join(values).translate(None, _VALUE_TEXT):
        return None
    times = _pair_times(b"".join(parts[0::2]), pairs, with_times)
    return None if times is None else (times, values)


def _pair_times(skeleton: bytes, pairs: int, with_times: bool) -> Optional[List[bytes]]:
    """The times of `[t, ], [t, ], ...` (the sample list without its values); None for any other shape.

    Without `with_times` the list is empty, and only built when blanks need checking.
    """
    compact = skeleton.translate(None, BLANKS)
    if (
        compact[:1] != b"["
        or compact[-2:] != b",]"
        or compact.count(b",],[") != pairs - 1
        or b"[," in compact
        or compact.count(b",") != 2 * pairs - 1
        or compact.translate(None, _TIME_TEXT)
    ):
        return None
    if not with_times and len(compact) == len(skeleton):
        return []  # no blanks, so none inside a time
    times = skeleton.translate(_SEPARATORS_TO_BLANKS).split()
    if len(times) != pairs:
        return None  # more: a blank inside a time, `[1 5, "v"]`
    return times if with_times else []
