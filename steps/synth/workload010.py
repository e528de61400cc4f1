"""Who runs on the synthetic Kepler 0.10 host and how busy it is, on a fine time grid.

Rates are piecewise constant on 1-second slots, so the CPU time of any interval (host scrapes, and
guest scrapes shifted by a clock offset) is an exact integral; counters are that integral, rounded
down to whole clock ticks (10 ms) as /proc reports them.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from .config010 import Kepler010Config
from .usage import PATTERNS, level

TICK_MS = 10  # USER_HZ = 100: /proc CPU times are whole 10 ms ticks
CONTAINER, REGULAR, VM = "container", "regular", "vm"  # Kepler's process `type` values
QEMU_COMM, QEMU_EXE = "qemu-system-x86", "/usr/bin/qemu-system-x86_64"
_EXES = {"kubelet": "/usr/bin/kubelet", "containerd": "/usr/bin/containerd", "libvirtd": "/usr/sbin/libvirtd"}


@dataclass(frozen=True)
class ContainerSpec010:
    """One container (labels of kepler_container_cpu_seconds_total)."""

    index: int
    container_id: str
    container_name: str
    pod_name: str
    pod_id: str
    cores: float  # peak CPU use in cores
    pattern: str


@dataclass(frozen=True)
class VMSpec:
    """One VM: host-side identity (vm_id, vm_name) and the guest's node_exporter address (`instance`)."""

    index: int
    vm_id: str
    vm_name: str
    instance: str
    vcpus: int


@dataclass(frozen=True)
class ProcessSpec:
    """One host process (labels of kepler_process_cpu_seconds_total); owner = container or VM index."""

    pid: int
    comm: str
    exe: str
    type: str
    container_id: str = ""
    vm_id: str = ""
    owner: Optional[int] = None


def _hex(seed: int, *parts: object) -> str:
    return hashlib.sha256("/".join(["synth010", str(seed), *map(str, parts)]).encode()).hexdigest()


def _uuid(seed: int, *parts: object) -> str:
    return str(uuid.UUID(_hex(seed, *parts)[:32]))


def guest_address(index: int) -> str:
    """The guest's node_exporter target: its address on the host's bridge and port 9100."""
    return f"192.168.{122 + index // 200}.{10 + index % 200}:9100"


def build_specs(config: Kepler010Config, rng: np.random.Generator):
    """(containers, vms, processes): the containers' processes, the system processes, one QEMU per VM."""
    containers = [
        ContainerSpec010(
            i,
            _hex(config.seed, "container", i),
            config.benchmark,
            f"{config.benchmark}-{i}",
            _uuid(config.seed, "pod", i),
            float(rng.uniform(0.2, 1.2)),
            PATTERNS[i % len(PATTERNS)],
        )
        for i in range(config.containers)
    ]
    vms = [
        VMSpec(v, _uuid(config.seed, "vm", v), f"synth-vm-{v}", guest_address(v), config.vcpus)
        for v in range(config.vms)
    ]
    count = len(containers) * config.processes_per_container + len(config.system_processes) + len(vms)
    pids = iter(1000 + rng.choice(4_000_000, size=count, replace=False))
    processes = []
    for c in containers:
        for j in range(config.processes_per_container):
            comm = config.benchmark if j == 0 else f"{config.benchmark}-cpu"
            exe = f"/usr/bin/{config.benchmark}"
            processes.append(
                ProcessSpec(int(next(pids)), comm[:15], exe, CONTAINER, container_id=c.container_id, owner=c.index)
            )
    for name in config.system_processes:
        exe = _EXES.get(name, f"/usr/lib/systemd/{name}d" if name.startswith("systemd") else f"/usr/bin/{name}")
        processes.append(ProcessSpec(int(next(pids)), name[:15], exe, REGULAR))
    for vm in vms:
        processes.append(ProcessSpec(int(next(pids)), QEMU_COMM, QEMU_EXE, VM, vm_id=vm.vm_id, owner=vm.index))
    return containers, vms, processes


class Timeline:
    """1-second slots covering [first, last] offsets (s after config.start); exact integrals of slot rates."""

    def __init__(self, first: float, last: float, slot_s: float = 1.0) -> None:
        self.origin = float(np.floor(first / slot_s) * slot_s)
        self.slot_s = slot_s
        self.slots = int(np.ceil((last - self.origin) / slot_s)) + 1
        self.edges = self.origin + np.arange(self.slots + 1) * slot_s
        self.tau = self.edges[:-1] + slot_s / 2.0

    def cumulate(self, rates: np.ndarray) -> np.ndarray:
        """Per-second rates (rows, slots) -> their integral from the origin at every edge (rows, slots+1)."""
        cum = np.zeros(rates.shape[:-1] + (self.slots + 1,))
        np.cumsum(rates * self.slot_s, axis=-1, out=cum[..., 1:])
        return cum

    def at(self, cum: np.ndarray, times: np.ndarray) -> np.ndarray:
        """The integral at arbitrary offsets (linear within a slot: exact for piecewise-constant rates)."""
        idx = np.clip(np.searchsorted(self.edges, times, side="right") - 1, 0, self.slots - 1)
        frac = (times - self.edges[idx]) / self.slot_s
        return cum[..., idx] + frac * (cum[..., idx + 1] - cum[..., idx])

    def slot_of(self, times: np.ndarray) -> np.ndarray:
        """Index of the slot holding each offset (a gauge sampled at t reads its slot)."""
        return np.clip(np.searchsorted(self.edges, times, side="right") - 1, 0, self.slots - 1)


