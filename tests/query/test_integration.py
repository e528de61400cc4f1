"""The query step against a REAL Prometheus backfilled with synthetic Kepler data of known content."""

import csv
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from steps.common.timefmt import format_window_time
from steps.synth import SynthConfig, generate

from .test_cli import cli

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

# 3.5 h at a 15 s scrape: with --step 1 the window holds 12,601 grid points, two chunks.
LONG = SynthConfig(containers=1, duration_s=12_600, step_s=15, background=("coredns",), seed=3)


def read(path):
    return json.loads(Path(path).read_text())


def window_args(data):
    start, end = data.window
    return ["--start-time", format_window_time(start), "--end-time", format_window_time(end)]


def sample_map(document):
    """metric -> label key -> {timestamp: value}, asserting no timestamp appears twice."""
    out = {}
    for metric, series_list in document.items():
        for series in series_list:
            times = [t for t, _ in series["values"]]
            assert times == sorted(set(times)), f"{metric}: repeated or unordered timestamps"
            out.setdefault(metric, {})[tuple(sorted(series["metric"].items()))] = dict(series["values"])
    return out


def test_seed_command_verbatim(tmp_path, prometheus, synth_small):
    """seed.md's start/end form, run as the user would (default 3 s step)."""
    start, end = synth_small.window
    env = dict(
        os.environ,
        DATAPATH=str(tmp_path),
        BENCHMARK="stressng",
        PROM_URL=prometheus.url,
        COLLECT_ID="m-1",
        START_TIME=format_window_time(start),
        END_TIME=format_window_time(end),
    )
    command = (
        "python cmd/main.py query --benchmark $BENCHMARK --server $PROM_URL --output kepler_query "
        "--start-time $START_TIME --end-time $END_TIME --id $COLLECT_ID"
    )
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    done = subprocess.run(command, shell=True, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert read(tmp_path / "stressng.json") == {
        "startTimeUTC": format_window_time(start),
        "endTimeUTC": format_window_time(end),
    }
    assert set(read(tmp_path / "machine_spec" / "m-1.json")["attrs"]) == {
        "processor",
        "cores",
        "chips",
        "memory",
        "frequency",
    }
    got = read(tmp_path / "kepler_query.json")
    expected = synth_small.query_response()
    assert list(got) == sorted(expected)
    points = int((end - start).total_seconds() // 3) + 1
    for metric, series_list in expected.items():
        assert [s["metric"] for s in got[metric]] == [s["metric"] for s in series_list]
        for mine, truth in zip(got[metric], series_list):
            assert len(mine["values"]) == points  # 3 s grid over 15 s data: every grid point once
            # every scraped sample is there, at its own timestamp, unchanged
            values = dict((t, v) for t, v in mine["values"])
            assert all(values[t] == v for t, v in truth["values"])
    assert (tmp_path / "kepler_query_validate_result.csv").exists()
    assert "metrics [" in done.stdout  # the progress bar


def test_same_step_as_the_data_returns_the_backfilled_json_byte_for_byte(tmp_path, prometheus, synth_small):
    code, _, err = cli(
        [
            "--benchmark",
            "stressng",
            "--server",
            prometheus.url,
            "--output",
            "q",
            "--step",
            "15s",
            "--id",
            "m",
            "--data-path",
            str(tmp_path),
            "--concurrency",
            "3",
        ]
        + window_args(synth_small)
    )
    assert code == 0, err
    reference = tmp_path / "reference.json"
    synth_small.write_query_response(reference)
    assert (tmp_path / "q.json").read_bytes() == reference.read_bytes()
    # --input reuses the saved window and gives the same bytes, at another concurrency
    code, _, err = cli(
        [
            "--input",
            "stressng",
            "--server",
            prometheus.url,
            "--output",
            "q2",
            "--step",
            "15",
            "--id",
            "m",
            "--data-path",
            str(tmp_path),
            "--concurrency",
            "1",
        ]
    )
    assert code == 0, err
    assert (tmp_path / "q2.json").read_bytes() == reference.read_bytes()


def test_validation_counts_match_the_data(tmp_path, prometheus, synth_small):
    code, out, err = cli(
        [
            "--benchmark",
            "stressng",
            "--server",
            prometheus.url,
            "--output",
            "q",
            "--step",
            "15",
            "--id",
            "m",
            "--data-path",
            str(tmp_path),
        ]
        + window_args(synth_small)
    )
    assert code == 0, err
    with open(tmp_path / "q_validate_result.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    truth = synth_small.query_response()
    by_query = {(r["scenarioID"], r["query"]): r for r in rows}
    cpu = [s for s in truth["kepler_container_bpf_cpu_time_ms_total"] if "stressng" in s["metric"]["pod_name"]]
    row = by_query[("", "kepler_container_bpf_cpu_time_ms_total")]
    assert row["pod"] == "stressng"
    assert int(row["count"]) == sum(len(s["values"]) for s in cpu) == 6 * len(synth_small.timestamps)
    assert int(row[">0"]) == sum(float(v) > 0 for s in cpu for _, v in s["values"])
    assert float(row["total"]) == max(float(v) for s in cpu for _, v in s["values"])
    package = truth["kepler_node_package_joules_total"]
    row = by_query[("rapl-sysfs", "kepler_node_package_joules_total")]
    assert int(row["count"]) == sum(len(s["values"]) for s in package if s["metric"]["source"] == "rapl-sysfs")
    assert by_query[("rapl-msr", "kepler_node_package_joules_total")]["count"] == "0"
    assert by_query[("rapl-msr", "kepler_node_package_joules_total")]["total"] == "0"
    assert "pods filtered by the benchmark name 'stressng'" in out
    assert "bpf CPU usage (kepler_container_bpf_cpu_time_ms_total): 6 pods: 0 no data, 0 only zeros, 6 valid" in out


@pytest.fixture(scope="module")
def long_data():
    return generate(LONG)


@pytest.mark.parametrize("step, points", [("1", 12_601), ("0.5", None)])
def test_chunked_window_returns_every_sample_once(tmp_path, prometheus_factory, long_data, step, points):
    """A window over 11,000 points at the given step works by chunking; no sample lost or doubled."""
    server = prometheus_factory(long_data)
    start, end = long_data.window
    if step == "0.5":  # 6000 s at 0.5 s: 12,001 points, the second chunk starts at a fractional offset
        end = start + timedelta(seconds=6000)
        points = 12_001
    code, out, err = cli(
        [
            "--benchmark",
            "long",
            "--server",
            server.url,
            "--output",
            "q",
            "--step",
            step,
            "--id",
            "m",
            "--data-path",
            str(tmp_path),
            "--concurrency",
            "4",
            "--start-time",
            format_window_time(start),
            "--end-time",
            format_window_time(end),
        ]
    )
    assert code == 0, err
    assert "2 request(s) each" in out
    got = sample_map(read(tmp_path / "q.json"))
    truth = sample_map(long_data.query_response())
    assert got.keys() == truth.keys()
    grid = [start.timestamp() + k * float(step) for k in range(points)]
    for metric in truth:
        assert got[metric].keys() == truth[metric].keys()
        for key, samples in truth[metric].items():
            mine = got[metric][key]
            assert [float(t) for t in mine] == grid, metric
            for t, v in samples.items():  # every backfilled sample in the window, at its own time
                if t <= end.timestamp():
                    assert mine[t] == v


@pytest.fixture(scope="module")
def recent_data():
    """Data ending about now (so --interval's 'now' is inside it), with a third-party gauge."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(seconds=1200) - timedelta(seconds=now.second % 15)
    return generate(
        SynthConfig(
            containers=2, duration_s=1200, step_s=15, start=start, thirdparty=True, background=("coredns",), seed=5
        )
    )


def test_interval_form_of_the_seed_command_and_thirdparty(tmp_path, prometheus_factory, recent_data):
    server = prometheus_factory(recent_data)
    env = dict(
        os.environ,
        DATAPATH=str(tmp_path),
        BENCHMARK="stressng",
        PROM_URL=server.url,
        COLLECT_ID="m-1",
        INTERVAL="300",
        PROM_THIRDPARTY_METRICS="node_cpu_temp_celsius,absent_metric",
    )
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    command = (
        "python cmd/main.py query --benchmark $BENCHMARK --server $PROM_URL --output kepler_query "
        "--interval $INTERVAL --id $COLLECT_ID"
    )
    before = datetime.now(timezone.utc).replace(microsecond=0)
    done = subprocess.run(command, shell=True, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    after = datetime.now(timezone.utc)
    assert done.returncode == 0, done.stderr
    window = read(tmp_path / "stressng.json")
    end = datetime.strptime(window["endTimeUTC"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    start = datetime.strptime(window["startTimeUTC"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert before <= end <= after and (end - start).total_seconds() == 300
    got = read(tmp_path / "kepler_query.json")
    assert "node_cpu_temp_celsius" in got and got["node_cpu_temp_celsius"]
    assert "third-party metric absent_metric has no data" in done.stderr
    truth = recent_data.query_response()
    assert set(got) == set(truth)
    # each 3 s grid point answers the latest scraped sample at or before it (Prometheus lookback)
    mine = sample_map(got)
    grid = [start.timestamp() + 3 * k for k in range(101)]
    for metric, series in sample_map(truth).items():
        for key, samples in series.items():
            times = sorted(samples)
            answered = mine[metric][key]
            assert [float(t) for t in answered] == grid
            for t in grid:
                latest = max(x for x in times if x <= t)
                assert answered[int(t)] == samples[latest]


def test_to_csv_and_selector(tmp_path, prometheus, synth_small):
    code, _, err = cli(
        [
            "--benchmark",
            "stressng",
            "--server",
            prometheus.url,
            "--output",
            "q",
            "--step",
            "15",
            "--to-csv",
            "--selector",
            'job="kepler-exporter"',
            "--id",
            "m",
            "--data-path",
            str(tmp_path),
        ]
        + window_args(synth_small)
    )
    assert code == 0, err
    truth = synth_small.query_response()
    files = sorted(p.name for p in (tmp_path / "q_csv").iterdir())
    assert files == sorted(f"{m}.csv" for m in truth)
    import pandas as pd

    frame = pd.read_csv(tmp_path / "q_csv" / "kepler_node_package_joules_total.csv", index_col=0)
    series = truth["kepler_node_package_joules_total"]
    assert len(frame) == sum(len(s["values"]) for s in series)
    assert list(frame.columns[-2:]) == ["timestamp", "kepler_node_package_joules_total"]
    assert frame.columns[0] == "__name__" and "source" in frame.columns
    assert frame["kepler_node_package_joules_total"].iloc[0] == float(series[0]["values"][0][1])
    # a selector matching nothing: nothing selected, exit 1
    code, _, err = cli(
        [
            "--benchmark",
            "stressng",
            "--server",
            prometheus.url,
            "--output",
            "q3",
            "--step",
            "15",
            "--selector",
            'job="nope"',
            "--id",
            "m",
            "--data-path",
            str(tmp_path),
        ]
        + window_args(synth_small)
    )
    assert code == 1 and "no metric starting with 'kepler_'" in err and not (tmp_path / "q3.json").exists()
