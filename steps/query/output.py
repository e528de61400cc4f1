"""Writers of the query JSON (streamed, one metric at a time) and of the per-metric CSVs."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import BinaryIO, Iterator, List

from .collect import MergedSeries


def write_metric(handle: BinaryIO, metric: str, series: List[MergedSeries], first: bool) -> int:
    """Append `"metric": [series...]` to an open query JSON (workspace.md §3.1 style); returns bytes written."""
    written = handle.write((b"" if first else b", ") + json.dumps(metric).encode("utf-8") + b": [")
    for number, item in enumerate(series):
        head = (b", " if number else b"") + b'{"metric": ' + json.dumps(item.labels).encode("utf-8") + b', "values": ['
        written += handle.write(head)
        for position, fragment in enumerate(item.fragments):
            if position:
                written += handle.write(b", ")
            written += handle.write(fragment)
        written += handle.write(b"]}")
    written += handle.write(b"]")
    return written


def metric_rows(metric: str, series: List[MergedSeries]) -> Iterator[list]:
    """One metric flattened as pandas would write it (workspace.md §3.5): a header, then one row per sample
    with the running index, every label, `timestamp` and the value as a float ("" for NaN)."""
    if not series:
        yield [""]  # pandas writes an empty frame as one empty index header
        return
    names = sorted({name for item in series for name in item.labels}, key=lambda n: (n != "__name__", n))
    yield ["", *names, "timestamp", metric]
    index = 0
    for item in series:
        labels = [item.labels.get(name, "") for name in names]
        for timestamp, value in json.loads(b"[" + b", ".join(item.fragments) + b"]"):
            number = float(value)
            yield [index, *labels, timestamp, "" if math.isnan(number) else repr(number)]
            index += 1


def write_metric_csv(path: Path, metric: str, series: List[MergedSeries]) -> None:
    """A plain (non-atomic) write: the CSVs are built in a staging folder that is swapped in whole.

    Written with the csv module so the query image needs no pandas."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(metric_rows(metric, series))
