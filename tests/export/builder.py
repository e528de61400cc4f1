"""Build trained pipeline folders as workspace.md §2.2/§3.8-§3.14 describe them, for export tests.

The train step writes these in production; the tests build them directly so that every row,
zip and weight file is known (and so export can be tested without training).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import MaxAbsScaler

from steps.common.domain import ENERGY_SOURCES, FEATURE_GROUPS, TRAINER_NAMES
from steps.common.workspace import PipelineLayout

CURVE_PARAMS = {
    "LogarithmicRegressionTrainer": [70.0, 4.0, 40.0],
    "LogisticRegressionTrainer": [90.0, 0.4, 6.0, 30.0],
    "ExponentialRegressionTrainer": [10.0, 1.5, 35.0],
}
LINEAR = ("LinearRegressionTrainer", "SGDRegressorTrainer")
CLASS = {"XgboostFitTrainer": "xgboost", **{t: "curvefit" for t in CURVE_PARAMS}}


@dataclass
class Model:
    """One trained model to lay down; `weight`: "folder" (folder and zip), "zip" (zip only), "none"."""

    source: str
    output_type: str
    group: str
    trainer: str
    node_type: int
    mae: float
    mape: float
    weight: str = "folder"
    has_zip: bool = True

    @property
    def name(self) -> str:
        return f"{self.trainer}_{self.node_type}"

    @property
    def components(self):
        return ENERGY_SOURCES[self.source].components

    @property
    def features(self):
        return list(FEATURE_GROUPS[self.group].features)

    def component_errors(self) -> Dict[str, float]:
        """Per-component errors whose maxima are the model-level mae/mape (train.md §9.2)."""
        errors: Dict[str, float] = {}
        for i, c in enumerate(self.components):
            errors[f"{c}_mae"] = self.mae if i == 0 else round(self.mae / (i + 2), 2)
        for i, c in enumerate(self.components):
            errors[f"{c}_mape"] = self.mape if i == 0 else (-1 if self.mape < 0 else round(self.mape / (i + 2), 2))
        return errors

    def metadata(self, index: Dict) -> Dict:
        document = {
            "model_name": self.name,
            "trainer": self.trainer,
            "model_class": CLASS.get(self.trainer, "scikit"),
            "model_file": f"{self.name}.json",
            "features": self.features,
            "fe_files": ["poly_scaler.pkl"] if self.trainer.startswith("Polynomial") else [],
            "output_type": self.output_type,
            "mae": self.mae,
            "mape": self.mape,
            "node_type": self.node_type,
        }
        attrs = index.get(str(self.node_type), {}).get("attrs")
        if attrs and attrs.get("processor") and attrs.get("cores"):
            document["machine_spec"] = attrs
        document.update(self.component_errors())
        return document

    def weights(self) -> Optional[Dict]:
        if self.trainer not in LINEAR and self.trainer not in CURVE_PARAMS:
            return None
        document = {}
        for i, c in enumerate(self.components):
            scales = {f: (2000.0 + 100 * self.node_type if f == "bpf_cpu_time_ms" else 1.0) for f in self.features}
            if self.trainer in LINEAR:
                numeric = {
                    f: {"scale": s, "weight": (80.0 + 5 * self.node_type if f == "bpf_cpu_time_ms" else 0.0)}
                    for f, s in scales.items()
                }
                document[c] = {
                    "All_Weights": {
                        "Bias_Weight": 40.0 + self.node_type - 10 * i,
                        "Categorical_Variables": {},
                        "Numerical_Variables": numeric,
                    }
                }
            else:
                document[c] = {
                    "All_Weights": {
                        "Categorical_Variables": {},
                        "Numerical_Variables": {f: {"scale": s} for f, s in scales.items()},
                        "CurveFit_Weights": CURVE_PARAMS[self.trainer],
                    }
                }
        return document

    def folder_files(self, index: Dict) -> Dict[str, bytes]:
        """The model folder's files (workspace.md §3.13), small real pickles included."""
        x = np.arange(12, dtype=float).reshape(6, 2)[:, : max(1, min(2, len(self.features)))]
        scaler = MaxAbsScaler().fit(x)
        files = {"metadata.json": json.dumps(self.metadata(index)).encode(), "scaler.pkl": _pickle(scaler)}
        component_map = {}
        for c in self.components:
            fe = ["scaler.pkl"] + (["poly_scaler.pkl"] if self.trainer.startswith("Polynomial") else [])
            if CLASS.get(self.trainer) == "xgboost":
                files[f"{c}.json"] = json.dumps({"learner": {"component": c}}).encode()
                component_map[c] = {"model_file": f"{c}.json", "features": self.features, "fe_files": fe}
            else:
                files[f"{c}.pkl"] = _pickle(LinearRegression().fit(scaler.transform(x), x[:, 0] * 2 + 1))
                component_map[c] = {"model_file": f"{c}.pkl", "features": self.features, "fe_files": fe}
        files[f"{self.name}.json"] = json.dumps(component_map).encode()
        weights = self.weights()
        if weights is not None and self.weight != "none":
            files["weight.json"] = json.dumps(weights).encode()
        return files


