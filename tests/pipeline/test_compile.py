"""pipeline.py: the committed manifests are exactly what it generates; a bad step table fails at compile time."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_ROOT


def test_committed_manifests_match_a_fresh_compile(rendered, manifests_dir):
    """Golden test: regenerate every file and compare byte for byte (run `python pipeline.py` to update)."""
    stale = [
        str(rel)
        for rel, text in rendered.items()
        if not (manifests_dir / rel).is_file() or (manifests_dir / rel).read_text(encoding="utf-8") != text
    ]
    assert not stale, f"manifests out of date, run `python pipeline.py`: {stale}"


def test_compile_is_deterministic(pipeline_def, rendered):
    again = pipeline_def.render_all(pipeline_def.IMAGE_REGISTRY, pipeline_def.IMAGE_TAG)
    assert again == rendered


def test_script_writes_every_file_and_honours_registry_and_tag(tmp_path):
    """`python pipeline.py --output-dir D --registry R --tag T` writes all files with R and T in every image."""
    done = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "pipeline.py"),
            "--output-dir",
            str(tmp_path),
            "--registry",
            "registry.example/team",
            "--tag",
            "t1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    written = {Path(line).relative_to(tmp_path) for line in done.stdout.split()}
    assert Path("kfp/kepler-model-pipeline.yaml") in written and Path("argo/install.yaml") in written
    for step in ("query", "train", "export"):
        image = f"registry.example/team/kepler-model-{step}:t1"
        assert image in (tmp_path / "kfp/kepler-model-pipeline.yaml").read_text()
        assert image in (tmp_path / "argo/install.yaml").read_text()


def test_image_settings_come_from_flag_then_env_then_constant(pipeline_def):
    env = {pipeline_def.IMAGE_REGISTRY_VARIABLE: "env.reg", pipeline_def.IMAGE_TAG_VARIABLE: "env-tag"}
    assert pipeline_def.image_settings(None, None, {}) == (pipeline_def.IMAGE_REGISTRY, pipeline_def.IMAGE_TAG)
    assert pipeline_def.image_settings(None, None, env) == ("env.reg", "env-tag")
    assert pipeline_def.image_settings("flag.reg", "flag-tag", env) == ("flag.reg", "flag-tag")


def test_unknown_parameter_in_a_step_fails_at_compile_time(pipeline_def, monkeypatch):
    bad = dataclasses.replace(pipeline_def.STEPS[1], args=("--pipeline-name", pipeline_def.Ref("PIPELINE_NAM")))
    monkeypatch.setattr(pipeline_def, "STEPS", (pipeline_def.STEPS[0], bad, pipeline_def.STEPS[2]))
    with pytest.raises(pipeline_def.ContractError, match="unknown parameter 'PIPELINE_NAM'"):
        pipeline_def.build_kfp_pipeline()
    with pytest.raises(pipeline_def.ContractError, match="unknown parameter 'PIPELINE_NAM'"):
        pipeline_def.argo_workflow_template()


def test_unknown_claim_and_dependency_fail(pipeline_def):
    steps = list(pipeline_def.STEPS)
    with pytest.raises(pipeline_def.ContractError, match="unknown claim 'scratch'"):
        pipeline_def.check_definition(steps=[dataclasses.replace(steps[0], claims=("scratch",))])
    with pytest.raises(pipeline_def.ContractError, match="unknown or later step 'export'"):
        pipeline_def.check_definition(steps=[dataclasses.replace(steps[0], after=("export",))] + steps[1:])


def test_every_parameter_is_used_by_a_step_or_a_claim(pipeline_def):
    used = {name for step in pipeline_def.STEPS for name in step.input_names()}
    used |= {claim.parameter for claim in pipeline_def.CLAIMS}
    assert used == {p.name for p in pipeline_def.PARAMETERS}


def test_an_optional_file_parameter_must_default_to_none(pipeline_def):
    """A Secret/ConfigMap name parameter with a default would always mount that object: refused."""
    parameters = [
        dataclasses.replace(p, default="prom-token") if p.name == "PROM_TOKEN_SECRET" else p
        for p in pipeline_def.PARAMETERS
    ]
    with pytest.raises(pipeline_def.ContractError, match="PROM_TOKEN_SECRET.*default must be empty"):
        pipeline_def.check_definition(parameters=parameters)


def test_an_output_read_before_it_is_written_fails(pipeline_def):
    """train reads the query JSON: without running after query, nothing has written it yet."""
    steps = list(pipeline_def.STEPS)
    with pytest.raises(pipeline_def.ContractError, match="reads 'kepler_query', which no step before it writes"):
        pipeline_def.check_definition(steps=[steps[0], dataclasses.replace(steps[1], after=()), steps[2]])


def test_a_parameter_passed_with_another_flag_fails(pipeline_def):
    """A parameter reaches every step with the flag `kepler-model run` takes it with."""
    steps = list(pipeline_def.STEPS)
    bad = dataclasses.replace(steps[1], args=("--pipeline", pipeline_def.Ref("PIPELINE_NAME")))
    with pytest.raises(pipeline_def.ContractError, match="passes PIPELINE_NAME with '--pipeline'"):
        pipeline_def.check_definition(steps=[steps[0], bad, steps[2]])


def test_a_folder_of_a_claim_the_step_does_not_mount_fails(pipeline_def):
    steps = list(pipeline_def.STEPS)
    bad = dataclasses.replace(steps[2], claims=("workspace",))
    with pytest.raises(pipeline_def.ContractError, match="folder of claim 'model-db' it does not mount"):
        pipeline_def.check_definition(steps=[steps[0], steps[1], bad])


def test_pipeline_py_stays_small():
    """The step table is the contract (steps/contract/), the emitters are in pipeline_lib/ (keep it readable)."""
    assert len((REPO_ROOT / "pipeline.py").read_text().splitlines()) < 400


def test_pipeline_definition_imports_no_step_dependencies():
    """Compiling needs kfp and PyYAML only: importing pipeline.py must not pull pandas, sklearn or xgboost."""
    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1], run_name='not_main'); "
        "bad = [m for m in ('pandas', 'sklearn', 'xgboost', 'numpy', 'matplotlib') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(REPO_ROOT / "pipeline.py")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
