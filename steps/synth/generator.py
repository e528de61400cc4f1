"""The synthetic Kepler 0.7 data set: counters that encode known usage rates and a known power function.

`generate(config)` draws everything up front as small integer arrays (counts per scrape interval);
series values, the query JSON and the OpenMetrics text are derived from them lazily, one series at a
time, so large data sets stream. The truth accessors return what train must recover (train.md §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from ..common.domain import ENERGY_SOURCES
from ..common.kepler_metrics import GENERATIONS
from . import labels as L
from .config import SynthConfig
from .power import PowerModel, default_model, energy_readings
from .series import COUNTER, GAUGE, Series, cumulate
from .usage import CGROUP_CPU, COUNTED, FEATURES, PATTERNS, ContainerSpec, usage_counts
from .writers import query_response, write_openmetrics, write_query_response

GENERATION = GENERATIONS["0.7"]
THIRDPARTY_METRIC = "node_cpu_temp_celsius"
MODES = ("dynamic", "idle")


def scrape_offsets(config: SynthConfig) -> np.ndarray:
    """Offsets (s) of the scrapes that happened: the regular grid minus the gaps."""
    n = int(np.floor(config.duration_s / config.step_s + 1e-9))
    offsets = np.arange(n + 1, dtype=float) * config.step_s
    keep = np.ones(offsets.size, dtype=bool)
    for gap_offset, gap_length in config.scrape_gaps:
        keep &= ~((offsets >= gap_offset) & (offsets < gap_offset + gap_length))
    keep[0] = True
    offsets = offsets[keep]
    if offsets.size < 2:
        raise ValueError("the configuration leaves fewer than two scrapes")
    return offsets


def restart_indices(config: SynthConfig, offsets: np.ndarray) -> np.ndarray:
    """Sample indices that are the first after each counter reset (see SynthConfig)."""
    starts = set()
    for reset in config.counter_resets:
        at = int(np.searchsorted(offsets, reset, side="left"))  # first scrape at offset >= reset
        if at + 1 < offsets.size:
            starts.add(at + 1)
    return np.array(sorted(starts), dtype=np.int64)


def container_specs(config: SynthConfig) -> List[ContainerSpec]:
    """The benchmark containers, then the background ones, with deterministic ids from the seed."""
    specs = []
    for i in range(config.containers):
        pod = f"{config.benchmark}-{i}"
        specs.append(
            ContainerSpec(
                i,
                L.container_id(config.seed, pod, config.benchmark),
                pod,
                config.benchmark,
                config.benchmark_namespace,
                False,
                PATTERNS[i % len(PATTERNS)],
            )
        )
    for j, name in enumerate(config.background):
        pod = f"{name}-{L.container_id(config.seed, name, 'pod')[:5]}"
        specs.append(
            ContainerSpec(
                config.containers + j, L.container_id(config.seed, pod, name), pod, name, "kube-system", True, "flat"
            )
        )
    return specs


def _components(sources: Sequence[str]) -> Tuple[str, ...]:
    """The components the sources measure, in component order."""
    wanted = {c for s in sources for c in ENERGY_SOURCES[s].components}
    return tuple(c for c in ("package", "core", "uncore", "dram", "platform") if c in wanted)


@dataclass(eq=False)
class SynthData:
    """A generated data set: emitted counters (lazily as Series) and the truth they encode.

    The truth matches the raw samples (query_response()). Read back from Prometheus at a step shorter
    than a scrape gap, the grid points inside the gap repeat the sample before it (5-min lookback),
    so rates right after a gap are spread differently there; without gaps the round trip is exact.
    """

    config: SynthConfig
    model: PowerModel
    containers: List[ContainerSpec]
    offsets: np.ndarray  # scrape offsets t_0..t_n (s after config.start)
    restarts: np.ndarray  # sample indices first after a counter reset
    counts: Dict[str, np.ndarray]  # usage name -> int64 (containers, n)
    energy_mj: Dict[Tuple[str, str, Optional[int]], np.ndarray]  # (component, mode, package|None) -> int64 (n,)
    clean_w: Dict[str, np.ndarray]  # component -> clean model power (n,)
    usage_offsets: Dict[str, np.ndarray]  # usage name -> int64 (containers,)
    energy_offsets: Dict[Tuple[str, str, Optional[int]], int]
    thirdparty_deci: Optional[np.ndarray] = None  # temperature in 0.1 degC at t_0..t_n
    alive: Optional[np.ndarray] = None  # bool (containers, n+1): container has a sample at t_k
    _scrape: Dict[str, str] = field(default_factory=dict)

    # ---- time
    @property
    def timestamps(self) -> np.ndarray:
        """Epoch seconds of every sample t_0..t_n."""
        return self.config.start_epoch + self.offsets

    @property
    def rate_timestamps(self) -> np.ndarray:
        """Epoch seconds t_1..t_n: where rates and power are defined (interval (t_{i-1}, t_i])."""
        return self.timestamps[1:]

    @property
    def dt(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def window(self) -> Tuple[datetime, datetime]:
        """(first sample, last sample) as aware UTC datetimes."""
        t = self.timestamps
        return (datetime.fromtimestamp(t[0], tz=timezone.utc), datetime.fromtimestamp(t[-1], tz=timezone.utc))

    @property
    def reset_timestamps(self) -> np.ndarray:
        """Epoch seconds of the samples that are the first after a counter reset."""
        return self.timestamps[self.restarts]

    @property
    def components(self) -> Tuple[str, ...]:
        return _components(self.config.sources)

    # ---- truth
    def _index(self) -> pd.Index:
        return pd.Index(self.rate_timestamps, name="timestamp")

    def container_rates(self) -> pd.DataFrame:
        """Long table, one row per (t_i, container): timestamp, id, identity labels, background, rates.

        Rate columns: the 8 workload features plus `cgroupfs_cpu_usage_us` (us per second).
        """
        n, c = self.dt.size, len(self.containers)
        frame = pd.DataFrame(
            {
                "timestamp": np.repeat(self.rate_timestamps, c),
                "id": np.tile([s.id for s in self.containers], n),
                "container_id": np.tile([s.container_id for s in self.containers], n),
                "pod_name": np.tile([s.pod_name for s in self.containers], n),
                "container_name": np.tile([s.container_name for s in self.containers], n),
                "container_namespace": np.tile([s.namespace for s in self.containers], n),
                "background": np.tile([s.background for s in self.containers], n),
            }
        )
        for name in COUNTED:
            frame[name] = (self.counts[name] / self.dt).T.reshape(-1)
        active = self.active_intervals().T.reshape(-1)
        return frame[active].reset_index(drop=True) if not active.all() else frame

    def active_intervals(self) -> np.ndarray:
        """bool (containers, n): the container has samples at both ends of interval i, so a rate at t_i."""
        alive = self.alive if self.alive is not None else np.ones((len(self.containers), self.offsets.size), bool)
        return alive[:, :-1] & alive[:, 1:]

    def node_rates(self, include_background: bool = True) -> pd.DataFrame:
        """Node-summed rates per t_i (index `timestamp`), columns as in container_rates()."""
        mask = np.array([include_background or not s.background for s in self.containers], dtype=bool)
        data = {name: self.counts[name][mask].sum(axis=0) / self.dt for name in COUNTED}
        return pd.DataFrame(data, index=self._index())

    def node_power(self, noise: bool = True, mode: str = "total", per_package: bool = False) -> pd.DataFrame:
        """Node power in watts per t_i, columns `<component>_power` (components of config.sources).

        noise=True: exactly what the emitted counters encode (noise and mJ rounding included), i.e.
        what train's power table must equal. noise=False: the PowerModel's value for the node rates.
        mode: "total", "idle" or "dynamic" (Kepler's mode label split; idle = model idle power,
        capped by the noisy total). per_package (noise=True only): columns
        `package_<p>_<component>_power` for the per-package components, `<component>_power` for others.
        """
        if mode not in ("total", "idle", "dynamic"):
            raise ValueError(f"mode must be total, idle or dynamic, got {mode!r}")
        modes = MODES if mode == "total" else (mode,)
        data: Dict[str, np.ndarray] = {}
        if not noise:
            if per_package:
                raise ValueError("per_package needs noise=True (the split is applied to emitted energy)")
            idle = self.model.idle_power()
            for c in self.components:
                clean = self.clean_w[c]
                data[f"{c}_power"] = {"total": clean, "idle": np.full_like(clean, idle[c]), "dynamic": clean - idle[c]}[
                    mode
                ]
            return pd.DataFrame(data, index=self._index())
        for c in self.components:
            packages = sorted({p for (comp, _, p) in self.energy_mj if comp == c and p is not None})
            groups = (
                [(f"package_{p}_{c}_power", [p]) for p in packages]
                if per_package and packages
                else [(f"{c}_power", packages or [None])]
            )
            for column, pkgs in groups:
                total = sum(self.energy_mj[(c, m, p)] for m in modes for p in pkgs)
                data[column] = total / 1000.0 / self.dt
        return pd.DataFrame(data, index=self._index())

    def thirdparty_values(self) -> pd.Series:
        """The third-party gauge at every sample t_0..t_n (needs config.thirdparty)."""
        if self.thirdparty_deci is None:
            raise ValueError("generated without thirdparty=True")
        return pd.Series(
            self.thirdparty_deci / 10.0, index=pd.Index(self.timestamps, name="timestamp"), name=THIRDPARTY_METRIC
        )

    # ---- emitted series
    def metric_names(self) -> List[str]:
        return sorted({s.metric for s in self.iter_series(values=False)})

    def iter_series(self, metrics: Optional[Sequence[str]] = None, values: bool = True) -> Iterator[Series]:
        """Every emitted series, metrics sorted by name and series by label_sort_key; values built lazily."""
        wanted = set(metrics) if metrics is not None else None
        recipes = self._recipes()
        for metric in sorted(recipes):
            if wanted is not None and metric not in wanted:
                continue
            for labels, kind, scale, build, samples in sorted(recipes[metric], key=lambda r: L.label_sort_key(r[0])):
                if samples is not None and samples.size == 0:
                    continue  # a container that never lived in the window has no series
                yield Series(metric, labels, kind, build() if values else np.empty(0, dtype=np.int64), scale, samples)

    def _recipes(self) -> Dict[str, list]:
        """metric -> [(labels, kind, scale, thunk producing int64 values, sample indices or None)]."""
        cfg, scrape = self.config, self._scrape
        recipes: Dict[str, list] = {}

        def usage_thunk(name: str, row: int):
            def build():
                values = cumulate(self.counts[name][row], int(self.usage_offsets[name][row]), self.restarts)
                return values if self.alive is None else values[self.alive[row]]

            return build

        def samples_of(row: int) -> Optional[np.ndarray]:
            if self.alive is None or self.alive[row].all():
                return None
            return np.flatnonzero(self.alive[row])

        usage_metrics = {name: GENERATION.feature_metric(name) for name in FEATURES}
        usage_metrics[CGROUP_CPU] = GENERATION.cgroup_cpu
        for name, metric in usage_metrics.items():
            for row, spec in enumerate(self.containers):
                labels = L.container_labels(
                    metric, scrape, spec.container_id, spec.pod_name, spec.container_name, spec.namespace
                )
                recipes.setdefault(metric, []).append((labels, COUNTER, 1, usage_thunk(name, row), samples_of(row)))

        def energy_thunk(key):
            return lambda: cumulate(self.energy_mj[key], self.energy_offsets[key], self.restarts)

        for source in cfg.sources:
            label_value = GENERATION.source_labels[source][0]
            for c in ENERGY_SOURCES[source].components:
                metric = GENERATION.energy_metric(c)
                for key in sorted((k for k in self.energy_mj if k[0] == c), key=str):
                    _, mode, package = key
                    labels = L.energy_labels(
                        metric, scrape, cfg.node_name, label_value, mode, None if package is None else str(package)
                    )
                    recipes.setdefault(metric, []).append((labels, COUNTER, 1000, energy_thunk(key), None))

        n = self.offsets.size
        info = L.node_info_labels(GENERATION.node_info, scrape)
        recipes[GENERATION.node_info] = [(info, GAUGE, 1, lambda: np.full(n, cfg.node_info, dtype=np.int64), None)]
        if self.thirdparty_deci is not None:
            recipes[THIRDPARTY_METRIC] = [
                (L.thirdparty_labels(THIRDPARTY_METRIC, cfg.node_name), GAUGE, 10, lambda: self.thirdparty_deci, None)
            ]
        return recipes

    # ---- outputs (implemented in writers.py; thin methods so callers only need the data object)
    def query_response(self, metrics: Optional[Sequence[str]] = None) -> Dict[str, list]:
        """The query JSON as a dict (workspace.md §3.1; metrics and series sorted)."""
        return query_response(self, metrics)

    def write_query_response(self, path, metrics: Optional[Sequence[str]] = None):
        """Stream the query JSON to `path` (bytes equal json.dumps(query_response()))."""
        return write_query_response(self, path, metrics)

    def write_openmetrics(self, path):
        """Stream the OpenMetrics text for promtool to `path`."""
        return write_openmetrics(self, path)


def generate(config: SynthConfig, model: Optional[PowerModel] = None) -> SynthData:
    """Build the data set for `config` (deterministic in config.seed). `model` overrides the default."""
    streams = np.random.SeedSequence(config.seed).spawn(4)
    usage_rng, noise_rng, offset_rng, extra_rng = (np.random.default_rng(s) for s in streams)

    offsets = scrape_offsets(config)
    specs = container_specs(config)
    dt = np.diff(offsets)
    counts = usage_counts(specs, offsets, usage_rng)
    alive = _lifetimes(config, len(specs), offsets, counts)
    node = {name: counts[name].sum(axis=0) / dt for name in FEATURES}
    if model is None:
        model = default_model(config.power, float(node["bpf_cpu_time_ms"].max(initial=1.0)))
    clean = model.power(node)
    components = _components(config.sources)
    energy_mj = energy_readings(config, components, clean, model.idle_power(), dt, noise_rng)
    usage_offsets = {}
    for name in COUNTED:
        typical = counts[name].mean(axis=1) / max(float(dt.mean()), 1e-9) if counts[name].size else np.zeros(len(specs))
        usage_offsets[name] = np.rint(typical * offset_rng.uniform(60.0, 7200.0, len(specs))).astype(np.int64) + 1
    energy_offsets = {key: int(offset_rng.integers(1_000_000, 100_000_000)) for key in sorted(energy_mj, key=str)}

    return SynthData(
        config=config,
        model=model,
        containers=specs,
        offsets=offsets,
        restarts=restart_indices(config, offsets),
        counts=counts,
        energy_mj=energy_mj,
        clean_w={c: clean[c] for c in components},
        usage_offsets=usage_offsets,
        energy_offsets=energy_offsets,
        thirdparty_deci=_thirdparty(node["bpf_cpu_time_ms"], extra_rng) if config.thirdparty else None,
        alive=alive,
        _scrape=L.scrape_labels(config.job, config.node_name, L.exporter_pod(config.seed, config.node_name)),
    )


def _lifetimes(
    config: SynthConfig, containers: int, offsets: np.ndarray, counts: Dict[str, np.ndarray]
) -> Optional[np.ndarray]:
    """bool (containers, n+1) of config.container_lifetimes (None without); counts outside a life are zeroed."""
    if not config.container_lifetimes:
        return None
    alive = np.ones((containers, offsets.size), dtype=bool)
    for index, first, last in config.container_lifetimes:
        alive[index] = (offsets >= first) & (offsets <= last)
    active = alive[:, :-1] & alive[:, 1:]
    for name in counts:
        counts[name][~active] = 0
    return alive


def _thirdparty(cpu_ms: np.ndarray, extra_rng: np.random.Generator) -> np.ndarray:
    """The third-party temperature gauge in 0.1 degC at t_0..t_n, rising with node CPU time."""
    cpu = np.concatenate([[cpu_ms[0]], cpu_ms])
    temp = 38.0 + 30.0 * (1.0 - np.exp(-cpu / 8000.0)) + extra_rng.normal(0.0, 0.3, cpu.size)
    return np.rint(temp * 10.0).astype(np.int64)
