"""The two PNG plots of an export (export.md §8), rendered to bytes with matplotlib's Agg backend.

Power curves evaluate the weight JSON the way Kepler's in-process estimator does; that evaluation
is a pure function (`predict_curve`) tested on its own.
"""

from __future__ import annotations

import io
import math
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from .select import ModelRow  # noqa: E402

CURVE_FEATURE = "bpf_cpu_time_ms"
CURVE_POINTS = 20
LINES_PER_SUBPLOT = 15
MAX_COLUMNS = 3
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--", "**", "||")

# Kepler's local estimator evaluates curve-fit weights with these formulas (train.md §8.2),
# parameters in CurveFit_Weights order, on x already divided by the feature's scale.
CURVES: Dict[str, Callable[..., np.ndarray]] = {
    "LogarithmicRegressionTrainer": lambda x, a, b, c: a * np.log(b * x + 1) + c,
    "LogisticRegressionTrainer": lambda x, A, x0, k, off: A / (1 + np.exp(-k * (x - x0))) + off,
    "ExponentialRegressionTrainer": lambda x, a, b, c: a * np.exp(b * x) + c,
}


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    # No "Software" text chunk: the same plot gives the same bytes on every export.
    figure.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def metadata_plot(source: str, output_type: str, components: Sequence[str], rows: Sequence[ModelRow]) -> bytes:
    """Grouped bars of each component's MAE per feature group, one colour per trainer."""
    groups = sorted({row.feature_group for row in rows})
    trainers = sorted({row.trainer for row in rows})
    node_types = sorted({row.node_type for row in rows if row.node_type is not None})
    series = sorted({(row.trainer, row.node_type) for row in rows}, key=lambda s: (s[0], s[1] or 0))
    colours = plt.get_cmap("tab20" if len(trainers) > 10 else "tab10")
    width = 0.8 / max(len(series), 1)
    size = (max(8.0, 1.6 * len(groups) + 4), 2.6 * len(components) + 1.3)
    figure, axes = plt.subplots(len(components), 1, figsize=size, squeeze=False)
    for axis, component in zip(axes[:, 0], components):
        for position, (trainer, node_type) in enumerate(series):
            values = {
                row.feature_group: _number(row.cells.get(f"{component}_mae", ""))
                for row in rows
                if row.trainer == trainer and row.node_type == node_type
            }
            xs = np.arange(len(groups)) + (position - (len(series) - 1) / 2) * width
            hatch = HATCHES[node_types.index(node_type) % len(HATCHES)] if len(node_types) > 1 else ""
            axis.bar(
                xs,
                [values.get(g, math.nan) for g in groups],
                width=width,
                color=colours(trainers.index(trainer) % colours.N),
                hatch=hatch,
                edgecolor="black",
                linewidth=0.3,
            )
        axis.set_title(component)
        axis.set_ylabel("MAE (Watt)")
        axis.set_xticks(np.arange(len(groups)), groups)
        axis.grid(axis="y", linewidth=0.3)
    axes[-1, 0].set_xlabel("Feature group")
    handles = [Patch(facecolor=colours(i % colours.N), edgecolor="black", label=t) for i, t in enumerate(trainers)]
    if len(node_types) > 1:
        handles += [
            Patch(facecolor="white", edgecolor="black", hatch=HATCHES[i % len(HATCHES)], label=f"type={n}")
            for i, n in enumerate(node_types)
        ]
    legend_width = 2.8  # inches kept free on the right for the legend
    figure.set_figwidth(figure.get_figwidth() + legend_width)
    right = 1 - legend_width / figure.get_figwidth()
    figure.legend(handles=handles, loc="center left", bbox_to_anchor=(right + 0.01, 0.5), fontsize="small")
    figure.suptitle(f"Pipeline metadata of {source.upper()} {output_type}")
    figure.subplots_adjust(
        left=0.08,
        right=right - 0.01,
        top=1 - 0.85 / figure.get_figheight(),
        bottom=0.65 / figure.get_figheight(),
        hspace=0.5,
    )
    return _png(figure)


def predict_curve(
    weights: Mapping[str, Any], component: str, trainer: str, points: int = CURVE_POINTS
) -> Tuple[np.ndarray, np.ndarray]:
    """x: `bpf_cpu_time_ms` from 0 to its scale (other features 0); y: predicted power, negatives 0."""
    all_weights = weights[component]["All_Weights"]
    numeric = all_weights["Numerical_Variables"]
    scale = float(numeric[CURVE_FEATURE]["scale"]) or 1.0
    xs = np.linspace(0.0, scale, points)
    if "CurveFit_Weights" in all_weights:
        ys = CURVES[trainer](xs / scale, *[float(p) for p in all_weights["CurveFit_Weights"]])
    else:
        # Linear: Bias_Weight + sum(weight * x / scale); every feature but the plotted one is 0.
        ys = float(all_weights["Bias_Weight"]) + float(numeric[CURVE_FEATURE]["weight"]) * xs / scale
    ys = np.where(np.isfinite(ys), ys, 0.0)
    return xs, np.maximum(ys, 0.0)


def power_curve_plot(
    source: str,
    output_type: str,
    component: str,
    curves: Sequence[Tuple[int, str, str, Mapping[str, Any]]],
    group: str = "BPFOnly",
) -> bytes:
    """One line per node type: (node type, model name, trainer, weight JSON) in numeric node order."""
    chunks: List[Sequence] = [curves[i : i + LINES_PER_SUBPLOT] for i in range(0, len(curves), LINES_PER_SUBPLOT)]
    columns = min(MAX_COLUMNS, len(chunks))
    rows = math.ceil(len(chunks) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(8.5 * columns, 4.5 * rows), squeeze=False)
    # Distinct colours: tab10 is the clearer palette, tab20 has enough for the 15 lines of a subplot.
    palette = plt.get_cmap("tab10" if len(curves) <= 10 else "tab20").colors
    for axis in axes.flat[len(chunks) :]:
        axis.set_visible(False)
    for axis, chunk in zip(axes.flat, chunks):
        for position, (node_type, _model_name, trainer, weights) in enumerate(chunk):
            xs, ys = predict_curve(weights, component, trainer)
            axis.plot(xs, ys, marker=".", color=palette[position % len(palette)], label=f"type={node_type}")
        axis.set_xlabel(f"{CURVE_FEATURE} (ms of CPU time per second)")
        axis.set_ylabel("Predicted power (W)")
        axis.set_ylim(bottom=0)
        axis.grid(linewidth=0.3)
        axis.legend(fontsize="small", title="node type", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.suptitle(
        f"{source} {output_type}: {component} power predicted from the best {group} weights (local estimator)"
    )
    figure.subplots_adjust(
        left=0.9 / figure.get_figwidth(),
        right=1 - 1.6 / figure.get_figwidth() * 1.0,
        top=1 - 0.6 / figure.get_figheight(),
        bottom=0.6 / figure.get_figheight(),
        wspace=0.45,
        hspace=0.35,
    )
    return _png(figure)
