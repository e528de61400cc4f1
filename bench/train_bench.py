"""Benchmark of `kepler-model train` on synthetic query responses (all ten trainers, rapl-sysfs and acpi).

    .venv/bin/python bench/train_bench.py            # the target data sets, growth ratios, --jobs speedup
    .venv/bin/python bench/train_bench.py --quick    # small data sets only (a minute or two)
    .venv/bin/python bench/train_bench.py --only 010/50c/6h/15s,vm/50vms/6h/15s   # these data sets only
    .venv/bin/python bench/train_bench.py --scoring-cost  # cross-validation's cost: --cv-folds 5 over 0

Besides the Kepler 0.7 sets, two Kepler 0.10 sets of the same size (steps.synth.generate_010): a bare-metal
node with 50 containers ("010/...", rapl-sysfs zones, isolator active) and a VM host with 50 VMs and their
guests' node_exporter series ("vm/...", trained with --vm-map: DynPower VM models).

Each run is a fresh child process (so peak memory and CPU time are its own). Printed per data set:
wall time, CPU time (main process and workers; workers forked from the fork server count
the CPU time of their jobs), peak RSS of the main process and of the largest worker, the
share of time in loading, extraction, fitting and writing (phase timers of steps/train/run.py),
the fit floor (sum of the jobs' own CPU times / --jobs), the speedup of --jobs 2 over --jobs 1, and how many
DynPower models were derived from AbsPower ones instead of fitted (steps/train/derive.py).
On a machine shared with other work, compare "cpu" with "wall": the jobs' wall sum exceeding their
CPU sum means the workers did not get a CPU each.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGETS = {  # data set -> (max wall s, max peak MB or None, max wall / fit floor or None)
    "50c/6h/15s": (25.0, None, 1.3),
    "50c/6h/3s": (60.0, 1536.0, None),
    "400c/1h/15s": (20.0, None, None),
    "010/50c/6h/15s": (25.0, None, None),
    "vm/50vms/6h/15s": (25.0, None, None),
}


@dataclass(frozen=True)
class DataSet:
    containers: int
    hours: float
    step: float
    kind: str = "0.7"  # "0.7", "0.10" (a Kepler 0.10 node) or "vm" (a Kepler 0.10 host: `containers` VMs)

    @property
    def name(self) -> str:
        hours = f"{self.hours:g}h" if self.hours >= 1 else f"{self.hours * 60:g}m"
        if self.kind == "vm":
            return f"vm/{self.containers}vms/{hours}/{self.step:g}s"
        prefix = "010/" if self.kind == "0.10" else ""
        return f"{prefix}{self.containers}c/{hours}/{self.step:g}s"


FULL = [
    DataSet(50, 6, 15),
    DataSet(50, 6, 3),
    DataSet(400, 1, 15),
    DataSet(12, 6, 15),
    DataSet(200, 1, 15),
    DataSet(50, 1.5, 15),
    DataSet(50, 1, 15),
    DataSet(50, 6, 15, "0.10"),
    DataSet(50, 6, 15, "vm"),
]
# Issue #12: the wall time with --cv-folds 5 at most this many times the time without scoring.
SCORING_RATIO = 3.0
SCORING_SETS = [DataSet(50, 6, 15), DataSet(400, 1, 15), DataSet(50, 6, 15, "0.10"), DataSet(50, 6, 15, "vm")]
QUICK = [DataSet(12, 1, 15), DataSet(50, 1, 15), DataSet(50, 0.25, 15), DataSet(100, 0.25, 15)]
GROWTH = {  # (smaller, larger, what grows)
    "containers": [
        ("12c/6h/15s", "50c/6h/15s"),
        ("200c/1h/15s", "400c/1h/15s"),
        ("50c/1h/15s", "400c/1h/15s"),
        ("50c/15m/15s", "100c/15m/15s"),
    ],
    "timestamps": [("50c/1.5h/15s", "50c/6h/15s"), ("50c/6h/15s", "50c/6h/3s"), ("50c/15m/15s", "50c/1h/15s")],
}


VM_MAP = "vm-map"  # the workspace name of the VM case's guest -> vm_id map


def generate(dataset: DataSet, folder: Path) -> None:
    if dataset.kind != "0.7":
        generate_010(dataset, folder)
        return
    from steps.synth import SynthConfig
    from steps.synth import generate as synth

    config = SynthConfig(
        containers=dataset.containers,
        duration_s=dataset.hours * 3600,
        step_s=dataset.step,
        seed=0,
        power="saturating",
        noise_w=1.0,
        sources=("rapl-sysfs", "acpi"),
    )
    synth(config).write_query_response(folder / "kepler_query.json")


def generate_010(dataset: DataSet, folder: Path) -> None:
    """Kepler 0.10 query JSON (host and, for VMs, the guests' node_exporter series) and the VM map."""
    from steps.synth import Kepler010Config
    from steps.synth import generate_010 as synth

    common = dict(duration_s=dataset.hours * 3600, step_s=dataset.step, seed=0, power="saturating", noise_w=1.0)
    if dataset.kind == "vm":
        data = synth(Kepler010Config(vms=dataset.containers, **common))
        data.write_vm_map(folder / f"{VM_MAP}.json")
    else:
        data = synth(Kepler010Config(containers=dataset.containers, **common))
    data.write_query_response(folder / "kepler_query.json")


def child(data: str, jobs: int, kind: str = "0.7", train_args: str = "") -> None:
    """Run train in this process and print one JSON line with its measurements."""
    from steps.common.config import Environment
    from steps.common.console import Console
    from steps.common.workspace import Workspace
    from steps.train.cli import build_parser, options_from_args
    from steps.train.run import train

    started = time.perf_counter()
    env = Environment({"DATAPATH": data, "MODEL_PATH": data})
    flags = ["--input", "kepler_query", "--jobs", str(jobs)]
    # 0.10 data has RAPL zones only (rapl-sysfs); the VM case trains VM models from the map.
    flags += ["-e", "rapl-sysfs,acpi"] if kind == "0.7" else ["--vm-map", VM_MAP] if kind == "vm" else []
    flags += shlex.split(train_args)
    args = build_parser().parse_args(flags)
    options = options_from_args(args, env)
    report = train(options, Workspace.from_settings(None, env), Console("train", out=io.StringIO(), err=io.StringIO()))
    wall = time.perf_counter() - started
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "train_wall": wall,
                "phases": report.phases,
                "job_seconds": report.fit_floor_work,
                "fit_seconds": sum(r.fit_seconds for r in report.results),
                "write_seconds": sum(r.write_seconds for r in report.results),
                "trained": report.trained,
                "failed": len(report.failures),
                "jobs": jobs,
                "derived": sum(r.derived for r in report.results),
                "job_wall_seconds": sum(r.seconds for r in report.results),
                "slowest": sorted(((r.cpu_seconds, r.label) for r in report.results), reverse=True)[:3],
                "by_trainer": by_trainer(report.results),
                # Workers forked from the fork server are not this process's children: their CPU and memory
                # come from the jobs' own figures (spawned workers' are in RUSAGE_CHILDREN, counted once).
                "cpu": own.ru_utime
                + own.ru_stime
                + (max(kids.ru_utime + kids.ru_stime, report.fit_floor_work) if jobs > 1 else 0.0),
                "peak_main_mb": own.ru_maxrss / 1024,
                "peak_worker_mb": (
                    max([kids.ru_maxrss] + [r.peak_rss_kib for r in report.results]) / 1024 if jobs > 1 else 0.0
                ),
            }
        )
    )


