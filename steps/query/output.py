"""Writers of the query JSON (streamed, one metric at a time) and of the per-metric CSVs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import BinaryIO, List

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


def metric_frame(metric: str, series: List[MergedSeries]):
    """One metric flattened to rows: every label, `timestamp`, and the value (workspace.md §3.5)."""
    import pandas as pd  # only --to-csv needs pandas; keep the plain query path light

    if not series:
        return pd.DataFrame()
    names = sorted({name for item in series for name in item.labels}, key=lambda n: (n != "__name__", n))
    frames = []
    for item in series:
        values = json.loads(b"[" + b", ".join(item.fragments) + b"]")
        frame = pd.DataFrame(values, columns=["timestamp", metric])
        frame[metric] = frame[metric].astype(float)
        for name in names:
            frame[name] = item.labels.get(name)
        frames.append(frame[names + ["timestamp", metric]])
    return pd.concat(frames, ignore_index=True)


def write_metric_csv(path: Path, metric: str, series: List[MergedSeries]) -> None:
    """A plain (non-atomic) write: the CSVs are built in a staging folder that is swapped in whole."""
    metric_frame(metric, series).to_csv(path)