def _pickle(obj) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def index_entry(
    processor: str, cores: int, chips: int, memory: int, frequency: int, members: Sequence[str] = ("m-0",)
) -> Dict:
    return {
        "attrs": {"processor": processor, "cores": cores, "chips": chips, "memory": memory, "frequency": frequency},
        "members": list(members),
    }


def pipeline_metadata(name: str, **overrides) -> Dict:
    document = {
        "name": name,
        "isolator": "min",
        "extractor": "default",
        "abs_trainers": list(TRAINER_NAMES),
        "dyn_trainers": list(TRAINER_NAMES),
        "metric_type": "bm_metrics",
        "init_time": "2024-08-14 07:11:03",
        "last_update_time": "2024-08-14 07:12:37",
    }
    document.update(overrides)
    return document


@dataclass
class PipelineSpec:
    name: str
    index: Dict[str, Dict]
    models: List[Model]
    metadata: Dict = field(default_factory=dict)
    server_style_csv: bool = False  # kepler-model-server CSV: `Unnamed: 0`, `machine_spec`, no trainer/node_type


def build_pipeline(model_path: Path, spec: PipelineSpec) -> PipelineLayout:
    """Write the pipeline folder and its zip as train would."""
    layout = PipelineLayout(Path(model_path) / spec.name)
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.metadata.write_text(json.dumps(spec.metadata or pipeline_metadata(spec.name)))
    layout.node_type_index.write_text(json.dumps(spec.index))
    (layout.root / "train_arguments.json").write_text(json.dumps({"command": "train", "pipeline_name": spec.name}))
    tables: Dict[tuple, List[Dict]] = {}
    for model in spec.models:
        key = (model.source, model.output_type, model.group, model.name)
        files = model.folder_files(spec.index)
        folder = layout.model_dir(*key)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            if name == "weight.json" and model.weight == "zip":
                continue
            (folder / name).write_bytes(data)
        if model.has_zip:
            with zipfile.ZipFile(layout.model_zip(*key), "w") as archive:
                for name in sorted(files):
                    archive.writestr(name, files[name])
        row = model.metadata(spec.index)
        row["feature_group"] = model.group
        tables.setdefault((model.source, model.output_type), []).append(row)
    for (source, output_type), rows in tables.items():
        frame = pd.DataFrame(rows)
        frame = frame.sort_values(["feature_group", "mae", "model_name"]).reset_index(drop=True)
        columns = (
            [
                "model_name",
                "trainer",
                "model_class",
                "model_file",
                "features",
                "fe_files",
                "output_type",
                "mae",
                "mape",
                "node_type",
            ]
            + [c for c in frame.columns if c.endswith("_mae") and c != "mae"]
            + [c for c in frame.columns if c.endswith("_mape") and c != "mape"]
            + ["feature_group"]
        )
        if spec.server_style_csv:
            frame["machine_spec"] = [json.dumps(spec.index.get(str(n), {}).get("attrs")) for n in frame["node_type"]]
            frame.insert(0, "Unnamed: 0", range(len(frame)))
            columns = ["Unnamed: 0"] + [c for c in columns if c not in ("trainer", "node_type")] + ["machine_spec"]
        frame[columns].to_csv(layout.model_metadata_csv(source, output_type))
    return layout


def tree_state(root: Path) -> Dict[str, str]:
    """Every file and folder below `root` with a content hash: compare before/after a failed export."""
    import hashlib

    state = {}
    if not root.exists():
        return state
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        state[relative] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return state
