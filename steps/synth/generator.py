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
from .power import PowerModel, default_model
from .usage import CGROUP_CPU, COUNTED, FEATURES, PATTERNS, ContainerSpec, usage_counts

GENERATION = GENERATIONS["0.7"]
THIRDPARTY_METRIC = "node_cpu_temp_celsius"
MODES = ("dynamic", "idle")
COUNTER, GAUGE = "counter", "gauge"


@dataclass(frozen=True)
class Series:
    """One emitted series: `values[k] / scale` is its sample at `timestamps[k]` (shared per data set)."""

    metric: str
    labels: Dict[str, str]  # includes __name__
    kind: str  # "counter" or "gauge"
    values: np.ndarray  # int64
    scale: int = 1  # 1000 for joules (values are millijoules), 10 for the temperature gauge
    samples: Optional[np.ndarray] = None  # indices into the data set's timestamps; None = all

    def floats(self) -> np.ndarray:
        return self.values / self.scale

    def strings(self) -> List[str]:
        """Values as Prometheus prints them (shortest round-trip decimal, no trailing `.0`)."""
        return format_scaled(self.values, self.scale)


def _fractions(scale: int) -> List[str]:
    digits = len(str(scale)) - 1
    return [""] + [f".{r:0{digits}d}".rstrip("0") for r in range(1, scale)]


_FRACTIONS = {10: _fractions(10), 1000: _fractions(1000)}


def format_scaled(values: np.ndarray, scale: int) -> List[str]:
    """Exact decimal text of values/scale for scale 1, 10 or 1000, equal to Go's FormatFloat(v, 'f', -1).

    Values are non-negative integers (counts, millijoules, decidegrees), so the text is built from
    integer quotient and remainder; no binary float ever gets printed.
    """
    if scale == 1:
        return [str(v) for v in values.tolist()]
    fractions = _FRACTIONS[scale]
    quotients, remainders = np.divmod(values, scale)
    return [f"{q}{fractions[r]}" for q, r in zip(quotients.tolist(), remainders.tolist())]


