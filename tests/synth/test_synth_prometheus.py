"""The synthetic data survives a real Prometheus round trip (promtool backfill + range queries)."""

from __future__ import annotations

import os

import pytest
import requests

from steps.synth import PrometheusServer, PrometheusUnavailable, SynthConfig, find_binary, generate

pytestmark = pytest.mark.integration


def range_query(url: str, metric: str, start: float, end: float, step: float):
    response = requests.get(
        f"{url}/api/v1/query_range", params={"query": metric, "start": start, "end": end, "step": step}, timeout=30
    )
    response.raise_for_status()
    return response.json()["data"]["result"]


def test_every_sample_comes_back_exactly(prometheus, synth_small):
    """Range queries at the scrape step over the data window return each generated series unchanged."""
    start, end = (t.timestamp() for t in prometheus.window)
    names = requests.get(f"{prometheus.url}/api/v1/label/__name__/values", timeout=30).json()["data"]
    assert names == synth_small.metric_names()
    expected = synth_small.query_response()
    points = 0
    for metric in names:
        got = range_query(prometheus.url, metric, start, end, synth_small.config.step_s)
        assert [s["metric"] for s in got] == [s["metric"] for s in expected[metric]]
        for ours, theirs in zip(expected[metric], got):
            assert theirs["values"] == ours["values"], metric  # same timestamps and value strings
            points += len(theirs["values"])
    n_series = sum(len(v) for v in expected.values())
    assert points == n_series * synth_small.timestamps.size


def test_series_answer_last_value_for_five_minutes_after_the_end(prometheus, synth_small):
    """No staleness markers: backfilled series repeat their last value within the 5-min lookback."""
    end = prometheus.window[1].timestamp()
    got = range_query(prometheus.url, "kepler_node_info", end, end + 600, 60)
    times = [t for t, _ in got[0]["values"]]
    assert times == [end + 60 * k for k in range(6)]


def test_reset_and_gap_survive_backfill(prometheus_factory):
    data = generate(
        SynthConfig(
            containers=1, duration_s=600, seed=5, counter_resets=(200,), scrape_gaps=((300, 45),), background=()
        )
    )
    server = prometheus_factory(data)
    assert prometheus_factory(data) is server  # cached per data set
    metric = "kepler_node_package_joules_total"
    got = range_query(server.url, metric, data.timestamps[0], data.timestamps[-1], data.config.step_s)
    expected = data.query_response([metric])[metric]
    for ours, theirs in zip(expected, got):
        back = dict((float(t), v) for t, v in theirs["values"])
        # Every real sample is there; grid points inside the gap repeat the sample before it (lookback).
        assert all(back[float(t)] == v for t, v in ours["values"])
        assert back[data.timestamps[0] + 315] == back[data.timestamps[0] + 285]


def test_server_stops_by_pid_and_twice(tmp_path, synth_small):
    server = PrometheusServer.from_synth(synth_small, tmp_path).start()
    pid = server.pid
    assert requests.get(f"{server.url}/-/ready", timeout=5).status_code == 200
    server.stop()
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_missing_binary_is_a_clear_error():
    with pytest.raises(PrometheusUnavailable, match="ensure_prometheus.sh"):
        find_binary("prometheus-does-not-exist")


def test_promtool_ingests_every_sample_of_every_variant(prometheus_factory):
    """Resets, gaps, lifetimes, a third-party gauge and a fractional step: no sample is dropped."""
    data = generate(
        SynthConfig(
            containers=3,
            duration_s=400,
            step_s=2.5,
            seed=11,
            noise_w=1.0,
            counter_resets=(100,),
            scrape_gaps=((200, 20),),
            thirdparty=True,
            container_lifetimes=((2, 50, 300),),
        )
    )
    server = prometheus_factory(data)
    end = data.timestamps[-1]
    span = int(end - data.timestamps[0]) + 1
    response = requests.get(
        f"{server.url}/api/v1/query", params={"query": f'{{__name__=~".+"}}[{span}s]', "time": end}, timeout=30
    )
    response.raise_for_status()
    counted = sum(len(item["values"]) for item in response.json()["data"]["result"])
    expected = sum(len(s["values"]) for series in data.query_response().values() for s in series)
    assert counted == expected
