"""`kepler-model train` end to end on synthetic query JSON: files, commit rules, determinism, error exits."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pandas as pd
import pytest

from steps.cli import main
from steps.common.domain import TRAINER_NAMES
from steps.synth import SynthConfig, generate
from steps.train.cli import available_cpus

CONFIG = SynthConfig(
    containers=4, duration_s=1800, step_s=15, seed=1, power="saturating", noise_w=1.0, sources=("rapl-sysfs", "acpi")
)
FAST = "LinearRegressionTrainer,SGDRegressorTrainer,XgboostFitTrainer"


@pytest.fixture(scope="module")
def query_document() -> dict:
    return generate(CONFIG).query_response()


@pytest.fixture
def workspace(tmp_path: Path, query_document: dict) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "kepler_query.json").write_text(json.dumps(query_document))
    return data


def train(
    data: Path, *args: str, model_path: Optional[Path] = None, env: Optional[Dict[str, str]] = None
) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environ = {"DATAPATH": str(data), "MODEL_PATH": str(model_path or data), "CONFIG_PATH": str(data / "no-config")}
    environ.update(env or {})
    code = main(["train", *args], environ=environ, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def files_under(root: Path) -> List[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_documented_invocation_trains_and_writes_the_pipeline(workspace: Path):
    code, out, err = train(
        workspace,
        "--pipeline-name",
        "p1",
        "--input",
        "kepler_query",
        "--id",
        "m1",
        "-e",
        "rapl-sysfs,acpi",
        "--abs-trainers",
        FAST,
        "--dyn-trainers",
        "LinearRegressionTrainer",
        "--jobs",
        "1",
    )
    assert code == 0, err
    root = workspace / "p1"
    metadata = json.loads((root / "metadata.json").read_text())
    assert list(metadata) == [
        "name",
        "isolator",
        "extractor",
        "abs_trainers",
        "dyn_trainers",
        "metric_type",
        "init_time",
        "last_update_time",
    ]
    assert metadata["abs_trainers"] == FAST.split(",") and metadata["dyn_trainers"] == ["LinearRegressionTrainer"]
    assert (metadata["isolator"], metadata["extractor"], metadata["metric_type"]) == ("min", "default", "bm_metrics")
    arguments = json.loads((root / "train_arguments.json").read_text())
    assert list(arguments) == [  # workspace.md §3.9, exactly: kepler-model-server reads this file
        "command",
        "data_path",
        "input",
        "pipeline_name",
        "id",
        "machine_spec",
        "energy_source",
        "extractor",
        "isolator",
        "profile",
        "target_hints",
        "bg_hints",
        "abs_pipeline_name",
        "abs_trainers",
        "dyn_trainers",
        "thirdparty_metrics",
        "vm_train",
        "metric_generation",
        "seed",
        "jobs",
        "cv_folds",  # the scoring flags (README, "Errors users can trust"), after the keys of §3.9
        "extrapolation_top",
        "mape_floor",
        "max_fit_rows",  # a fit's rows at most, and whether ONNX files were written (README)
        "onnx",
    ]
    assert (arguments["max_fit_rows"], arguments["onnx"]) == (20000, True)
    assert (arguments["cv_folds"], arguments["extrapolation_top"], arguments["mape_floor"]) == (5, 0.2, 0.5)
    assert arguments["abs_trainers"] == FAST and arguments["jobs"] == 1 and arguments["seed"] == 0
    assert arguments["metric_generation"] == "0.7"
    index = json.loads((root / "node_type_index.json").read_text())
    assert list(index) == ["1"] and index["1"]["members"] == ["m1"]  # node info 1, no spec file for m1

    csv = (root / "rapl-sysfs_AbsPower_model_metadata.csv").read_text().splitlines()
    assert csv[0] == (
        ",model_name,trainer,model_class,model_file,features,fe_files,output_type,mae,mape,node_type,"
        "package_mae,core_mae,uncore_mae,dram_mae,package_mape,core_mape,uncore_mape,dram_mape,"
        "feature_group,cv_mae,cv_mae_std,cv_mape,cv_mape_std,extrapolation_mae,extrapolation_mape,negligible"
    )
    frame = pd.read_csv(root / "rapl-sysfs_AbsPower_model_metadata.csv", index_col=0)
    assert list(frame.index) == list(range(len(frame)))
    assert list(frame.sort_values(["feature_group", "mae", "model_name"], kind="stable").model_name) == list(
        frame.model_name
    )
    assert set(frame.trainer) == set(FAST.split(","))
    acpi = pd.read_csv(root / "acpi_DynPower_model_metadata.csv", index_col=0)
    assert list(acpi.columns)[-10:-7] == ["platform_mae", "platform_mape", "feature_group"]

    model = root / "rapl-sysfs" / "AbsPower" / "BPFOnly" / "SGDRegressorTrainer_1"
    with zipfile.ZipFile(str(model) + ".zip") as archive:
        assert archive.namelist() == sorted(p.name for p in model.iterdir())
        assert "weight.json" in archive.namelist()
    with zipfile.ZipFile(workspace / "p1.zip") as archive:
        names = archive.namelist()
    assert names == sorted(n for n in files_under(root) if (root / n).is_file())
    assert "metadata.json" in names and "rapl-sysfs/AbsPower/BPFOnly/SGDRegressorTrainer_1.zip" in names
    assert (
        (root / "preprocessed_data" / "preprocess_abs_default_rapl-sysfs_BPFOnly.csv")
        .read_text()
        .startswith("timestamp,bpf_cpu_time_ms,bpf_page_cache_hit,package_power")
    )
    assert not [p for p in workspace.iterdir() if p.name.startswith(".")]  # staging removed
    assert "trained" in out.splitlines()[-1] and "# Pipeline p1 has finished for modeling rapl-sysfs" in out


def test_same_seed_gives_identical_metadata_whatever_jobs(tmp_path: Path, workspace: Path):
    outputs = []
    for jobs in ("1", "2"):
        models = tmp_path / f"models{jobs}"
        code, _, err = train(
            workspace,
            "--input",
            "kepler_query",
            "-e",
            "rapl-sysfs",
            "--seed",
            "3",
            "--dyn-trainers",
            "none",
            "--jobs",
            jobs,
            model_path=models,
        )
        assert code == 0, err
        root = models / "std_v0.7.11"
        outputs.append(
            {
                name: (root / name).read_bytes()
                for name in files_under(root)
                if name.endswith((".csv", ".pkl", "weight.json", ".scores.json", ".cv.npz"))
            }
        )
    assert outputs[0].keys() == outputs[1].keys()
    assert "rapl-sysfs_AbsPower_model_metadata.csv" in outputs[0]
    assert any(name.endswith(".cv.npz") for name in outputs[0])  # scores and predictions: no byte changes either
    assert [n for n in outputs[0] if outputs[0][n] != outputs[1][n]] == []


def test_rerun_replaces_models_of_the_node_type_and_keeps_history(workspace: Path):
    assert (
        train(workspace, "--input", "kepler_query", "--abs-trainers", FAST, "--dyn-trainers", "none", "--jobs", "1")[0]
        == 0
    )
    root = workspace / "std_v0.7.11"
    first = json.loads((root / "metadata.json").read_text())
    code, _, err = train(
        workspace,
        "--input",
        "kepler_query",
        "--abs-trainers",
        "KNeighborsRegressorTrainer",
        "--dyn-trainers",
        "LinearRegressionTrainer",
        "--jobs",
        "1",
    )
    assert code == 0, err
    second = json.loads((root / "metadata.json").read_text())
    assert second["init_time"] == first["init_time"]
    assert second["abs_trainers"] == FAST.split(",") + ["KNeighborsRegressorTrainer"]
    assert second["dyn_trainers"] == ["LinearRegressionTrainer"]
    models = {p.name for p in (root / "rapl-sysfs" / "AbsPower" / "BPFOnly").iterdir()}
    assert {name.split(".", 1)[0] for name in models} == {"KNeighborsRegressorTrainer_1"}  # side files too
    knn = "KNeighborsRegressorTrainer_1"
    assert {knn, f"{knn}.zip", f"{knn}.scores.json", f"{knn}.cv.npz"} <= models
    frame = pd.read_csv(root / "rapl-sysfs_AbsPower_model_metadata.csv", index_col=0)
    assert set(frame.trainer) == {"KNeighborsRegressorTrainer"}


def test_existing_pipeline_with_another_isolator_is_refused_before_training(workspace: Path):
    assert (
        train(
            workspace,
            "--input",
            "kepler_query",
            "--abs-trainers",
            "LinearRegressionTrainer",
            "--dyn-trainers",
            "none",
            "--jobs",
            "1",
        )[0]
        == 0
    )
    before = {p: p.stat().st_mtime_ns for p in (workspace / "std_v0.7.11").rglob("*")}
    code, out, err = train(workspace, "--input", "kepler_query", "--isolator", "none", "--jobs", "1")
    assert code == 1
    assert "isolator 'min'" in err and "'none'" in err
    assert "Waiting for" not in out
    assert {p: p.stat().st_mtime_ns for p in (workspace / "std_v0.7.11").rglob("*")} == before


@pytest.mark.parametrize(
    "args,message",
    [
        ([], "--input is required"),
        (["--input", "kepler_query", "--abs-trainers", "FooTrainer"], "PolynomialRegressionTrainer, "),
        (["--input", "kepler_query", "--isolator", "magic"], "unknown value 'magic'"),
        (["--input", "kepler_query", "--isolator", "profile"], "needs --profile"),
        (["--input", "kepler_query", "--isolator", "trainer"], "needs --abs-pipeline-name"),
        (["--input", "kepler_query", "--seed", "-1"], "--seed"),
        (["--input", "kepler_query", "--seed", "abc"], "--seed"),
        (["--input", "kepler_query", "--jobs", "0"], "--jobs"),
        (["--input", "kepler_query", "--pipeline-name", "../evil"], "--pipeline-name '../evil' is not a plain name"),
        (["--input", "kepler_query", "-e", "solar"], "unknown source 'solar'"),
        (["--input", "kepler_query", "--abs-trainers", "none", "--dyn-trainers", "none"], "both none"),
        (["--input", "kepler_query", "--metric-generation", "0.5"], "--metric-generation"),
    ],
)
def test_usage_errors_exit_2_before_any_write(workspace: Path, args: List[str], message: str):
    before = files_under(workspace)
    code, out, err = train(workspace, *args)
    assert code == 2
    assert message in err and err.startswith("kepler-model train: error: ")
    assert files_under(workspace) == before


def test_unknown_trainer_lists_the_ten_names(workspace: Path):
    _, _, err = train(workspace, "--input", "kepler_query", "--dyn-trainers", "Nope")
    assert all(name in err for name in TRAINER_NAMES)


def test_env_fallbacks_for_seed_and_jobs_are_checked(workspace: Path):
    code, _, err = train(workspace, "--input", "kepler_query", env={"TRAIN_JOBS": "many"})
    assert code == 2 and "--jobs" in err


def _write(data: Path, name: str, content: str) -> None:
    (data / f"{name}.json").write_text(content)


@pytest.mark.parametrize(
    "setup,args,message",
    [
        (None, ["--input", "missing"], "does not exist"),
        (lambda d: _write(d, "broken", "{not json"), ["--input", "broken"], "not valid JSON"),
        (lambda d: _write(d, "alist", "[1, 2]"), ["--input", "alist"], "not a query response"),
        (lambda d: (d / "folder.json").mkdir(), ["--input", "folder"], "is a folder"),
        (None, ["--input", "kepler_query", "--isolator", "profile", "--profile", "missing_idle"], "does not exist"),
        (None, ["--input", "kepler_query", "--isolator", "trainer", "--abs-pipeline-name", "nowhere"], "not found"),
        (None, ["--input", "kepler_query", "--machine-spec", "/nonexistent/spec.json"], "does not exist"),
    ],
)
def test_file_errors_exit_1(workspace: Path, setup, args: List[str], message: str):
    if setup:
        setup(workspace)
    code, out, err = train(workspace, *args, "--jobs", "1")
    assert code == 1, err
    assert message in err
    assert not (workspace / "std_v0.7.11").exists()


def test_data_path_must_exist(tmp_path: Path):
    code, _, err = train(tmp_path / "absent", "--input", "kepler_query")
    assert code == 1 and "does not exist" in err


def test_source_without_energy_metrics_is_skipped_and_nothing_trained(workspace: Path):
    code, out, err = train(workspace, "--input", "kepler_query", "-e", "hmc", "--jobs", "1")
    assert code == 1
    assert "hmc: no kepler_node_platform_joules_total series with source hmc" in out
    assert "no model was trained" in err
    assert not (workspace / "std_v0.7.11").exists()


def test_no_valid_group_is_an_error(workspace: Path, query_document: dict):
    features_gone = {k: v for k, v in query_document.items() if not k.startswith("kepler_container_")}
    _write(workspace, "nofeatures", json.dumps(features_gone))
    code, _, err = train(workspace, "--input", "nofeatures", "--jobs", "1")
    assert code == 1 and "no feature group is valid" in err


def _damaged(document: dict, how: str) -> dict:
    damaged = json.loads(json.dumps(document))
    series = damaged["kepler_container_cpu_instructions_total"][0]
    values = series["values"]
    if how == "nan":
        values[3][1], values[5][1] = "NaN", "+Inf"
    elif how == "negative":
        values[4][1] = "-5"
    elif how == "duplicates":
        damaged["kepler_container_cpu_instructions_total"].append(json.loads(json.dumps(series)))
        values.insert(6, list(values[6]))
    return damaged


@pytest.mark.parametrize("how", ["nan", "negative", "duplicates"])
def test_damaged_counters_still_train(workspace: Path, query_document: dict, how: str):
    _write(workspace, "damaged", json.dumps(_damaged(query_document, how)))
    code, out, err = train(
        workspace,
        "--input",
        "damaged",
        "--abs-trainers",
        "LinearRegressionTrainer",
        "--dyn-trainers",
        "none",
        "--jobs",
        "1",
    )
    assert code == 0, err
    assert (
        workspace / "std_v0.7.11" / "rapl-sysfs" / "AbsPower" / "CounterOnly" / "LinearRegressionTrainer_1.zip"
    ).is_file()


def test_real_idle_sample_reports_why_nothing_could_be_trained(tmp_path: Path, idle_json: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "idle.json").write_bytes(idle_json.read_bytes())
    code, out, err = train(data, "--input", "idle", "--jobs", "1")
    # idle.json holds 5 usable rows per table; a model needs 10 (train.md §8.1)
    assert code == 1
    assert "no model was trained" in err and "unexpected" not in err
    for group in ("CounterOnly", "BPFOnly", "BPFIRQ", "CounterIRQCombined", "Basic"):
        assert f"rapl-sysfs/AbsPower/{group}/*_1 (10 trainers): only 5 rows" in out
    assert files_under(data) == ["idle.json"]


def test_real_idle_sample_twice_trains_and_lists_what_it_could_not(tmp_path: Path, idle_json: Path):
    """Two collections of one machine accumulate: 2 x 5 rows of the real sample reach the minimum of 10."""
    data = tmp_path / "data"
    (data / "machine_spec").mkdir(parents=True)
    for name in ("idle", "idle_again"):
        (data / f"{name}.json").write_bytes(idle_json.read_bytes())
    (data / "machine_spec" / "m1.json").write_text(json.dumps({"processor": "intel_xeon", "cores": 32, "chips": 2}))
    code, out, err = train(
        data,
        "--input",
        "idle,idle_again",
        "--id",
        "m1",
        "-e",
        "rapl-sysfs,acpi,redfish",
        "--abs-trainers",
        "LinearRegressionTrainer",
        "--dyn-trainers",
        "LinearRegressionTrainer",
        "--jobs",
        "1",
    )
    assert code == 0, err
    assert "redfish: no kepler_node_platform_joules_total series with source redfish in idle, idle_again" in out
    pipeline = data / "std_v0.7.11"
    for source in ("rapl-sysfs", "acpi"):
        for output_type in ("AbsPower", "DynPower"):
            assert (pipeline / source / output_type / "BPFIRQ" / "LinearRegressionTrainer_0.zip").is_file()
    assert not (pipeline / "redfish").exists()
    assert out.strip().splitlines()[-1] == f"trained 20 models into {pipeline}"


def test_help_shows_environment_fallbacks(workspace: Path, capsys: pytest.CaptureFixture):
    code, _, _ = train(workspace, "--help")
    out = capsys.readouterr().out
    assert code == 0
    for variable in ("DATAPATH", "TRAIN_SEED", "TRAIN_JOBS", "KEPLER_METRIC_GENERATION", "PROM_THIRDPARTY_METRICS"):
        assert variable in out


def test_default_jobs_respects_affinity_and_cgroup_quota():
    assert available_cpus(affinity=8, cpu_max="max 100000") == 8
    assert available_cpus(affinity=8, cpu_max="250000 100000") == 3
    assert available_cpus(affinity=2, cpu_max="800000 100000") == 2
    assert available_cpus(affinity=4, cpu_max="") == 4
    assert available_cpus(affinity=1, cpu_max="5000 100000") == 1


def test_trainer_isolator_uses_the_abs_pipeline_models(workspace: Path):
    from steps.common.workspace import PipelineLayout
    from steps.train.abs_models import read_abs_models

    code, _, err = train(
        workspace,
        "--pipeline-name",
        "abs",
        "--input",
        "kepler_query",
        "--abs-trainers",
        "LinearRegressionTrainer,LogarithmicRegressionTrainer",
        "--dyn-trainers",
        "none",
        "--jobs",
        "1",
    )
    assert code == 0, err
    models = read_abs_models(PipelineLayout(workspace / "abs"), ["rapl-sysfs"])
    assert {m.name for m in models} == {"LinearRegressionTrainer_1", "LogarithmicRegressionTrainer_1"}
    linear = next(m for m in models if m.name == "LinearRegressionTrainer_1" and m.group == "BPFOnly")
    table = pd.read_csv(workspace / "abs" / "preprocessed_data" / "preprocess_abs_default_rapl-sysfs_BPFOnly.csv")
    predicted = linear.predict(table[list(linear.features)].to_numpy()[:5])
    assert set(predicted) == {"package", "core", "uncore", "dram"}
    weights = json.loads((linear.folder / "weight.json").read_text())["package"]["All_Weights"]
    by_weights = weights["Bias_Weight"] + sum(
        v["weight"] * table[f].to_numpy()[:5] / v["scale"] for f, v in weights["Numerical_Variables"].items()
    )
    assert predicted["package"] == pytest.approx(by_weights)

    code, out, err = train(
        workspace,
        "--pipeline-name",
        "dyn",
        "--input",
        "kepler_query",
        "--isolator",
        "trainer",
        "--abs-pipeline-name",
        "abs",
        "--target-hints",
        "stressng",
        "--abs-trainers",
        "none",
        "--dyn-trainers",
        "LinearRegressionTrainer",
        "--jobs",
        "1",
    )
    assert code == 0, err
    assert (workspace / "dyn" / "rapl-sysfs" / "DynPower" / "BPFOnly" / "LinearRegressionTrainer_1.zip").is_file()
    assert (workspace / "dyn" / "preprocessed_data" / "preprocess_dyn_default_trainer_rapl-sysfs_BPFOnly.csv").is_file()


def test_profile_isolator_writes_idle_profiles(workspace: Path, idle_json: Path):
    (workspace / "idle.json").write_bytes(idle_json.read_bytes())
    code, out, err = train(
        workspace,
        "--input",
        "kepler_query",
        "--isolator",
        "profile",
        "--profile",
        "idle",
        "--abs-trainers",
        "LinearRegressionTrainer",
        "--dyn-trainers",
        "LinearRegressionTrainer",
        "--jobs",
        "1",
    )
    assert code == 0, err
    profile = json.loads((workspace / "std_v0.7.11" / "profile" / "rapl-sysfs.json").read_text())
    assert list(profile) == ["package", "core", "uncore", "dram"]
    assert set(profile["package"]["1"]) == {"min_watt", "max_watt", "#unit"}


def test_machine_spec_gives_the_node_type_and_model_machine_spec(workspace: Path):
    spec = {
        "attrs": {"processor": "intel_xeon_platinum_8259cl", "cores": 96, "chips": 2, "memory": 377, "frequency": 3500},
        "members": [],
    }
    (workspace / "machine_spec").mkdir()
    (workspace / "machine_spec" / "m5.json").write_text(json.dumps(spec))
    code, _, err = train(
        workspace,
        "--input",
        "kepler_query",
        "--id",
        "m5",
        "--abs-trainers",
        "LinearRegressionTrainer",
        "--dyn-trainers",
        "none",
        "--jobs",
        "1",
    )
    assert code == 0, err
    root = workspace / "std_v0.7.11"
    index = json.loads((root / "node_type_index.json").read_text())
    assert index == {"0": {"attrs": spec["attrs"], "members": ["m5"]}}
    metadata = json.loads(
        (root / "rapl-sysfs" / "AbsPower" / "BPFOnly" / "LinearRegressionTrainer_0" / "metadata.json").read_text()
    )
    assert metadata["node_type"] == 0 and metadata["machine_spec"] == spec["attrs"]
    assert list(metadata).index("machine_spec") == list(metadata).index("node_type") + 1


def test_documented_command_runs_verbatim(workspace: Path, repo_root: Path):
    """`DATAPATH=... MODEL_PATH=... python cmd/main.py train --pipeline-name P --input kepler_query --id ID`."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, DATAPATH=str(workspace), MODEL_PATH=str(workspace), CONFIG_PATH=str(workspace / "none"))
    env.pop("TRAIN_JOBS", None)
    done = subprocess.run(
        [
            sys.executable,
            str(repo_root / "cmd" / "main.py"),
            "train",
            "--pipeline-name",
            "doc",
            "--input",
            "kepler_query",
            "--id",
            "collect-1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "Waiting for 100 trainers to complete..." in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("trained ")
    assert (workspace / "doc.zip").is_file()
    arguments = json.loads((workspace / "doc" / "train_arguments.json").read_text())
    assert arguments["jobs"] == available_cpus() and arguments["id"] == "collect-1"
