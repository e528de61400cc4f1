"""The synthetic Kepler 0.10 data set: a bare-metal node (containers and processes) or a VM host with its
guests' node_exporter series, from known per-zone power functions of the node's CPU time.

`generate_010(config)` draws everything up front as integer arrays (ticks, millijoules); the series,
the query JSON and the OpenMetrics text are built lazily, one series at a time. The truth accessors
return what train must recover (kepler-010.md §2-§4); rates at t_i are for the interval (t_{i-1}, t_i].
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from ..common.atomic import write_json
from .config010 import Kepler010Config
from .energy010 import ZoneCounters, meter, process_energy
from .host010 import host_recipes
from .series import Series
from .seriesset import SeriesSet, union
from .vm010 import GuestData, generate_guests
from .workload010 import (
    TICK_MS,
    ContainerSpec010,
    ProcessSpec,
    Timeline,
    VMSpec,
    auto_cpus,
    build_specs,
    guest_busy,
    guest_samples,
    host_offsets,
    kernel_rate,
    process_rates,
    restart_indices,
    ticks_at,
)
from .zones import ZonePowerModel, default_zone_model

PARTS = ("all", "host", "guests")
RATIO_SCALE = 10_000  # the usage-ratio gauge is emitted with 4 decimals


@dataclass(eq=False)
class Kepler010Data:
    """A generated 0.10 data set: emitted series (`host`, `guests`, `all`) and the truth they encode."""

    config: Kepler010Config
    model: ZonePowerModel
    containers: List[ContainerSpec010]
    vms: List[VMSpec]
    processes: List[ProcessSpec]
    cpus: int
    offsets: np.ndarray  # host scrape offsets t_0..t_n (s after start)
    restarts: np.ndarray  # sample indices: Kepler's first read after an exporter restart
    ticks: np.ndarray  # int64 (processes, n+1): cumulative CPU ticks (10 ms) per process
    ratio: np.ndarray  # int64 (n+1,): usage ratio x RATIO_SCALE as emitted
    kernel_ms: np.ndarray  # (n,): CPU ms/s charged to no process (in the ratio, not in x)
    zones: ZoneCounters
    process_mj: Dict[str, np.ndarray]  # zone -> int64 (processes, n) attributed energy per interval
    process_mj_start: np.ndarray  # int64 (processes, zones): process (and VM) energy counters at t_0
    guests: Optional[GuestData]

    # ---- time
    @property
    def timestamps(self) -> np.ndarray:
        """Epoch seconds of every emitted sample (host and guests)."""
        return self.all.timestamps

    @property
    def host_timestamps(self) -> np.ndarray:
        """Epoch seconds of the host samples t_0..t_n."""
        return self.config.start_epoch + self.offsets

    @property
    def rate_timestamps(self) -> np.ndarray:
        """Epoch seconds t_1..t_n of the host: where host rates and power are defined."""
        return self.host_timestamps[1:]

    @property
    def dt(self) -> np.ndarray:
        """Host interval lengths t_i - t_{i-1}."""
        return np.diff(self.offsets)

    @property
    def window(self) -> Tuple[datetime, datetime]:
        """(first, last) host sample as aware UTC datetimes: the window to query."""
        t = self.host_timestamps
        return (datetime.fromtimestamp(t[0], tz=timezone.utc), datetime.fromtimestamp(t[-1], tz=timezone.utc))

    @property
    def restart_timestamps(self) -> np.ndarray:
        """Epoch seconds of Kepler's first read after each exporter restart."""
        return self.host_timestamps[self.restarts]

    @property
    def capacity_ms(self) -> float:
        """CPU ms per second the host has (1000 per logical CPU)."""
        return 1000.0 * self.cpus

    # ---- truth: host
    def _index(self) -> pd.Index:
        return pd.Index(self.rate_timestamps, name="timestamp")

    def _cpu_ticks(self) -> np.ndarray:
        return np.diff(self.ticks, axis=1)

    def node_cpu_ms(self) -> pd.Series:
        """x: the node's CPU time in ms per second (sum over processes; the feature bpf_cpu_time_ms)."""
        x = self._cpu_ticks().sum(axis=0) * TICK_MS / self.dt
        return pd.Series(x, index=self._index(), name="bpf_cpu_time_ms")

    def usage_ratio(self) -> pd.Series:
        """The kepler_node_cpu_usage_ratio gauge at every host sample t_0..t_n, as emitted."""
        return pd.Series(self.ratio / RATIO_SCALE, index=pd.Index(self.host_timestamps, name="timestamp"))

    def process_rates(self) -> pd.DataFrame:
        """One row per (t_i, process): timestamp, pid, comm, type, container_id, vm_id, cpu_ms (ms/s)."""
        n, p = self.dt.size, len(self.processes)
        return pd.DataFrame(
            {
                "timestamp": np.repeat(self.rate_timestamps, p),
                "pid": np.tile([s.pid for s in self.processes], n),
                "comm": np.tile([s.comm for s in self.processes], n),
                "type": np.tile([s.type for s in self.processes], n),
                "container_id": np.tile([s.container_id for s in self.processes], n),
                "vm_id": np.tile([s.vm_id for s in self.processes], n),
                "cpu_ms": (self._cpu_ticks() * TICK_MS / self.dt).T.reshape(-1),
            }
        )

    def zone_power(self, kind: str = "total", noise: bool = True) -> pd.DataFrame:
        """Node power per zone (W) at t_1..t_n, one column per zone, summed over paths.

        kind "total" (kepler_node_cpu_joules_total), "active" or "idle". noise=True: exactly what the
        counters encode, with kepler-010.md §1's rules (a falling total takes rate(active) +
        rate(idle)); NaN at restart samples, where active and idle fall and no rate exists.
        noise=False: the model (times the usage ratio for active, times 1 - ratio for idle), no NaN.
        """
        if kind not in ("total", "active", "idle"):
            raise ValueError(f"kind must be total, active or idle, got {kind!r}")
        ratio = self.ratio[1:] / RATIO_SCALE
        data = {}
        for z in self.config.zones:
            if not noise:
                factor = {"total": 1.0, "active": ratio, "idle": 1.0 - ratio}[kind]
                data[z] = self.zones.clean_w[z] * factor
                continue
            watts = self.zones.zone_energy(z, kind) / 1000.0 / self.dt
            if self.restarts.size:
                watts = watts.astype(float)
                watts[self.restarts - 1] = np.nan
            data[z] = watts
        return pd.DataFrame(data, index=self._index())

    def wrap_timestamps(self, zone: str) -> np.ndarray:
        """Host samples where a raw total of the zone falls (a RAPL wrap or, merged, a restart)."""
        falls = np.zeros(self.dt.size, dtype=bool)
        for path in self.zones.paths[zone]:
            falls |= np.diff(self.zones.total[(zone, path)]) < 0
        return self.rate_timestamps[falls]

    def machine_spec(self) -> Dict[str, object]:
        """What query reads from kepler_node_cpu_info (kepler-010.md §1): processor, cores, chips."""
        from .host010 import MODEL_NAME

        return {"processor": MODEL_NAME, "cores": self.cpus, "chips": self.config.sockets}

    # ---- truth: VMs
    def _qemu_rows(self) -> List[int]:
        rows = {p.owner: row for row, p in enumerate(self.processes) if p.vm_id}
        return [rows[vm.index] for vm in self.vms]

    def vm_power(self, noise: bool = True) -> pd.DataFrame:
        """Per-VM power per zone (W): rows (timestamp t_1..t_n, vm_id), one column per zone.

        noise=True: what kepler_vm_cpu_joules_total encodes (NaN at restart samples). noise=False: the
        relation P_z(x) * u * q / x with the model's clean P_z (module docstring of vm010).
        """
        rows = self._qemu_rows()
        x = self._cpu_ticks().sum(axis=0).astype(float)
        frames = []
        for vm, row in zip(self.vms, rows):
            data = {"timestamp": self.rate_timestamps, "vm_id": vm.vm_id}
            for z in self.config.zones:
                if noise:
                    watts = self.process_mj[z][row] / 1000.0 / self.dt
                    if self.restarts.size:
                        watts = watts.astype(float)
                        watts[self.restarts - 1] = np.nan
                else:
                    share = np.divide(self._cpu_ticks()[row], x, out=np.zeros_like(x), where=x > 0)
                    watts = self.zones.clean_w[z] * (self.ratio[1:] / RATIO_SCALE) * share
                data[z] = watts
            frames.append(pd.DataFrame(data))
        return pd.concat(frames, ignore_index=True).set_index(["timestamp", "vm_id"]) if frames else pd.DataFrame()

    def vm_rates(self) -> pd.DataFrame:
        """Per VM and host interval: qemu_cpu_ms (host ms/s, from the counters) and guest_busy_ms (the
        guest's busy ms/s over the same host interval, before tick rounding). Rows (timestamp, vm_id)."""
        self._need_guests()
        frames = []
        for vm, row in zip(self.vms, self._qemu_rows()):
            frames.append(
                pd.DataFrame(
                    {
                        "timestamp": self.rate_timestamps,
                        "vm_id": vm.vm_id,
                        "qemu_cpu_ms": self._cpu_ticks()[row] * TICK_MS / self.dt,
                        "guest_busy_ms": self.guests.busy_host_ms[vm.index],
                    }
                )
            )
        return pd.concat(frames, ignore_index=True).set_index(["timestamp", "vm_id"])

    def guest_rates(self) -> pd.DataFrame:
        """The guests' OS features (kepler-010.md §3) at each guest sample after a previous one."""
        self._need_guests()
        return self.guests.rates(self.config.start_epoch)

    def guest_timestamps(self, vm: int) -> np.ndarray:
        """Epoch seconds of the samples guest `vm` has (missing ones left out)."""
        self._need_guests()
        return self.config.start_epoch + self.guests.offsets[self.guests.kept[vm]]

    def vm_map(self) -> Dict[str, str]:
        """The `--vm-map` JSON object: guest `instance` -> `vm_id`."""
        self._need_guests()
        return self.guests.vm_map()

    def write_vm_map(self, path):
        """Write vm_map() as JSON to `path` atomically."""
        return write_json(path, self.vm_map())

    def _need_guests(self) -> None:
        if self.guests is None:
            raise ValueError("generated without VMs (config.vms = 0)")

    # ---- emitted series
    @cached_property
    def host(self) -> SeriesSet:
        """The host Kepler's series."""
        return host_recipes(self)

    @cached_property
    def _union(self) -> SeriesSet:
        return union(self.host, self._guest_set)

    @cached_property
    def _guest_set(self) -> SeriesSet:
        self._need_guests()
        return SeriesSet(self.config.start_epoch + self.guests.offsets, self.guests.recipes())

    @property
    def all(self) -> SeriesSet:
        """Host and guest series in one set (their metric names do not collide)."""
        return self.part("all")

    def part(self, name: str = "all") -> SeriesSet:
        """ "all", "host" or "guests" (the guests' node_exporter, e.g. for another Prometheus)."""
        if name not in PARTS:
            raise ValueError(f"part must be one of {', '.join(PARTS)}, got {name!r}")
        if name == "host" or (name == "all" and self.guests is None):
            return self.host
        return self._guest_set if name == "guests" else self._union

    def metric_names(self, part: str = "all") -> List[str]:
        """Every emitted metric of the part, sorted."""
        return self.part(part).metric_names()

    def iter_series(self, metrics: Optional[Sequence[str]] = None, values: bool = True) -> Iterator[Series]:
        """Every emitted series (host and guests) in file order."""
        return self.all.iter_series(metrics, values)

    def query_response(self, metrics: Optional[Sequence[str]] = None, part: str = "all") -> Dict[str, list]:
        """The query JSON as a dict (workspace.md §3.1; raw samples, metrics and series sorted)."""
        return self.part(part).query_response(metrics)

    def write_query_response(self, path, metrics: Optional[Sequence[str]] = None, part: str = "all"):
        """Stream the query JSON of the part to `path`."""
        return self.part(part).write_query_response(path, metrics)

    def write_openmetrics(self, path, part: str = "all"):
        """Stream the OpenMetrics text of the part (for promtool) to `path`."""
        return self.part(part).write_openmetrics(path)


