"""The Kepler 0.7 demo (`python -m steps.demo`), and the helpers the 0.10 and VM demos share with it."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .cli import main as kepler_model
from .common.timefmt import format_window_time
from .common.workspace import ModelDatabase, PipelineLayout

BENCHMARK = "stressng"
PIPELINE = "demo_v0.7.11"
MACHINE_ID = "demo-node"
PUBLISHER = "kepler-model-demo"
NOISE_W = 1.0


def make_folders(root: Path) -> Tuple[Path, Path, Path]:
    """(workspace data, models, model database 'models' folder), created."""
    data_path, models, database = root / "data", root / "models", root / "model-db" / "models"
    for folder in (data_path, models, database):
        folder.mkdir(parents=True, exist_ok=True)
    return data_path, models, database


def step_environ(data_path: Path, models: Path) -> Dict[str, str]:
    """The environment of the steps: this one plus the workspace and model folders."""
    return {**os.environ, "DATAPATH": str(data_path), "MODEL_PATH": str(models)}


def window_flags(window) -> List[str]:
    """The window and step flags of query (and run) for a (start, end) window."""
    start, end = window
    return ["--start-time", format_window_time(start), "--end-time", format_window_time(end), "--step", "15"]


def run_flags(url: str, window, pipeline: str, database: Path, data_path: Path) -> List[str]:
    """`kepler-model run` over the served window."""
    return [
        "run",
        "--benchmark",
        BENCHMARK,
        "--server",
        url,
        "--id",
        MACHINE_ID,
        *window_flags(window),
        "--pipeline-name",
        pipeline,
        "--publisher",
        PUBLISHER,
        "-o",
        str(database),
        "--data-path",
        str(data_path),
    ]


def _best_rows(csv_path: Path, count: int = 5) -> List[dict]:
    if not csv_path.exists():
        return []
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    key = "cv_mae" if rows and rows[0].get("cv_mae") else "mae"  # export's default selection, when trained
    return sorted((row for row in rows if row.get(key)), key=lambda row: float(row[key]))[:count]


def print_best(database: ModelDatabase, pipeline: str, output_type: str = "AbsPower") -> None:
    """The five exported models of lowest cross-validated MAE (split MAE without it), and where the database
    and its report are."""
    exported = database.pipeline(pipeline)
    print(f"demo: best exported rapl-sysfs {output_type} models (MAE in watts, worst component):")
    for row in _best_rows(exported.model_metadata_csv("rapl-sysfs", output_type)):
        cv = f"  cv mae {float(row['cv_mae']):6.2f}" if row.get("cv_mae") else ""
        print(
            f"  {row['feature_group']:<20} {row['model_name']:<36}{cv}  split mae {float(row['mae']):6.2f}  "
            f"mape {float(row['mape']):6.2f}"
        )
    print(f"demo: model database {database.version_dir}; report {exported.readme}")


def linear_weights(
    pipeline: PipelineLayout, output_type: str, group: str, component: str, features: Sequence[str]
) -> Optional[Tuple[float, List[float]]]:
    """(intercept, per-unit coefficients of `features`) of the trained LinearRegressionTrainer, from weight.json."""
    folder = pipeline.group_dir("rapl-sysfs", output_type, group)
    for weight_file in sorted(folder.glob("LinearRegressionTrainer_*/weight.json")):
        weights = json.loads(weight_file.read_text()).get(component, {}).get("All_Weights")
        if not weights:
            continue
        variables = weights["Numerical_Variables"]
        return weights["Bias_Weight"], [variables[f]["weight"] / variables[f]["scale"] for f in features]
    return None


# ---- Kepler 0.7


def demo_07(args: argparse.Namespace, root: Path) -> int:
    """Kepler 0.7 containers in a local Prometheus, `kepler-model run`, known vs learned; exit status."""
    from .synth import PrometheusServer, SynthConfig, generate  # generator deps only when the demo runs

    data_path, models, database = make_folders(root)
    config = SynthConfig(
        containers=args.containers,
        duration_s=float(args.duration),
        step_s=15.0,
        seed=args.seed,
        power=args.power,
        noise_w=NOISE_W,
        benchmark=BENCHMARK,
    )
    print(
        f"demo: generating {args.containers} containers x {args.duration} s of Kepler 0.7 metrics "
        f"({args.power} power function, noise {NOISE_W} W)"
    )
    data = generate(config)
    with PrometheusServer.from_synth(data, workdir=root / "prometheus") as prometheus:
        print_served("", prometheus)
        status = kepler_model(
            run_flags(prometheus.url, data.window, PIPELINE, database, data_path),
            environ=step_environ(data_path, models),
        )
    if status != 0:
        print(f"demo: the pipeline failed with exit status {status}", file=sys.stderr)
        return status
    model = data.model
    print("\ndemo: the known power function (package, watts):")
    cpu = (
        f"{model.cpu_w_per_ms} x bpf_cpu_time_ms/s"
        if model.kind == "linear"
        else f"{model.pmax_w} x (1 - exp(-bpf_cpu_time_ms/s / {model.k_ms:.0f}))"
    )
    cache = f"{model.page_cache_w_per_hit} x bpf_page_cache_hit/s"
    print(f"  {model.idle_package_w} + {cpu} + {cache}, plus {NOISE_W} W noise")
    learned = linear_weights(
        PipelineLayout(models / PIPELINE), "AbsPower", "BPFOnly", "package", ("bpf_cpu_time_ms", "bpf_page_cache_hit")
    )
    if learned:
        (bias, (cpu_w, cache_w)) = learned
        print(
            f"  LinearRegressionTrainer (BPFOnly) learned: {bias:.2f} + {cpu_w:.5f} x bpf_cpu_time_ms/s "
            f"+ {cache_w:.6f} x bpf_page_cache_hit/s"
        )
    print_best(ModelDatabase(database), PIPELINE)
    return 0


def print_served(what: str, prometheus) -> None:
    """Where the data is served, and its window."""
    start, end = prometheus.window
    print(
        f"demo: Prometheus {prometheus.url} serves the {what}data from {format_window_time(start)} "
        f"to {format_window_time(end)}"
    )
