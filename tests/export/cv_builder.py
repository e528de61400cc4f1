"""Add what train's cross-validation writes to a pipeline laid down by builder.py: the evaluation
columns of the model metadata CSVs and the out-of-fold predictions `<model>.cv.npz` beside a model.

Train writes these itself once `--cv-folds` is in; the tests write them directly so every number is known.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Sequence

import numpy as np

from steps.common.workspace import PipelineLayout

CV_COLUMNS = ("cv_mae", "cv_mae_std", "cv_mape", "cv_mape_std", "extrapolation_mae", "extrapolation_mape")
NEGLIGIBLE = "negligible"

# (feature group, model name) -> column -> cell text; rows not named keep their split errors as their cv ones.
Scores = Mapping[tuple, Mapping[str, str]]


def add_scores(
    layout: PipelineLayout,
    source: str,
    output_type: str,
    scores: Scores,
    with_cv: bool = True,
    default: Optional[Callable[[Dict[str, str]], Dict[str, str]]] = None,
) -> None:
    """Append (or overwrite) train's columns after `feature_group`; `with_cv=False` is `--cv-folds 0`
    (only `negligible`)."""
    path = layout.model_metadata_csv(source, output_type)
    records = list(csv.reader(io.StringIO(path.read_text())))
    header = [c for c in records[0] if c not in CV_COLUMNS and c != NEGLIGIBLE]
    added = (list(CV_COLUMNS) if with_cv else []) + [NEGLIGIBLE]
    rows = []
    for record in records[1:]:
        cells = dict(zip(records[0], record))
        given = dict(default(cells) if default else _same_as_split(cells))
        given.update(scores.get((cells["feature_group"], cells["model_name"]), {}))
        rows.append([cells[c] for c in header] + [given.get(c, "") for c in added])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header + added)
    writer.writerows(rows)
    path.write_text(buffer.getvalue())


def _same_as_split(cells: Mapping[str, str]) -> Dict[str, str]:
    return {
        "cv_mae": cells["mae"],
        "cv_mae_std": "0.1",
        "cv_mape": cells["mape"],
        "cv_mape_std": "0.2",
        "extrapolation_mae": cells["mae"],
        "extrapolation_mape": cells["mape"],
        NEGLIGIBLE: "[]",
    }


def set_cv_folds(layout: PipelineLayout, folds: int) -> None:
    """Record `cv_folds` in train_arguments.json, as train does."""
    arguments = json.loads(layout.train_arguments.read_text())
    arguments["cv_folds"] = folds
    layout.train_arguments.write_text(json.dumps(arguments))


def write_predictions(
    layout: PipelineLayout, key: Sequence[str], components: Sequence[str], rows: int = 240, shift: float = 0.0
) -> Path:
    """A `<model>.cv.npz` of smooth synthetic power: measured follows load, predictions are off by a wave."""
    source, output_type, group, model_name = key
    path = layout.group_dir(source, output_type, group) / f"{model_name}.cv.npz"
    steps = np.arange(rows, dtype=float)
    load = 500.0 + 400.0 * np.sin(steps / 17.0)
    arrays = {"timestamp": 1_700_000_000.0 + 15.0 * steps[::-1].copy(), "load": load[::-1].copy()}  # out of order
    for i, component in enumerate(components):
        measured = 20.0 + 0.05 * load / (i + 1)
        arrays[f"measured_{component}"] = measured[::-1].copy()
        arrays[f"predicted_{component}"] = (measured + shift + np.sin(steps / 5.0))[::-1].copy()
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path
