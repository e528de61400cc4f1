"""The step images: the one Dockerfile's contract, and that each step runs without the other steps' dependencies.

Without Docker: the requirements files are checked against what the step code imports (static
scan, lazy imports included), and each step's modules are imported in a fresh interpreter that
refuses the packages its image does not contain.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, Set

import pytest

from steps import contract

from .conftest import REPO_ROOT

STEPS = tuple(step.name for step in contract.STEPS)
IMAGES = REPO_ROOT / "images"
DOCKERFILE = REPO_ROOT / contract.DOCKERFILE
# Import name -> distribution name where they differ.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "yaml": "PyYAML", "cpuinfo": "py-cpuinfo", "xgboost": "xgboost-cpu"}
# Never in any step image.
NEVER = {"kfp", "kfp_kubernetes", "hera", "pytest", "jsonschema", "kubernetes_validate"}
# What must NOT be importable when a step's modules load (its image does not have them).
FORBIDDEN_AT_IMPORT = {
    "query": ["pandas", "numpy", "sklearn", "scipy", "xgboost", "matplotlib", "joblib"],
    "train": ["matplotlib", "requests", "kubernetes", "psutil", "cpuinfo"],
    "export": ["sklearn", "scipy", "xgboost", "joblib", "requests", "kubernetes", "psutil", "cpuinfo"],
}


def requirements(step: str) -> Dict[str, str]:
    """Distribution -> pinned version from images/<step>/requirements.txt."""
    pins = {}
    for line in (REPO_ROOT / contract.step_named(step).requirements).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{step}: {line!r} is not pinned with =="
            pins[name.strip()] = version.strip()
    return pins


def third_party_imports(*packages: Path) -> Set[str]:
    """Top-level modules imported anywhere (module level or inside functions) under the given folders."""
    stdlib = set(sys.stdlib_module_names)
    found: Set[str] = set()
    files = [p for package in packages for p in ([package] if package.is_file() else package.rglob("*.py"))]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found |= {n.split(".")[0] for n in names if n.split(".")[0] not in stdlib | {"steps", "__future__"}}
    return found


def step_sources(step: str):
    """What a step's image runs: the step's package, the shared code, the contract and the dispatcher."""
    steps = REPO_ROOT / "steps"
    return (
        steps / step,
        steps / "common",
        steps / "contract",
        steps / "__init__.py",
        steps / "cli.py",
        steps / "__main__.py",
    )


@pytest.mark.parametrize("step", STEPS)
def test_requirements_cover_what_the_step_imports(step):
    if not (REPO_ROOT / "steps" / step / "cli.py").exists():
        pytest.skip(f"steps/{step}/cli.py is not written yet")
    pins = requirements(step)
    needed = {DISTRIBUTIONS.get(m, m) for m in third_party_imports(*step_sources(step))}
    missing = {n for n in needed if n.lower() not in {p.lower() for p in pins}}
    assert not missing, f"images/{step}/requirements.txt lacks {sorted(missing)}"
    assert not NEVER & {p.lower() for p in pins}


def test_query_image_has_no_scientific_stack():
    """query's image is small: no pandas, numpy, scikit-learn, xgboost or matplotlib."""
    pins = {p.lower() for p in requirements("query")}
    assert not pins & {"pandas", "numpy", "scipy", "scikit-learn", "xgboost", "xgboost-cpu", "matplotlib"}
    assert "xgboost" not in {p.lower() for p in requirements("train")}, "use xgboost-cpu (no NVIDIA library)"