def format_timestamp(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else repr(float(t))


def _cumulate(counts: np.ndarray, offset: int, restarts: np.ndarray) -> np.ndarray:
    """Counter samples t_0..t_n from interval counts: start at `offset`, restart from 0 at each restart.

    `restarts` are sample indices s whose value is the first after a reset: value(s) = count of
    interval s (the reset happened right after the scrape at s-1).
    """
    cs = np.zeros(counts.shape[-1] + 1, dtype=np.int64)
    np.cumsum(counts, out=cs[1:])
    values = cs + offset
    if restarts.size:
        k = np.arange(cs.size)
        seg = np.searchsorted(restarts, k, side="right")  # number of restarts at or before k
        after = seg > 0
        base = cs[restarts[seg[after] - 1] - 1]
        values[after] = cs[after] - base
    return values


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
                values = _cumulate(self.counts[name][row], int(self.usage_offsets[name][row]), self.restarts)
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
            return lambda: _cumulate(self.energy_mj[key], self.energy_offsets[key], self.restarts)

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
        from .writers import query_response

        return query_response(self, metrics)

    def write_query_response(self, path, metrics: Optional[Sequence[str]] = None):
        from .writers import write_query_response

        return write_query_response(self, path, metrics)

    def write_openmetrics(self, path):
        from .writers import write_openmetrics

        return write_openmetrics(self, path)


def _noise_scale(clean: Dict[str, np.ndarray], component: str) -> float:
    """Noise relative to `noise_w`: 1 for package and larger components, less for smaller ones.

    Meters resolve small domains finely: 1 W of noise on a 1.5 W uncore reading would make every
    percentage error meaningless, which no real RAPL reading does.
    """
    if "package" not in clean or component == "package":
        return 1.0
    reference = float(np.mean(clean["package"])) if clean["package"].size else 0.0
    if reference <= 0:
        return 1.0
    return min(1.0, float(np.mean(clean[component])) / reference)


def _noisy_split(clean: np.ndarray, idle: float, noise: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(idle part, dynamic part) of the noisy power, both >= 0, so every counter stays monotonic."""
    noisy = np.clip(clean + noise, 0.0, None)
    idle_part = np.minimum(idle, noisy)
    return idle_part, noisy - idle_part


def generate(config: SynthConfig, model: Optional[PowerModel] = None) -> SynthData:
    """Build the data set for `config` (deterministic in config.seed). `model` overrides the default."""
    streams = np.random.SeedSequence(config.seed).spawn(4)
    usage_rng, noise_rng, offset_rng, extra_rng = (np.random.default_rng(s) for s in streams)

    offsets = scrape_offsets(config)
    restarts = restart_indices(config, offsets)
    specs = container_specs(config)
    dt = np.diff(offsets)
    counts = usage_counts(specs, offsets, usage_rng)
    alive = None
    if config.container_lifetimes:
        alive = np.ones((len(specs), offsets.size), dtype=bool)
        for index, first, last in config.container_lifetimes:
            alive[index] = (offsets >= first) & (offsets <= last)
        active = alive[:, :-1] & alive[:, 1:]
        for name in counts:
            counts[name][~active] = 0
    node = {name: counts[name].sum(axis=0) / dt for name in FEATURES}
    if model is None:
        model = default_model(config.power, float(node["bpf_cpu_time_ms"].max(initial=1.0)))
    clean = model.power(node)
    idle = model.idle_power()
    components = _components(config.sources)
    unit_components = {c for s in config.sources if ENERGY_SOURCES[s].unit_label for c in ENERGY_SOURCES[s].components}
    shares = config.shares()

    energy_mj: Dict[Tuple[str, str, Optional[int]], np.ndarray] = {}
    for c in components:
        scale = _noise_scale(clean, c) * config.noise_w
        noise = noise_rng.normal(0.0, scale, dt.size) if scale > 0 else np.zeros(dt.size)
        idle_part, dynamic_part = _noisy_split(clean[c], idle[c], noise)
        for mode, part in (("idle", idle_part), ("dynamic", dynamic_part)):
            if c in unit_components:
                for p, share in enumerate(shares):
                    energy_mj[(c, mode, p)] = np.rint(part * share * dt * 1000.0).astype(np.int64)
            else:
                energy_mj[(c, mode, None)] = np.rint(part * dt * 1000.0).astype(np.int64)

    n_containers = len(specs)
    usage_offsets = {}
    for name in COUNTED:
        typical = (
            counts[name].mean(axis=1) / max(float(dt.mean()), 1e-9) if counts[name].size else np.zeros(n_containers)
        )
        usage_offsets[name] = np.rint(typical * offset_rng.uniform(60.0, 7200.0, n_containers)).astype(np.int64) + 1
    energy_offsets = {key: int(offset_rng.integers(1_000_000, 100_000_000)) for key in sorted(energy_mj, key=str)}

    thirdparty = None
    if config.thirdparty:
        cpu = np.concatenate([[node["bpf_cpu_time_ms"][0]], node["bpf_cpu_time_ms"]])
        temp = 38.0 + 30.0 * (1.0 - np.exp(-cpu / 8000.0)) + extra_rng.normal(0.0, 0.3, cpu.size)
        thirdparty = np.rint(temp * 10.0).astype(np.int64)

    scrape = L.scrape_labels(config.job, config.node_name, L.exporter_pod(config.seed, config.node_name))
    return SynthData(
        config=config,
        model=model,
        containers=specs,
        offsets=offsets,
        restarts=restarts,
        counts=counts,
        energy_mj=energy_mj,
        clean_w={c: clean[c] for c in components},
        usage_offsets=usage_offsets,
        energy_offsets=energy_offsets,
        thirdparty_deci=thirdparty,
        alive=alive,
        _scrape=scrape,
    )