def measure(dataset: DataSet, jobs: int, root: Path, train_args: str = "") -> Dict:
    folder = root / dataset.name.replace("/", "_")
    if not (folder / "kepler_query.json").exists():
        folder.mkdir(parents=True, exist_ok=True)
        generate(dataset, folder)
    for old in folder.glob("std_v0.7.11*" if dataset.kind == "0.7" else "std_v0.10*"):
        subprocess.run(["rm", "-rf", str(old)], check=True)
    started = time.perf_counter()
    command = [sys.executable, __file__, "--child", str(folder), "--jobs", str(jobs), "--kind", dataset.kind]
    command += [f"--train-args={train_args}"] if train_args else []  # "=": the value may start with --
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"train failed on {dataset.name}: {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    result["size_mb"] = (folder / "kepler_query.json").stat().st_size / 1e6
    return result


def line(name: str, r: Dict) -> str:
    phases = r["phases"]
    total = sum(phases.values()) or 1.0
    share = " ".join(
        f"{k[:4]} {100 * phases.get(k, 0) / total:4.1f}%" for k in ("load", "extraction", "fitting", "writing")
    )
    floor = r["job_seconds"] / r["jobs"]
    return (
        f"{name:<14} {r['size_mb']:6.1f}MB  wall {r['wall']:6.1f}s (train {r['train_wall']:6.1f}s)  "
        f"cpu {r['cpu']:6.1f}s  peak main {r['peak_main_mb']:6.0f}MB worker {r['peak_worker_mb']:5.0f}MB  "
        f"[{share}]  fit floor {floor:5.1f}s (wall/floor {r['wall'] / floor if floor else 0:4.2f})  "
        f"models {r['trained']} (derived {r.get('derived', 0)}) failed {r['failed']}"
    )


def by_trainer(results) -> list:
    """(trainer, the CPU seconds of its jobs), most first: where scoring's fits go."""
    totals: Dict[str, float] = {}
    for result in results:
        name = result.label.rsplit("/", 1)[-1]
        totals[name] = totals.get(name, 0.0) + result.cpu_seconds
    return sorted(totals.items(), key=lambda item: -item[1])


