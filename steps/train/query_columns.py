"""Parse a query response (workspace.md §3.1) with each series' samples as numpy columns.

`json.loads` of a 96 MB response builds about 1 GB of Python lists and strings (`[t, "v"]` pairs)
only for extraction to turn them into arrays. Here the sample lists are cut out of the bytes and
split into texts by steps/common/sample_text.py (the scanner the query step uses for Prometheus's
answers), and each list's texts become two float64 arrays (each text read as Python's `float`
reads it, so every number is the one `json` and `float` give); only the rest, the labels, goes
through `json`. A series whose samples are not all `[t, "v"]` pairs of plain numbers keeps its
list (extraction makes NaN of bad values and counts them), and a document whose shape is irregular
is parsed by `json` as a whole. Either way the document is the same (tested).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..common.sample_text import Irregular, cut_sample_lists, put_back, split_pairs
from ..common.workspace import SampleColumns


def parse_query_response(data: bytes) -> Any:
    """The JSON document of `data`, each non-empty value list replaced by `SampleColumns` when it can be."""
    try:
        return _parse_fast(data)
    except ValueError:  # Irregular, or the skeleton is not JSON: json reports the real problem
        return json.loads(data)


def _parse_fast(data: bytes) -> Any:
    skeleton, spans = cut_sample_lists(data)
    document = json.loads(skeleton)
    if not isinstance(document, dict):
        raise Irregular("not an object")
    if put_back(document.values(), [_columns(data[start:end]) for start, end in spans]) != len(spans):
        raise Irregular("values outside series")
    return document


def _columns(text: bytes) -> Any:
    """Times and values of `[t, "v"], ...`; the sample list itself when it is not only such pairs."""
    texts = split_pairs(text)
    if texts is not None:
        try:  # numpy reads each text as `float` does
            return SampleColumns(np.array(texts[0], dtype=np.float64), np.array(texts[1], dtype=np.float64))
        except ValueError:  # a text such as "1e" or "Nan+": extraction decides
            pass
    return json.loads(b"[" + text + b"]")
