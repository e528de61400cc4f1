"""The guests of a synthetic VM host: each guest's node_exporter series (kepler-010.md §3), scraped
`guest_offset_s` after the host, from the same per-second busy time that drives its QEMU process.

The known relation (per VM v, zone z, host interval i; see Kepler010Data.vm_power):
    q_v = qemu_cpu_factor * b_v + qemu_overhead_ms          (host CPU ms/s of the VM's QEMU process)
    P_vz = P_z(x) * u * q_v / x                              (the VM's CPU-time share of active energy)
where b_v is the guest's busy ms/s (os_cpu_busy_ms), x the node CPU ms/s, u the usage ratio and
P_z the zone's known power function; with u close to (x + kernel)/capacity, P_vz ~ P_z(x) q_v / capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

import numpy as np
import pandas as pd

from . import names010 as N
from .config010 import Kepler010Config
from .series import COUNTER, GAUGE
from .seriesset import Recipe, labels_of
from .usage import level
from .workload010 import TICK_MS, Timeline, VMSpec, mode_fractions, spread

UNTYPED = "unknown"  # node_exporter's vmstat values carry no type (OpenMetrics `unknown`)
GUEST_JOB = "node-exporter"
_PAGE = 4096


@dataclass(eq=False)
class GuestData:
    """The guests' emitted counters and gauges at their scrapes t_k + offset (k = 0..n; `kept` per VM)."""

    vms: List[VMSpec]
    offsets: np.ndarray  # guest scrape offsets (s after start), one per host scrape
    kept: List[np.ndarray]  # per VM: indices into offsets of the samples that exist
    cpu_ticks: np.ndarray  # int64 (vms, vcpus, modes of names010.CPU_MODES, n+1), cumulative
    counters: Dict[str, np.ndarray]  # metric -> int64 (vms, n+1), cumulative
    mem_total: np.ndarray  # int64 (vms,) bytes
    mem_available: np.ndarray  # int64 (vms, n+1) bytes
    load1_centi: np.ndarray  # int64 (vms, n+1), load1 x 100
    procs_running: np.ndarray  # int64 (vms, n+1)
    busy_host_ms: np.ndarray  # (vms, n): guest busy ms/s over each *host* interval, before tick rounding

    def vm_map(self) -> Dict[str, str]:
        """The `--vm-map` document: guest identity (node_exporter `instance`) -> host `vm_id`."""
        return {vm.instance: vm.vm_id for vm in self.vms}

    def busy_ticks(self) -> np.ndarray:
        """Cumulative busy ticks per VM (vms, n+1): modes user, nice, system, irq, softirq over all CPUs."""
        modes = [N.CPU_MODES.index(m) for m in N.BUSY_MODES]
        return self.cpu_ticks[:, :, modes, :].sum(axis=(1, 2))

    def rates(self, start_epoch: float) -> pd.DataFrame:
        """Features per guest sample that has a previous sample: counters as rates between consecutive
        existing samples (a missing sample widens the interval), gauges as read."""
        frames = []
        busy = self.busy_ticks() * TICK_MS
        for vm, kept in zip(self.vms, self.kept):
            t = self.offsets[kept]
            dt = np.diff(t)

            def rate(values: np.ndarray, kept=kept, dt=dt) -> np.ndarray:
                return np.diff(values[kept]) / dt

            avail, total = self.mem_available[vm.index, kept[1:]], self.mem_total[vm.index]
            columns = dict(
                zip(
                    N.OS_FEATURES,
                    (
                        rate(busy[vm.index]),
                        rate(self.counters[N.OS_CONTEXT_SWITCHES][vm.index]),
                        rate(self.counters[N.OS_INTERRUPTS][vm.index]),
                        rate(self.counters[N.OS_PAGE_FAULTS][vm.index]),
                        rate(self.counters[N.OS_MAJOR_PAGE_FAULTS][vm.index]),
                        1.0 - avail / total,
                        self.load1_centi[vm.index, kept[1:]] / 100.0,
                        self.procs_running[vm.index, kept[1:]].astype(float),
                    ),
                )
            )
            frames.append(
                pd.DataFrame({"timestamp": start_epoch + t[1:], "instance": vm.instance, "vm_id": vm.vm_id, **columns})
            )
        return pd.concat(frames, ignore_index=True)

    def recipes(self) -> List[Recipe]:
        """The guests' series (labels `instance` = guest address, `job`), each at its kept samples."""
        out: List[Recipe] = []
        for vm, kept in zip(self.vms, self.kept):
            scrape = {N.INSTANCE_LABEL: vm.instance, "job": GUEST_JOB}
            samples = None if kept.size == self.offsets.size else kept

            def add(metric, kind, scale, array, extra=None, _kept=kept, _samples=samples, _scrape=scrape):
                build = (lambda: array) if _samples is None else (lambda: array[_kept])
                out.append(Recipe(metric, labels_of(metric, _scrape, extra or {}), kind, scale, build, _samples))

            for c in range(self.cpu_ticks.shape[1]):
                for m, mode in enumerate(N.CPU_MODES):
                    add(
                        N.OS_CPU_SECONDS,
                        COUNTER,
                        100,
                        self.cpu_ticks[vm.index, c, m],
                        {N.CPU_LABEL: str(c), N.MODE_LABEL: mode},
                    )
            for metric in (N.OS_CONTEXT_SWITCHES, N.OS_INTERRUPTS):
                add(metric, COUNTER, 1, self.counters[metric][vm.index])
            for metric in (N.OS_PAGE_FAULTS, N.OS_MAJOR_PAGE_FAULTS):
                add(metric, UNTYPED, 1, self.counters[metric][vm.index])
            add(N.OS_MEM_TOTAL, GAUGE, 1, np.full(self.offsets.size, self.mem_total[vm.index], dtype=np.int64))
            add(N.OS_MEM_AVAILABLE, GAUGE, 1, self.mem_available[vm.index])
            add(N.OS_LOAD1, GAUGE, 100, self.load1_centi[vm.index])
            add(N.OS_PROCS_RUNNING, GAUGE, 1, self.procs_running[vm.index])
        return out


