"""The model folder and model zip of workspace.md §3.13, written into a staging folder.

Models are written into the run's staging folder (steps/common/publish.py), which only the
commit makes visible; the zip (holding weight.json too) is written under a temporary name.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from ..common.atomic import atomic_path, dumps_json
from ..common.domain import XGBOOST
from ..common.errors import WriteFailure
from . import curvefit
from .fit import FittedModel, model_metadata
from .weights import weight_document

SCALER_FILE = "scaler.pkl"
POLY_FILE = "poly_scaler.pkl"
WEIGHT_FILE = "weight.json"


@dataclass
class StagedModel:
    """A complete model folder and zip in the staging area, ready to be moved into the pipeline."""

    name: str
    node_type: int
    metadata: Dict[str, Any]
    folder: Path
    zip: Path


def component_file(model_class: str, component: str) -> str:
    """A component's model file: XGBoost's native JSON, or a joblib pickle."""
    return f"{component}.json" if model_class == XGBOOST else f"{component}.pkl"


def component_map(model: FittedModel) -> Dict[str, Dict[str, Any]]:
    """`<Trainer>_<n>.json`: per component its model file, features and transforms in order."""
    fe_files = [SCALER_FILE] + list(model.trainer.fe_files)
    return {
        component: {
            "model_file": component_file(model.trainer.model_class, component),
            "features": list(model.features),
            "fe_files": list(fe_files),
        }
        for component in model.components
    }


def _write_folder(folder: Path, model: FittedModel, metadata: Dict[str, Any]) -> None:
    (folder / "metadata.json").write_text(dumps_json(metadata), encoding="utf-8")
    (folder / f"{model.name}.json").write_text(dumps_json(component_map(model)), encoding="utf-8")
    curvefit.dump(model.scaler, folder / SCALER_FILE)
    if model.poly is not None:
        curvefit.dump(model.poly, folder / POLY_FILE)
    model_json: Dict[str, bytes] = {}
    for component, estimator in model.estimators.items():
        path = folder / component_file(model.trainer.model_class, component)
        if model.trainer.model_class == XGBOOST:
            estimator.save_model(str(path))
            model_json[component] = path.read_bytes()
        else:
            curvefit.dump(estimator, path)  # joblib format; curve fits under kepler-model-server names
    weights = weight_document(model, model_json)
    if weights is not None:
        (folder / WEIGHT_FILE).write_text(dumps_json(weights), encoding="utf-8")


def zip_folder(folder: Path, target: Path) -> None:
    """Zip the folder's files at the archive root, members sorted, via a temporary name."""
    with atomic_path(target) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())


def write_model(
    group_stage: Path,
    model: FittedModel,
    output_type: str,
    machine_spec: Optional[Dict[str, Any]],
    extra: Optional[Dict[str, Any]] = None,
) -> StagedModel:
    """Write `<name>/` and `<name>.zip` under `group_stage` (in the run's private staging folder,
    so a model is seen by nobody until the whole run commits); a failure leaves neither.
    `extra`: keys the model's metadata.json adds (fit.model_metadata)."""
    metadata = model_metadata(model, output_type, machine_spec, extra)
    folder, archive = group_stage / model.name, group_stage / f"{model.name}.zip"
    try:
        group_stage.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        _write_folder(folder, model, metadata)
        zip_folder(folder, archive)
    except BaseException as failure:
        shutil.rmtree(folder, ignore_errors=True)
        archive.unlink(missing_ok=True)
        if isinstance(failure, OSError):  # a write() that fails names no file: name the model's
            raise WriteFailure.of(failure, failure.filename or folder) from None
        raise
    return StagedModel(name=model.name, node_type=model.node_type, metadata=metadata, folder=folder, zip=archive)
