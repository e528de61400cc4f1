"""The host Kepler 0.10 exporter's series of a Kepler010Data, with the label sets of kepler-010.md §1."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Dict, List

import numpy as np

from . import names010 as N
from .series import COUNTER, GAUGE
from .seriesset import Recipe, SeriesSet, labels_of
from .workload010 import TICK_MS, ProcessSpec
from .zones import restart_counter

if TYPE_CHECKING:  # pragma: no cover
    from .kepler010 import Kepler010Data

MODEL_NAME = "Intel(R) Xeon(R) Gold 6330 CPU @ 2.00GHz"
VENDOR = "GenuineIntel"
KEPLER_PORT = 28282


def scrape_labels(data: "Kepler010Data") -> Dict[str, str]:
    """Labels Prometheus adds: Kubernetes service discovery on a node, a static target on a VM host."""
    cfg = data.config
    if cfg.vms:
        return {"instance": f"{cfg.node_name}:{KEPLER_PORT}", "job": "kepler"}
    suffix = hashlib.sha256(f"kepler/{cfg.seed}/{cfg.node_name}".encode()).hexdigest()[:5]
    return {
        "container": "kepler",
        "endpoint": "http",
        "instance": cfg.node_name,
        "job": "kepler",
        "namespace": "kepler",
        "pod": f"kepler-{suffix}",
        "service": "kepler",
    }


def process_labels(p: ProcessSpec) -> Dict[str, str]:
    """Identity of a process series (empty container_id / vm_id are absent, as Prometheus stores them)."""
    return {
        N.PID_LABEL: str(p.pid),
        "comm": p.comm,
        "exe": p.exe,
        "type": p.type,
        "container_id": p.container_id,
        "vm_id": p.vm_id,
    }


def cpu_info_labels(cpus: int, sockets: int) -> List[Dict[str, str]]:
    """One label set per logical CPU, numbered as Linux does: sockets' cores first, then their siblings."""
    cores = cpus // (2 * sockets)
    out = []
    for processor in range(cpus):
        rest = processor % (cores * sockets)
        out.append(
            {
                N.PROCESSOR_LABEL: str(processor),
                "vendor_id": VENDOR,
                N.MODEL_LABEL: MODEL_NAME,
                N.CHIP_LABEL: str(rest // cores),
                "core_id": str(rest % cores),
            }
        )
    return out


def host_recipes(data: "Kepler010Data") -> SeriesSet:
    """Every host series: node energy (total/active/idle), usage ratio, process CPU time and energy,
    container CPU time (optional), VM energy, CPU info and build info."""
    cfg, scrape = data.config, scrape_labels(data)
    node = {**scrape, N.NODE_NAME_LABEL: cfg.node_name}
    n1 = data.offsets.size
    recipes: List[Recipe] = []

    def add(metric, labels, kind, scale, build):
        recipes.append(Recipe(metric, labels_of(metric, node, labels), kind, scale, build))

    for zone in cfg.zones:
        for path in data.zones.paths[zone]:
            key, ids = (zone, path), {N.ZONE_LABEL: zone, N.PATH_LABEL: path}
            add(N.NODE_ENERGY, ids, COUNTER, 1000, lambda key=key: data.zones.total[key])
            add(N.NODE_ACTIVE_ENERGY, ids, COUNTER, 1000, lambda key=key: data.zones.active_values[key])
            add(N.NODE_IDLE_ENERGY, ids, COUNTER, 1000, lambda key=key: data.zones.idle_values[key])
    add(N.USAGE_RATIO, {}, GAUGE, 10_000, lambda: data.ratio)
    for row, p in enumerate(data.processes):
        ids = process_labels(p)
        add(N.PROCESS_CPU_TIME, ids, COUNTER, 1000, lambda row=row: data.ticks[row] * TICK_MS)
        if not (cfg.process_energy or p.vm_id):
            continue
        for j, zone in enumerate(cfg.zones):
            build = _energy_builder(data, zone, row, int(data.process_mj_start[row, j]))
            add(N.PROCESS_ENERGY, {**ids, "state": "running", N.ZONE_LABEL: zone}, COUNTER, 1000, build)
            if p.vm_id:
                vm = data.vms[p.owner]
                vm_ids = {"vm_id": vm.vm_id, "vm_name": vm.vm_name, "hypervisor": "kvm", "state": "running"}
                add(N.VM_ENERGY, {**vm_ids, N.ZONE_LABEL: zone}, COUNTER, 1000, build)
    if cfg.container_metric:
        for c in data.containers:
            rows = [row for row, p in enumerate(data.processes) if p.container_id == c.container_id]
            ids = {
                "container_id": c.container_id,
                "container_name": c.container_name,
                "runtime": "containerd",
                "state": "running",
                "pod_id": c.pod_id,
            }
            add(N.CONTAINER_CPU_TIME, ids, COUNTER, 1000, lambda rows=rows: data.ticks[rows].sum(axis=0) * TICK_MS)
    one = np.ones(n1, dtype=np.int64)
    for labels in cpu_info_labels(data.cpus, cfg.sockets):
        recipes.append(Recipe(N.CPU_INFO, labels_of(N.CPU_INFO, scrape, labels), GAUGE, 1, lambda: one))
    build = {
        "arch": "amd64",
        "branch": "HEAD",
        "goversion": "go1.24.5",
        "revision": hashlib.sha1(cfg.kepler_version.encode()).hexdigest()[:7],
        N.VERSION_LABEL: cfg.kepler_version,
    }
    recipes.append(Recipe(N.BUILD_INFO, labels_of(N.BUILD_INFO, scrape, build), GAUGE, 1, lambda: one))
    return SeriesSet(data.host_timestamps, recipes)


def _energy_builder(data: "Kepler010Data", zone: str, row: int, start: int):
    """Values of a process's (and its VM's) energy counter: its share per interval, 0 at a restart."""

    def build() -> np.ndarray:
        restarts = data.restarts
        return restart_counter(data.process_mj[zone][row], start, restarts, np.zeros(restarts.size, dtype=np.int64))

    return build