def generate_guests(
    config: Kepler010Config,
    vms: List[VMSpec],
    host_offsets: np.ndarray,
    kept: List[np.ndarray],
    timeline: Timeline,
    busy: np.ndarray,
    rng: np.random.Generator,
) -> GuestData:
    """Every guest's node_exporter values at host scrape + config.guest_offset_s, from `busy` (vms, slots)."""
    g = host_offsets + config.guest_offset_s
    uptime = rng.uniform(3600.0, 30 * 86400.0, len(vms))  # guests booted before the window
    cum_busy = timeline.cumulate(busy)
    busy_at = timeline.at(cum_busy, g) + (uptime * busy.mean(axis=1))[:, None]
    host_cum = timeline.at(cum_busy, host_offsets)
    cpu_ticks = _cpu_ticks(config, vms, timeline, busy_at, g, uptime, rng)
    counters = {}
    for metric, base, per_busy, own in (
        (N.OS_CONTEXT_SWITCHES, 500.0, 1.8, 400.0),
        (N.OS_INTERRUPTS, 300.0, 0.9, 250.0),
        (N.OS_PAGE_FAULTS, 800.0, 6.0, 3000.0),
        (N.OS_MAJOR_PAGE_FAULTS, 0.05, 0.002, 0.5),
    ):
        rate = np.vstack(
            [
                base * vm.vcpus + per_busy * busy[vm.index] + own * level("randomwalk", timeline.tau, rng, 900.0)
                for vm in vms
            ]
        )
        cum = timeline.at(timeline.cumulate(rate), g) + (uptime * rate.mean(axis=1))[:, None]
        counters[metric] = np.floor(cum).astype(np.int64)
    slot = timeline.slot_of(g)
    mem_total = np.array([vm.vcpus * 2 * 1024**3 - rng.integers(50, 200) * 1024**2 for vm in vms], dtype=np.int64)
    used = np.vstack([0.25 + 0.45 * level("sine", timeline.tau, rng, rng.uniform(1800.0, 7200.0)) for _ in vms])
    available = (np.floor(mem_total[:, None] * (1.0 - used[:, slot]) / _PAGE) * _PAGE).astype(np.int64)
    runnable = busy / 1000.0 + 0.1 * np.abs(rng.standard_normal(busy.shape))
    csum = np.concatenate([np.zeros((len(vms), 1)), np.cumsum(runnable, axis=1)], axis=1)
    first = np.maximum(slot + 1 - 60, 0)  # load1: the mean runnable count over the last minute
    load = (csum[:, slot + 1] - csum[:, first]) / (slot + 1 - first)
    procs = 1 + np.rint(busy[:, slot] / 1000.0 * rng.uniform(0.8, 1.2, busy[:, slot].shape)).astype(np.int64)
    return GuestData(
        vms=vms,
        offsets=g,
        kept=kept,
        cpu_ticks=cpu_ticks,
        counters=counters,
        mem_total=mem_total,
        mem_available=available,
        load1_centi=np.rint(load * 100.0).astype(np.int64),
        procs_running=procs,
        busy_host_ms=np.diff(host_cum, axis=1) / np.diff(host_offsets),
    )


def _cpu_ticks(
    config: Kepler010Config,
    vms: List[VMSpec],
    timeline: Timeline,
    busy_at: np.ndarray,
    g: np.ndarray,
    uptime: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Cumulative ticks (vms, vcpus, modes, samples): busy split by mode and CPU, iowait and steal small,
    idle the rest of each CPU's wall time (every mode's rate stays >= 0, so every counter rises)."""
    vcpus = config.vcpus
    out = np.zeros((len(vms), vcpus, len(N.CPU_MODES), g.size), dtype=np.int64)
    for vm in vms:
        w = rng.uniform(0.95, 1.05, vcpus)
        ms = {}  # mode -> cumulative ms (vcpus, samples)
        for mode, frac in zip(N.BUSY_MODES, mode_fractions(rng)):
            ms[mode] = spread(busy_at[vm.index] * frac, w)
        wall = 1000.0 * (uptime[vm.index] + g)  # ms per CPU since boot
        for mode, share in (("iowait", rng.uniform(0.002, 0.01)), ("steal", rng.uniform(0.001, 0.005))):
            varying = share * (1.0 + 0.5 * level("sine", timeline.tau, rng, rng.uniform(600.0, 3600.0)))
            cum = timeline.at(timeline.cumulate(1000.0 * varying[None, :]), g)[0] + 1000.0 * uptime[vm.index] * share
            ms[mode] = np.repeat(cum[None, :], vcpus, axis=0)
        ms["idle"] = wall[None, :] - sum(ms.values())
        for m, mode in enumerate(N.CPU_MODES):
            out[vm.index, :, m, :] = np.floor(ms[mode] / TICK_MS).astype(np.int64)
    return out
