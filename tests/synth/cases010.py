"""The Kepler 0.10 data sets the synth tests share, and rate rules written independently of the generator."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from steps.synth import Kepler010Config, generate_010

NODE = Kepler010Config(
    containers=4,
    duration_s=1800,
    seed=7,
    noise_w=1.5,
    zones=("package", "core", "uncore", "dram", "psys"),
    sockets=2,
    wrap_j=3000.0,  # small RAPL range: the totals wrap every few minutes
    exporter_restarts=(600,),
    container_metric=True,
)
VM = Kepler010Config(
    vms=3,
    duration_s=1800,
    seed=11,
    noise_w=1.0,
    guest_offset_s=4.0,
    guest_missing=((1, 300.0), (1, 315.0), (2, 900.0)),
    exporter_restarts=(1200,),
)
SCRAPE_K8S = {"container", "endpoint", "instance", "job", "namespace", "pod", "service"}
SCRAPE_STATIC = {"instance", "job"}
BUSY_MODES = {"user", "nice", "system", "irq", "softirq"}


def arrays(values):
    return np.array([float(t) for t, _ in values]), np.array([float(v) for _, v in values])


def counter_rates(values):
    """Plain rates at t_1..t_n (no reset rule: every series checked with it must rise)."""
    t, v = arrays(values)
    return t[1:], np.diff(v) / np.diff(t)


def energy_rates(total, active, idle, kind):
    """kepler-010.md §1, written independently: a falling total takes rate(active) + rate(idle); where
    active or idle falls there is no rate (NaN)."""
    t, tv = arrays(total)
    _, av = arrays(active)
    _, iv = arrays(idle)
    dt, dtot, dact, didl = np.diff(t), np.diff(tv), np.diff(av), np.diff(iv)
    broken = (dact < 0) | (didl < 0)
    delta = {"total": np.where(dtot >= 0, dtot, dact + didl), "active": dact, "idle": didl}[kind]
    return t[1:], np.where(broken, np.nan, delta / dt)


def by_zone_path(doc, metric):
    return {(s["metric"]["zone"], s["metric"]["path"]): s["values"] for s in doc[metric]}


NODE_CACHE = {}


def node_data(aggregate):
    if aggregate not in NODE_CACHE:
        NODE_CACHE[aggregate] = generate_010(replace(NODE, aggregate=aggregate))
    return NODE_CACHE[aggregate]
