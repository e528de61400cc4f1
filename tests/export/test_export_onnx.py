"""Export publishes the ONNX graphs train wrote (steps/train/onnx_check.py) beside the exported zips."""

from __future__ import annotations

from pathlib import Path

from steps.common.workspace import PipelineLayout

from .conftest import PIPELINE, run_export

EXPORTED = ("rapl-sysfs", "AbsPower", "BPFOnly", "SGDRegressorTrainer_0")
OVER_THRESHOLDS = ("rapl-sysfs", "AbsPower", "BPFOnly", "LinearRegressionTrainer_1")
WITHOUT_GRAPH = ("acpi", "AbsPower", "Basic", "LinearRegressionTrainer_10")


def _graphs(trained) -> PipelineLayout:
    layout = PipelineLayout(trained["models"] / PIPELINE)
    for key in (EXPORTED, OVER_THRESHOLDS):
        layout.model_onnx(*key).write_bytes(b"graph of " + "/".join(key).encode())
    return layout


def test_export_copies_the_onnx_graph_of_exported_models_beside_their_zips(trained):
    layout = _graphs(trained)
    assert run_export(trained, "--zip=true").code == 0
    db = PipelineLayout(trained["db"] / "v0.7" / PIPELINE)
    assert db.model_onnx(*EXPORTED).read_bytes() == layout.model_onnx(*EXPORTED).read_bytes()
    assert db.model_zip(*EXPORTED).is_file()
    assert not db.model_onnx(*OVER_THRESHOLDS).exists()  # not exported: neither zip nor graph
    assert db.model_zip(*WITHOUT_GRAPH).is_file() and not db.model_onnx(*WITHOUT_GRAPH).exists()
    assert sorted(p.relative_to(db.root).as_posix() for p in db.root.rglob("*.onnx")) == [
        "rapl-sysfs/AbsPower/BPFOnly/SGDRegressorTrainer_0.onnx"
    ]


def test_the_pipeline_readme_lists_the_graphs(trained):
    _graphs(trained)
    assert run_export(trained).code == 0
    readme = (trained["db"] / "v0.7" / PIPELINE / "README.md").read_text()
    assert "## ONNX models" in readme
    path = "rapl-sysfs/AbsPower/BPFOnly/SGDRegressorTrainer_0.onnx"
    link = f"- [{path}](./{path})"
    assert link in readme.splitlines()
    assert "LinearRegressionTrainer_1.onnx" not in readme


def test_no_graph_no_section(trained: dict):
    assert run_export(trained).code == 0
    readme = (Path(trained["db"]) / "v0.7" / PIPELINE / "README.md").read_text()
    assert "ONNX" not in readme
