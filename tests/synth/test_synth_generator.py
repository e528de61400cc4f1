"""The synthetic generator's truth is self-consistent with the counters it emits (unit tests, no services)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from steps.common.kepler_metrics import GENERATIONS
from steps.synth import FEATURES, THIRDPARTY_METRIC, PowerModel, SynthConfig, generate, label_sort_key
from steps.synth.cli import main as synth_main
from steps.synth.writers import openmetrics_text

G = GENERATIONS["0.7"]
EDGE_CONFIG = SynthConfig(
    containers=3,
    duration_s=900,
    step_s=15,
    seed=3,
    noise_w=1.5,
    counter_resets=(300,),
    scrape_gaps=((450, 60),),
    thirdparty=True,
)


def reference_rates(values):
    """train.md §6.2, written independently: rates at t_1..t_n, reset-aware."""
    times = np.array([v[0] for v in values], dtype=float)
    vals = np.array([float(v[1]) for v in values])
    dt = np.diff(times)
    delta = np.diff(vals)
    return times[1:], np.where(delta >= 0, delta, vals[1:]) / dt


@pytest.fixture(scope="module")
def edge():
    return generate(EDGE_CONFIG)


@pytest.fixture(scope="module")
def edge_response(edge):
    return edge.query_response()


def test_container_counter_rates_equal_truth_across_reset_and_gap(edge, edge_response):
    truth = edge.container_rates().set_index(["timestamp", "id"])
    checked = 0
    for feature in FEATURES:
        for series in edge_response[G.feature_metric(feature)]:
            m = series["metric"]
            cid = "/".join(m[k] for k in G.container_id_labels)
            times, rates = reference_rates(series["values"])
            expected = truth.loc[[(t, cid) for t in times], feature].to_numpy()
            np.testing.assert_allclose(rates, expected, rtol=1e-12, atol=1e-9)
            checked += 1
    assert checked == len(FEATURES) * len(edge.containers)


def test_energy_counter_rates_equal_truth_power_per_mode(edge, edge_response):
    for mode in ("total", "idle", "dynamic"):
        truth = edge.node_power(noise=True, mode=mode)
        for component in edge.components:
            total = None
            for series in edge_response[G.energy_metric(component)]:
                if mode != "total" and series["metric"]["mode"] != mode:
                    continue
                times, rates = reference_rates(series["values"])
                total = rates if total is None else total + rates
            np.testing.assert_array_equal(times, truth.index.to_numpy())
            np.testing.assert_allclose(total, truth[f"{component}_power"].to_numpy(), rtol=1e-9, atol=1e-9)


def test_per_package_power_sums_to_component_power(edge):
    per_package = edge.node_power(per_package=True)
    total = edge.node_power()
    np.testing.assert_allclose(
        per_package["package_0_package_power"] + per_package["package_1_package_power"],
        total["package_power"],
        rtol=1e-12,
    )
    assert "platform_power" in per_package.columns


def test_reset_and_gap_are_where_the_config_says(edge, edge_response):
    start = EDGE_CONFIG.start_epoch
    offsets = edge.timestamps - start
    assert not np.any((offsets >= 450) & (offsets < 510))
    assert 510 - 435 in edge.dt  # the sample after the gap covers it
    np.testing.assert_array_equal(edge.reset_timestamps, [start + 315])
    for series in edge_response[G.energy_metric("package")]:
        values = dict((t, float(v)) for t, v in series["values"])
        assert values[start + 315] < values[start + 300]  # restarted from zero after the scrape at 300


def test_noise_free_power_is_the_public_model():
    data = generate(SynthConfig(containers=4, duration_s=600, seed=1))
    rates = data.node_rates()
    clean = data.node_power(noise=False)
    expected = data.model.power({f: rates[f].to_numpy() for f in FEATURES})
    for component in data.components:
        np.testing.assert_allclose(clean[f"{component}_power"], expected[component], rtol=1e-12)
    m = data.model
    np.testing.assert_allclose(
        clean["package_power"],
        m.idle_package_w
        + m.cpu_w_per_ms * rates["bpf_cpu_time_ms"]
        + m.page_cache_w_per_hit * rates["bpf_page_cache_hit"],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        clean["platform_power"], clean["package_power"] + clean["dram_power"] + m.platform_extra_w, rtol=1e-12
    )
    # Without noise the emitted energy differs from the model only by millijoule rounding.
    emitted = data.node_power(noise=True)
    bound = 8 * 0.0005 / data.dt.min()
    assert (emitted - clean).abs().to_numpy().max() <= bound
    idle = data.node_power(noise=False, mode="idle")
    assert idle["package_power"].iloc[0] == pytest.approx(m.idle_package_w)


def test_saturating_model_bends():
    data = generate(SynthConfig(containers=6, duration_s=900, power="saturating", seed=2))
    m = data.model
    assert m.kind == "saturating"
    cpu = data.node_rates()["bpf_cpu_time_ms"].to_numpy()
    page = data.node_rates()["bpf_page_cache_hit"].to_numpy()
    expected = m.idle_package_w + m.pmax_w * (1 - np.exp(-cpu / m.k_ms)) + m.page_cache_w_per_hit * page
    np.testing.assert_allclose(data.node_power(noise=False)["package_power"], expected, rtol=1e-12)
    assert cpu.max() > m.k_ms  # the data reaches the bend, so a straight line fits worse


def test_noise_has_the_configured_spread_and_counters_stay_monotonic(edge, edge_response):
    residual = (edge.node_power(noise=True) - edge.node_power(noise=False))["package_power"]
    assert 1.0 < residual.std() < 2.0
    assert (edge.node_power(noise=True, mode="dynamic") >= 0).all().all()
    resets = set(edge.reset_timestamps.tolist())
    for metric, series_list in edge_response.items():
        if not metric.endswith("_total"):
            continue
        for series in series_list:
            values = np.array([float(v) for _, v in series["values"]])
            times = np.array([t for t, _ in series["values"]])
            drops = times[1:][np.diff(values) < 0]
            assert set(drops.tolist()) <= resets, metric


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    config = SynthConfig(containers=2, duration_s=300, seed=7, noise_w=1.0)
    a = generate(config).write_query_response(tmp_path / "a.json").read_bytes()
    b = generate(config).write_query_response(tmp_path / "b.json").read_bytes()
    c = (
        generate(SynthConfig(containers=2, duration_s=300, seed=8, noise_w=1.0))
        .write_query_response(tmp_path / "c.json")
        .read_bytes()
    )
    assert a == b
    assert a != c
    assert openmetrics_text(generate(config)) == openmetrics_text(generate(config))


def test_streamed_json_equals_the_dict(edge, edge_response, tmp_path):
    path = edge.write_query_response(tmp_path / "q.json")
    assert path.read_text() == json.dumps(edge_response)
    assert list(edge_response) == sorted(edge_response)
    for series_list in edge_response.values():
        keys = [label_sort_key(s["metric"]) for s in series_list]
        assert keys == sorted(keys)
    subset = edge.query_response([G.node_info, "kepler_absent_total"])
    assert subset["kepler_absent_total"] == [] and len(subset[G.node_info]) == 1


def test_label_sets_match_real_kepler(idle_json, synth_small):
    real = json.loads(idle_json.read_text())
    ours = synth_small.query_response()

    def keysets(response, metric):
        return {tuple(sorted(s["metric"])) for s in response[metric]}

    for metric in (
        [G.feature_metric(f) for f in FEATURES]
        + [G.cgroup_cpu, G.node_info]
        + [G.energy_metric(c) for c in ("package", "core", "uncore", "dram", "platform")]
    ):
        assert keysets(ours, metric) == keysets(real, metric), metric
    values = ours[G.energy_metric("package")][0]["values"]
    assert isinstance(values[0][0], int) and isinstance(values[0][1], str)
    modes = {(s["metric"]["package"], s["metric"]["mode"]) for s in ours[G.energy_metric("package")]}
    assert modes == {("0", "idle"), ("0", "dynamic"), ("1", "idle"), ("1", "dynamic")}
    assert {s["metric"]["source"] for s in ours[G.energy_metric("platform")]} == {"acpi"}


def test_benchmark_pods_and_background_containers(synth_small):
    rates = synth_small.container_rates()
    pods = sorted(set(rates.loc[~rates["background"], "pod_name"]))
    assert pods == [f"stressng-{i}" for i in range(6)]
    assert set(rates.loc[rates["background"], "container_name"]) == {"coredns", "kube-proxy"}
    node = synth_small.node_rates()
    assert np.allclose(node["bpf_cpu_time_ms"], rates.groupby("timestamp")["bpf_cpu_time_ms"].sum())
    background = rates[rates["background"]]["bpf_cpu_time_ms"]
    assert background.max() < 50 < rates[~rates["background"]]["bpf_cpu_time_ms"].max()


def test_thirdparty_gauge_only_when_asked(edge, edge_response, synth_small):
    series = edge_response[THIRDPARTY_METRIC]
    assert len(series) == 1 and "container_id" not in series[0]["metric"]
    got = [float(v) for _, v in series[0]["values"]]
    np.testing.assert_allclose(got, edge.thirdparty_values().to_numpy())
    assert THIRDPARTY_METRIC not in synth_small.metric_names()


def test_openmetrics_text_follows_the_backfill_rules(edge):
    text = openmetrics_text(edge)
    lines = text.split("\n")
    assert text.endswith("# EOF\n") and lines[-2] == "# EOF"
    assert "" not in lines[:-1]
    comments = [line for line in lines if line.startswith("#")]
    assert all(c.startswith("# TYPE ") or c == "# EOF" for c in comments)
    families = [c.split()[2] for c in comments if c.startswith("# TYPE")]
    assert len(families) == len(set(families))
    assert "# TYPE kepler_node_package_joules counter" in comments
    assert "# TYPE kepler_node_info gauge" in comments
    assert f"# TYPE {THIRDPARTY_METRIC} gauge" in comments
    # Samples of one series are in time order (promtool drops the others silently).
    last = defaultdict(float)
    for line in lines:
        if line and not line.startswith("#"):
            series, _, stamp = line.rpartition(" ")
            key = series.rpartition(" ")[0]
            assert float(stamp) > last[key]
            last[key] = float(stamp)


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="power"):
        SynthConfig(power="cubic")
    with pytest.raises(ValueError, match="energy source"):
        SynthConfig(sources=("rapl",))
    with pytest.raises(ValueError, match="aware"):
        SynthConfig(start=datetime(2024, 1, 1))


def test_fractional_step_keeps_float_timestamps():
    data = generate(SynthConfig(containers=1, duration_s=10, step_s=2.5, background=()))
    values = data.query_response()[G.node_info][0]["values"]
    assert [t for t, _ in values][:3] == [1704067200, 1704067202.5, 1704067205]


def test_custom_model_is_used():
    model = PowerModel(idle_package_w=10.0, cpu_w_per_ms=0.0, page_cache_w_per_hit=0.0)
    data = generate(SynthConfig(containers=2, duration_s=300), model=model)
    assert np.allclose(data.node_power(noise=False)["package_power"], 10.0)


def test_cli_writes_both_files(tmp_path, capsys):
    assert (
        synth_main(
            [
                "--containers",
                "2",
                "--duration",
                "300",
                "--seed",
                "4",
                "--power",
                "saturating",
                "--openmetrics",
                str(tmp_path / "d.om"),
                "--query-json",
                str(tmp_path / "d.json"),
                "--reset",
                "120",
                "--gap",
                "150:30",
                "--thirdparty",
            ]
        )
        == 0
    )
    expected = generate(
        SynthConfig(
            containers=2,
            duration_s=300,
            seed=4,
            power="saturating",
            counter_resets=(120,),
            scrape_gaps=((150, 30),),
            thirdparty=True,
        )
    )
    assert json.loads((tmp_path / "d.json").read_text()) == expected.query_response()
    assert (tmp_path / "d.om").read_text() == openmetrics_text(expected)
    assert "window 2024-01-01T00:00:00Z .. 2024-01-01T00:05:00Z" in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        synth_main(["--containers", "2"])
    assert usage.value.code == 2


def test_truth_frames_are_indexed_by_rate_timestamps(synth_small):
    index = synth_small.node_power().index
    assert index.name == "timestamp"
    np.testing.assert_array_equal(index.to_numpy(), synth_small.timestamps[1:])
    assert isinstance(synth_small.container_rates(), pd.DataFrame)
    assert synth_small.window[0].isoformat() == "2024-01-01T00:00:00+00:00"
    assert synth_small.window[1].isoformat() == "2024-01-01T00:30:00+00:00"


def test_container_lifetimes_shape_series_and_truth():
    config = SynthConfig(containers=3, duration_s=600, seed=9, container_lifetimes=((1, 120, 450), (2, 900, 999)))
    data = generate(config)
    response = data.query_response()
    cpu = {s["metric"]["pod_name"]: s for s in response[G.feature_metric("bpf_cpu_time_ms")]}
    assert "stressng-2" not in cpu  # never alive inside the window
    start = config.start_epoch
    times = [t for t, _ in cpu["stressng-1"]["values"]]
    assert times[0] == start + 120 and times[-1] == start + 450
    truth = data.container_rates().set_index(["timestamp", "id"])
    spec = data.containers[1]
    got_times, rates = reference_rates(cpu["stressng-1"]["values"])
    np.testing.assert_allclose(rates, truth.loc[[(t, spec.id) for t in got_times], "bpf_cpu_time_ms"])
    assert len(truth.xs(spec.id, level="id")) == len(got_times)
    assert data.containers[2].id not in set(truth.index.get_level_values("id"))
    # Power follows only the containers that are alive.
    node = data.node_rates()
    np.testing.assert_allclose(
        data.node_power(noise=False)["package_power"],
        data.model.power({f: node[f].to_numpy() for f in FEATURES})["package"],
    )
    text = openmetrics_text(data)
    assert 'pod_name="stressng-2"' not in text


def test_value_text_is_the_shortest_float_text():
    from steps.synth.series import format_scaled

    values = np.array([0, 1, 10, 999, 1000, 1001, 7150525, 123456789012, 5_000_000_000_000])
    for scale in (1, 10, 1000):
        for value, text in zip(values, format_scaled(values, scale)):
            as_float = int(value) / scale
            assert float(text) == as_float
            shortest = repr(as_float)
            assert text == (shortest[:-2] if shortest.endswith(".0") else shortest)
