"""The demo's Kepler 0.10 cases (`python -m steps.demo --kepler 0.10` / `--vm`): a node with per-zone power
functions of its CPU time, or a VM host whose guests' node_exporter lives in a second Prometheus.

Each prints the known functions, serves the data, and, where this build trains the case, runs
query -> train -> export and prints the learned coefficients next to the known ones; otherwise it
says what is missing.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from .cli import main as kepler_model
from .common.workspace import ModelDatabase, PipelineLayout, Workspace
from .demo07 import (
    BENCHMARK,
    MACHINE_ID,
    NOISE_W,
    PUBLISHER,
    linear_weights,
    make_folders,
    print_best,
    print_served,
    run_flags,
    step_environ,
    window_flags,
)

PIPELINE_010 = "demo_v0.10"
# VM models (metric type vm_metrics) need a pipeline of their own: train refuses to add them to the node one.
PIPELINE_VM = "demo_vm_v0.10"
GUEST_SELECTOR = 'job="node-exporter"'
VM_MAP = "vm-map"  # the workspace name of the guest -> vm_id map


def missing_support(vm: bool) -> List[str]:
    """What this build lacks to train the 0.10 case (empty: supported)."""
    from .common import domain
    from .contract import commands_by_name

    lacks = []
    if "0.10" not in getattr(domain, "MODEL_GENERATIONS", {}) or "CPUTimeOnly" not in domain.FEATURE_GROUPS:
        lacks.append("train has no Kepler 0.10 models")
    if vm:
        commands = commands_by_name()
        for command, flags in (("query", ("--os-server", "--os-selector")), ("train", ("--vm-map",))):
            parser = importlib.import_module(commands[command].module).build_parser()
            lacks += [f"{command} lacks {flag}" for flag in flags if flag not in parser._option_string_actions]
    return lacks


def known_zone_lines(data) -> List[str]:
    """The known per-zone functions of a 0.10 data set, one line each (watts, x = bpf_cpu_time_ms)."""
    noise = data.zones.noise_w
    return [f"  {zone:<8} {data.model.describe(zone)}   (noise {noise[zone]:.2f} W)" for zone in data.config.zones]


def vm_linear_truth(data) -> Dict[str, Tuple[float, float]]:
    """Per zone (a, b) of the least-squares line P_vm = a + b x os_cpu_busy_ms over the truth, each host row
    paired with the guest row nearest in time within half a step (kepler-010.md §4's alignment)."""
    import numpy as np
    import pandas as pd

    power = data.vm_power().reset_index().sort_values("timestamp")
    guests = data.guest_rates()[["timestamp", "vm_id", "os_cpu_busy_ms"]].sort_values("timestamp")
    paired = pd.merge_asof(
        power, guests, on="timestamp", by="vm_id", direction="nearest", tolerance=data.config.step_s / 2
    ).dropna()
    return {z: tuple(np.polyfit(paired["os_cpu_busy_ms"], paired[z], 1)[::-1]) for z in data.config.zones}


def config_010(args: argparse.Namespace):
    """The demo's data set: a node of `--containers` containers, or a host of `--vms` VMs."""
    from .synth import Kepler010Config

    common = dict(duration_s=float(args.duration), seed=args.seed, power=args.power, noise_w=NOISE_W)
    if args.vm:
        return Kepler010Config(vms=args.vms, **common)
    return Kepler010Config(containers=args.containers, benchmark=BENCHMARK, **common)


def demo_010(args: argparse.Namespace, root: Path) -> int:
    """Generate, print the truth, serve, and train where supported; the exit status."""
    from .synth import PrometheusServer, generate_010

    folders = make_folders(root)
    config = config_010(args)
    what = f"{config.vms} VMs and their guests" if args.vm else f"{config.containers} containers"
    print(f"demo: generating {what} x {args.duration} s of Kepler 0.10 metrics ({args.power} zone functions)")
    data = generate_010(config)
    print(f"demo: the known power per zone (watts; x = bpf_cpu_time_ms, the node's CPU ms/s; {data.cpus} CPUs):")
    print("\n".join(known_zone_lines(data)))
    print("  active = total x kepler_node_cpu_usage_ratio, idle = the rest (Kepler's split)")
    lacks = missing_support(args.vm)
    with PrometheusServer.from_synth(data.part("host"), workdir=root / "prometheus") as host:
        print_served("host Kepler ", host)
        if not args.vm:
            return _train_node(data, host.url, lacks, folders)
        vm_map = data.write_vm_map(Workspace(folders[0], folders[1]).vm_map(VM_MAP))
        with PrometheusServer.from_synth(data.part("guests"), workdir=root / "prometheus-guests") as guests:
            print_served("guests' node_exporter ", guests)
            print(f"demo: guest -> VM map {vm_map}")
            return _train_vm(data, (host.url, guests.url), lacks, folders)


def _not_yet(lacks: List[str]) -> int:
    print(f"demo: not supported yet by this build ({'; '.join(lacks)}): the data above is served, nothing trained")
    return 0


def _component(zone: str) -> str:
    from .common.kepler_metrics import GENERATIONS

    return GENERATIONS["0.10"].zone_energy.component_of(zone)


def _database(database: Path) -> ModelDatabase:
    from .common.domain import MODEL_GENERATIONS

    return ModelDatabase(database, MODEL_GENERATIONS["0.10"].version_folder)


def _train_node(data, url: str, lacks: List[str], folders) -> int:
    if lacks:
        return _not_yet(lacks)
    data_path, models, database = folders
    flags = run_flags(url, data.window, PIPELINE_010, database, data_path)
    status = kepler_model(flags, environ=step_environ(data_path, models))
    if status != 0:
        print(f"demo: the Kepler 0.10 pipeline failed with exit status {status}", file=sys.stderr)
        return status
    print("\ndemo: known per zone next to LinearRegressionTrainer (CPUTimeOnly, AbsPower):")
    pipeline = PipelineLayout(models / PIPELINE_010)
    for zone, line in zip(data.config.zones, known_zone_lines(data)):
        learned = linear_weights(pipeline, "AbsPower", "CPUTimeOnly", _component(zone), ("bpf_cpu_time_ms",))
        print(line)
        if learned:
            print(f"  {'':<8} learned {learned[0]:.2f} + {learned[1][0]:.6g} x bpf_cpu_time_ms")
    print_best(_database(database), PIPELINE_010)
    return 0


def _vm_steps(urls: Tuple[str, str], window, folders) -> List[List[str]]:
    """query (host and guests' servers), train (VM mode, the map), export."""
    data_path, _, database = folders
    common = ["--data-path", str(data_path), "--id", MACHINE_ID]
    query = ["query", "--benchmark", BENCHMARK, "--server", urls[0], "--os-server", urls[1]]
    query += ["--os-selector", GUEST_SELECTOR, "--output", "kepler_query", "--vm-train", "true"]
    train = ["train", "--input", "kepler_query", "--pipeline-name", PIPELINE_VM, "--vm-train", "true"]
    export = ["export", "--benchmark", BENCHMARK, "--pipeline-name", PIPELINE_VM, "-o", str(database)]
    return [
        query + window_flags(window) + common,
        train + ["--vm-map", VM_MAP] + common,
        export + ["--publisher", PUBLISHER, "--data-path", str(data_path)],
    ]


def _train_vm(data, urls: Tuple[str, str], lacks: List[str], folders) -> int:
    config = data.config
    print(
        f"demo: known VM relation per zone: P_vm = P_zone(x) x usage_ratio x q / x, q = {config.qemu_cpu_factor} x "
        f"os_cpu_busy_ms + {config.qemu_overhead_ms} (the QEMU process's CPU ms/s); as a line on this data:"
    )
    truth = vm_linear_truth(data)
    for zone, (a, b) in truth.items():
        print(f"  {zone:<8} {a:.3f} + {b:.6g} x os_cpu_busy_ms")
    if lacks:
        return _not_yet(lacks)
    data_path, models, database = folders
    for step in _vm_steps(urls, data.window, folders):
        status = kepler_model(step, environ=step_environ(data_path, models))
        if status != 0:
            print(f"demo: kepler-model {step[0]} failed with exit status {status}", file=sys.stderr)
            return status
    print("\ndemo: the line on the truth next to LinearRegressionTrainer (OSCounters, DynPower; 7 more features):")
    pipeline = PipelineLayout(models / PIPELINE_VM)
    for zone, (a, b) in truth.items():
        learned = linear_weights(pipeline, "DynPower", "OSCounters", _component(zone), ("os_cpu_busy_ms",))
        got = f"learned {learned[0]:.3f} + {learned[1][0]:.6g} x os_cpu_busy_ms" if learned else "no linear model"
        print(f"  {zone:<8} known {a:.3f} + {b:.6g} x os_cpu_busy_ms   {got}")
    print_best(_database(database), PIPELINE_VM, "DynPower")
    return 0
