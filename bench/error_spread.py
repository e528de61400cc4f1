"""How much a published error moves when only train's --seed changes: the split error vs the cross-validated one.

    .venv/bin/python bench/error_spread.py                 # 10 seeds, 300 samples, 2 W noise
    .venv/bin/python bench/error_spread.py --seeds 20 --samples 200 --noise 4
    .venv/bin/python bench/error_spread.py --vary data     # a new noise draw per seed, train --seed 0

One synthetic Kepler 0.7 collection (steps.synth, a known linear power function plus Gaussian noise on
the meter), trained once per seed with all ten trainers (rapl-sysfs, --jobs 2). Per feature group and
output type: the best model's split MAE (`mae`, the one random 10 % split of train.md §8.1) and the best
model's cross-validated MAE (`cv_mae`, time blocks) across the seeds: their range and their coefficient
of variation (std / mean), and how often the best model's name changed. The reference is the split
error: the ratio printed is the CV spread over the split spread. With `--vary data` each seed draws the
meter noise anew (train's --seed 0): both errors then move with the data, and the question is how closely
they stay at the noise level (a perfect model's MAE is 0.8x the noise's std).
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from steps.cli import main as kepler_model  # noqa: E402
from steps.synth import SynthConfig, generate  # noqa: E402

Best = Dict[Tuple[str, str], Tuple[str, float]]  # (output type, group) -> (model, error)


def best_models(pipeline: Path, column: str) -> Best:
    """The lowest `column` per (output type, feature group) of one trained pipeline."""
    found: Best = {}
    for output_type in ("AbsPower", "DynPower"):
        text = (pipeline / f"rapl-sysfs_{output_type}_model_metadata.csv").read_text()
        for row in csv.DictReader(io.StringIO(text)):
            if not row.get(column):
                continue
            key, value = (output_type, row["feature_group"]), float(row[column])
            if key not in found or value < found[key][1]:
                found[key] = (row["model_name"], value)
    return found


def spread(values: List[float]) -> Tuple[float, float, float]:
    """min, max, coefficient of variation (population std / mean)."""
    mean = statistics.fmean(values)
    return min(values), max(values), (statistics.pstdev(values) / mean if mean else 0.0)


def main() -> None:
    """Train the one collection once per seed, then print the two errors' spreads per set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--samples", type=int, default=300, help="timestamps at 15 s")
    parser.add_argument("--noise", type=float, default=2.0, help="meter noise, W (std)")
    parser.add_argument(
        "--vary",
        choices=("train", "data"),
        default="train",
        help="what the seed changes: train's --seed, or the data's noise",
    )
    args = parser.parse_args()
    runs: Dict[str, List[Best]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="error-spread-") as temporary:
        data = Path(temporary)
        for seed in range(args.seeds):
            if seed == 0 or args.vary == "data":
                config = SynthConfig(
                    duration_s=15.0 * args.samples, noise_w=args.noise, seed=1 + seed, sources=("rapl-sysfs",)
                )
                generate(config).write_query_response(data / "kepler_query.json")
            train_seed = seed if args.vary == "train" else 0
            argv = ["train", "--input", "kepler_query", "--pipeline-name", f"s{seed}", "--seed", str(train_seed)]
            argv += ["--jobs", "2", "--no-onnx"]
            err = io.StringIO()
            environ = {"DATAPATH": str(data), "CONFIG_PATH": str(data / "none")}
            if kepler_model(argv, environ=environ, out=io.StringIO(), err=err) != 0:
                raise SystemExit(err.getvalue())
            for column in ("mae", "cv_mae"):
                runs[column].append(best_models(data / f"s{seed}", column))
            print(f"seed {seed} trained", file=sys.stderr, flush=True)
    varied = "train's --seed" if args.vary == "train" else "the data's noise (generator seed)"
    print(f"{args.samples} samples, {args.noise} W noise, {args.seeds} seeds of {varied}: best model's error")
    print(
        f"{'set':<28} {'split MAE range':>16} {'cv':>6} {'changes':>7}  {'CV MAE range':>14} {'cv':>6} {'changes':>7}"
    )
    ratios = []
    for key in sorted(runs["mae"][0]):
        cells = []
        variations = []
        for column in ("mae", "cv_mae"):
            picks = [run[key] for run in runs[column] if key in run]
            low, high, variation = spread([value for _, value in picks])
            changes = sum(1 for a, b in zip(picks, picks[1:]) if a[0] != b[0])
            cells.append(f"{low:6.2f}-{high:6.2f} W {variation:6.1%} {changes:7d}")
            variations.append(variation)
        ratios.append(variations[1] / variations[0] if variations[0] else 0.0)
        print(f"{key[0] + '/' + key[1]:<28} {cells[0]}  {cells[1]}")
    print(f"CV spread / split spread (median over sets): {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
