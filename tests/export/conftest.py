"""Fixtures: trained pipelines laid down by tests/export/builder.py, and a runner for the command."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from steps.cli import main

from .builder import Model, PipelineSpec, build_pipeline, index_entry, pipeline_metadata

PIPELINE = "test-pipe"
WINDOW = '{"startTimeUTC": "2024-07-25T21:05:43Z", "endTimeUTC": "2024-07-25T22:05:43Z"}'


def realistic_models() -> List[Model]:
    """Rows on each side of each threshold, two sources, node types 0, 1, 2, 10 (and 7, not indexed)."""
    M = Model
    return [
        # rapl-sysfs AbsPower
        M("rapl-sysfs", "AbsPower", "BPFOnly", "SGDRegressorTrainer", 0, 5.0, 10.0),
        M("rapl-sysfs", "AbsPower", "BPFOnly", "XgboostFitTrainer", 0, 4.0, 12.0),  # sidecar best, no weights
        M("rapl-sysfs", "AbsPower", "BPFOnly", "LogarithmicRegressionTrainer", 2, 8.0, 30.0),  # MAE test
        M("rapl-sysfs", "AbsPower", "BPFOnly", "SGDRegressorTrainer", 10, 9.0, -1),  # MAE test, mape -1
        M("rapl-sysfs", "AbsPower", "BPFOnly", "LinearRegressionTrainer", 1, 12.0, -1),  # fails: -1 not MAPE
        M("rapl-sysfs", "AbsPower", "Basic", "GradientBoostingRegressorTrainer", 0, 13.1, 5.0),  # MAPE test
        M("rapl-sysfs", "AbsPower", "Basic", "PolynomialRegressionTrainer", 1, 12.0, 25.0),  # fails both
        M("rapl-sysfs", "AbsPower", "Basic", "KNeighborsRegressorTrainer", 1, 6.95, 100.76),  # hard cap
        M("rapl-sysfs", "AbsPower", "Basic", "SVRRegressorTrainer", 2, 10.0, 20.0),  # on both limits
        M("rapl-sysfs", "AbsPower", "Basic", "SVRRegressorTrainer", 10, 10.01, 20.01),  # just over
        M("rapl-sysfs", "AbsPower", "CounterOnly", "SGDRegressorTrainer", 1, 3.0, 10.0, has_zip=False),
        M("rapl-sysfs", "AbsPower", "CounterOnly", "SGDRegressorTrainer", 7, 2.0, 3.0),  # node type not indexed
        M("rapl-sysfs", "AbsPower", "CounterOnly", "ExponentialRegressionTrainer", 2, 1.0, 2.0, weight="none"),
        # rapl-sysfs DynPower
        M("rapl-sysfs", "DynPower", "BPFOnly", "LogisticRegressionTrainer", 1, 2.0, 5.0, weight="zip"),
        M("rapl-sysfs", "DynPower", "BPFOnly", "SGDRegressorTrainer", 2, 150.0, 10.0),  # over hard cap (MAE)
        # acpi
        M("acpi", "AbsPower", "BPFOnly", "SGDRegressorTrainer", 10, 4.0, 8.0),
        M("acpi", "AbsPower", "Basic", "LinearRegressionTrainer", 10, 3.0, 4.0),  # weights never published
        M("acpi", "DynPower", "Basic", "XgboostFitTrainer", 2, 30.0, 40.0),  # no acpi DynPower export
    ]


def realistic_index() -> Dict[str, Dict]:
    return {
        "0": index_entry("intel_xeon_platinum_8259cl", 96, 2, 377, 3500, ["m5.metal"]),
        "1": index_entry("intel_xeon_e5_2686v4", 72, 2, 503, 3000, ["i3.metal", "i3en.metal"]),
        "2": index_entry("intel_xeon_platinum_8275cl", 96, 2, 188, 3900),
        "3": index_entry("intel_xeon_platinum_8252c", 48, 2, 188, 4500),  # no model
        "10": index_entry("", 8, 1, 0, 0, ["kind-node"]),  # unknown processor and numbers
    }


@pytest.fixture
def workspace(tmp_path: Path) -> Dict[str, Path]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "stressng.json").write_text(WINDOW)
    return {"data": data, "models": tmp_path / "models", "db": tmp_path / "db" / "models", "root": tmp_path}


@pytest.fixture
def trained(workspace) -> Dict[str, Path]:
    """The realistic pipeline `test-pipe` under MODEL_PATH."""
    build_pipeline(
        workspace["models"], PipelineSpec(PIPELINE, realistic_index(), realistic_models(), pipeline_metadata(PIPELINE))
    )
    return workspace


class Result:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"Result(code={self.code}, out={self.out!r}, err={self.err!r})"


def run_export(ws: Dict[str, Path], *args: str, env: Optional[Dict[str, str]] = None, defaults: bool = True) -> Result:
    """`kepler-model export ...` in-process, with DATAPATH/MODEL_PATH pointing at the fixture."""
    environ = {
        "DATAPATH": str(ws["data"]),
        "MODEL_PATH": str(ws["models"]),
        "CONFIG_PATH": str(ws["root"] / "no-config"),
    }
    environ.update(env or {})
    argv = ["export"]
    if defaults:
        argv += ["--pipeline-name", PIPELINE, "-o", str(ws["db"]), "--publisher", "sunya-ch", "--benchmark", "stressng"]
    argv += list(args)
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, environ=environ, out=out, err=err)
    return Result(code, out.getvalue(), err.getvalue())


def read_json(path: Path):
    return json.loads(path.read_text())
