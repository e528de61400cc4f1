"""Read the out-of-fold predictions train keeps beside a model (`<model>.cv.npz`), for the fit plots.

The file holds `timestamp`, `load` (the group's main feature, raw) and, per component,
`measured_<component>` and `predicted_<component>`: every row predicted by a model that did not
see it. Anything else in a file (or a broken file) makes it unusable, with a reason to print.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Sequence, Tuple

import numpy as np

from ..common.names import check_name
from ..common.workspace import PipelineLayout
from .select import ModelKey

SUFFIX = ".cv.npz"


@dataclass(frozen=True)
class FitData:
    """One model's out-of-fold predictions, rows in time order; components in table order."""

    timestamp: np.ndarray
    load: np.ndarray
    measured: Dict[str, np.ndarray]
    predicted: Dict[str, np.ndarray]

    @property
    def components(self) -> Tuple[str, ...]:
        return tuple(self.measured)


class FitDataError(ValueError):
    """Why a `.cv.npz` cannot be plotted (one line for the README)."""


def predictions_path(layout: PipelineLayout, key: ModelKey) -> Path:
    """`<pipeline>/<source>/<ot>/<FG>/<model>.cv.npz`, beside the model zip."""
    source, output_type, group, model_name = key
    return layout.group_dir(source, output_type, group) / f"{check_name(model_name, 'model name')}{SUFFIX}"


def read_fit_data(path: Path, components: Sequence[str]) -> FitData:
    """The predictions of the `components` present in the file; FitDataError when none can be used."""
    if not path.is_file():
        raise FitDataError(f"{path.name} is missing")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: np.asarray(archive[name], dtype=float) for name in archive.files}
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as failure:
        raise FitDataError(f"{path.name} cannot be read ({type(failure).__name__})") from None
    return fit_data(arrays, components, path.name)


def fit_data(arrays: Dict[str, np.ndarray], components: Sequence[str], name: str) -> FitData:
    """Check the arrays (1-D, one length) and sort the rows by time. Pure."""
    for required in ("timestamp", "load"):
        if required not in arrays:
            raise FitDataError(f"{name} has no {required!r} array")
    length = arrays["timestamp"].shape
    present = [c for c in components if f"measured_{c}" in arrays and f"predicted_{c}" in arrays]
    if not present:
        raise FitDataError(f"{name} has no measured_/predicted_ arrays of {', '.join(components)}")
    used = ["timestamp", "load"] + [f"{kind}_{c}" for c in present for kind in ("measured", "predicted")]
    if len(length) != 1 or length[0] == 0 or any(arrays[n].shape != length for n in used):
        raise FitDataError(f"{name} holds arrays of different or empty shapes")
    order = np.argsort(arrays["timestamp"], kind="stable")
    return FitData(
        timestamp=arrays["timestamp"][order],
        load=arrays["load"][order],
        measured={c: arrays[f"measured_{c}"][order] for c in present},
        predicted={c: arrays[f"predicted_{c}"][order] for c in present},
    )