def _jitter(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    return np.clip(1.0 + scale * rng.standard_normal(n), 0.0, None)


def guest_busy(vms: List[VMSpec], timeline: Timeline, rng: np.random.Generator) -> np.ndarray:
    """Guest CPU busy time in ms per second per slot (vms, slots): 3 % to 80 % of the guest's vCPUs."""
    busy = np.zeros((len(vms), timeline.slots))
    for vm in vms:
        load = level(PATTERNS[vm.index % len(PATTERNS)], timeline.tau, rng, rng.uniform(300.0, 1800.0))
        frac = np.clip(0.03 + 0.77 * load * _jitter(rng, timeline.slots, 0.04), 0.0, 0.8)
        busy[vm.index] = 1000.0 * vm.vcpus * frac
    return busy


def process_rates(
    config: Kepler010Config,
    containers: List[ContainerSpec010],
    processes: List[ProcessSpec],
    busy: np.ndarray,
    timeline: Timeline,
    rng: np.random.Generator,
) -> np.ndarray:
    """CPU ms per second per slot of every host process (processes, slots).

    A container's load (its pattern, up to `cores`) is split over its processes 60/40 (or evenly
    beyond two); a regular process uses 0.5-3 % of a core; a QEMU process uses
    qemu_cpu_factor * guest busy + qemu_overhead_ms (the known host side of a VM).
    """
    n = timeline.slots
    container_load = np.zeros((len(containers), n))
    for c in containers:
        load = level(c.pattern, timeline.tau, rng, rng.uniform(300.0, 1800.0))
        container_load[c.index] = 1000.0 * c.cores * load * _jitter(rng, n, 0.05) + rng.uniform(0.5, 3.0)
    per = config.processes_per_container
    weights = [0.6, 0.4] if per == 2 else [1.0 / per] * per
    rates = np.zeros((len(processes), n))
    seen = {}
    for row, p in enumerate(processes):
        if p.type == CONTAINER:
            j = seen[p.owner] = seen.get(p.owner, -1) + 1
            rates[row] = container_load[p.owner] * weights[j]
        elif p.type == VM:
            rates[row] = config.qemu_cpu_factor * busy[p.owner] + config.qemu_overhead_ms
        else:
            rates[row] = 1000.0 * rng.uniform(0.005, 0.03) * _jitter(rng, n, 0.2)
    return rates


def kernel_rate(timeline: Timeline, capacity_ms: float, rng: np.random.Generator) -> np.ndarray:
    """CPU time no process is charged for (interrupts, kernel threads), ms per second per slot: 0.4-1 % of the node."""
    return capacity_ms * (0.004 + 0.006 * level("sine", timeline.tau, rng, rng.uniform(600.0, 2400.0)))


def auto_cpus(config: Kepler010Config, peak_ms: float) -> int:
    """Logical CPUs: config.cpus, else the smallest multiple of 4*sockets keeping the peak under 80 %."""
    if config.cpus:
        return config.cpus
    unit = 4 * config.sockets
    return int(max(unit, unit * np.ceil(peak_ms / 1000.0 / 0.8 / unit)))


def ticks_at(cum_ms: np.ndarray, base_ms: np.ndarray) -> np.ndarray:
    """Whole ticks of CPU time counted by each sample (rows, samples): floor((base + integral) / 10 ms)."""
    return np.floor((base_ms[:, None] + cum_ms) / TICK_MS).astype(np.int64)


def host_offsets(config: Kepler010Config) -> np.ndarray:
    """Host scrape offsets t_0..t_n (s after start)."""
    n = int(np.floor(config.duration_s / config.step_s + 1e-9))
    return np.arange(n + 1, dtype=float) * config.step_s


def restart_indices(config: Kepler010Config, offsets: np.ndarray) -> np.ndarray:
    """Sample indices that are Kepler's first read after each exporter restart."""
    starts = set()
    for r in config.exporter_restarts:
        at = int(np.searchsorted(offsets, r, side="left"))
        if at + 1 < offsets.size:
            starts.add(at + 1)
    return np.array(sorted(starts), dtype=np.int64)


def guest_samples(config: Kepler010Config, offsets: np.ndarray) -> List[np.ndarray]:
    """Per VM, the host sample indices whose guest sample exists (config.guest_missing removed)."""
    kept = []
    for v in range(config.vms):
        keep = np.ones(offsets.size, dtype=bool)
        for vm, missing in config.guest_missing:
            if vm == v:
                keep[int(np.argmin(np.abs(offsets - missing)))] = False
        kept.append(np.flatnonzero(keep))
    return kept


def spread(total: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split cumulative totals (..., samples) over weights (k,) -> (k, ..., samples) floats summing to total."""
    w = np.asarray(weights, dtype=float) / float(np.sum(weights))
    return w.reshape((-1,) + (1,) * total.ndim) * total[None, ...]


def mode_fractions(rng: np.random.Generator) -> Tuple[float, ...]:
    """Shares of guest busy time per busy mode (user, nice, system, irq, softirq)."""
    raw = np.array([0.70, 0.02, 0.21, 0.01, 0.06]) * rng.uniform(0.8, 1.2, 5)
    return tuple(raw / raw.sum())