def main() -> None:
    """Over 60 lines on purpose: the report's sections in the order they print (sets, targets, growth,
    speedup); split, that order would be spread over helpers that each print one part."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data sets only")
    parser.add_argument("--jobs", type=int, default=2, help="--jobs of the main runs (default 2)")
    parser.add_argument("--only", help="comma list of data set names to run (e.g. 010/50c/6h/15s); no --jobs 1 run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="0.7", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help="keep generated data here (default: a temporary folder)")
    parser.add_argument("--train-args", default="", help='more train flags for every run, e.g. "--cv-folds 0"')
    parser.add_argument(
        "--scoring-cost",
        action="store_true",
        help=f"only scoring's cost: each set with --cv-folds 0 and 5 (both --no-onnx), target <= {SCORING_RATIO:g}x",
    )
    args = parser.parse_args()
    if args.child:
        child(args.child, args.jobs, args.kind, args.train_args)
        return
    sets = QUICK if args.quick else FULL
    if args.only:
        wanted = [name.strip() for name in args.only.split(",") if name.strip()]
        known = {dataset.name: dataset for dataset in FULL + QUICK}
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise SystemExit(f"unknown data set(s) {', '.join(unknown)}; known: {', '.join(known)}")
        sets = [known[name] for name in wanted]
    with tempfile.TemporaryDirectory(prefix="train-bench-") as temporary:
        root = Path(args.workdir or temporary)
        print(f"train benchmark: {os.cpu_count()} CPUs, --jobs {args.jobs}, load average {os.getloadavg()[0]:.1f}")
        if args.scoring_cost:
            scoring_cost(sets if args.only else SCORING_SETS, args.jobs, root)
            return
        results: Dict[str, Dict] = {}
        for dataset in sets:
            results[dataset.name] = measure(dataset, args.jobs, root, args.train_args)
            print(line(dataset.name, results[dataset.name]), flush=True)
            slow = ", ".join(f"{label} {seconds:.1f}s" for seconds, label in results[dataset.name]["slowest"])
            print(
                f"{'':<14} slowest jobs (CPU): {slow}; jobs' wall sum {results[dataset.name]['job_wall_seconds']:.1f}s"
                f" vs CPU sum {results[dataset.name]['job_seconds']:.1f}s",
                flush=True,
            )
            trainers = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in results[dataset.name]["by_trainer"])
            print(f"{'':<14} CPU by trainer (jobs' own): {trainers}", flush=True)
        if not args.only:
            speedup_line(sets[0] if not args.quick else sets[1], args.jobs, results, root)
        for what, pairs in GROWTH.items():
            for small, large in pairs:
                if small in results and large in results:
                    print(
                        f"growth in {what}: {small} -> {large}: "
                        f"wall x{results[large]['wall'] / results[small]['wall']:.2f}, "
                        f"cpu x{results[large]['cpu'] / results[small]['cpu']:.2f}, "
                        f"peak x{results[large]['peak_main_mb'] / results[small]['peak_main_mb']:.2f}"
                    )
        for name, (max_wall, max_peak, max_ratio) in TARGETS.items():
            if name in results:
                r = results[name]
                ratio = r["wall"] / (r["job_seconds"] / r["jobs"])
                # Peak of the main process and, as a bound for all processes together, plus every worker.
                together = r["peak_main_mb"] + r["jobs"] * r["peak_worker_mb"]
                met = (
                    r["wall"] <= max_wall
                    and (max_peak is None or together <= max_peak)
                    and (max_ratio is None or ratio <= max_ratio)
                )
                print(
                    f"target {name}: wall {r['wall']:.1f}s <= {max_wall:g}s"
                    + (
                        f", peak {r['peak_main_mb']:.0f}MB (with workers at most {together:.0f}MB) <= {max_peak:g}MB"
                        if max_peak
                        else ""
                    )
                    + f", wall/fit floor {ratio:.3f}"
                    + (f" <= {max_ratio:g}" if max_ratio else "")
                    + f": {'met' if met else 'MISSED'}"
                )


def scoring_cost(sets: List[DataSet], jobs: int, root: Path) -> None:
    """Per set, train without and with scoring (issue #12's reference and its 5 folds, ONNX off in both)
    and print the wall-time ratio against SCORING_RATIO."""
    for dataset in sets:
        without = measure(dataset, jobs, root, "--cv-folds 0 --no-onnx")
        scored = measure(dataset, jobs, root, "--cv-folds 5 --no-onnx")
        ratio = scored["wall"] / without["wall"]
        print(
            f"scoring cost {dataset.name}: --cv-folds 0 {without['wall']:.1f}s (cpu {without['cpu']:.1f}s), "
            f"--cv-folds 5 {scored['wall']:.1f}s (cpu {scored['cpu']:.1f}s): {ratio:.2f}x <= {SCORING_RATIO:g}x: "
            f"{'met' if ratio <= SCORING_RATIO else 'MISSED'}",
            flush=True,
        )


def speedup_line(reference: DataSet, jobs: int, results: Dict[str, Dict], root: Path) -> None:
    """Run `reference` with --jobs 1 and print the speedup of the main runs over it."""
    single = measure(reference, 1, root)
    print(line(reference.name + " j1", single))
    speedup = single["wall"] / results[reference.name]["wall"]
    print(
        f"speedup of --jobs {jobs} over --jobs 1 on {reference.name}: {speedup:.2f}x "
        f"(train phase only: {single['train_wall'] / results[reference.name]['train_wall']:.2f}x)"
    )


if __name__ == "__main__":
    main()