def test_pins_match_the_project_constraints():
    """Every pin satisfies pyproject's ranges, so the images run the versions the tests ran."""
    import tomllib
    from packaging.requirements import Requirement

    declared = {
        Requirement(r).name.lower(): Requirement(r)
        for r in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    for step in STEPS:
        for name, version in requirements(step).items():
            if name.lower() in declared:
                assert declared[name.lower()].specifier.contains(version), f"{step}: {name}=={version}"


BLOCKER = r"""
import importlib, pkgutil, sys
blocked = set(sys.argv[2].split(","))
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is not in this step's image")
        return None
sys.meta_path.insert(0, Block())
import steps, steps.cli
package = importlib.import_module("steps." + sys.argv[1])
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(info.name)
code = steps.cli.main([sys.argv[1], "--help"], environ={"KEPLER_MODEL_IMAGE_STEPS": sys.argv[1]})
sys.exit(code)
"""


@pytest.mark.parametrize("step", STEPS)
def test_step_modules_import_without_other_steps_dependencies(step):
    if not (REPO_ROOT / "steps" / step / "cli.py").exists():
        pytest.skip(f"steps/{step}/cli.py is not written yet")
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER, step, ",".join(FORBIDDEN_AT_IMPORT[step] + sorted(NEVER))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"usage: kepler-model {step}" in done.stdout


def test_one_dockerfile_builds_every_step_image():
    """images/Dockerfile with --build-arg STEP=<step>: no per-step Dockerfile to drift apart."""
    assert sorted(p.relative_to(REPO_ROOT).as_posix() for p in IMAGES.rglob("Dockerfile*")) == [contract.DOCKERFILE]
    for step in contract.STEPS:
        assert (REPO_ROOT / step.requirements).is_file(), f"{step.name}: {step.requirements}"


def test_dockerfile_contract():
    text = DOCKERFILE.read_text()
    arg = contract.IMAGE_STEP_ARG
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", text, re.M), "public default base as a build arg"
    assert len(re.findall(rf"^ARG {arg}$", text, re.M)) == 2, "the step argument, without default, in both stages"
    assert text.index(f'install.sh check "${{{arg}}}"') < text.index(f"COPY images/${{{arg}}}/requirements.txt")
    assert f"{contract.IMAGE_STEPS_VARIABLE}=${{{arg}}}" in text
    assert f'install.sh entrypoint "${{{arg}}}"' in text
    assert 'ENTRYPOINT ["kepler-model-step"]' in text
    user = contract.IMAGE_USER
    assert re.search(rf"^USER {user}:{user}$", text, re.M), "non-root user"
    assert f"--uid {user} --gid {user}" in text
    assert text.index("install.sh requirements") < text.index("COPY steps "), "dependencies layer before the source"
    assert "install.sh project" in text
    for label in ("title", "description", "version", "licenses", "source"):
        assert f"org.opencontainers.image.{label}=" in text
    assert f'org.opencontainers.image.title="kepler-model-${{{arg}}}"' in text


def _install(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """images/shared/install.sh with a stand-in venv whose python is this one (the package from the checkout)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    if not (venv / "bin" / "python").exists():
        (venv / "bin" / "python").symlink_to(sys.executable)
    env = dict(os.environ, VIRTUAL_ENV=str(venv), PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        ["sh", str(IMAGES / "shared" / "install.sh"), *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("step", STEPS)
def test_the_image_entry_point_runs_its_step(tmp_path, step):
    """`docker run IMAGE flags` runs `kepler-model <step> flags`: the entry point install.sh writes."""
    done = _install(tmp_path, "entrypoint", step)
    assert done.returncode == 0, done.stderr
    entry = (tmp_path / "venv" / "bin" / "kepler-model-step").read_text()
    assert entry.startswith("#!/bin/sh\n") and entry.rstrip().endswith(f'exec kepler-model {step} "$@"')


def test_an_image_is_built_for_a_step_only(tmp_path):
    """No STEP, or a command that is not a step (`run`), stops the build with one line."""
    done = _install(tmp_path, "check", "")
    assert done.returncode == 2 and "--build-arg STEP=<step>" in done.stderr
    done = _install(tmp_path, "entrypoint", "run")
    assert (
        done.returncode == 1 and done.stderr.strip() == "install.sh: no step 'run'; the steps are query, train, export"
    )
    assert not (tmp_path / "venv" / "bin" / "kepler-model-step").exists()


def test_dockerignore_keeps_the_context_small():
    ignore = (REPO_ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") if "*" in ignore else 0] == "*", "deny by default"
    assert {"!steps/", "!images/", "!pyproject.toml"} <= set(ignore)


def test_build_ca_bundle_is_git_ignored():
    done = subprocess.run(["git", "check-ignore", "-q", "images/shared/ca-certificates.crt"], cwd=REPO_ROOT)
    assert done.returncode == 0
