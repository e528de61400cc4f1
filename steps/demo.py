"""The main job on built-in sample data: synthetic Kepler metrics in a local Prometheus, then query,
train and export with `kepler-model run`. No cluster needed; the power function is known, so the
printed comparison shows how close the trained models come to the truth.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import List, Optional, Tuple

from .cli import main as kepler_model
from .common.timefmt import format_window_time
from .common.workspace import ModelDatabase, PipelineLayout

BENCHMARK = "stressng"
PIPELINE = "demo_v0.7.11"
MACHINE_ID = "demo-node"


def build_parser() -> argparse.ArgumentParser:
    """The demo's flags."""
    parser = argparse.ArgumentParser(
        prog="python -m steps.demo",
        description="Run query -> train -> export on generated Kepler data served by a local Prometheus.",
    )
    parser.add_argument(
        "--workspace",
        default="demo-workspace",
        help="folder for the workspace, the models and the model database (default: %(default)s)",
    )
    parser.add_argument("--containers", type=int, default=10, help="benchmark containers (default: %(default)s)")
    parser.add_argument("--duration", type=int, default=7200, help="seconds of data (default: %(default)s)")
    parser.add_argument(
        "--power",
        choices=("linear", "saturating"),
        default="linear",
        help="the known power function (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the data (default: %(default)s)")
    return parser


def _best_rows(csv_path: Path, count: int = 5) -> List[dict]:
    if not csv_path.exists():
        return []
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return sorted(rows, key=lambda row: float(row["mae"]))[:count]


def _learned_linear(pipeline: PipelineLayout) -> Optional[Tuple[float, float, float]]:
    """Intercept and per-unit coefficients of the trained BPFOnly linear package model, from its weight.json."""
    folder = pipeline.group_dir("rapl-sysfs", "AbsPower", "BPFOnly")
    for weight_file in sorted(folder.glob("LinearRegressionTrainer_*/weight.json")):
        weights = json.loads(weight_file.read_text())["package"]["All_Weights"]
        variables = weights["Numerical_Variables"]
        per_unit = [variables[f]["weight"] / variables[f]["scale"] for f in ("bpf_cpu_time_ms", "bpf_page_cache_hit")]
        return weights["Bias_Weight"], per_unit[0], per_unit[1]
    return None


def main(argv: Optional[List[str]] = None) -> int:
    """Run the demo end to end; its exit status."""
    args = build_parser().parse_args(argv)
    from .synth import PrometheusServer, SynthConfig, generate  # generator deps only when the demo runs

    root = Path(args.workspace).resolve()
    data_path, models, database = root / "data", root / "models", root / "model-db" / "models"
    for folder in (data_path, models, database):
        folder.mkdir(parents=True, exist_ok=True)
    noise = 1.0
    config = SynthConfig(
        containers=args.containers,
        duration_s=float(args.duration),
        step_s=15.0,
        seed=args.seed,
        power=args.power,
        noise_w=noise,
        benchmark=BENCHMARK,
    )
    print(
        f"demo: generating {args.containers} containers x {args.duration} s of Kepler 0.7 metrics "
        f"({args.power} power function, noise {noise} W)"
    )
    data = generate(config)
    start, end = data.window
    with PrometheusServer.from_synth(data, workdir=root / "prometheus") as prometheus:
        print(
            f"demo: Prometheus {prometheus.url} serves the data from {format_window_time(start)} "
            f"to {format_window_time(end)}"
        )
        status = kepler_model(
            [
                "run",
                "--benchmark",
                BENCHMARK,
                "--server",
                prometheus.url,
                "--id",
                MACHINE_ID,
                "--start-time",
                format_window_time(start),
                "--end-time",
                format_window_time(end),
                "--step",
                "15",
                "--pipeline-name",
                PIPELINE,
                "--publisher",
                "kepler-model-demo",
                "-o",
                str(database),
                "--data-path",
                str(data_path),
            ],
            environ={**os.environ, "DATAPATH": str(data_path), "MODEL_PATH": str(models)},
        )
    if status != 0:
        print(f"demo: the pipeline failed with exit status {status}", file=sys.stderr)
        return status
    model = data.model
    print()
    print("demo: the known power function (package, watts):")
    if model.kind == "linear":
        print(
            f"  {model.idle_package_w} + {model.cpu_w_per_ms} x bpf_cpu_time_ms/s "
            f"+ {model.page_cache_w_per_hit} x bpf_page_cache_hit/s, plus {noise} W noise"
        )
    else:
        print(
            f"  {model.idle_package_w} + {model.pmax_w} x (1 - exp(-bpf_cpu_time_ms/s / {model.k_ms:.0f})) "
            f"+ {model.page_cache_w_per_hit} x bpf_page_cache_hit/s, plus {noise} W noise"
        )
    learned = _learned_linear(PipelineLayout(models / PIPELINE))
    if learned:
        print(
            f"  LinearRegressionTrainer (BPFOnly) learned: {learned[0]:.2f} + {learned[1]:.5f} x bpf_cpu_time_ms/s "
            f"+ {learned[2]:.6f} x bpf_page_cache_hit/s"
        )
    model_db = ModelDatabase(database)
    exported = model_db.pipeline(PIPELINE)
    print("demo: best exported rapl-sysfs AbsPower models (MAE in watts, worst component):")
    for row in _best_rows(exported.model_metadata_csv("rapl-sysfs", "AbsPower")):
        print(
            f"  {row['feature_group']:<20} {row['model_name']:<36} mae {float(row['mae']):6.2f}  "
            f"mape {float(row['mape']):6.2f}"
        )
    print(f"demo: model database {model_db.version_dir}; report {exported.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
