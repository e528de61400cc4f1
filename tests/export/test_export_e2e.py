"""End to end: synthetic Kepler data -> `kepler-model train` -> `kepler-model export` into a model
database that already holds another pipeline and a version table."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from steps.cli import main
from steps.common.domain import ENERGY_SOURCES, split_model_name
from steps.synth import SynthConfig, generate

from .builder import tree_state

pytestmark = pytest.mark.slow

TRAINERS = "LinearRegressionTrainer,SGDRegressorTrainer,LogarithmicRegressionTrainer"
WEIGHT_PUBLISHED = {"SGDRegressorTrainer", "LogarithmicRegressionTrainer"}
VERSION_README = (
    "# v0.7 Build\n\npipeline|collect time|last update time|publisher|models\n---|---|---|---|---|\n"
    "[ec2-0.7.10](./.doc/ec2-0.7.10.md)|2024-06-01 10:00:00|2024-06-02 11:00:00|"
    "[sunya-ch](https://github.com/sunya-ch)|[link](./ec2-0.7.10)\n"
)


def command(argv, environ):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, environ=environ, out=out, err=err)
    assert code == 0, (argv[0], out.getvalue(), err.getvalue())
    return out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained_e2e(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    data = root / "data"
    data.mkdir()
    synth = generate(SynthConfig(duration_s=900.0, containers=4, seed=3, sources=("rapl-sysfs", "acpi")))
    synth.write_query_response(data / "kepler_query.json")
    start, end = synth.window
    (data / "stressng.json").write_text(
        json.dumps({"startTimeUTC": f"{start:%Y-%m-%dT%H:%M:%SZ}", "endTimeUTC": f"{end:%Y-%m-%dT%H:%M:%SZ}"})
    )
    environ = {"DATAPATH": str(data), "MODEL_PATH": str(root / "models"), "CONFIG_PATH": str(root / "none")}
    command(
        [
            "train",
            "--pipeline-name",
            "synth-e2e",
            "--input",
            "kepler_query",
            "-e",
            "rapl-sysfs,acpi",
            "--abs-trainers",
            TRAINERS,
            "--dyn-trainers",
            TRAINERS,
            "--jobs",
            "1",
        ],
        environ,
    )
    return root, environ, start


def test_train_then_export_into_a_shared_model_database(trained_e2e):
    root, environ, start = trained_e2e
    db = root / "db" / "models"
    version_dir = db / "v0.7"
    other = version_dir / "ec2-0.7.10"
    other.mkdir(parents=True)
    (other / "metadata.json").write_text('{"name": "ec2-0.7.10", "init_time": "2024-06-01 09:00:00"}')
    (other / "README.md").write_text("# ec2-0.7.10\n")
    (version_dir / "README.md").write_text(VERSION_README)
    other_before = tree_state(other)

    argv = [
        "export",
        "--benchmark",
        "stressng",
        "--pipeline-name",
        "synth-e2e",
        "-o",
        str(db),
        "--publisher",
        "sunya-ch",
        "--zip=true",
        "--input",
        "stressng_kepler_query",
    ]
    out, _ = command(argv, environ)
    assert "exported" in out.splitlines()[-1]
    first = tree_state(version_dir)
    command(argv, environ)

    # the other pipeline is untouched; the row is added once, after the existing one
    assert tree_state(other) == other_before
    readme = (version_dir / "README.md").read_text()
    assert readme.startswith(VERSION_README) and readme.count("[synth-e2e](") == 1
    assert f"|{start:%Y-%m-%d %H:%M:%S}|" in readme
    assert tree_state(version_dir).keys() == first.keys()

    target = version_dir / "synth-e2e"
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    with zipfile.ZipFile(version_dir / "synth-e2e.zip") as archive:
        assert archive.namelist() == files
        assert archive.testzip() is None

    model_zips = [f for f in files if f.endswith(".zip")]
    assert model_zips, "no model exported"
    for relative in model_zips:
        source, output_type, group, name = relative[:-4].split("/")
        trainer, _ = split_model_name(name)
        with zipfile.ZipFile(target / relative) as archive:
            members = set(archive.namelist())
            metadata = json.loads(archive.read("metadata.json"))
        components = ENERGY_SOURCES[source].components
        expected = {"metadata.json", f"{name}.json", "scaler.pkl"} | {f"{c}.pkl" for c in components}
        if trainer in ("LinearRegressionTrainer", "SGDRegressorTrainer", "LogarithmicRegressionTrainer"):
            expected.add("weight.json")
        assert expected <= members, (relative, members)
        assert metadata["model_name"] == name and metadata["output_type"] == output_type
        published = (target / relative).with_suffix(".json")
        assert published.exists() is (trainer in WEIGHT_PUBLISHED), relative
        if published.exists():
            with zipfile.ZipFile(target / relative) as archive:
                assert published.read_bytes() == archive.read("weight.json")
    page = (version_dir / ".doc" / "synth-e2e.md").read_text()
    assert "### stressng" in page and "<details>" in page
