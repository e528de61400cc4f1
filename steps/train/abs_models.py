"""Read the AbsPower models of an existing pipeline for the trainer isolator (train.md §7.4).

Each model folder (ours or kepler-model-server's) becomes an object with `features`, `mae`,
`node_type` and `predict(X_raw) -> {component: array}` (isolate.AbsModelPredictor). Component
files are loaded on first use; curve-fit pickles map kepler-model-server's names to ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from ..common.domain import ABS_POWER, split_model_name
from ..common.errors import StepError
from ..common.names import check_name
from ..common.workspace import PipelineLayout, read_json
from . import curvefit


@dataclass
class SavedAbsModel:
    """An AbsPower model folder of an existing pipeline, loaded on first use (isolate.AbsModelPredictor)."""

    source: str
    group: str
    name: str
    features: Sequence[str]
    mae: float
    node_type: int
    folder: Path
    _components: Optional[Dict[str, Any]] = field(default=None, repr=False)

    def _load(self) -> Dict[str, Any]:
        if self._components is None:
            path = self.folder / f"{self.name}.json"
            mapping = read_json(path, "component map")
            loaded: Dict[str, Any] = {}
            for component, entry in mapping.items():
                # file names read from the map: files of this model folder, never paths out of it
                where = f"component map {path}: {component}"
                transforms = [
                    curvefit.load(self.folder / check_name(f, f"{where} fe_files")) for f in entry.get("fe_files", [])
                ]
                model_file = self.folder / check_name(entry["model_file"], f"{where} model_file")
                if model_file.suffix == ".json":
                    from xgboost import XGBRegressor

                    estimator = XGBRegressor()
                    estimator.load_model(str(model_file))
                else:
                    estimator = curvefit.load(model_file)
                loaded[component] = (transforms, estimator)
            self._components = loaded
        return self._components

    def predict(self, X_raw: np.ndarray) -> Dict[str, np.ndarray]:  # noqa: N803
        """Node power per component for raw feature rows (columns in `features` order)."""
        values = np.asarray(X_raw, dtype=float)
        if values.ndim == 1:
            values = values.reshape(1, -1)
        out: Dict[str, np.ndarray] = {}
        for component, (transforms, estimator) in self._load().items():
            x = values
            for transform in transforms:
                x = transform.transform(x)
            out[component] = np.asarray(estimator.predict(x), dtype=float).ravel()
        return out


def read_abs_models(layout: PipelineLayout, sources: Sequence[str]) -> List[SavedAbsModel]:
    """Every AbsPower model folder of the given sources, in group folder then model name order."""
    if not layout.root.is_dir():
        raise StepError(f"--abs-pipeline-name pipeline {layout.name} not found at {layout.root}")
    models: List[SavedAbsModel] = []
    for source in sources:
        base = layout.output_dir(source, ABS_POWER)
        for metadata_path in sorted(base.glob("*/*/metadata.json")):
            document: Mapping[str, Any] = read_json(metadata_path, "model metadata")
            folder = metadata_path.parent
            try:
                node_type = int(document.get("node_type", split_model_name(folder.name)[1]))
                mae = float(document.get("mae"))
                features = [str(f) for f in document["features"]]
            except (KeyError, TypeError, ValueError):
                continue  # not a usable model folder; the isolator lists missing candidates
            models.append(
                SavedAbsModel(
                    source=source,
                    group=folder.parent.name,
                    name=folder.name,
                    features=features,
                    mae=mae,
                    node_type=node_type,
                    folder=folder,
                )
            )
    return models
