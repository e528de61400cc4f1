"""Export of a pipeline trained from Kepler 0.10 data: its own version folder (v0.10), reports naming the
generation and the zones, and no mixing with v0.7 (kepler-010.md §5)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from steps.cli import main
from steps.synth import Kepler010Config, generate_010

from .conftest import PIPELINE, run_export

TRAINERS = "LinearRegressionTrainer,SGDRegressorTrainer,LogarithmicRegressionTrainer"
ZONES = ("package", "core", "dram", "psys")


@pytest.fixture(scope="module")
def trained_010(tmp_path_factory):
    """A std_v0.10 pipeline trained by `kepler-model train` from generated Kepler 0.10 data with a psys zone."""
    root = tmp_path_factory.mktemp("k010")
    data = root / "data"
    data.mkdir()
    truth = generate_010(Kepler010Config(duration_s=900, step_s=15, zones=ZONES, seed=7, noise_w=0.2))
    truth.write_query_response(data / "kepler_query.json")
    (data / "stressng.json").write_text(
        '{"startTimeUTC": "2024-01-01T00:00:00Z", "endTimeUTC": "2024-01-01T00:15:00Z"}'
    )
    environ = {"DATAPATH": str(data), "MODEL_PATH": str(root / "models"), "CONFIG_PATH": str(root / "none")}
    out, err = io.StringIO(), io.StringIO()
    argv = ["train", "--input", "kepler_query", "--abs-trainers", TRAINERS, "--dyn-trainers", TRAINERS, "--jobs", "1"]
    assert main(argv, environ=environ, out=out, err=err) == 0, err.getvalue()
    return {"data": data, "models": root / "models", "root": root}


def _workspace(trained_010, tmp_path: Path) -> dict:
    """A fresh model database beside the module's trained pipeline."""
    return {**trained_010, "db": tmp_path / "db" / "models", "root": tmp_path}


def export_010(ws, *args, env=None):
    return run_export(
        ws,
        "--pipeline-name",
        "std_v0.10",
        "-o",
        str(ws["db"]),
        "--publisher",
        "me",
        "--benchmark",
        "stressng",
        *args,
        env=env,
        defaults=False,
    )


def test_010_pipeline_goes_to_its_own_version_folder(trained_010, tmp_path):
    ws = _workspace(trained_010, tmp_path)
    result = export_010(ws, "--zip=true")
    assert result.code == 0, result
    version = ws["db"] / "v0.10"
    assert sorted(p.name for p in ws["db"].iterdir()) == ["v0.10"]  # never v0.7
    assert (version / "README.md").read_text().startswith("# v0.10 Build\n\npipeline|collect time|")
    assert "[std_v0.10](./.doc/std_v0.10.md)|2024-01-01 00:00:00|" in (version / "README.md").read_text()
    folder = version / "std_v0.10"
    readme = (folder / "README.md").read_text()
    assert readme.startswith(
        "# std_v0.10 on v0.10 Build\n\nKepler generation 0.10 (Kepler v0.10.2); RAPL zones: package, core, dram, psys\n"
    )
    report = (folder / "error_report" / "node_type_0.md").read_text()
    assert report.splitlines()[2] == "Kepler generation 0.10 (Kepler v0.10.2); RAPL zones: package, core, dram, psys"
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["kepler_generation"] == "0.10" and list(metadata)[-3:] == [
        "publisher",
        "collect_time",
        "export_time",
    ]
    header = (folder / "rapl-sysfs_AbsPower_model_metadata.csv").read_text().splitlines()[0]
    assert "platform_mae" in header and "uncore_mae" not in header
    for name in ("rapl-sysfs_AbsPower_model_metadata.png", "rapl-sysfs_AbsPower_power_curve.png"):
        assert (folder / name).read_bytes().startswith(b"\x89PNG")
    assert (folder / "rapl-sysfs/AbsPower/CPUTimeOnly/SGDRegressorTrainer_0.json").is_file()
    assert (folder / "rapl-sysfs/DynPower/CPUTimeUsage/LogarithmicRegressionTrainer_0.zip").is_file()
    with zipfile.ZipFile(version / "std_v0.10.zip") as archive:
        assert "README.md" in archive.namelist()
    # a re-export with MODEL_DB_VERSION naming the same folder is fine and changes no other folder
    assert export_010(ws, env={"MODEL_DB_VERSION": "v0.10"}).code == 0
    assert sorted(p.name for p in ws["db"].iterdir()) == ["v0.10"]


def _nothing_written(result, ws, *words):
    lines = [line for line in result.err.splitlines() if "error:" in line]
    assert result.code == 1 and len(lines) == 1 and lines[0].startswith("kepler-model export: error: "), result
    assert all(word in lines[0] for word in words), lines[0]
    assert not ws["db"].exists() or not any(ws["db"].rglob("*"))


def test_010_pipeline_refuses_another_version_folder(trained_010, tmp_path):
    ws = _workspace(trained_010, tmp_path)
    _nothing_written(export_010(ws, "--version", "v0.7"), ws, "Kepler 0.10 data", "exported to v0.10, not v0.7")


def test_v0_10_takes_no_07_pipeline(trained, tmp_path):
    _nothing_written(run_export(trained, "--version", "v0.10"), trained, "v0.10 holds only models of Kepler 0.10")
    assert run_export(trained).code == 0  # the same pipeline into v0.7, as before
    assert sorted(p.name for p in trained["db"].iterdir()) == ["v0.7"]


def test_unknown_generation_in_the_metadata(trained_010, tmp_path):
    ws = _workspace(trained_010, tmp_path)
    models = tmp_path / "models"
    shutil.copytree(trained_010["models"] / "std_v0.10", models / "std_v0.10")
    metadata = json.loads((models / "std_v0.10" / "metadata.json").read_text())
    (models / "std_v0.10" / "metadata.json").write_text(json.dumps(dict(metadata, kepler_generation="0.99")))
    _nothing_written(export_010(dict(ws, models=models)), ws, "unknown kepler_generation '0.99'")


def test_07_export_reads_no_generation(trained):
    """A 0.7 pipeline (no kepler_generation) reads as 0.7 and keeps the v0.7 title without a generation line."""
    assert run_export(trained).code == 0
    readme = (trained["db"] / "v0.7" / PIPELINE / "README.md").read_text()
    assert readme.startswith(f"# {PIPELINE} on v0.7.11 Build\n\nMAE Threshold")
    assert "Kepler generation" not in readme
