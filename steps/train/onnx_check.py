"""An ONNX file is written only when ONNX Runtime reproduces the model on its own rows.

The check runs the graph (steps/train/onnx_models.py) with ONNX Runtime (CPU) on every row the
model was trained and tested on, and compares with the model itself: scaler, polynomial features
and estimator, as kepler-model-server applies them. A value may differ by ABS_TOLERANCE watts or
by REL_TOLERANCE of the model's value; otherwise, or when conversion fails, no file is written and
the reason goes to the summary. The model itself is never failed by this.

The rows: train keeps only the scaled features (fit_data.NodeData), so the raw rows are rebuilt as
scaled × scale_; the model's reference values are computed from those same raw rows, so both sides
see one input. At most CHECK_ROWS of them, evenly spaced over the set, CHECK_CHUNK at a time: ONNX
Runtime's k-NN compares every row given with every stored one at once (memory rows x stored rows:
41 GB for all 72,000 rows of 50 VMs over 6 h), and a few hundred rows spanning the whole load range
show any converter error, while all 1,440 rows of 6 h at 15 s cost a k-NN model's check 185 ms.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import numpy as np

from ..common.atomic import write_bytes
from ..common.pool import one_line
from .fit import FittedModel
from .fit_data import NodeData

ABS_TOLERANCE = 1e-3  # watts
REL_TOLERANCE = 1e-4
SUFFIX = ".onnx"
CHECK_ROWS = 500
CHECK_CHUNK = 250


@dataclass
class OnnxOutcome:
    """The written file, or why none was written."""

    path: Optional[Path] = None
    reason: Optional[str] = None


def raw_rows(model: FittedModel, node: NodeData, component_x: Mapping[str, str]) -> Dict[str, np.ndarray]:
    """Per component, the raw feature rows it was fitted and tested on (train and test split together;
    at most CHECK_ROWS of them)."""
    scale = np.asarray(model.scaler.scale_, dtype=float)
    rows: Dict[str, np.ndarray] = {}
    for key in dict.fromkeys(component_x[c] for c in model.components):
        every = np.vstack([node.x_train[key], node.x_test[key]])
        if len(every) > CHECK_ROWS:
            every = every[np.linspace(0, len(every) - 1, CHECK_ROWS).round().astype(int)]
        rows[key] = every * scale
    return {component: rows[component_x[component]] for component in model.components}


def reference(model: FittedModel, component: str, x: np.ndarray) -> np.ndarray:
    """What the model itself predicts for raw rows `x`, asked of a copy: a query changes a k-NN model's
    pickle (its tree counts queries), and the derived DynPower model, a copy of this one, is written later."""
    scaled = model.scaler.transform(x)
    if model.poly is not None:
        scaled = model.poly.transform(scaled)
    with np.errstate(all="ignore"):
        return np.asarray(copy.deepcopy(model.estimators[component]).predict(scaled), dtype=float).ravel()


def session(data: bytes) -> Any:
    """An ONNX Runtime CPU session on one thread (train's workers are single-threaded)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def _run(runner: Any, components: Any, x: np.ndarray) -> Dict[str, np.ndarray]:
    """The graph's outputs for rows `x`, CHECK_CHUNK rows at a time (k-NN's distance matrix is chunk x stored rows)."""
    parts = [
        runner.run(
            list(components), {"features": np.ascontiguousarray(x[start : start + CHECK_CHUNK], dtype=np.float64)}
        )
        for start in range(0, len(x), CHECK_CHUNK)
    ]
    return {c: np.concatenate([np.asarray(p[i]).ravel() for p in parts]) for i, c in enumerate(components)}


def mismatch(model: FittedModel, data: bytes, rows: Mapping[str, np.ndarray]) -> Optional[str]:
    """Why the graph `data` does not reproduce `model` on `rows` (component -> raw X); None when it does."""
    runner = session(data)
    results: Dict[int, Dict[str, np.ndarray]] = {}
    for component in model.components:
        x = rows[component]
        if id(x) not in results:  # components fitted on the same X share one run
            results[id(x)] = _run(runner, model.components, x)
        got = np.asarray(results[id(x)][component], dtype=float).ravel()
        want = reference(model, component, x)
        if got.shape != want.shape:
            return f"{component}: {got.size} values for {want.size} rows"
        error = np.abs(got - want)
        same = (got == want) | (np.isnan(got) & np.isnan(want))  # a model's own NaN or inf, reproduced
        bad = ~(same | (error <= ABS_TOLERANCE) | (error <= REL_TOLERANCE * np.abs(want)))
        if bad.any():
            row = int(np.argmax(np.where(bad, error, -1.0)))
            return (
                f"{component} differs on {int(bad.sum())} of {len(want)} rows, up to {error[row]:.3g} W "
                f"(row {row}: {got[row]:.6g} for {want[row]:.6g})"
            )
    return None


def write_onnx(group_stage: Path, model: FittedModel, rows: Mapping[str, np.ndarray]) -> OnnxOutcome:
    """Convert, check, then write `<name>.onnx` beside the model folder (atomically).

    A conversion or check failure is the outcome's reason; a failed write raises (the disk, not the model).
    """
    from .onnx_models import to_onnx

    try:
        data = to_onnx(model).SerializeToString()
        reason = mismatch(model, data, rows)
    except Exception as failure:  # noqa: BLE001 - any converter or runtime error: no file, one line why
        reason = one_line(failure)
    if reason is not None:
        return OnnxOutcome(reason=reason)
    return OnnxOutcome(path=write_bytes(group_stage / f"{model.name}{SUFFIX}", data))
