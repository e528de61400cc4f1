"""Fixtures for the pipeline-definition tests: pipeline.py loaded by path, its files rendered once."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Dict

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_pipeline_module():
    """pipeline.py is a script at the repo root, not part of the package: load it by path."""
    name = "kepler_model_pipeline_definition"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "pipeline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def pipeline_def():
    return load_pipeline_module()


@pytest.fixture(scope="session")
def rendered(pipeline_def) -> Dict[Path, str]:
    """Every generated file, rendered with the default registry and tag (relative path -> text)."""
    return pipeline_def.render_all(pipeline_def.IMAGE_REGISTRY, pipeline_def.IMAGE_TAG)


@pytest.fixture(scope="session")
def manifests_dir() -> Path:
    return REPO_ROOT / "manifests"
