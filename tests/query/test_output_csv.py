"""--to-csv tables are written without pandas (the query image has none) but exactly as pandas writes them."""

import io
import json

import pandas as pd

from steps.query.collect import MergedSeries
from steps.query.output import write_metric_csv


def _series(labels, values):
    fragments = [json.dumps(pair).encode() for pair in values]
    return MergedSeries(labels=labels, fragments=fragments)


def _pandas_text(metric, series):
    names = sorted({n for s in series for n in s.labels}, key=lambda n: (n != "__name__", n))
    frames = []
    for item in series:
        frame = pd.DataFrame([json.loads(f) for f in item.fragments], columns=["timestamp", metric])
        frame[metric] = frame[metric].astype(float)
        for name in names:
            frame[name] = item.labels.get(name)
        frames.append(frame[names + ["timestamp", metric]])
    buffer = io.StringIO()
    pd.concat(frames, ignore_index=True).to_csv(buffer)
    return buffer.getvalue()


def test_csv_matches_pandas_byte_for_byte(tmp_path, idle_json):
    response = json.loads(idle_json.read_text())
    metric = "kepler_node_package_joules_total"
    series = [_series(item["metric"], item["values"]) for item in response[metric]]
    series.append(
        _series({"__name__": metric, "mode": "idle", "odd": "a,b"}, [[1702462599, "NaN"], [1702462614, "1e-7"]])
    )
    write_metric_csv(tmp_path / "m.csv", metric, series)
    assert (tmp_path / "m.csv").read_text() == _pandas_text(metric, series)


def test_metric_without_series_has_only_the_index_header(tmp_path):
    write_metric_csv(tmp_path / "empty.csv", "kepler_x_total", [])
    buffer = io.StringIO()
    pd.DataFrame().to_csv(buffer)
    assert (tmp_path / "empty.csv").read_text() == buffer.getvalue()