def generate_010(config: Kepler010Config, model: Optional[ZonePowerModel] = None) -> Kepler010Data:
    """Build the data set for `config` (deterministic in config.seed). `model` overrides the default."""
    spec_rng, usage_rng, noise_rng, offset_rng, guest_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(5)
    )
    offsets = host_offsets(config)
    shift = config.guest_offset_s if config.vms else 0.0
    timeline = Timeline(min(0.0, shift), offsets[-1] + max(0.0, shift))
    containers, vms, processes = build_specs(config, spec_rng)
    busy = guest_busy(vms, timeline, usage_rng)
    rates = process_rates(config, containers, processes, busy, timeline, usage_rng)
    base_ms = rates.mean(axis=1) * offset_rng.uniform(600.0, 86400.0, len(processes))  # ran before the window
    ticks = ticks_at(timeline.at(timeline.cumulate(rates), offsets), base_ms)
    dt = np.diff(offsets)
    x = np.diff(ticks, axis=1).sum(axis=0) * TICK_MS / dt
    cpus = auto_cpus(config, float(x.max(initial=0.0)))
    kernel = np.diff(timeline.at(timeline.cumulate(kernel_rate(timeline, 1000.0 * cpus, usage_rng)), offsets)) / dt
    ratio = np.rint(np.clip((x + kernel) / (1000.0 * cpus), 0.0, 1.0) * RATIO_SCALE).astype(np.int64)
    ratio = np.concatenate([ratio[:1], ratio])  # the gauge at t_0 reads the interval before it: same level
    model = model or default_zone_model(config.power, float(x.max(initial=1.0)))
    restarts = restart_indices(config, offsets)
    zones = meter(config, model, x, ratio / RATIO_SCALE, dt, restarts, noise_rng)
    return Kepler010Data(
        config=config,
        model=model,
        containers=containers,
        vms=vms,
        processes=processes,
        cpus=cpus,
        offsets=offsets,
        restarts=restarts,
        ticks=ticks,
        ratio=ratio,
        kernel_ms=kernel,
        zones=zones,
        process_mj=process_energy(zones, config.zones, np.diff(ticks, axis=1)),
        process_mj_start=offset_rng.integers(0, 10_000_000, (len(processes), len(config.zones))),
        guests=generate_guests(config, vms, offsets, guest_samples(config, offsets), timeline, busy, guest_rng)
        if vms
        else None,
    )
